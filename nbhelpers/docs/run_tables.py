"""A whole run of the series as a figure file (``run-summary/1``) and the tables made from it.

``python -m nbhelpers.docs record reports/<run-id> docs/data/<name>.json`` reads the run's
manifest and results files; the provenance is that of the run (the runner's command, commit,
machine and date), and ``recorded_by`` that of the record command.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from nbhelpers.docs.markdown import (boundary, number, percent_change, provenance_line, seconds,
                                     short_commit, signed, table)
from nbhelpers.errors import InputError
from nbhelpers.runs import MANIFEST, RESULTS_DIR

#: What each notebook's results file adds beside its records, kept in the summary.
EXTRAS = {"03_siamese_use": ("test_gain", "forgetting_guard", "training"),
          "04_matryoshka": ("forgetting_guard", "training"),
          "04_matryoshka-joint": ("forgetting_guard", "training"),
          "05_comparison": ("recommendation",)}
#: Long per-step series left out of the summary (the run folder keeps them).
DROPPED = {"losses", "config"}


def summarise_run(run_dir: str | Path) -> dict:
    """The figures of a run folder as a ``run-summary/1`` body (provenance included)."""
    from nbhelpers.compare import base_models

    run_dir = Path(run_dir)
    manifest_path = run_dir / MANIFEST
    if not manifest_path.is_file():
        raise InputError(f"{manifest_path}: not found; expected a run folder written by "
                         "python -m nbhelpers.run")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if not manifest.get("invocations"):
        raise InputError(f"{manifest_path}: records no runner command; record a run made with "
                         "python -m nbhelpers.run (make run)")
    results = sorted((run_dir / RESULTS_DIR).glob("*.json"))
    if not results:
        raise InputError(f"{run_dir / RESULTS_DIR}: no results files; the run has no figures to record")
    first = manifest["invocations"][0]
    steps = manifest["steps"]
    notebooks = [{"name": name.removeprefix("run:"), "seconds": step.get("seconds"),
                  "peak_memory_mb": step.get("peak_memory_mb")}
                 for name, step in steps.items() if name.startswith("run:")]
    records, models, extras = [], {}, {}
    bases = base_models(run_dir)
    for path in results:
        payload = json.loads(path.read_text(encoding="utf-8"))
        records += [{**r, "notebook": path.stem} for r in payload["records"]]
        for spec, info in payload.get("models", {}).items():
            models.setdefault(spec, {"notebook": path.stem, "dim": info.get("dim"),
                                     "base": bases.get(spec)})
        kept = {k: _drop(payload[k]) for k in EXTRAS.get(path.stem, ()) if payload.get(k) is not None}
        if kept:
            extras[path.stem] = kept
    data = steps.get("01_data_preparation", {})
    return {"provenance": {k: first.get(k) for k in ("command", "commit", "machine", "date")},
            "run": {"id": run_dir.name, "profile": first.get("profile"), "hub": first.get("hub"),
                    "invocations": len(manifest["invocations"])},
            "notebooks": notebooks, "data": {"source": data.get("source"), "counts": data.get("counts")},
            "models": models, "extras": extras, "records": records}


def _drop(value):
    if isinstance(value, dict):
        return {k: _drop(v) for k, v in value.items() if k not in DROPPED}
    return value


def run_summary(payloads: list[dict]) -> dict[str, str]:
    """One run: its tables. Several runs (``quick+full-esco``): ``notebooks``, the series'
    notebooks with each run's wall time and peak memory side by side."""
    if len(payloads) > 1:
        return {"notebooks": _notebooks(payloads), **_notebook_times(payloads)}
    (p,) = payloads
    records = pd.DataFrame(p["records"])
    tables = {"summary": _summary(p, records), "timings": _timings(p), **_baseline(records),
              **_siamese(p, records), **_matryoshka(p, records), **_comparison(p, records)}
    line = provenance_line(p["provenance"])
    return {name: f"{body}\n\n{line}" for name, body in tables.items() if body}


