"""Notebook 04's evaluation during training: one ``InformationRetrievalEvaluator`` per truncation
dimension in a ``SequentialEvaluator``, and what the trainer logs of it."""
from __future__ import annotations

import re

import pandas as pd

from nbhelpers.errors import InputError
from nbhelpers.matryoshka.config import MatryoshkaConfig

#: The metrics each per-dimension evaluator reports: enough to read, few enough for one table.
CUTOFFS = {"accuracy_at_k": [1], "precision_recall_at_k": [10], "mrr_at_k": [10],
           "ndcg_at_k": [10], "map_at_k": [100]}


def ir_evaluator(ir: tuple, dims, batch_size: int = 64):
    """The tutorial's evaluator: a ``SequentialEvaluator`` of one ``InformationRetrievalEvaluator``
    per dimension (named ``dim_<d>``, largest first) on ``ir = (queries, corpus, relevant)``."""
    from sentence_transformers.sentence_transformer.evaluation import (
        InformationRetrievalEvaluator,
        SequentialEvaluator,
    )

    queries, corpus, relevant = ir
    if not queries or not corpus or not relevant:
        raise InputError("evaluation: queries, corpus and relevant docs must not be empty "
                         f"(got {len(queries or {})} queries, {len(corpus or {})} passages)")
    return SequentialEvaluator([
        InformationRetrievalEvaluator(queries, corpus, relevant, name=f"dim_{d}", truncate_dim=d,
                                      batch_size=batch_size, **CUTOFFS)
        for d in sorted({int(d) for d in dims}, reverse=True)])


def share_encodings(evaluator):
    """The same evaluation, faster: queries and corpus are encoded once per round at full size
    and each dimension's evaluator cuts the vectors (a slice), instead of every evaluator
    encoding everything again. Returns a ``SequentialEvaluator`` with the same evaluators."""
    from sentence_transformers.sentence_transformer.evaluation import SequentialEvaluator

    cache: dict = {}

    def shared(ev):
        own = ev.embed_inputs

        def embed_inputs(model, sentences, *args, **kwargs):
            key = (id(model), tuple(map(repr, args)), tuple(sorted(map(repr, kwargs.items()))),
                   tuple(sentences))
            if key not in cache:
                dim, ev.truncate_dim = ev.truncate_dim, None
                try:
                    cache[key] = own(model, sentences, *args, **kwargs)
                finally:
                    ev.truncate_dim = dim
            full = cache[key]
            return full if ev.truncate_dim is None else full[..., :ev.truncate_dim]

        ev.embed_inputs = embed_inputs
        return ev

    class SharedEncodings(SequentialEvaluator):
        def __call__(self, *args, **kwargs):
            cache.clear()
            try:
                return super().__call__(*args, **kwargs)
            finally:
                cache.clear()

    return SharedEncodings([shared(ev) for ev in evaluator.evaluators],
                           main_score_function=evaluator.main_score_function)


def metric_keys(evaluator, similarity: str = "cosine", prefix: str = "eval") -> list[str]:
    """The keys the trainer will log for ``evaluator`` (without running it)."""
    keys = []
    for ev in evaluator.evaluators:
        parts = ([f"accuracy@{k}" for k in ev.accuracy_at_k]
                 + [f"{m}@{k}" for k in ev.precision_recall_at_k for m in ("precision", "recall")]
                 + [f"mrr@{k}" for k in ev.mrr_at_k] + [f"ndcg@{k}" for k in ev.ndcg_at_k]
                 + [f"map@{k}" for k in ev.map_at_k])
        keys += [f"{prefix}_{ev.name}_{similarity}_{p}" for p in parts]
    return keys + [f"{prefix}_sequential_score"]


def metric_key(config: MatryoshkaConfig, dims, similarity: str = "cosine") -> str:
    """The ``metric_for_best_model`` key: the explicit one, or ``eval_dim_<d>_<sim>_<metric>``."""
    if config.metric_for_best_model:
        return config.metric_for_best_model
    dim = config.metric_dim if config.metric_dim is not None else min(dims)
    return f"eval_dim_{dim}_{similarity}_{config.metric}"


def check_metric_key(key: str, valid: list[str]) -> str:
    """``key`` if the evaluator will produce it, else :class:`InputError` listing the valid keys."""
    if key not in valid:
        raise InputError(f"metric_for_best_model={key!r} is not a metric the evaluator produces; "
                         f"valid keys: {', '.join(valid)}")
    return key


def validation_table(log_history: list[dict], metric: str = "ndcg@10") -> pd.DataFrame:
    """``metric`` at every dimension for each evaluation the trainer logged: one row per
    evaluation (step, epoch), one column per dimension, largest first."""
    pattern = re.compile(rf"^eval_dim_(\d+)_\w+?_{re.escape(metric)}$")
    rows = []
    for entry in log_history:
        dims = {int(m[1]): v for k, v in entry.items() if (m := pattern.match(k))}
        if dims:
            rows.append({"step": entry.get("step"), "epoch": entry.get("epoch"),
                         **{f"{metric} @ {d}": dims[d] for d in sorted(dims, reverse=True)}})
    return pd.DataFrame(rows).set_index("step") if rows else pd.DataFrame()
