"""Notebook 04's side of the forgetting guard: how to blend a sentence-transformers model's
weights and how to score a blend (:mod:`nbhelpers.guard` sweeps and chooses)."""
from __future__ import annotations

import math

from nbhelpers.errors import InputError
from nbhelpers.guard import STS_METRIC


def snapshot(model) -> dict:
    """A CPU copy of the model's weights (take one of the base model before training)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def interpolate_weights(model, base_state: dict, tuned_state: dict, alpha: float) -> None:
    """Load ``(1 - alpha) * base + alpha * tuned`` into ``model`` (same architecture, no LoRA)."""
    if not 0.0 <= alpha <= 1.0:
        raise InputError(f"alpha={alpha!r}: expected a number in [0, 1]")
    if base_state.keys() != tuned_state.keys():
        odd = sorted(set(base_state) ^ set(tuned_state))[:5]
        raise InputError(f"interpolation: base and tuned weights differ in their tensors (e.g. {odd})")
    model.load_state_dict({k: _lerp(base_state[k], tuned_state[k], alpha) for k in tuned_state})


def _lerp(base, tuned, alpha: float):
    if not tuned.is_floating_point():
        return tuned
    base = base.to(tuned.device, tuned.dtype)
    return base + alpha * (tuned - base)


def blend_and_score(model, base_state: dict, evaluator, key: str, sts_dev, known: dict | None = None,
                    also=()):
    """``(blend, score)`` for :func:`nbhelpers.guard.run_guard`: ``blend(alpha)`` loads the blend
    of ``base_state`` and the model's current (tuned) weights; ``score(alpha)`` gives the
    validation ``key`` (e.g. ``eval_dim_64_cosine_ndcg@10``), the evaluator's keys in ``also``
    (a joint run's retrieval and pair scores) and STS-B dev Spearman (NaN without
    ``sts_dev``). ``known`` holds figures already measured, by alpha and name (the base model's
    before training, the trainer's best validation scores at alpha 1); they are not measured
    again."""
    from nbhelpers.evaluation import sts_scores
    from nbhelpers.models import STEncoder

    tuned_state = snapshot(model)
    wanted = [key, *also]
    known = known or {}

    def blend(alpha):
        interpolate_weights(model, base_state, tuned_state, alpha)

    def score(alpha):
        have = known.get(alpha, {})
        if STS_METRIC in have:
            sts = have[STS_METRIC]
        elif sts_dev is None:
            sts = math.nan
        else:
            encoder = STEncoder("blend", spec=f"alpha={alpha:g}", model=model)
            sts = sts_scores(encoder, sts_dev)["cosine_spearman"]
        if all(name in have for name in wanted):
            values = {name: have[name] for name in wanted}
        else:
            measured = evaluator(model)
            values = {name: float(measured[name.removeprefix("eval_")]) for name in wanted}
        return {**values, STS_METRIC: sts}

    return blend, score


def best_evaluation(log_history: list[dict], key: str) -> dict:
    """The trainer's logged evaluation with the best ``key`` (every ``eval_*`` figure of it):
    what the model kept by ``load_best_model_at_end`` scored; ``{}`` without evaluations."""
    evals = [e for e in log_history if key in e]
    if not evals:
        return {}
    best = max(evals, key=lambda e: e[key])
    return {k: float(v) for k, v in best.items() if k.startswith("eval_")}
