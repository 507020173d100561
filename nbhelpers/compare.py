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
                                  rows_of, to_records, truncate)
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


def comparison_records(storage: pd.DataFrame | None, speed: pd.Series,
                       dataset: str | None = "esco-retrieval") -> list[dict]:
    """Storage (None: not measured) and speed figures as result records (``dataset``: the
    retrieval data's name)."""
    records = []
    for row in ([] if storage is None else storage.to_dict("records")):
        metrics = {f"ndcg@10/{row['precision']}": row["ndcg@10"],
                   f"bytes_per_text/{row['precision']}": row["bytes_per_text"]}
        records += to_records(row["model"], dataset, "test", metrics, int(row["dim"]))
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
    retrieval = rows_of(test[test.metric == "ndcg@10"], "retrieval")
    full = retrieval[retrieval.dim == retrieval.groupby("model").dim.transform("max")]
    pairs = rows_of(test[test.metric == "spearman"], "pairs")
    return pd.DataFrame([
        pick(pairs, "similarity (domain Spearman)"),
        pick(full, "retrieval at full size (nDCG@10)"),
        pick(retrieval[retrieval.dim == 64], "retrieval at 64 dims (nDCG@10)"),
    ]).set_index("use")


#: The two uses one model may serve: summary-table columns and how the advice names them.
TWO_USES = (("domain test Spearman", "similarity (Spearman)"), ("nDCG@10 full size", "retrieval (nDCG@10)"))


def check_tolerance(name: str, value) -> float:
    """``value`` if it is a number >= 0, else :class:`InputError` naming the parameter."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise InputError(f"{name}={value!r}: expected a number >= 0 (how much below the best "
                         "score a choice may fall)")
    return float(value)


def two_uses(results: pd.DataFrame) -> pd.DataFrame:
    """Every model measured on both uses: its domain test Spearman and nDCG@10 at full size,
    and how far it falls short of the best model of each use (``short of best ...``, 0 for
    the best)."""
    summary = summary_table(results)
    columns = [column for column, _ in TWO_USES]
    both = summary.reindex(columns=columns).dropna()
    for column in columns:
        both[f"short of best {column}"] = both[column].max() - both[column]
    return both


def one_model(uses: pd.DataFrame, tolerance: float = 0.01) -> dict | None:
    """The model within ``tolerance`` of the best model on both uses at once (the one that
    falls least short), or None; :func:`two_uses` gives ``uses``."""
    check_tolerance("both_tolerance", tolerance)
    if uses.empty:
        return None
    shortfall = _shortfall(uses)
    model = shortfall.idxmin()
    if shortfall[model] > tolerance + 1e-12:
        return None
    return {"model": model, "shortfall": float(shortfall[model]),
            **{column: float(uses.loc[model, column]) for column, _ in TWO_USES}}


def _shortfall(uses: pd.DataFrame) -> pd.Series:
    """Each model's larger shortfall from the best of the two uses."""
    return uses[[f"short of best {column}" for column, _ in TWO_USES]].max(axis=1)


def both_uses_sentence(uses: pd.DataFrame, tolerance: float) -> str:
    """The one-model advice: the model within ``tolerance`` of the best on both uses, or why none is."""
    if len(uses) < 2:
        return ""
    chosen = one_model(uses, tolerance)
    best = {column: uses[column].idxmax() for column, _ in TWO_USES}
    if chosen is not None:
        figures = "; ".join(f"{words} {chosen[column]:.3f}, best {uses.loc[best[column], column]:.3f}"
                            for column, words in TWO_USES)
        return (f"One model for both uses: **{chosen['model']}** is within {tolerance} of the best "
                f"on each ({figures}): store and serve that one.")
    shortfall = _shortfall(uses)
    closest = shortfall.idxmin()
    return (f"No model is within {tolerance} of the best on both uses, so keep one per use; the "
            f"closest to both, **{closest}**, falls {shortfall[closest]:.3f} short on one of them.")


#: How the recommendation names each use, per domain: (retrieval, similarity, held out).
USE_WORDS = {
    "esco": ("For retrieval in this domain", "For job-title similarity (matching titles to titles)",
             "held-out occupation groups"),
    "docs": ("For search over your documents", "For similarity", "your held-out documents"),
    "pairs": ("For retrieval", "For similarity on your pairs", "your held-out pairs"),
}


def tuning_gains(run_dir) -> pd.DataFrame:
    """The test gain of each tuned model over its base model, with its 95 % interval, as the
    notebooks saved it (``test_gain`` in ``results/*.json``), and the cost of tuning:
    training seconds and the size of the saved model on disk."""
    rows = []
    for path in sorted((Path(run_dir) / RESULTS_DIR).glob("*.json")):
        payload = json.loads(path.read_text())
        gain = payload.get("test_gain")
        if not gain or "model" not in gain:
            continue
        model_path = payload.get("models", {}).get(gain["model"], {}).get("path")
        size = (sum(f.stat().st_size for f in Path(model_path).rglob("*") if f.is_file())
                if model_path and Path(model_path).is_dir() else np.nan)
        guard = payload.get("forgetting_guard") or {}
        rows.append({**{k: gain.get(k) for k in ("model", "base", "metric", "dim", "gain", "low",
                                                  "high", "clusters", "unit")},
                     "alpha": guard.get("alpha"),
                     "training_seconds": (payload.get("training") or {}).get("seconds"),
                     "model_mb": size / 2**20, "results": path.stem})
    return pd.DataFrame(rows, columns=["model", "base", "metric", "dim", "gain", "low", "high",
                                       "clusters", "unit", "alpha", "training_seconds", "model_mb",
                                       "results"])