def _summary(p: dict, records: pd.DataFrame) -> str:
    from nbhelpers.compare import against_base, summary_table

    summary = summary_table(records.drop_duplicates(["model", "dataset", "split", "metric", "dim"]))
    bases = {m: info["base"] for m, info in p["models"].items() if info.get("base")}
    long = against_base(summary, bases).set_index(["model", "metric"])
    rows = []
    for model in summary.index:
        row = [f"`{model}`"]
        for column in summary.columns:
            cell = long.loc[(model, column)]
            change = percent_change(cell.value, cell.base_value)
            row.append(number(cell.value) + (f" ({change})" if change else ""))
        rows.append(row)
    return table(["model", *summary.columns], rows) + (
        "\n\nTuned models show, in brackets, the change against the base model they started from.")


def _timings(p: dict) -> str:
    rows = [[n["name"], seconds(n["seconds"]), f"{n['peak_memory_mb']:,.0f} MB"] for n in p["notebooks"]]
    total = sum(n["seconds"] or 0 for n in p["notebooks"])
    peak = max((n["peak_memory_mb"] or 0 for n in p["notebooks"]), default=0)
    rows.append(["**the series**", f"**{total:,.0f} s ({total / 60:.0f} min)**", f"**{peak:,.0f} MB**"])
    return table(["notebook", "wall time", "peak memory"], rows)


def _notebooks(payloads: list[dict]) -> str:
    from nbhelpers.run import PASS_TITLES, notebooks, steps

    header = ["notebook", "what it teaches",
              *(f"{p['run']['profile']} profile: time, peak memory" for p in payloads)]
    rows = []
    for run_step in steps(notebooks()):
        path = run_step.path
        title = json.loads(path.read_text(encoding="utf-8"))["cells"][0]["source"][0]
        row = [f"[{path.stem}](notebooks/{path.name})", title.lstrip("# ").split("·", 1)[-1].strip()]
        if run_step.parameters:   # a second pass of the notebook above
            row = [run_step.name, PASS_TITLES[run_step.pass_name]]
        for p in payloads:
            step = next((n for n in p["notebooks"] if n["name"] == run_step.name), None)
            row.append(f"{_minutes(step['seconds'])}, {step['peak_memory_mb'] / 1024:.1f} GB"
                       if step else "")
        rows.append(row)
    lines = "\n\n".join(f"{p['run']['profile']}: {provenance_line(p['provenance'])}" for p in payloads)
    return f"{table(header, rows)}\n\n{lines}"


def _notebook_times(payloads: list[dict]) -> dict[str, str]:
    """``time-NN``: one line for the top of notebook NN, its time and peak memory per run."""
    from nbhelpers.run import notebooks

    tables = {}
    for path in notebooks():
        parts, commits = [], set()
        for p in payloads:
            step = next((n for n in p["notebooks"] if n["name"] == path.stem), None)
            if step:
                commits.add(short_commit(p["provenance"]["commit"]))
                machine = p["provenance"]["machine"]
                parts.append(f"{p['run']['profile']} profile {_minutes(step['seconds'])} "
                             f"(peak memory {step['peak_memory_mb'] / 1024:.1f} GB) on "
                             f"{machine['cores']} CPU cores")
        if parts:
            named = ", ".join(sorted(commits))
            tables[f"time-{path.name[:2]}"] = (f"**Time:** {'; '.join(parts)} "
                                               f"({'commits' if len(commits) > 1 else 'commit'} {named}).")
    return tables


def _minutes(value: float) -> str:
    return f"{value:.0f} s" if value < 100 else f"{value / 60:.0f} min"


def _pick(records: pd.DataFrame, notebook: str, **match) -> pd.DataFrame:
    rows = records[records.notebook == notebook]
    for key, value in match.items():
        rows = rows[rows[key] == value]
    return rows


