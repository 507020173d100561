"""Notebook 04's joint option on the full ESCO export: one model for job-title similarity and retrieval.

The series' runner executes notebook 01 at ``--profile full`` into a new run folder (or
``--run-dir`` names a run that holds it); then notebook 04 runs there at the full profile with
``joint = True``, once per ``--variant`` (none given: the option's defaults), each a new attempt
of the joint step, measured like the runner measures a notebook (wall time, peak memory of the
kernel). ``--retrieval`` runs notebook 04 without the option first, for its memory and figures;
given without ``--variant``, only that: each model can be measured by a command of its own and
the docs read the figure files together.
The notebook is the recipe; this script reads what each execution recorded: on the held-out test
split, domain pair Spearman, nDCG@10 at full size and at 64 dimensions, and STS-B test Spearman,
each beside the base model's, and the forgetting guard's sweep (validation retrieval and pair
Spearman of each blend). One to two hours per model on 2 CPU cores.

    .venv/bin/python benchmarks/joint.py [--esco-dir DIR] [--stsb-dir DIR] [--run-dir DIR | --reports DIR] \\
        [--retrieval] [--variant "pairs_loss=angle" ...] [--json PATH [--replace]]

A variant is ``name=value`` pairs of notebook 04 parameters, separated by commas (values are read
as YAML): ``--variant "pairs_loss=angle"``, ``--variant "pairs_share=2.0"``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import nbhelpers  # noqa: F401  (the hub mode before any hub library is imported)
from common import (add_data_option, add_figure_options, add_run_options, data_dir, notebook_run,
                    run_provenance, write)

NAME = "joint"
#: The figures read for each model: (name, dataset, split, metric, dim or "full").
FIGURES = (("pair Spearman", "esco-pairs", "test", "spearman", None),
           ("nDCG@10", "esco-retrieval", "test", "ndcg@10", "full"),
           ("nDCG@10 at 64", "esco-retrieval", "test", "ndcg@10", 64),
           ("STS-B test Spearman", "stsb", "test", "cosine_spearman", None))


def parse_variant(text: str) -> dict:
    from nbhelpers.values import read_yaml

    variant = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        if not sep or not name.strip():
            raise SystemExit(f"--variant {text!r}: expected name=value pairs separated by commas")
        variant[name.strip()] = read_yaml(value.strip(), f"--variant {name.strip()}")
    if "joint" in variant:
        raise SystemExit("--variant: joint is what this benchmark sets; give the other parameters")
    return variant


def planned(retrieval: bool, variants: list[dict]) -> list[tuple[str, dict]]:
    """The executions of notebook 04 a command asks for, (label, parameters) in order: the
    retrieval model when ``retrieval``, then one joint model per variant; no variant: the
    option's defaults, unless the retrieval model is all that was asked for."""
    if len(variants) > 3:
        raise SystemExit(f"--variant given {len(variants)} times: at most three variants are measured")
    plan = [("retrieval", {})] if retrieval else []
    if variants or not retrieval:
        plan += [(f"joint-v{k}", {"joint": True, **variant})
                 for k, variant in enumerate(variants or [{}], start=1)]
    return plan


def execute(run_dir: Path, label: str, parameters: dict) -> dict:
    """Notebook 04 into ``run_dir`` with the full profile and ``parameters``, as the runner runs
    it; returns the results file it wrote, its seconds and the kernel's peak memory."""
    import papermill as pm

    from nbhelpers.paths import project_root
    from nbhelpers.report import PeakMemory
    from nbhelpers.run import PROFILES

    before = set((run_dir / "results").glob("*.json"))
    output = run_dir / f"04_matryoshka-{label}.ipynb"
    params = {"run_dir": str(run_dir), "profile": "full", **PROFILES["full"]["04"], **parameters}
    print(f"running notebook 04 ({label}): {parameters}", flush=True)
    start = time.perf_counter()
    with PeakMemory() as memory:
        pm.execute_notebook(str(project_root() / "notebooks" / "04_matryoshka.ipynb"), str(output),
                            parameters=params, kernel_name="python3", cwd=str(Path.cwd()),
                            progress_bar=True)
    (written,) = set((run_dir / "results").glob("*.json")) - before
    return {"label": label, "parameters": parameters, "results": written.stem,
            "seconds": round(time.perf_counter() - start, 1), "peak_memory_mb": round(memory.peak_mb, 1)}


def figures(run_dir: Path, execution: dict) -> dict:
    payload = json.loads((run_dir / "results" / f"{execution['results']}.json").read_text())
    tuned = next(spec for spec, info in payload["models"].items() if info.get("path"))
    base = payload["models"][tuned]["base"]
    records = payload["records"]

    def pick(model, dataset, split, metric, dim):
        rows = [r for r in records if (r["model"], r["dataset"], r["split"], r["metric"]) ==
                (model, dataset, split, metric)]
        if dim == "full":
            rows = [r for r in rows if r["dim"] == max(x["dim"] for x in rows)]
        elif dim is not None:
            rows = [r for r in rows if r["dim"] == dim]
        return rows[0]["value"] if rows else None

    training = payload["training"]
    guard = payload.get("forgetting_guard") or {}
    return {**execution, "model": tuned, "base": base,
            "tuned": {name: pick(tuned, *spec) for name, *spec in FIGURES},
            "base_figures": {name: pick(base, *spec) for name, *spec in FIGURES},
            "config": training["config"], "metric_for_best_model": training["metric_for_best_model"],
            "train_rows": training["train_rows"], "pairs_rows": training.get("pairs_rows", 0),
            "replay_rows": training["replay_rows"], "training_seconds": training["seconds"],
            "guard": {k: guard.get(k) for k in ("alpha", "reason", "sweep")}}


def report(rows: list[dict]) -> None:
    base = rows[0]["base_figures"]
    known = ", ".join(f"{k} {v:.4f}" for k, v in base.items() if v is not None)
    print(f"\nbase model {rows[0]['base']}: {known}")
    for row in rows:
        print(f"{row['model']} ({row['label']}, {row['parameters'] or 'defaults'}; "
              f"{row['seconds'] / 60:.0f} min, peak memory {row['peak_memory_mb'] / 1024:.1f} GB, "
              f"guard alpha {row['guard']['alpha']}):")
        for name, value in row["tuned"].items():
            if value is not None:
                print(f"  {name:<20} {value:.4f} ({value - base[name]:+.4f} against the base)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_option(parser, "esco")
    add_data_option(parser, "stsb")
    add_run_options(parser)
    parser.add_argument("--retrieval", action="store_true",
                        help="run notebook 04 without the joint option (first); "
                        "without --variant, only that")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=VALUE,...",
                        help="notebook 04 parameters of one joint run (repeatable; none: the defaults)")
    add_figure_options(parser, NAME)
    args = parser.parse_args()
    plan = planned(args.retrieval, [parse_variant(v) for v in args.variant])
    os.environ["STSB_DIR"] = str(data_dir(args.stsb_dir, "stsb"))
    run_dir = notebook_run(args, ["01"], NAME)
    rows = [figures(run_dir, execute(run_dir, label, parameters)) for label, parameters in plan]
    report(rows)
    write(args, NAME, {"run": str(run_dir), "runs": rows, "run_provenance": run_provenance(run_dir)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