def plural(unit: str) -> str:
    """"documents", "ISCO unit groups", "groups of pairs sharing a text"."""
    return unit.replace("group of", "groups of", 1) if unit.startswith("group of") else f"{unit}s"


def gain_sentence(row, held_out: str) -> str:
    """One sentence on a tuned model's gain over its base, with the interval and what it redrew."""
    metric = "nDCG@10" if row.metric == "ndcg@10" else "Spearman"
    if row.alpha == 0:
        return (f"Tuning did not help on the validation split: the forgetting guard kept the base "
                f"weights (α = 0), so **{row.model}** is {row.base} ({metric} unchanged on {held_out}).")
    verdict = ("Tuning gains" if row.low > 0 else
               "Tuning loses" if row.high < 0 else "Tuning changes")
    sure = ("the interval is above zero" if row.low > 0 else "the interval is below zero"
            if row.high < 0 else "the interval includes zero: no sure change")
    unit = "" if not isinstance(row.unit, str) else " " + plural(row.unit)
    return (f"{verdict} {row.gain:+.3f} {metric} for **{row.model}** over {row.base} on {held_out} "
            f"(95 % interval {row.low:+.3f} to {row.high:+.3f}, redrawing {int(row.clusters)}{unit}; "
            f"{sure}).")


def cost_sentence(row, speed: pd.Series | None) -> str:
    parts = []
    if pd.notna(row.training_seconds):
        parts.append(f"training took {row.training_seconds:,.0f} s on this machine")
    if pd.notna(row.model_mb):
        parts.append(f"the model takes {row.model_mb:,.0f} MB on disk")
    if speed is not None and row.model in speed.index:
        parts.append(f"it encodes {speed[row.model]:,.0f} texts per second here")
    return (f"Cost: {', '.join(parts)}." if parts else "")


def recommendation(best: pd.DataFrame, storage: pd.DataFrame | None, tolerance: float = 0.02,
                   gains: pd.DataFrame | None = None, speed: pd.Series | None = None,
                   domain: str = "esco", uses: pd.DataFrame | None = None,
                   both_tolerance: float = 0.01) -> str:
    """A plain-language recommendation: the smallest (dim, precision) of the best retrieval
    model that keeps nDCG@10 within ``tolerance`` of its full float32 score, the best model for
    similarity, with ``uses`` (:func:`two_uses`) the one model within ``both_tolerance`` of the
    best on both uses where there is one, and, with ``gains``, how sure each tuned model's gain
    is and what it costs."""
    retrieval_words, similarity_words, held_out = USE_WORDS[domain]
    text = []
    model = best.loc["retrieval at full size (nDCG@10)", "model"]
    if model is not None and storage is not None and model in set(storage.model):
        text.append(_retrieval_advice(model, storage, tolerance, retrieval_words))
    similarity = best.loc["similarity (domain Spearman)"]
    if pd.notna(similarity.model):
        prefix = ("" if not text else " ")
        text.append(f"{prefix}{similarity_words} the best model is **{similarity.model}** (Spearman "
                    f"{similarity.value:.3f} on {held_out})." if domain == "esco" else
                    f"{prefix}{similarity_words} use **{similarity.model}**: Spearman "
                    f"{similarity.value:.3f} on {held_out}.")
    if not text:
        return "Not enough results to recommend a model: run notebooks 02-04 first."
    both = both_uses_sentence(uses, both_tolerance) if uses is not None else ""
    text.append(f" {both}" if both else "")
    for row in (gains.itertuples() if gains is not None else ()):
        text.append(" " + gain_sentence(row, held_out))
        cost = cost_sentence(row, speed)
        text.append(f" {cost}" if cost else "")
    return "".join(text)


def _retrieval_advice(model: str, storage: pd.DataFrame, tolerance: float, words: str) -> str:
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
    return f"{words} deploy **{model}**: nDCG@10 {reference:.3f} at full size. {storage_advice}"


#: The columns of :func:`summary_table`: (header, dataset or task, split, metric, dim) where dim
#: "full" means each model's own size; a task ("pairs", "retrieval") takes any domain's data.
SUMMARY_COLUMNS = (
    ("STS-B dev Pearson (angular)", "stsb", "dev", "angular_pearson", None),
    ("STS-B test Spearman (cosine)", "stsb", "test", "cosine_spearman", None),
    ("domain test Spearman", "pairs", "test", "spearman", None),
    ("nDCG@10 full size", "retrieval", "test", "ndcg@10", "full"),
    ("nDCG@10 at 64 dims", "retrieval", "test", "ndcg@10", 64),
)


def summary_table(results: pd.DataFrame) -> pd.DataFrame:
    """One row per model with the headline metric of each use (see ``SUMMARY_COLUMNS``)."""
    rows = {}
    for header, dataset, split, metric, dim in SUMMARY_COLUMNS:
        rows_in = (rows_of(results, dataset) if dataset in ("pairs", "retrieval")
                   else results[results.dataset == dataset])
        chosen = rows_in[(rows_in.split == split) & (rows_in.metric == metric)]
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

        test = rows_of(table[table.split == "test"], "retrieval")
        fig = plots.plot_metric_by_dim(test, "ndcg@10")
        buffer = io.BytesIO()
        fig.savefig(buffer, format=args.figure.suffix.lstrip(".") or "png", dpi=120)
        write_bytes_atomic(args.figure, buffer.getvalue())
        print(f"\nfigure: {args.figure}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