def _baseline(records: pd.DataFrame) -> dict[str, str]:
    base = records[records.notebook == "02_baseline"]
    if base.empty:
        return {}
    columns = [("STS-B dev Pearson (angular)", "stsb", "dev", "angular_pearson"),
               ("STS-B test Spearman (cosine)", "stsb", "test", "cosine_spearman"),
               ("domain test Spearman", "esco-pairs", "test", "spearman"),
               ("domain test Pearson", "esco-pairs", "test", "pearson")]
    rows = []
    for model in dict.fromkeys(base.model):
        row = [f"`{model}`"]
        for _, dataset, split, metric in columns:
            value = base[(base.model == model) & (base.dataset == dataset) & (base.split == split)
                         & (base.metric == metric) & base.dim.isna()].value
            row.append(number(value.iloc[0]) if len(value) else "")
        rows.append(row)
    metrics = ["ndcg@10", "mrr@10", "recall@1", "recall@10", "map@100"]
    retrieval = base[(base.dataset == "esco-retrieval") & base.metric.isin(metrics)].pivot_table(
        index=["model", "dim"], columns="metric", values="value", sort=False)
    order = list(dict.fromkeys(base.model))
    retrieval_rows = [[f"`{m}`", int(d), *(number(retrieval.at[(m, d), x]) for x in metrics)]
                      for m, d in sorted(retrieval.index, key=lambda i: (order.index(i[0]), -i[1]))]
    return {"baseline": table(["model", *(c[0] for c in columns)], rows),
            "baseline-retrieval": table(["model", "dim", "nDCG@10", "MRR@10", "Recall@1", "Recall@10",
                                         "MAP@100"], retrieval_rows)}


def _siamese(p: dict, records: pd.DataFrame) -> dict[str, str]:
    extras = p["extras"].get("03_siamese_use")
    if not extras:
        return {}
    guard = extras["forgetting_guard"]
    sweep = {row["alpha"]: row for row in guard["sweep"]}
    alpha = guard["alpha"]
    base_row = guard.get("base") or sweep[0.0]     # earlier results files kept the base apart
    shown = [("`use-m3` base", base_row), ("tuned (α = 1)", sweep.get(1.0)),
             (f"chosen blend (α = {alpha:g})", sweep.get(alpha, base_row))]
    sts_key, sts_header = (("stsb_dev_spearman", "STS-B dev Spearman") if "stsb_dev_spearman" in base_row
                           else ("stsb_dev_pearson", "STS-B dev Pearson (angular)"))
    rows = [[name, number(s["domain_val_spearman"], 5), number(s["domain_test_spearman"], 5),
             number(s[sts_key], 5)] for name, s in shown if s]
    gain = extras["test_gain"]
    models = table(["model", "domain val Spearman", "domain test Spearman", sts_header],
                   rows) + (f"\n\nTest Spearman gain of the chosen blend over the base: "
                            f"{signed(gain['gain'])}, 95 % interval {signed(gain['low'])} to "
                            f"{signed(gain['high'])} (cluster bootstrap over held-out unit groups).")
    training = extras["training"]
    history = pd.DataFrame(training["history"])
    history_rows = [[int(r.epoch), number(r.loss, 5), number(r.val_loss, 5)] for r in history.itertuples()]
    models += (f" Training: {seconds(training['seconds'])}, {training['samples_per_second']:.1f} pairs/s; "
               f"early stopping kept epoch {training['best_epoch']}.")
    auc = records[(records.notebook == "03_siamese_use") & records.metric.str.endswith("/auc")]
    merged = next((m for m in dict.fromkeys(auc.model) if m.endswith("-merged")), None)
    base = p["models"].get(merged, {}).get("base")
    auc_rows = []
    for metric in dict.fromkeys(auc.metric):
        values = auc[auc.metric == metric].set_index("model").value
        auc_rows.append([boundary(metric),
                         number(values.get(base)), number(values.get(merged))])
    return {"siamese": models,
            "siamese-history": table(["epoch", "training loss", "validation loss"], history_rows),
            "siamese-auc": table(["neighbouring levels (test pairs)", "base", f"chosen (α = {alpha:g})"],
                                 auc_rows) if auc_rows else ""}


