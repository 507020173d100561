"""Quantised vectors with rescoring: a cheap first pass over the corpus, float32 for the top few.

A vector store that keeps binary vectors (one sign bit per component, 1/32 of float32) or int8
vectors (sentence-transformers' ``quantize_embeddings``, calibrated on the corpus) in memory
ranks the whole corpus with them, then reorders the ``candidates`` best per query by the exact
float32 dot product. The float32 vectors stay on disk: only ``candidates`` of them are read per
query, so memory per vector is that of the quantised one.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from nbhelpers.compare import BYTES_PER_COMPONENT, PRECISIONS, quantized_scores
from nbhelpers.errors import InputError
from nbhelpers.evaluation import ranking_metrics, truncate

#: Queries rescored at once (bounds the candidates' float32 block in memory).
QUERY_BLOCK = 256


def rescored_scores(queries: np.ndarray, corpus: np.ndarray, precision: str,
                    candidates: int = 100) -> np.ndarray:
    """Query x passage scores of the two-stage search: the ``candidates`` best passages of the
    ``precision`` first pass get their float32 score, every other passage ``-inf``."""
    if isinstance(candidates, bool) or not isinstance(candidates, int) or candidates < 10:
        raise InputError(f"candidates={candidates!r}: expected a whole number >= 10 (nDCG@10 needs "
                         "ten ranked passages per query)")
    if precision not in PRECISIONS:
        raise InputError(f"precision={precision!r}: expected one of {PRECISIONS}")
    first = quantized_scores(queries, corpus, precision)
    k = min(candidates, corpus.shape[0])
    top = np.argpartition(-first, k - 1, axis=1)[:, :k]
    scores = np.full(first.shape, -np.inf, dtype=np.float32)
    for start in range(0, len(queries), QUERY_BLOCK):
        rows = slice(start, start + QUERY_BLOCK)
        exact = np.einsum("qd,qkd->qk", queries[rows], corpus[top[rows]])
        np.put_along_axis(scores[rows], top[rows], exact, axis=1)
    return scores


def vector_table(queries: np.ndarray, corpus: np.ndarray, judge, dims, candidates: int = 100) -> pd.DataFrame:
    """nDCG@10 and bytes per vector for float32, int8 and binary, each alone and with float32
    rescoring of the top ``candidates``, at every dim; ``kept`` is relative to float32 there."""
    rows = []
    for dim in dims:
        q, d = truncate(queries, dim), truncate(corpus, dim)
        full = ranking_metrics(judge, q @ d.T)["ndcg@10"]
        for precision in PRECISIONS:
            searches = {precision: quantized_scores(q, d, precision)}
            if precision != "float32":
                searches[f"{precision} + rescoring"] = rescored_scores(q, d, precision, candidates)
            for search, scores in searches.items():
                ndcg = ranking_metrics(judge, scores)["ndcg@10"]
                rows.append({"dim": d.shape[1], "search": search,
                             "bytes_per_vector": d.shape[1] * BYTES_PER_COMPONENT[precision],
                             "ndcg@10": ndcg, "kept": ndcg / full if full else float("nan")})
    return pd.DataFrame(rows)
