"""Metrics for any encoder, and the results files every notebook writes.

* **STS benchmark**: Pearson and Spearman between model similarity and human scores, for
  cosine and for angular similarity (Spearman is the same for both: the transform is monotone).
* **Domain pairs**: Spearman and Pearson against the graded ESCO targets, overall; per level the
  mean similarity and its mean absolute error to the level's target (within one level every
  target is equal, so a correlation is undefined there); per pair of neighbouring levels
  (``unrelated<same_sub_major/auc``, ...) the AUC: the chance that a pair of the closer level
  gets the higher cosine (0.5: the model cannot tell the two levels apart).
* **How sure a gain is**: ``bootstrap_gain`` gives a 95 % interval for a Spearman gain by
  redrawing whole groups of pairs (e.g. held-out unit groups) with replacement.
* **Retrieval**: nDCG@10, MRR@10, Recall@1/10 and MAP@100 with sentence-transformers'
  ``InformationRetrievalEvaluator`` definitions, at each Matryoshka truncation dimension.

Results are flat records ``{model, dataset, split, metric, dim, value}`` saved as
``<run-dir>/results/<notebook>.json`` (schema in the README).
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from nbhelpers.errors import InputError
from nbhelpers.pairs import to_angular
from nbhelpers.runs import RESULTS_DIR, write_json

RESULTS_SCHEMA_VERSION = 1


def truncate(vectors: np.ndarray, dim: int | None) -> np.ndarray:
    """Keep the first ``dim`` components and re-normalise (Matryoshka truncation)."""
    if dim is None or dim == vectors.shape[1]:
        return vectors
    if not 0 < dim <= vectors.shape[1]:
        raise InputError(f"dim={dim}: the model's vectors have {vectors.shape[1]} dimensions; "
                         f"expected 1 to {vectors.shape[1]}")
    cut = vectors[:, :dim]
    return cut / np.maximum(np.linalg.norm(cut, axis=1, keepdims=True), 1e-12)


def check_dims(dims, model_dim: int) -> list[int]:
    """Validate truncation dims against a model's output size (largest first)."""
    dims = sorted({int(d) for d in dims}, reverse=True)
    too_big = [d for d in dims if d > model_dim or d < 1]
    if too_big:
        raise InputError(f"dims={too_big}: the model outputs {model_dim} dimensions; "
                         f"choose dims between 1 and {model_dim}")
    return dims


def pair_cosines(encoder, left, right) -> np.ndarray:
    """Cosine similarity of each (left[i], right[i]); every distinct text is encoded once."""
    texts = list(dict.fromkeys([*left, *right]))
    index = {t: i for i, t in enumerate(texts)}
    vectors = encoder.encode(texts)
    a = vectors[[index[t] for t in left]]
    b = vectors[[index[t] for t in right]]
    return np.einsum("ij,ij->i", a, b)


def correlations(similarity, gold) -> dict[str, float]:
    return {"pearson": float(stats.pearsonr(similarity, gold)[0]),
            "spearman": float(stats.spearmanr(similarity, gold)[0])}


def sts_scores(encoder, frame: pd.DataFrame) -> dict[str, float]:
    """STS-B scores of an encoder: ``{cosine,angular}_{pearson,spearman}``."""
    cos = pair_cosines(encoder, frame.sentence1.tolist(), frame.sentence2.tolist())
    out = {f"cosine_{k}": v for k, v in correlations(cos, frame.score).items()}
    out.update({f"angular_{k}": v for k, v in correlations(to_angular(cos), frame.score).items()})
    return out


def pair_scores(encoder, pairs: pd.DataFrame) -> dict[str, float]:
    """Domain pair scores against the cosine-scale ``score`` column (see module docstring)."""
    if pairs.empty:
        raise InputError("pairs: no rows to evaluate")
    cos = pair_cosines(encoder, pairs.text1.tolist(), pairs.text2.tolist())
    out = correlations(cos, pairs.score)
    frame = pairs.assign(cosine=cos, error=np.abs(cos - pairs.score))
    for level, group in frame.groupby("level", sort=False):
        out[f"{level}/mean_cosine"] = float(group.cosine.mean())
        out[f"{level}/mae"] = float(group.error.mean())
    targets = frame.groupby("level").score.mean().sort_values(kind="stable")  # ties: by name
    for lower, upper in zip(targets.index, targets.index[1:]):
        if targets[upper] > targets[lower]:
            out[f"{lower}<{upper}/auc"] = auc(frame.cosine[frame.level == lower],
                                              frame.cosine[frame.level == upper])
    return out


