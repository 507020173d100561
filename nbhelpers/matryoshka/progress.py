"""A compact view of training for notebook 04: one progress bar, and one line per evaluation.

The trainer's own notebook view prints every logged metric of every dimension at every
evaluation, a table too wide to read; this callback shows the training loss on the bar and, at
each evaluation, the model-selection metric at every dimension (and, in a joint run, the
graded pairs' and STS-B dev's Spearman).
"""
from __future__ import annotations

import re

from tqdm.auto import tqdm
from transformers import TrainerCallback

from nbhelpers.matryoshka.evaluators import PAIRS_KEY, STSB_KEY

#: A joint run's scored-pair evaluations, as the trainer logs them.
SCORED_PAIRS = {"pairs": PAIRS_KEY, "STS-B dev": STSB_KEY}


class CompactProgress(TrainerCallback):
    """``SentenceTransformerTrainer(..., callbacks=[CompactProgress()])`` with
    ``disable_tqdm=True`` in the training arguments."""

    def __init__(self, metric: str = "ndcg@10"):
        self.metric, self.bar = metric, None
        self.pattern = re.compile(rf"^eval_dim_(\d+)_\w+?_{re.escape(metric)}$")

    def on_train_begin(self, args, state, control, **kwargs):
        self.bar = tqdm(total=state.max_steps, desc="training", unit="step", initial=state.global_step)

    def on_step_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.bar is not None and logs and "loss" in logs:
            self.bar.set_postfix(loss=f"{logs['loss']:.4f}")

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        dims = {int(m[1]): v for k, v in (metrics or {}).items() if (m := self.pattern.match(k))}
        if dims:
            line = ", ".join(f"{d}: {dims[d]:.4f}" for d in sorted(dims, reverse=True))
            scored = [f"{name} Spearman {metrics[key]:.4f}" for name, key in SCORED_PAIRS.items()
                      if key in metrics]
            (self.bar.write if self.bar is not None else print)(
                f"step {state.global_step}: validation {self.metric} by dimension - {line}"
                + "".join(f"; {part}" for part in scored))

    def on_train_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