def _matryoshka(p: dict, records: pd.DataFrame) -> dict[str, str]:
    rows = _pick(records, "04_matryoshka", dataset="esco-retrieval", metric="ndcg@10")
    tuned = next((m for m, i in p["models"].items() if i["notebook"] == "04_matryoshka" and i.get("base")),
                 None)
    if rows.empty or tuned is None:
        return {}
    base = p["models"][tuned]["base"]
    by = rows.pivot_table(index="dim", columns="model", values="value").sort_index(ascending=False)
    dim_rows = [[int(d), number(r[base]), number(r[tuned]), percent_change(r[tuned], r[base])]
                for d, r in by.iterrows()]
    sts = _pick(records, "04_matryoshka", dataset="stsb", split="test", metric="cosine_spearman")
    pairs = _pick(records, "04_matryoshka", dataset="esco-pairs", split="test", metric="spearman")
    check_rows = [[f"`{m}`", number(sts[sts.model == m].value.max()),
                   number(pairs[pairs.model == m].value.max())] for m in (base, tuned)]
    training = p["extras"].get("04_matryoshka", {}).get("training", {})
    guard = p["extras"].get("04_matryoshka", {}).get("forgetting_guard")
    note = ""
    if training:
        replay = training.get("replay_rows")
        note = (f"\n\nTraining: {training.get('train_rows', 0):,} rows"
                + (f" plus {replay:,} STS-B replay pairs" if replay else "")
                + f", {seconds(training.get('seconds'))}, "
                f"{training.get('samples_per_second', 0):.1f} samples/s")
        note += f"; the guard kept α = {guard['alpha']:g}." if guard else "."
    header = ["dim", f"`{base}` nDCG@10", f"`{tuned}` nDCG@10", "change"]
    return {"matryoshka": table(header, dim_rows) + note,
            "matryoshka-checks": table(["model", "STS-B test Spearman (cosine)", "domain test Spearman"],
                                       check_rows)}


def _comparison(p: dict, records: pd.DataFrame) -> dict[str, str]:
    storage = records[(records.notebook == "05_comparison") & records.metric.str.startswith("ndcg@10/")]
    tables = {}
    if not storage.empty:
        wide = storage.assign(precision=storage.metric.str.split("/").str[1]).pivot_table(
            index=["model", "dim"], columns="precision", values="value", sort=False)
        order = list(dict.fromkeys(storage.model))
        rows = [[f"`{m}`", int(d), f"{int(d) * 4:,} / {int(d):,} / {int(d) // 8:,}",
                 *(number(wide.at[(m, d), x]) for x in ("float32", "int8", "binary"))]
                for m, d in sorted(wide.index, key=lambda i: (order.index(i[0]), -i[1]))]
        tables["storage"] = table(["model", "dim", "bytes per vector (float32 / int8 / binary)",
                                   "nDCG@10 float32", "int8", "binary"], rows)
    recommendation = p["extras"].get("05_comparison", {}).get("recommendation")
    if recommendation:
        tables["recommendation"] = f"> {recommendation}"
    return tables


def figures(p: dict, folder: Path, name: str) -> list[Path]:
    """The run's headline figures as PNG files: nDCG@10 by dimension, STS-B against domain."""
    from nbhelpers import plots
    from nbhelpers.docs.images import write_png

    records = pd.DataFrame(p["records"]).drop_duplicates(["model", "dataset", "split", "metric", "dim"])
    retrieval = records[(records.dataset == "esco-retrieval") & (records.split == "test")]
    return [write_png(fig, folder / f"{name}-{suffix}.png")
            for suffix, fig in (("ndcg-by-dim", plots.plot_metric_by_dim(retrieval, "ndcg@10")),
                                ("sts-vs-domain", plots.plot_generalisation_vs_domain(records)))]