def auc(lower, upper) -> float:
    """Chance that a random ``upper`` value exceeds a random ``lower`` one (ties count half):
    the ROC AUC of telling the two apart (``sklearn.metrics.roc_auc_score``)."""
    from sklearn.metrics import roc_auc_score

    lower, upper = np.asarray(lower), np.asarray(upper)
    labels = np.r_[np.zeros(len(lower)), np.ones(len(upper))]
    return float(roc_auc_score(labels, np.r_[lower, upper]))


def cluster_bootstrap(statistic, clusters, *, resamples: int = 1000, seed: int = 42) -> dict[str, float]:
    """``statistic(rows)`` on every row and its 95 % interval over ``resamples`` redraws of
    whole clusters with replacement. Returns ``gain``, ``low``, ``high`` and ``clusters``."""
    clusters = np.asarray(clusters)
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < 1:
        raise InputError(f"resamples={resamples}: expected a positive number")
    names, members = np.unique(clusters, return_inverse=True)
    if len(names) < 2:
        raise InputError(f"bootstrap: {len(names)} cluster(s); resampling needs at least 2")
    rows = [np.flatnonzero(members == k) for k in range(len(names))]
    rng = np.random.default_rng(seed)
    values = [statistic(np.concatenate([rows[k] for k in rng.integers(len(rows), size=len(rows))]))
              for _ in range(resamples)]
    low, high = np.nanpercentile(values, [2.5, 97.5])
    return {"gain": float(statistic(np.arange(len(clusters)))), "low": float(low),
            "high": float(high), "clusters": len(names)}


def bootstrap_gain(gold, before, after, clusters, *, resamples: int = 1000,
                   seed: int = 42) -> dict[str, float]:
    """Spearman gain of ``after`` over ``before`` against ``gold``, with a 95 % interval.

    A cluster bootstrap: whole clusters (say, the unit group of each pair's first occupation)
    are drawn with replacement, so pairs of one group rise and fall together, as they do when
    another split holds out other groups. Returns ``gain``, ``low`` and ``high``.
    """
    gold, before, after = (np.asarray(a, dtype=float) for a in (gold, before, after))
    if not len(gold) == len(before) == len(after) == len(clusters):
        raise InputError(f"bootstrap: gold, before, after and clusters need one value per pair; got "
                         f"{len(gold)}, {len(before)}, {len(after)} and {len(clusters)}")

    def gain(index):
        return stats.spearmanr(after[index], gold[index])[0] - stats.spearmanr(before[index], gold[index])[0]

    return cluster_bootstrap(gain, clusters, resamples=resamples, seed=seed)


def per_query_ndcg(judge, scores: np.ndarray, k: int = 10) -> np.ndarray:
    """nDCG@k of each query (binary relevance, as ``InformationRetrievalEvaluator``)."""
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    out = np.empty(len(judge.queries_ids))
    for i, (qid, ranked) in enumerate(zip(judge.queries_ids, top)):
        relevant = judge.relevant_docs[qid]
        hits = np.array([judge.corpus_ids[j] in relevant for j in ranked], dtype=float)
        out[i] = (hits * discount[:len(hits)]).sum() / discount[:min(len(relevant), k)].sum()
    return out


def retrieval_gain_interval(before, after, ir: tuple, clusters: pd.Series, dim: int | None = None,
                            **bootstrap) -> dict[str, float]:
    """nDCG@10 gain of encoder ``after`` over ``before`` on ``ir`` (at ``dim``, None: full
    size), with a 95 % interval redrawing whole clusters of queries (``clusters``: query id ->
    cluster, e.g. each question's document)."""
    judge = retrieval_judge(*ir)
    per_model = []
    for encoder in (before, after):
        q, d = encode_retrieval(encoder, judge)
        per_model.append(per_query_ndcg(judge, truncate(q, dim) @ truncate(d, dim).T))
    missing = [qid for qid in judge.queries_ids if qid not in clusters.index]
    if missing:
        raise InputError(f"clusters: no cluster for query {missing[0]!r} ({len(missing)} queries)")
    difference = per_model[1] - per_model[0]
    result = cluster_bootstrap(lambda rows: difference[rows].mean(),
                               clusters.loc[judge.queries_ids].to_numpy(), **bootstrap)
    return {**result, "before": float(per_model[0].mean()), "after": float(per_model[1].mean()),
            "unit": clusters.name}


