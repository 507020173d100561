"""Notebook 05's comparisons: storage and speed per model, the best model per use, and a
recommendation written from the numbers."""
from __future__ import annotations

import io
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from nbhelpers.errors import InputError
from nbhelpers.evaluation import (encode_retrieval, load_results, ranking_metrics, retrieval_judge,
                                  to_records, truncate)
from nbhelpers.runs import RESULTS_DIR

PRECISIONS = ("float32", "int8", "binary")
#: Bytes one vector component takes at each precision.
BYTES_PER_COMPONENT = {"float32": 4.0, "int8": 1.0, "binary": 1 / 8}


def collect_results(run_dir, other_run_dirs=()) -> tuple[pd.DataFrame, dict[str, str]]:
    """Every result of the runs as one tidy table, and each model's loadable spec or path.

    With several runs, model names are prefixed with the run name. A model evaluated by more
    than one notebook keeps its first (lowest-numbered notebook's) value per metric.
    """
    if run_dir is None:
        raise InputError("no run folder with results under reports/: run notebooks 02-04 first, "
                         "or set run_dir to a run folder that has results/")
    runs = [Path(run_dir), *map(Path, other_run_dirs)]
    table = load_results(*runs)
    models = {}
    for run in runs:
        for path in sorted((run / RESULTS_DIR).glob("*.json")):
            for spec, info in json.loads(path.read_text()).get("models", {}).items():
                label = spec if len(runs) == 1 else f"{run.name}/{spec}"
                models.setdefault(label, info.get("path") or spec)
    if len(runs) > 1:
        table["model"] = table.run + "/" + table.model
    keys = ["model", "dataset", "split", "metric", "dim"]
    return table.drop_duplicates(keys, keep="first").reset_index(drop=True), models


def base_models(*run_dirs) -> dict[str, str]:
    """The base model each tuned model of the runs started from, by model label.

    A results file names it in a tuned model's ``base`` entry; files written without it have
    one model without a ``path`` (the base the notebook tuned), which the others started from.
    """
    bases = {}
    for run in map(Path, run_dirs):
        prefix = f"{run.name}/" if len(run_dirs) > 1 else ""
        for path in sorted((run / RESULTS_DIR).glob("*.json")):
            models = json.loads(path.read_text()).get("models", {})
            untuned = [spec for spec, info in models.items() if not info.get("path")]
            for spec, info in models.items():
                base = info.get("base") or (untuned[0] if info.get("path") and len(untuned) == 1
                                            else None)
                if base:
                    bases[prefix + spec] = prefix + base
    return bases


def against_base(summary: pd.DataFrame, bases: dict[str, str]) -> pd.DataFrame:
    """``summary_table`` in long form, each tuned model's value beside its base model's.

    Columns: model, metric (a summary column), value, base, base_value, change (absolute) and
    relative (change / base value); the base columns are empty for base models.
    """
    rows = []
    for model, values in summary.iterrows():
        base = bases.get(model)
        for metric, value in values.items():
            base_value = summary.at[base, metric] if base in summary.index else np.nan
            rows.append({"model": model, "metric": metric, "value": value, "base": base,
                         "base_value": base_value, "change": value - base_value,
                         "relative": (value - base_value) / base_value})
    return pd.DataFrame(rows)


def attempts_table(run_dir) -> pd.DataFrame:
    """Each results file of the run: its notebook, attempt, what the attempt changed against the
    notebook's first one, and the models it tuned."""
    rows = []
    for path in sorted((Path(run_dir) / RESULTS_DIR).glob("*.json")):
        payload = json.loads(path.read_text())
        attempt = payload.get("attempt") or {"number": 1, "label": "attempt 1"}
        tuned = [spec for spec, info in payload.get("models", {}).items() if info.get("path")]
        rows.append({"results": path.stem, "notebook": payload.get("notebook", path.stem),
                     "attempt": attempt["number"], "what changed": attempt["label"],
                     "models tuned": ", ".join(tuned)})
    return pd.DataFrame(rows, columns=["results", "notebook", "attempt", "what changed",
                                       "models tuned"]).set_index("results")


