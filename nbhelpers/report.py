"""A run's report: ``reports/<run-id>/index.html``, the page a reader opens after ``make run``.

It shows the recommendation notebook 05 wrote, the headline figures (nDCG@10 by dimension and
general English against domain fit, as images), the comparison table with each tuned model
beside its base model, and, per notebook, its status, wall time, peak memory, parameters and
links to the executed copy. Whatever a run lacks (a notebook that failed or never ran, a run
without STS-B) is marked on the page instead of breaking it.
"""
from __future__ import annotations

import html
import io
import json
import re
import threading
from pathlib import Path

import pandas as pd

from nbhelpers.runs import DATA_DIR, MANIFEST, RESULTS_DIR, write_bytes_atomic, write_text_atomic

REPORT_DIR = "report"
#: What each comparison column measures, shown under the table.
COLUMN_NOTES = {
    "STS-B dev Pearson (angular)": "general English: agreement with human similarity scores on the "
    "STS benchmark's dev split (the tutorial's measure); it should not fall after tuning",
    "STS-B test Spearman (cosine)": "the same on the test split, as a rank correlation",
    "domain test Spearman": "job-title pairs of held-out ISCO unit groups: does the model order "
    "them as the ISCO-08 hierarchy does?",
    "nDCG@10 full size": "retrieval: questions about held-out occupations finding their "
    "description among all descriptions, at the model's full vector size",
    "nDCG@10 at 64 dims": "the same with every vector cut to its first 64 components",
}
STYLE = """body{font-family:system-ui,sans-serif;max-width:68em;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}h1{font-size:1.6em}h2{margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:.3em .6em}
th{background:#f3f3f3;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
small{color:#666}.missing{color:#a33;font-style:italic}.ok{color:#2a7a2a}
.recommendation{background:#eef6ee;border-left:4px solid #2a7a2a;padding:.6em 1em}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #eee}
figcaption{color:#555;font-size:.92em}dl{margin:.3em 0}"""


def export_html(notebook: Path) -> Path:
    """Write ``<notebook>.html`` next to an executed notebook."""
    import nbformat
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nbformat.read(notebook, as_version=4))
    return write_text_atomic(notebook.with_suffix(".html"), body, overwrite=True)


def notebook_status(run_dir: Path, series: list[str], steps: dict) -> list[dict]:
    """Each notebook of the series: finished, failed (an executed copy without a finish) or not run."""
    rows = []
    for name in series:
        stem = Path(name).stem
        runner, own = steps.get(f"run:{stem}", {}), steps.get(stem, {})
        executed = (run_dir / name).exists()
        status = "finished" if runner or own else ("failed" if executed else "not run")
        rows.append({"name": stem, "status": status, "executed": executed,
                     "html": (run_dir / name).with_suffix(".html").exists(),
                     "seconds": runner.get("seconds", own.get("seconds")),
                     "peak_memory_mb": runner.get("peak_memory_mb"),
                     "parameters": own.get("parameters") or runner.get("parameters") or {}})
    return rows


def write_report(run_dir: str | Path, series: list[str]) -> Path:
    """Write ``index.html`` (and its figures under ``report/``) for the run; returns the page."""
    run_dir = Path(run_dir)
    manifest = _read_manifest(run_dir)
    steps = manifest.get("steps", {})
    statuses = notebook_status(run_dir, series, steps)
    invocation = (manifest.get("invocations") or [{}])[0]
    sections = [_header(run_dir, invocation, statuses)]
    table = None
    if any((run_dir / RESULTS_DIR).glob("*.json")):
        from nbhelpers.compare import collect_results

        table, _ = collect_results(run_dir)
    sections.append(_recommendation(run_dir))
    sections.append(_figures(run_dir, table))
    sections.append(_comparison(run_dir, table))
    sections.append(_notebooks(statuses))
    sections.append(_data(steps.get("01_data_preparation")))
    sections.append(f'<p><small>Every figure of the run: <code>{RESULTS_DIR}/*.json</code>; parameters, '
                    f'input checksums and package versions: <a href="{MANIFEST}">{MANIFEST}</a>.</small></p>')
    page = (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Run '
            f'{_e(run_dir.name)}</title><style>{STYLE}</style></head><body>\n'
            + "\n".join(sections) + "\n</body></html>\n")
    return write_text_atomic(run_dir / "index.html", page, overwrite=True)


