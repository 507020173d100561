"""What notebook 04 saves beside its metric records (``results/04_matryoshka[-n].json``)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from nbhelpers.attempts import Attempt
from nbhelpers.matryoshka.config import MatryoshkaConfig


def payload(config: MatryoshkaConfig, attempt: Attempt, base: str, tuned: str, dim: int,
            model_path: Path, adapter_path: Path | None, trainer, seconds: float, rows: dict[str, int],
            key: str, validation: pd.DataFrame, sweep: pd.DataFrame | None, choice,
            test_gain: dict | None = None) -> dict:
    """The results file's entries beside ``records``: the models (the tuned one with its base),
    the training (loss curve, per-dimension validation table, speed, best checkpoint, settings),
    the rows of each training dataset (``rows``: "domain", and "pairs" and "stsb" where they
    trained), the forgetting guard when it ran, the test nDCG@10 gain at full size with its interval
    (``test_gain``) and the attempt."""
    state = trainer.state
    losses = [{k: e.get(k) for k in ("step", "epoch", "loss")} for e in state.log_history if "loss" in e]
    return {
        "models": {base: {"dim": dim},
                   tuned: {"dim": dim, "path": str(model_path), "base": base,
                           "adapter": None if adapter_path is None else str(adapter_path)}},
        "training": {"losses": pd.DataFrame(losses).to_dict("list"),
                     "validation": validation.reset_index().to_dict("records"),
                     "seconds": round(seconds, 1), "steps": state.global_step,
                     "samples_per_second": round(state.global_step * config.batch_size / seconds, 2),
                     "best_metric": state.best_metric, "metric_for_best_model": key,
                     "train_rows": rows["domain"], "pairs_rows": rows.get("pairs", 0),
                     "replay_rows": rows.get("stsb", 0), "config": config.to_dict()},
        "forgetting_guard": None if sweep is None else {
            "sweep": sweep.to_dict("records"), "alpha": choice.alpha, "guarded": choice.guarded,
            "reason": choice.reason},
        "test_gain": None if test_gain is None else {**test_gain, "model": tuned, "base": base,
                                                     "metric": "ndcg@10", "dim": dim},
        "attempt": attempt.summary(),
    }
