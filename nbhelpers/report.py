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

from nbhelpers.evaluation import rows_of
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
        skipped = steps.get(f"skip:{stem}")
        if skipped and status == "not run":
            status = "skipped: " + skipped.get("reason", "")
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
    sections = [""]
    table = None
    if any((run_dir / RESULTS_DIR).glob("*.json")):
        from nbhelpers.compare import collect_results

        table, _ = collect_results(run_dir)
    domain = _domain(run_dir)
    sections[0] = _header(run_dir, invocation, statuses, domain)
    sections.append(_recommendation(run_dir))
    sections.append(_figures(run_dir, table, domain))
    sections.append(_comparison(run_dir, table, domain))
    sections.append(_gains(run_dir, domain))
    sections.append(_serving(run_dir))
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


#: What a run adapts to, by domain (the page's title).
SUBJECTS = {"esco": "job titles", "docs": "your documents", "pairs": "your scored pairs"}
#: The comparison columns' notes where your data change their meaning.
DOMAIN_NOTES = {
    "docs": {"nDCG@10 full size": "retrieval: questions about your held-out documents finding their "
             "passage among every chunk of the collection, at the model's full vector size"},
    "pairs": {"domain test Spearman": "your held-out scored pairs (no text of them in training): "
              "does the model order them as your scores do?"},
}


#: What the up axis of the general-vs-domain figure measures, by domain.
DOMAIN_AXIS = {"esco": "job-title pairs of held-out groups", "pairs": "your held-out scored pairs",
               "docs": "retrieval on your held-out documents (nDCG@10)"}


def _domain(run_dir: Path) -> str:
    from nbhelpers.prepare import DATASET_FILE

    path = run_dir / DATA_DIR / DATASET_FILE
    return json.loads(path.read_text(encoding="utf-8"))["domain"] if path.exists() else "esco"


def _header(run_dir: Path, invocation: dict, statuses: list[dict], domain: str) -> str:
    machine = invocation.get("machine", {})
    done = sum(s["status"] == "finished" for s in statuses)
    skipped = sum(s["status"].startswith("skipped") for s in statuses)
    seconds = sum(s["seconds"] or 0 for s in statuses)
    peaks = [s["peak_memory_mb"] for s in statuses if s["peak_memory_mb"]]
    facts = [f"{done} of {len(statuses) - skipped} notebooks finished"
             + (f" ({skipped} not for this data)" if skipped else ""),
             f"{seconds / 60:.1f} min of notebook time" if seconds else None,
             f"peak memory {max(peaks):,.0f} MB" if peaks else None,
             f"profile <code>{_e(invocation['profile'])}</code>" if "profile" in invocation else None,
             f"hub {_e(invocation['hub'])}" if "hub" in invocation else None]
    lines = [f"<h1>Adapting sentence embeddings to {SUBJECTS.get(domain, domain)}: run "
             f"{_e(run_dir.name)}</h1>",
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
    bold = _bold(text)
    return (f'<h2>Recommendation</h2><div class="recommendation"><p>{bold}</p></div>'
            "<p><small>Written by notebook 05 from the test-split figures below.</small></p>")


def _bold(text: str) -> str:
    """Escaped text with markdown's **bold** as <strong>."""
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", _e(text))


def _serving(run_dir: Path) -> str:
    """Notebook 06's variants and recommendation, when it ran."""
    path = run_dir / RESULTS_DIR / "06_serving.json"
    if not path.exists():
        return ""
    payload = json.loads(path.read_text())
    head = "".join(f"<th>{c}</th>" for c in ("variant", "runtime", "nDCG@10", "share of PyTorch",
                                              "texts/s", "× PyTorch", "MB on disk"))
    rows = "".join(
        f"<tr><th><code>{_e(r['variant'])}</code></th><td>{_e(r['runtime'])}</td>"
        f'<td class="num">{r["ndcg@10"]:.4f}</td><td class="num">{100 * r["kept"]:.1f} %</td>'
        f'<td class="num">{r["texts_per_second"]:,.0f}</td><td class="num">{r["speedup"]:.1f}</td>'
        f'<td class="num">{r["disk_mb"]:,.0f}</td></tr>' for r in payload.get("variants", []))
    bold = _bold(payload.get("recommendation", ""))
    return (f"<h2>Serving</h2><p>{bold}</p><table><tr>{head}</tr>{rows}</table>"
            f"<p><small>Notebook 06 on the test split: <code>{_e(payload.get('served_model', ''))}"
            "</code> in PyTorch against its exports and static models, speed at a batch of 32 on "
            "this machine.</small></p>")


def _figures(run_dir: Path, table: pd.DataFrame | None, domain: str = "esco") -> str:
    from nbhelpers import plots

    parts = ["<h2>Headline figures</h2>"]
    retrieval = None if table is None else rows_of(
        table[(table.split == "test") & (table.metric == "ndcg@10")], "retrieval")
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
                             "Each model as a point: general English (STS-B dev) across, "
                             f"{DOMAIN_AXIS.get(domain, DOMAIN_AXIS['esco'])} up. Tuning should move a "
                             "model up without moving it left (forgetting)."))
    return "\n".join(parts)


