"""Every way of serving the model, measured side by side on the held-out split.

``measure`` scores each variant (nDCG@10 at full size and at a small dimension, on the test
queries against the whole corpus) and times it on the same texts at the same batch size; the
quality kept and the speed-up are relative to the ``reference`` (the tuned PyTorch model).
``plot`` draws quality against speed and against bytes per vector; ``advice`` writes the
recommendation that follows from both tables.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from nbhelpers.compare import collect_results, throughput
from nbhelpers.errors import InputError
from nbhelpers.evaluation import encode_retrieval, ranking_metrics, retrieval_judge, rows_of, truncate
from nbhelpers.models import is_tensorflow


def run_folder(run_dir=None) -> Path:
    """The run folder to serve from: ``run_dir``, or the newest one under ``reports/`` with
    notebook 01's datasets."""
    from nbhelpers.runs import DATA_DIR, latest_run_dir

    found = latest_run_dir(require=DATA_DIR) if run_dir is None else Path(run_dir)
    if found is None or not (found / DATA_DIR).is_dir():
        raise InputError(f"run_dir={run_dir!r}: no run folder with notebook 01's datasets; run the "
                         "series first (make run), or set run_dir to a run folder that has data/")
    return found


def choose_model(run_dir) -> tuple[str, str]:
    """``(label, spec)`` of the run's best sentence-transformers model for retrieval: the highest
    test nDCG@10 at full size among the models notebooks 02-04 measured; TensorFlow models (USE)
    are not candidates, since they do not export to ONNX or OpenVINO here."""
    table, specs = collect_results(run_dir)
    test = rows_of(table[(table.split == "test") & (table.metric == "ndcg@10")], "retrieval")
    full = test[test.dim == test.groupby("model").dim.transform("max")]
    for label in full.sort_values("value", ascending=False).model:
        if not is_tensorflow(specs.get(label, label)):
            return label, specs.get(label, label)
    raise InputError(f"{run_dir}: no sentence-transformers model has test retrieval results; run "
                     "notebooks 02 and 04 first, or set model to a sentence-transformers model")


def agreement(reference: np.ndarray, other, texts: list[str]) -> float:
    """The lowest cosine between the reference's vectors of ``texts`` and ``other``'s (1.0: identical)."""
    return float((reference * other.encode(texts)).sum(axis=1).min())


def folder_mb(path: str | Path) -> float:
    """Size on disk of a model folder (or file), in MB."""
    path = Path(path)
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 1e6


def measure(encoders: dict, ir: tuple, texts: list[str], reference: str, small_dim: int = 64,
            folders: dict | None = None, repeats: int = 2) -> tuple[pd.DataFrame, dict]:
    """One row per variant: nDCG@10 at full size and at ``small_dim``, texts/second, size on disk,
    and each relative to ``reference``. Also returns the reference's query and passage vectors
    (for the vector-store table)."""
    if reference not in encoders:
        raise InputError(f"reference={reference!r}: expected one of {sorted(encoders)}")
    judge = retrieval_judge(*ir)
    rows, vectors = [], {}
    for name, encoder in encoders.items():
        queries, corpus = encode_retrieval(encoder, judge)
        if name == reference:
            vectors = {"queries": queries, "corpus": corpus, "judge": judge}
        small = min(small_dim, queries.shape[1])
        rows.append({"variant": name, "runtime": runtime_of(encoder), "dim": queries.shape[1],
                     "ndcg@10": ranking_metrics(judge, queries @ corpus.T)["ndcg@10"],
                     f"ndcg@10 at {small_dim}": ranking_metrics(
                         judge, truncate(queries, small) @ truncate(corpus, small).T)["ndcg@10"],
                     "disk_mb": folder_mb(folders[name]) if folders and name in folders else float("nan")})
    table = pd.DataFrame(rows).set_index("variant")
    table["texts_per_second"] = throughput(encoders, texts, repeats=repeats)
    ref = table.loc[reference]
    table["kept"] = table["ndcg@10"] / ref["ndcg@10"]
    table[f"kept at {small_dim}"] = table[f"ndcg@10 at {small_dim}"] / ref[f"ndcg@10 at {small_dim}"]
    table["speedup"] = table["texts_per_second"] / ref["texts_per_second"]
    return table, vectors


def runtime_of(encoder) -> str:
    """What runs the variant: PyTorch, ONNX Runtime, OpenVINO, or a static lookup."""
    backend = getattr(encoder, "backend", None)
    if backend:
        return {"onnx": "ONNX Runtime", "openvino": "OpenVINO"}[backend]
    model = getattr(encoder, "model", None)
    if model is not None and type(model[0]).__name__ == "StaticEmbedding":
        return "static (PyTorch EmbeddingBag)"
    return "PyTorch"