def _read_manifest(run_dir: Path) -> dict:
    from nbhelpers.runs import read_manifest

    path = run_dir / MANIFEST
    return read_manifest(path) if path.exists() else {}


def _header(run_dir: Path, invocation: dict, statuses: list[dict]) -> str:
    machine = invocation.get("machine", {})
    done = sum(s["status"] == "finished" for s in statuses)
    seconds = sum(s["seconds"] or 0 for s in statuses)
    peaks = [s["peak_memory_mb"] for s in statuses if s["peak_memory_mb"]]
    facts = [f"{done} of {len(statuses)} notebooks finished",
             f"{seconds / 60:.1f} min of notebook time" if seconds else None,
             f"peak memory {max(peaks):,.0f} MB" if peaks else None,
             f"profile <code>{_e(invocation['profile'])}</code>" if "profile" in invocation else None,
             f"hub {_e(invocation['hub'])}" if "hub" in invocation else None]
    lines = [f"<h1>Adapting sentence embeddings to job titles: run {_e(run_dir.name)}</h1>",
             "<p>" + " · ".join(f for f in facts if f) + "</p>"]
    if invocation.get("command"):
        lines.append(f"<p><small>Command <code>{_e(invocation['command'])}</code>, commit "
                     f"<code>{_e(str(invocation.get('commit'))[:12])}</code>, "
                     f"{_e(machine.get('cpu_model', '?'))} ({machine.get('cores', '?')} cores), "
                     f"{_e(invocation.get('date', '')[:16].replace('T', ' '))} UTC</small></p>")
    return "\n".join(lines)


def _recommendation(run_dir: Path) -> str:
    path = run_dir / RESULTS_DIR / "05_comparison.json"
    text = json.loads(path.read_text()).get("recommendation") if path.exists() else None
    if not text:
        return ('<h2>Recommendation</h2><p class="missing">No recommendation: notebook 05 '
                "(comparison) has not finished in this run.</p>")
    bold = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", _e(text))
    return (f'<h2>Recommendation</h2><div class="recommendation"><p>{bold}</p></div>'
            "<p><small>Written by notebook 05 from the test-split figures below.</small></p>")


def _figures(run_dir: Path, table: pd.DataFrame | None) -> str:
    from nbhelpers import plots

    parts = ["<h2>Headline figures</h2>"]
    retrieval = None if table is None else table[(table.dataset == "esco-retrieval")
                                                 & (table.split == "test") & (table.metric == "ndcg@10")]
    if retrieval is None or retrieval.empty:
        parts.append('<p class="missing">No retrieval results yet (notebooks 02-04 write them).</p>')
    else:
        parts.append(_figure(run_dir, "ndcg-by-dim.png", plots.plot_metric_by_dim(retrieval, "ndcg@10"),
                             "nDCG@10 of every model of the run against the number of vector "
                             "components kept (held-out test split). Higher is better; a "
                             "Matryoshka-trained model keeps its quality as the vectors get shorter."))
    sts = None if table is None else table[table.dataset == "stsb"]
    if sts is None or sts.empty:
        parts.append('<p class="missing">No STS-B results: STS-B was unavailable in this run (offline '
                     "without STSB_DIR) or the notebooks that score it did not finish.</p>")
    else:
        parts.append(_figure(run_dir, "sts-vs-domain.png", plots.plot_generalisation_vs_domain(table),
                             "Each model as a point: general English (STS-B dev) across, job-title "
                             "pairs of held-out groups up. Tuning should move a model up without "
                             "moving it left (forgetting)."))
    return "\n".join(parts)


