"""Notebook 04's evaluation during training: one ``InformationRetrievalEvaluator`` per truncation
dimension in a ``SequentialEvaluator`` (with ``joint``, beside it an ``EmbeddingSimilarityEvaluator``
on the graded pairs and one on STS-B dev), and what the trainer logs of it."""
from __future__ import annotations

import re

import pandas as pd

from nbhelpers.errors import InputError
from nbhelpers.matryoshka.config import MatryoshkaConfig

#: The model-selection key of a joint run: the ``SequentialEvaluator``'s main score, the mean of
#: validation nDCG@10 at the smallest dimension and validation pair Spearman (:func:`joint_score`).
JOINT_KEY = "eval_sequential_score"
#: Names of the scored-pair evaluators of a joint run, and the Spearman keys the trainer logs for them.
PAIRS_NAME, STSB_NAME = "pairs", "stsb-dev"
PAIRS_KEY, STSB_KEY = f"eval_{PAIRS_NAME}_spearman_cosine", f"eval_{STSB_NAME}_spearman_cosine"

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


def similarity_evaluator(pairs, name: str, batch_size: int = 64):
    """An ``EmbeddingSimilarityEvaluator`` (cosine Spearman) on scored pairs: a frame or Dataset
    with ``sentence1, sentence2, score``."""
    from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator

    if len(pairs) == 0:
        raise InputError(f"evaluation: no {name} pairs to score")
    return EmbeddingSimilarityEvaluator(list(pairs["sentence1"]), list(pairs["sentence2"]),
                                        [float(v) for v in pairs["score"]], batch_size=batch_size,
                                        main_similarity="cosine", similarity_fn_names=["cosine"],
                                        name=name, write_csv=False)


def joint_score(dims):
    """The ``main_score_function`` of a joint run's evaluator: the mean of nDCG@10 at the
    smallest of ``dims`` and the graded pairs' Spearman, both on the validation split. The
    per-dimension evaluators come first (largest dimension first), the pairs evaluator next."""
    smallest, pairs = len(set(dims)) - 1, len(set(dims))

    def score(scores):
        return (scores[smallest] + scores[pairs]) / 2

    return score


def joint_parts(dims, similarity: str = "cosine") -> list[str]:
    """The two keys a joint run's selection score averages, as the trainer logs them."""
    return [f"eval_dim_{min(dims)}_{similarity}_ndcg@10", PAIRS_KEY]


def joint_evaluator(ir: tuple, dims, pairs, sts_dev=None, batch_size: int = 64):
    """A joint run's evaluator: :func:`ir_evaluator` at every dimension, the graded pairs
    (``pairs``) and STS-B dev (``sts_dev``, where given), encodings shared; its main score
    (``JOINT_KEY``) weighs retrieval and pair similarity equally (:func:`joint_score`)."""
    from sentence_transformers.sentence_transformer.evaluation import SequentialEvaluator

    parts = [*ir_evaluator(ir, dims, batch_size).evaluators,
             similarity_evaluator(pairs, PAIRS_NAME, batch_size)]
    if sts_dev is not None:
        parts.append(similarity_evaluator(sts_dev, STSB_NAME, batch_size))
    return share_encodings(SequentialEvaluator(parts, main_score_function=joint_score(dims)))


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
        if not hasattr(ev, "ndcg_at_k"):   # a scored-pair evaluator
            keys += [f"{prefix}_{ev.name}_{m}_cosine" for m in ("pearson", "spearman")]
            continue
        parts = ([f"accuracy@{k}" for k in ev.accuracy_at_k]
                 + [f"{m}@{k}" for k in ev.precision_recall_at_k for m in ("precision", "recall")]
                 + [f"mrr@{k}" for k in ev.mrr_at_k] + [f"ndcg@{k}" for k in ev.ndcg_at_k]
                 + [f"map@{k}" for k in ev.map_at_k])
        keys += [f"{prefix}_{ev.name}_{similarity}_{p}" for p in parts]
    return keys + [f"{prefix}_sequential_score"]


def metric_key(config: MatryoshkaConfig, dims, similarity: str = "cosine") -> str:
    """The ``metric_for_best_model`` key: the explicit one, ``JOINT_KEY`` for a joint run, or
    ``eval_dim_<d>_<sim>_<metric>``."""
    if config.metric_for_best_model:
        return config.metric_for_best_model
    if config.joint:
        return JOINT_KEY
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
    evaluation (step, epoch), one column per dimension, largest first; in a joint run also the
    graded pairs' and STS-B dev's Spearman and the selection score."""
    pattern = re.compile(rf"^eval_dim_(\d+)_\w+?_{re.escape(metric)}$")
    joint = {"pair Spearman": PAIRS_KEY, "STS-B dev Spearman": STSB_KEY, "selection score": JOINT_KEY}
    rows = []
    for entry in log_history:
        dims = {int(m[1]): v for k, v in entry.items() if (m := pattern.match(k))}
        if dims:
            rows.append({"step": entry.get("step"), "epoch": entry.get("epoch"),
                         **{f"{metric} @ {d}": dims[d] for d in sorted(dims, reverse=True)},
                         **({name: entry[key] for name, key in joint.items() if key in entry}
                            if PAIRS_KEY in entry else {})})
    return pd.DataFrame(rows).set_index("step") if rows else pd.DataFrame()