def gain_interval(before, after, pairs: pd.DataFrame, clusters, **bootstrap) -> dict[str, float]:
    """:func:`bootstrap_gain` of encoder ``after`` over encoder ``before`` on graded ``pairs``."""
    left, right = pairs.text1.tolist(), pairs.text2.tolist()
    result = bootstrap_gain(pairs.score, pair_cosines(before, left, right),
                            pair_cosines(after, left, right), clusters, **bootstrap)
    return {**result, "unit": getattr(clusters, "name", None)}


def retrieval_scores(encoder, queries: dict, corpus: dict, relevant: dict,
                     dims=None) -> dict[int, dict[str, float]]:
    """Retrieval metrics per truncation dim (``None``: the model's full size).

    Queries and passages are encoded once at full size; each dim truncates and
    re-normalises, as a Matryoshka model is used in practice.
    """
    judge = retrieval_judge(queries, corpus, relevant)
    q_full, d_full = encode_retrieval(encoder, judge)
    dims = check_dims(dims or [q_full.shape[1]], q_full.shape[1])
    return {dim: ranking_metrics(judge, truncate(q_full, dim) @ truncate(d_full, dim).T)
            for dim in dims}


def retrieval_judge(queries: dict, corpus: dict, relevant: dict):
    """sentence-transformers' ``InformationRetrievalEvaluator``, used for its metric code."""
    from sentence_transformers.evaluation import InformationRetrievalEvaluator

    if not queries or not corpus:
        raise InputError("retrieval: queries and corpus must not be empty")
    return InformationRetrievalEvaluator(queries, corpus, relevant, mrr_at_k=[10], ndcg_at_k=[10],
                                         accuracy_at_k=[1], precision_recall_at_k=[1, 10],
                                         map_at_k=[100], write_csv=False)


def encode_retrieval(encoder, judge) -> tuple[np.ndarray, np.ndarray]:
    """Full-size query and passage vectors, in the judge's order."""
    return (encoder.encode(judge.queries, kind="query"),
            encoder.encode(judge.corpus, kind="document"))


def ranking_metrics(judge, scores: np.ndarray) -> dict[str, float]:
    """nDCG@10, MRR@10, Recall@1/10, MAP@100 of a query x passage score matrix."""
    top = min(100, scores.shape[1])
    best = np.argpartition(-scores, top - 1, axis=1)[:, :top]
    hits = [[{"corpus_id": judge.corpus_ids[j], "score": float(row[j])} for j in idx]
            for row, idx in zip(scores, best)]
    metrics = judge.compute_metrics(hits)
    return {"ndcg@10": float(metrics["ndcg@k"][10]), "mrr@10": float(metrics["mrr@k"][10]),
            "recall@1": float(metrics["recall@k"][1]), "recall@10": float(metrics["recall@k"][10]),
            "map@100": float(metrics["map@k"][100])}


def to_records(model: str, dataset: str, split: str, metrics: dict, dim: int | None = None):
    """Flatten ``{metric: value}`` into result records."""
    return [{"model": model, "dataset": dataset, "split": split, "metric": metric,
             "dim": dim, "value": float(value)} for metric, value in metrics.items()]


def retrieval_records(model: str, split: str, per_dim: dict, dataset: str = "esco-retrieval"):
    return [r for dim, metrics in per_dim.items()
            for r in to_records(model, dataset, split, metrics, dim)]


def default_dims(model_dim: int) -> list[int]:
    """Full size, then the usual Matryoshka sizes below it (768, 512, 256, 128, 64)."""
    return [model_dim] + [d for d in (768, 512, 256, 128, 64) if d < model_dim]


def forgetting_scores(encoder, val_pairs: pd.DataFrame, test_pairs: pd.DataFrame,
                      sts_dev: pd.DataFrame | None) -> dict[str, float]:
    """What the forgetting guard weighs: domain Spearman on validation (to choose with) and
    test (to report), and STS-B dev cosine Spearman (NaN when STS-B is unavailable)."""
    return {"domain_val_spearman": pair_scores(encoder, val_pairs)["spearman"],
            "domain_test_spearman": pair_scores(encoder, test_pairs)["spearman"],
            "stsb_dev_spearman": (np.nan if sts_dev is None
                                  else sts_scores(encoder, sts_dev)["cosine_spearman"])}