def plot(table: pd.DataFrame, vectors: pd.DataFrame, reference: str):
    """Left: nDCG@10 against texts/second per variant. Right: nDCG@10 against bytes per vector
    for each way of storing the reference model's vectors."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for name, row in table.iterrows():
        left.scatter(row["texts_per_second"], row["ndcg@10"], s=40)
        left.annotate(name, (row["texts_per_second"], row["ndcg@10"]), textcoords="offset points",
                      xytext=(5, 4), fontsize=8)
    left.set(xscale="log", xlabel="texts per second (log scale, batch of 32, this machine)",
             ylabel="nDCG@10 (test, full size)", title="Models: quality against speed")
    for search, group in vectors.groupby("search", sort=False):
        group = group.sort_values("bytes_per_vector")
        right.plot(group["bytes_per_vector"], group["ndcg@10"], marker="o", label=search)
    right.set(xscale="log", xlabel="bytes per vector in memory (log scale)", ylabel="nDCG@10 (test)",
              title=f"Vectors of {reference}: quality against memory")
    right.legend(fontsize=8)
    fig.tight_layout()
    return fig


def percent(share: float) -> str:
    return f"{100 * share:.1f} %"


def advice(table: pd.DataFrame, vectors: pd.DataFrame, reference: str, keep: float = 0.99,
           keep_vectors: float = 0.97) -> str:
    """The recommendation, in words, from the two tables."""
    ref = table.loc[reference]
    exports = table[table.runtime.isin(["ONNX Runtime", "OpenVINO"])]
    good = exports[exports.kept >= keep]
    parts = []
    if good.empty:
        parts.append(f"No export keeps {percent(keep)} of {reference}'s nDCG@10 here: serve "
                     f"**{reference}** with PyTorch ({ref.texts_per_second:.0f} texts/s).")
    else:
        best = good.speedup.idxmax()
        row = good.loc[best]
        parts.append(f"Serve **{best}** ({row.runtime}): {row.speedup:.1f}× the texts per second of "
                     f"{reference} in PyTorch ({row.texts_per_second:.0f} against "
                     f"{ref.texts_per_second:.0f} at a batch of 32), keeping {percent(row.kept)} of its "
                     f"nDCG@10 ({row['ndcg@10']:.3f}), {row.disk_mb:.0f} MB on disk.")
    static = table[table.runtime.str.startswith("static")]
    if not static.empty:
        best = static["ndcg@10"].idxmax()
        row = static.loc[best]
        parts.append(f"Where speed matters more than the last points of quality (bulk encoding, "
                     f"small devices), the static model **{best}** encodes {row.speedup:.0f}× faster "
                     f"and keeps {percent(row.kept)} of the nDCG@10.")
    full = vectors[vectors.dim == vectors.dim.max()]
    fits = full[(full.kept >= keep_vectors) & (full.search != "float32")]
    if not fits.empty:
        row = fits.sort_values(["bytes_per_vector", "kept"], ascending=[True, False]).iloc[0]
        parts.append(f"In the vector store, **{row.search}** at {row.dim} dimensions keeps "
                     f"{percent(row.kept)} of float32's nDCG@10 with {row.bytes_per_vector:g} bytes per "
                     f"vector in memory instead of {row.dim * 4}.")
    return " ".join(parts)


def records(table: pd.DataFrame, store: pd.DataFrame) -> list[dict]:
    """Result records: each variant's nDCG@10 (full size and the small dim), texts/second and size
    on disk (dataset ``serving``); each vector search's nDCG@10 and bytes (``vector-store``)."""
    out = []
    small = next(c for c in table.columns if c.startswith("ndcg@10 at "))
    small_dim = int(small.rsplit(" ", 1)[1])
    for name, row in table.iterrows():
        for metric, dim, value in (("ndcg@10", row.dim, row["ndcg@10"]), ("ndcg@10", small_dim, row[small]),
                                   ("texts_per_second", None, row.texts_per_second),
                                   ("disk_mb", None, row.disk_mb)):
            out.append({"model": name, "dataset": "serving", "split": "test", "metric": metric,
                        "dim": None if dim is None else int(dim), "value": float(value)})
    for _, row in store.iterrows():
        for metric, value in (("ndcg@10", row["ndcg@10"]), ("bytes_per_vector", row.bytes_per_vector)):
            out.append({"model": row.search, "dataset": "vector-store", "split": "test",
                        "metric": metric, "dim": int(row.dim), "value": float(value)})
    return out


def payload(table: pd.DataFrame, store: pd.DataFrame) -> dict:
    """The two tables as plain JSON rows, for the results file."""
    import json

    return {"variants": json.loads(table.reset_index().to_json(orient="records")),
            "vector_store": json.loads(store.to_json(orient="records"))}