def quantized_scores(queries: np.ndarray, corpus: np.ndarray, precision: str) -> np.ndarray:
    """Query x passage scores after quantising both sides as a vector store would.

    int8 uses sentence-transformers' ``quantize_embeddings`` calibrated on the corpus and
    ranks by dot product; binary keeps the sign bits and ranks by matching bits (Hamming).
    """
    from sentence_transformers import quantize_embeddings

    if precision == "float32":
        return queries @ corpus.T
    if precision == "int8":
        q = quantize_embeddings(queries, precision="int8", calibration_embeddings=corpus)
        d = quantize_embeddings(corpus, precision="int8", calibration_embeddings=corpus)
        return q.astype(np.float32) @ d.astype(np.float32).T
    if precision == "binary":
        bits = queries.shape[1]  # unpacking pads to whole bytes: cut the padding off
        q = np.unpackbits(quantize_embeddings(queries, precision="ubinary"), axis=1, count=bits)
        d = np.unpackbits(quantize_embeddings(corpus, precision="ubinary"), axis=1, count=bits)
        q, d = q.astype(np.float32) * 2 - 1, d.astype(np.float32) * 2 - 1
        return q @ d.T  # = bits - 2 * hamming distance
    raise ValueError(f"precision={precision!r}: expected one of {PRECISIONS}")


def storage_table(encoders: dict, ir: tuple, dims_by_model: dict) -> pd.DataFrame:
    """Bytes per vector and the nDCG@10 kept, per model, dim and precision."""
    judge = retrieval_judge(*ir)
    rows = []
    for spec, encoder in encoders.items():
        q_full, d_full = encode_retrieval(encoder, judge)
        for dim in dims_by_model[spec]:
            q, d = truncate(q_full, dim), truncate(d_full, dim)
            for precision in PRECISIONS:
                metrics = ranking_metrics(judge, quantized_scores(q, d, precision))
                rows.append({"model": spec, "dim": dim, "precision": precision,
                             "bytes_per_text": dim * BYTES_PER_COMPONENT[precision],
                             "ndcg@10": metrics["ndcg@10"]})
    return pd.DataFrame(rows)


def throughput(encoders: dict, texts: list[str], repeats: int = 2) -> pd.Series:
    """Encode speed (texts/s, best of ``repeats``) of each encoder on the same texts."""
    speeds = {}
    for spec, encoder in encoders.items():
        encoder.encode(texts[:16], progress=False)  # warm-up
        best = min(_timed(encoder, texts) for _ in range(repeats))
        speeds[spec] = len(texts) / best
    return pd.Series(speeds, name="texts_per_second")


def _timed(encoder, texts) -> float:
    start = time.perf_counter()
    encoder.encode(texts, progress=False)
    return time.perf_counter() - start


def comparison_records(storage: pd.DataFrame, speed: pd.Series) -> list[dict]:
    """Storage and speed figures as result records."""
    records = []
    for row in storage.to_dict("records"):
        metrics = {f"ndcg@10/{row['precision']}": row["ndcg@10"],
                   f"bytes_per_text/{row['precision']}": row["bytes_per_text"]}
        records += to_records(row["model"], "esco-retrieval", "test", metrics, int(row["dim"]))
    for model, value in speed.items():
        records += to_records(model, "speed", "test", {"texts_per_second": value})
    return records


def best_per_use(results: pd.DataFrame) -> pd.DataFrame:
    """The best model for similarity, retrieval at full size and retrieval at 64 dims."""
    def pick(rows, use):
        if rows.empty:
            return {"use": use, "model": None, "value": np.nan}
        best = rows.loc[rows.value.idxmax()]
        return {"use": use, "model": best.model, "value": best.value, "dim": best.dim}

    test = results[results.split == "test"]
    retrieval = test[(test.dataset == "esco-retrieval") & (test.metric == "ndcg@10")]
    full = retrieval[retrieval.dim == retrieval.groupby("model").dim.transform("max")]
    return pd.DataFrame([
        pick(test[(test.dataset == "esco-pairs") & (test.metric == "spearman")],
             "job-title similarity (domain Spearman)"),
        pick(full, "retrieval at full size (nDCG@10)"),
        pick(retrieval[retrieval.dim == 64], "retrieval at 64 dims (nDCG@10)"),
    ]).set_index("use")