def evaluate_sts(encoders: dict, frames: dict[str, pd.DataFrame], known: list[dict] = ()) -> list[dict]:
    """STS-B records for every encoder and split (``frames``: split -> pairs).

    ``known`` records (e.g. a base model's scores from notebook 02's results, same data and
    model) are reused instead of encoding STS-B again for that model and split.
    """
    out = []
    for spec, enc in encoders.items():
        for split, frame in frames.items():
            done = [r for r in known if (r["model"], r["dataset"], r["split"]) == (spec, "stsb", split)]
            out += done or to_records(spec, "stsb", split, sts_scores(enc, frame))
    return out


def earlier_records(run_dir: str | Path, notebook: str = "02_baseline") -> list[dict]:
    """The records an earlier notebook of the run saved (empty if it has not run)."""
    path = Path(run_dir) / RESULTS_DIR / f"{notebook}.json"
    return json.loads(path.read_text())["records"] if path.exists() else []


def known_value(records: list[dict], model: str, dataset: str, split: str, metric: str,
                dim=None) -> float | None:
    """A figure already in ``records`` (e.g. notebook 02's), or ``None``."""
    return next((r["value"] for r in records if (r["model"], r["dataset"], r["split"], r["metric"],
                                                 r["dim"]) == (model, dataset, split, metric, dim)), None)


def evaluate_pairs(encoders: dict, pairs: pd.DataFrame, split: str = "test",
                   dataset: str = "esco-pairs") -> list[dict]:
    """Domain graded-pair records for every encoder (``dataset``: ``Prepared.dataset("pairs")``)."""
    return [r for spec, enc in encoders.items()
            for r in to_records(spec, dataset, split, pair_scores(enc, pairs))]


def evaluate_retrieval(encoders: dict, ir: tuple, dims=None, split: str = "test",
                       dataset: str = "esco-retrieval") -> list[dict]:
    """Retrieval records for every encoder at ``dims`` (``None``: :func:`default_dims`);
    ``dataset``: ``Prepared.dataset("retrieval")``."""
    return [r for spec, enc in encoders.items()
            for r in retrieval_records(spec, split, retrieval_scores(
                enc, *ir, dims=dims or default_dims(enc.dim)), dataset)]


def task_of(dataset: str) -> str:
    """"pairs", "retrieval" or the dataset itself ("stsb", "speed"): a domain's graded or
    scored pairs are named ``<domain>-pairs``, its retrieval data ``<domain>-retrieval``."""
    for task in ("pairs", "retrieval"):
        if dataset.endswith(f"-{task}"):
            return task
    return dataset


def rows_of(table: pd.DataFrame, task: str) -> pd.DataFrame:
    """The rows of a results table whose dataset serves ``task`` (see :func:`task_of`)."""
    return table[table.dataset.map(task_of) == task]


def save_results(run_dir: str | Path, notebook: str, records: list[dict], **extra) -> Path:
    """Write ``<run_dir>/results/<notebook>.json``; refuses to overwrite an earlier result."""
    for i, record in enumerate(records):
        missing = {"model", "dataset", "split", "metric", "dim", "value"} - set(record)
        if missing:
            raise InputError(f"records[{i}] lacks {sorted(missing)}")
    payload = {"schema_version": RESULTS_SCHEMA_VERSION, "notebook": notebook,
               "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
               "records": records, **extra}
    return write_json(Path(run_dir) / RESULTS_DIR / f"{notebook}.json", payload)


def load_results(*run_dirs: str | Path) -> pd.DataFrame:
    """Every ``results/*.json`` of the given run folders as one tidy table.

    Adds ``notebook`` and ``run`` columns; a file that is not valid JSON or lacks records
    raises :class:`InputError` naming it.
    """
    frames = []
    for run_dir in run_dirs:
        for path in sorted((Path(run_dir) / RESULTS_DIR).glob("*.json")):
            try:
                payload = json.loads(path.read_text(encoding="utf-8"))
                records = payload["records"]
            except (json.JSONDecodeError, KeyError, TypeError) as err:
                raise InputError(f"{path}: not a results file ({err})") from None
            frames.append(results_table(records).assign(notebook=payload.get("notebook", path.stem),
                                                        run=Path(run_dir).name))
    if not frames:
        raise InputError(f"no results/*.json in {[str(r) for r in run_dirs]}: run notebooks 02-04 first")
    return pd.concat(frames, ignore_index=True)


def results_table(records: list[dict]) -> pd.DataFrame:
    """Records as a tidy DataFrame."""
    return pd.DataFrame.from_records(records, columns=["model", "dataset", "split", "metric",
                                                       "dim", "value"])