def _figure(run_dir: Path, name: str, fig, caption: str) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    write_bytes_atomic(run_dir / REPORT_DIR / name, buffer.getvalue(), overwrite=True)
    return (f'<figure><img src="{REPORT_DIR}/{name}" alt="{_e(caption.split(".")[0])}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def _comparison(run_dir: Path, table: pd.DataFrame | None, domain: str = "esco") -> str:
    from nbhelpers.compare import against_base, base_models, summary_table

    if table is None or table.empty:
        return '<h2>Comparison</h2><p class="missing">No results yet: no notebook saved results.</p>'
    summary = summary_table(table).dropna(axis=1, how="all")  # a use this run's data lack
    if summary.empty:
        return ('<h2>Comparison</h2><p class="missing">No model scores yet: notebooks 02-04 save '
                "them.</p>")
    long = against_base(summary, base_models(run_dir)).set_index(["model", "metric"])
    head = "".join(f"<th>{_e(c)}</th>" for c in ["model", *summary.columns])
    body = []
    for model in summary.index:
        cells = [f"<th><code>{_e(model)}</code></th>"]
        for column in summary.columns:
            row = long.loc[(model, column)]
            cells.append(f'<td class="num">{_cell(row)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    column_notes = {**COLUMN_NOTES, **DOMAIN_NOTES.get(domain, {})}
    notes = "".join(f"<dt>{_e(c)}</dt><dd>{_e(column_notes[c])}</dd>" for c in summary.columns
                    if c in column_notes and summary[c].notna().any())
    return (f"<h2>Comparison</h2><table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}"
            "</tbody></table><p><small>Tuned models show their base model's value, the change and "
            "the relative change below their own. A blank cell: not measured in this run.</small></p>"
            f"<dl>{notes}</dl>")


def _gains(run_dir: Path, domain: str) -> str:
    """Each tuned model's test gain over its base with the 95 % interval, and what tuning cost."""
    from nbhelpers.compare import USE_WORDS, plural, tuning_gains

    gains = tuning_gains(run_dir)
    if gains.empty:
        return ('<h2>Gain from tuning</h2><p class="missing">No tuned model with a test gain yet '
                "(notebooks 03 and 04 save it).</p>")
    rows = "".join(
        f"<tr><th><code>{_e(g.model)}</code></th><td><code>{_e(g.base)}</code></td>"
        f"<td>{'nDCG@10' if g.metric == 'ndcg@10' else 'Spearman'}</td>"
        f'<td class="num">{g.gain:+.4f}</td><td class="num">{g.low:+.4f} to {g.high:+.4f}</td>'
        f'<td class="num">{int(g.clusters)} {_e(plural(g.unit) if g.unit else "")}</td>'
        f'<td class="num">{"" if pd.isna(g.training_seconds) else f"{g.training_seconds:,.0f} s"}</td>'
        f'<td class="num">{"" if pd.isna(g.model_mb) else f"{g.model_mb:,.0f} MB"}</td></tr>'
        for g in gains.itertuples())
    return ("<h2>Gain from tuning</h2><table><thead><tr><th>tuned model</th><th>base</th><th>metric"
            "</th><th>gain on the test split</th><th>95 % interval</th><th>redrawn</th><th>training"
            f"</th><th>size on disk</th></tr></thead><tbody>{rows}</tbody></table><p><small>Measured on "
            f"{_e(USE_WORDS[domain][2])}. The interval comes from a bootstrap that redraws whole "
            "clusters of the test split (the unit named under <em>redrawn</em>) 1,000 times; an "
            "interval above zero is a gain that another draw of held-out data would keep."
            "</small></p>")


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
                  "not run": '<span class="missing">not run</span>'}.get(
                      s["status"], f"<span>{_e(s['status'])}</span>")
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
    splits = ["train", "validation", "test"]
    rows = [(name, [counts[key][s] for s in splits])
            for name, key in (("occupations", "occupations"), ("documents", "documents"),
                              ("chunks", "chunks")) if key in counts]
    if counts.get("pairs"):
        rows.append(("graded pairs", [sum(counts["pairs"][s].values()) for s in splits]))
    if any(counts["retrieval_pairs"].values()):
        rows.append(("retrieval pairs", [counts["retrieval_pairs"][s] for s in splits]))
    report = step.get("report") or {}
    body = "".join(f"<tr><th>{name}</th>" + "".join(f'<td class="num">{v:,}</td>' for v in values)
                   + "</tr>" for name, values in rows)
    facts = ", ".join(f"{v:,} {k.replace('_', ' ')}" if isinstance(v, int) and not isinstance(v, bool)
                      else f"{k.replace('_', ' ')} {v}" for k, v in source.items())
    extra = (f"; {counts['qa_pairs']:,} QA pairs from documents" if "qa_pairs" in counts else "")
    notes = []
    if "near_duplicates" in report:
        near = report["near_duplicates"]
        twins = near["held_out_chunks_with_a_training_twin"]
        notes.append(f"{near['pairs_across_documents']:,} near-duplicate chunk pairs across documents "
                     f"(TF-IDF cosine ≥ {near['threshold']}); {twins:,} held-out chunks have a "
                     "near-duplicate in a training document")
    if "round_trip" in report:
        trip = report["round_trip"]
        notes.append(f"round-trip filter: {trip['kept']:,} of {trip['checked']:,} training questions "
                     f"kept ({trip['model']} ranks their passage in its top {trip['top_k']})")
    if "qa" in report:
        skipped = {k: v for k, v in report["qa"]["skipped"].items() if v}
        notes.append(f"questions by {report['qa']['method']} from {report['qa']['chunks']:,} chunks"
                     + (f"; chunks skipped: {skipped}" if skipped else ""))
    extra += "".join(f"; {n}" for n in notes)
    return (f"<h2>Data</h2><p>Source: {_e(facts)}{_e(extra)}.</p><table><thead><tr><th></th>"
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