def _figure(run_dir: Path, name: str, fig, caption: str) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    write_bytes_atomic(run_dir / REPORT_DIR / name, buffer.getvalue(), overwrite=True)
    return (f'<figure><img src="{REPORT_DIR}/{name}" alt="{_e(caption.split(".")[0])}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def _comparison(run_dir: Path, table: pd.DataFrame | None) -> str:
    from nbhelpers.compare import against_base, base_models, summary_table

    if table is None or table.empty:
        return '<h2>Comparison</h2><p class="missing">No results yet: no notebook saved results.</p>'
    summary = summary_table(table)
    long = against_base(summary, base_models(run_dir)).set_index(["model", "metric"])
    head = "".join(f"<th>{_e(c)}</th>" for c in ["model", *summary.columns])
    body = []
    for model in summary.index:
        cells = [f"<th><code>{_e(model)}</code></th>"]
        for column in summary.columns:
            row = long.loc[(model, column)]
            cells.append(f'<td class="num">{_cell(row)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    notes = "".join(f"<dt>{_e(c)}</dt><dd>{_e(COLUMN_NOTES[c])}</dd>" for c in summary.columns
                    if c in COLUMN_NOTES)
    return (f"<h2>Comparison</h2><table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}"
            "</tbody></table><p><small>Tuned models show their base model's value, the change and "
            "the relative change below their own. A blank cell: not measured in this run.</small></p>"
            f"<dl>{notes}</dl>")


def _cell(row) -> str:
    if pd.isna(row.value):
        return ""
    if pd.isna(row.base_value):
        return f"{row.value:.4f}"
    return (f"{row.value:.4f}<br><small>base {row.base_value:.4f} · {row.change:+.4f} · "
            f"{100 * row.relative:+.1f} %</small>")


def _notebooks(statuses: list[dict]) -> str:
    rows = []
    for s in statuses:
        links = (f'<a href="{_e(s["name"])}.html">HTML</a> · <a href="{_e(s["name"])}.ipynb">ipynb</a>'
                 if s["html"] else (f'<a href="{_e(s["name"])}.ipynb">ipynb</a>' if s["executed"]
                                    else ""))
        status = {"finished": '<span class="ok">finished</span>',
                  "failed": '<span class="missing">failed: see the executed notebook</span>',
                  "not run": '<span class="missing">not run</span>'}[s["status"]]
        params = "".join(f"<dt><code>{_e(k)}</code></dt><dd><code>{_e(json.dumps(v))}</code></dd>"
                         for k, v in sorted(s["parameters"].items()))
        details = f"<details><summary>parameters</summary><dl>{params}</dl></details>" if params else ""
        seconds = f"{s['seconds']:,.0f} s" if s["seconds"] is not None else ""
        memory = f"{s['peak_memory_mb']:,.0f} MB" if s["peak_memory_mb"] else ""
        rows.append(f"<tr><th>{_e(s['name'])}</th><td>{status}</td><td class=\"num\">{seconds}</td>"
                    f"<td class=\"num\">{memory}</td><td>{links}</td><td>{details}</td></tr>")
    return ("<h2>Notebooks</h2><table><thead><tr><th>notebook</th><th>status</th><th>wall time</th>"
            "<th>peak memory</th><th>executed copy</th><th>parameters</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


def _data(step: dict | None) -> str:
    if not step or "counts" not in step:
        return f'<h2>Data</h2><p class="missing">No datasets recorded (notebook 01 writes {DATA_DIR}/).</p>'
    counts, source = step["counts"], step.get("source", {})
    splits = list(counts["occupations"])
    rows = [("occupations", [counts["occupations"][s] for s in splits]),
            ("graded pairs", [sum(counts["pairs"][s].values()) for s in splits]),
            ("retrieval pairs", [counts["retrieval_pairs"][s] for s in splits])]
    body = "".join(f"<tr><th>{name}</th>" + "".join(f'<td class="num">{v:,}</td>' for v in values)
                   + "</tr>" for name, values in rows)
    facts = ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in source.items())
    return (f"<h2>Data</h2><p>Source: {_e(facts)}; {counts.get('qa_pairs', 0):,} QA pairs from "
            f"documents.</p><table><thead><tr><th></th>"
            + "".join(f"<th>{_e(s)}</th>" for s in splits) + f"</tr></thead><tbody>{body}</tbody></table>")


def _e(text) -> str:
    return html.escape(str(text))


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