def recommendation(best: pd.DataFrame, storage: pd.DataFrame, tolerance: float = 0.02) -> str:
    """A plain-language recommendation: the smallest (dim, precision) of the best retrieval
    model that keeps nDCG@10 within ``tolerance`` of its full float32 score."""
    model = best.loc["retrieval at full size (nDCG@10)", "model"]
    if model is None or model not in set(storage.model):
        return "Not enough results to recommend a model: run notebooks 02-04 first."
    own = storage[storage.model == model]
    reference = own[(own.dim == own.dim.max()) & (own.precision == "float32")]["ndcg@10"].iloc[0]
    keeps = own[own["ndcg@10"] >= reference - tolerance].sort_values("bytes_per_text")
    choice = keeps.iloc[0]
    full_bytes = own.bytes_per_text.max()
    if choice.bytes_per_text < full_bytes:
        storage_advice = (f"Stored as **{choice.precision} at {int(choice.dim)} dimensions** "
                          f"({choice.bytes_per_text:g} bytes per text instead of {full_bytes:g}) it keeps "
                          f"nDCG@10 {choice['ndcg@10']:.3f}, within {tolerance} of full size.")
    else:
        storage_advice = (f"Store it at full size in float32 ({full_bytes:g} bytes per text): every "
                          f"smaller dimension or precision loses more than {tolerance} nDCG@10.")
    similarity = best.loc["job-title similarity (domain Spearman)"]
    return (f"For retrieval in this domain deploy **{model}**: nDCG@10 {reference:.3f} at full size. "
            f"{storage_advice} For job-title similarity (matching titles to titles) the best model is "
            f"**{similarity.model}** (Spearman {similarity.value:.3f} on held-out occupation groups).")


#: The columns of :func:`summary_table`: (header, dataset, split, metric, dim) where dim
#: "full" means each model's own size.
SUMMARY_COLUMNS = (
    ("STS-B dev Pearson (angular)", "stsb", "dev", "angular_pearson", None),
    ("STS-B test Spearman (cosine)", "stsb", "test", "cosine_spearman", None),
    ("domain test Spearman", "esco-pairs", "test", "spearman", None),
    ("nDCG@10 full size", "esco-retrieval", "test", "ndcg@10", "full"),
    ("nDCG@10 at 64 dims", "esco-retrieval", "test", "ndcg@10", 64),
)


def summary_table(results: pd.DataFrame) -> pd.DataFrame:
    """One row per model with the headline metric of each use (see ``SUMMARY_COLUMNS``)."""
    rows = {}
    for header, dataset, split, metric, dim in SUMMARY_COLUMNS:
        chosen = results[(results.dataset == dataset) & (results.split == split)
                         & (results.metric == metric)]
        if dim == "full":
            chosen = chosen[chosen.dim == chosen.groupby("model").dim.transform("max")]
        elif dim is not None:
            chosen = chosen[chosen.dim == dim]
        for row in chosen.itertuples():
            rows.setdefault(row.model, {})[header] = row.value
    models = list(dict.fromkeys(results.model))  # in the order the notebooks reported them
    return pd.DataFrame.from_dict(rows, orient="index").reindex(
        index=[m for m in models if m in rows], columns=[c[0] for c in SUMMARY_COLUMNS])


def to_markdown(frame: pd.DataFrame, digits: int = 4) -> str:
    """A GitHub-flavoured markdown table of ``frame`` (index first as code, blanks for NaN)."""
    def cell(value):
        if isinstance(value, float):
            return "" if np.isnan(value) else f"{value:.{digits}f}"
        return str(value)

    header = [frame.index.name or "model", *map(str, frame.columns)]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    for index, row in frame.iterrows():
        lines.append("| " + " | ".join([f"`{index}`", *map(cell, row.tolist())]) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    """``python -m nbhelpers.compare RUN_DIR [--figure PATH]``: a run's summary as markdown."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m nbhelpers.compare", description=(
        "Print a run's headline metrics per model as a markdown table; optionally save the "
        "test nDCG@10-by-dimension plot."))
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--figure", type=Path, help="save the nDCG@10 plot here (PNG, SVG, ...)")
    args = parser.parse_args(argv)
    if args.figure and args.figure.exists():
        parser.error(f"--figure {args.figure}: already exists; choose a new path (a figure is "
                     "never overwritten)")
    try:
        table, _ = collect_results(args.run_dir)
    except InputError as err:
        parser.error(str(err))
    print(to_markdown(summary_table(table)))
    if args.figure:
        from nbhelpers import plots
        from nbhelpers.runs import write_bytes_atomic

        test = table[(table.dataset == "esco-retrieval") & (table.split == "test")]
        fig = plots.plot_metric_by_dim(test, "ndcg@10")
        buffer = io.BytesIO()
        fig.savefig(buffer, format=args.figure.suffix.lstrip(".") or "png", dpi=120)
        write_bytes_atomic(args.figure, buffer.getvalue())
        print(f"\nfigure: {args.figure}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
