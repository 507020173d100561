"""Turn a run folder into something a person opens: HTML notebooks and an ``index.html``."""
from __future__ import annotations

import html
import json
import threading
from pathlib import Path

import pandas as pd

from nbhelpers.runs import MANIFEST, RESULTS_DIR, write_text_atomic

#: (dataset, split, metric) shown on the index page; retrieval at each model's full size.
HEADLINES = (("stsb", "dev", "angular_pearson"), ("stsb", "test", "cosine_spearman"),
             ("esco-pairs", "test", "spearman"), ("esco-retrieval", "test", "ndcg@10"))


def export_html(notebook: Path) -> Path:
    """Write ``<notebook>.html`` next to an executed notebook."""
    import nbformat
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nbformat.read(notebook, as_version=4))
    return write_text_atomic(notebook.with_suffix(".html"), body, overwrite=True)


def headline_table(run_dir: Path) -> pd.DataFrame:
    """Headline metrics of every results file: one row per notebook and model."""
    rows = []
    for path in sorted((Path(run_dir) / RESULTS_DIR).glob("*.json")):
        records = pd.DataFrame(json.loads(path.read_text())["records"])
        if records.empty:
            continue
        for dataset, split, metric in HEADLINES:
            chosen = records[(records.dataset == dataset) & (records.split == split)
                             & (records.metric == metric)]
            if dataset == "esco-retrieval" and not chosen.empty:  # full size per model
                chosen = chosen[chosen.dim == chosen.groupby("model").dim.transform("max")]
            for row in chosen.itertuples():
                rows.append({"notebook": path.stem, "model": row.model,
                             f"{dataset} {split} {metric}": row.value})
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame(rows).groupby(["notebook", "model"], sort=False).first()


def write_index(run_dir: Path, notebooks: list[Path]) -> Path:
    """``index.html``: each executed notebook with its HTML, timings and the headline numbers."""
    run_dir = Path(run_dir)
    manifest_path = run_dir / MANIFEST
    steps = json.loads(manifest_path.read_text()).get("steps", {}) if manifest_path.exists() else {}
    items = []
    for nb in notebooks:
        step = steps.get(f"run:{nb.stem}", {})
        timing = (f" — {step['seconds']:.0f} s, peak memory {step['peak_memory_mb']:.0f} MB"
                  if "peak_memory_mb" in step else "")
        items.append(f'<li><a href="{html.escape(nb.with_suffix(".html").name)}">{html.escape(nb.stem)}'
                     f'</a> (<a href="{html.escape(nb.name)}">ipynb</a>){timing}</li>')
    table = headline_table(run_dir)
    numbers = table.to_html(float_format="%.4f", na_rep="") if not table.empty else "<p>no results</p>"
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Run {html.escape(run_dir.name)}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:right}}</style>
</head><body>
<h1>Sentence-embedding domain adaptation: run {html.escape(run_dir.name)}</h1>
<h2>Notebooks</h2><ol>{''.join(items)}</ol>
<h2>Headline numbers</h2>{numbers}
<p>All records: <code>results/*.json</code>; parameters, checksums and versions:
<a href="{MANIFEST}">{MANIFEST}</a>.</p>
</body></html>
"""
    return write_text_atomic(run_dir / "index.html", page, overwrite=True)


class PeakMemory:
    """Peak resident memory (MB) of this process's children (the kernels) while active."""

    def __init__(self, interval: float = 0.5):
        self.interval = interval
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self):
        import psutil

        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for child in me.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    continue
            self.peak_mb = max(self.peak_mb, total / 2**20)
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
