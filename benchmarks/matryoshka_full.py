"""Notebook 04 on the full ESCO export: Matryoshka tuning of the packaged MiniLM for retrieval.

The series' runner executes notebooks 01 and 04 at ``--profile full`` (``PrepareConfig.full()``
and ``MatryoshkaConfig.full()``: six training questions per occupation plus the QA pairs, a
mined hard negative per row, STS-B replay, the forgetting guard) into a new run folder; the
notebook is the recipe, and this script reads what it recorded: nDCG@10 of the base and the
tuned model on the held-out test split at every dimension, STS-B test Spearman of both, and
the training's size and speed. ``--run-dir`` reads a run that already holds notebook 04 (a full
``make run``) instead. About an hour on 2 CPU cores.

    .venv/bin/python benchmarks/matryoshka_full.py [--esco-dir DIR] [--stsb-dir DIR] \\
        [--run-dir DIR | --reports DIR] [--json PATH [--replace]]
"""
from __future__ import annotations

import argparse
import json
import time

import nbhelpers  # noqa: F401  (the hub mode before any hub library is imported)
from common import (add_data_option, add_figure_options, add_run_options, notebook_run,
                    run_provenance, write)

NAME = "matryoshka-full"


def figures(run_dir) -> dict:
    payload = json.loads((run_dir / "results" / "04_matryoshka.json").read_text())
    tuned = next(spec for spec, info in payload["models"].items() if info.get("path"))
    base = payload["models"][tuned]["base"]
    ndcg = {(r["model"], r["dim"]): r["value"] for r in payload["records"]
            if r["dataset"] == "esco-retrieval" and r["metric"] == "ndcg@10"}
    dims = sorted({d for _, d in ndcg}, reverse=True)
    sts = {r["model"]: r["value"] for r in payload["records"]
           if (r["dataset"], r["split"], r["metric"]) == ("stsb", "test", "cosine_spearman")}
    training = payload["training"]
    return {"config": training["config"], "models": {"base": base, "tuned": tuned},
            "quality": {"dims": dims, "base_ndcg": {str(d): ndcg[base, d] for d in dims},
                        "tuned_ndcg": {str(d): ndcg[tuned, d] for d in dims},
                        "sts_test_spearman": {"base": sts.get(base), "tuned": sts.get(tuned)},
                        "train_rows": training["train_rows"], "replay_rows": training["replay_rows"],
                        "steps": training["steps"], "training_seconds": training["seconds"],
                        "samples_per_second": training["samples_per_second"],
                        "best_metric": training["best_metric"],
                        "metric_for_best_model": training["metric_for_best_model"]},
            "guard": payload.get("forgetting_guard"), "seconds": payload["seconds"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_option(parser, "esco")
    add_data_option(parser, "stsb")
    add_run_options(parser)
    add_figure_options(parser, NAME)
    args = parser.parse_args()
    start = time.perf_counter()
    run_dir = notebook_run(args, ["01", "04"], NAME)
    found = figures(run_dir)
    quality = found["quality"]
    print(f"\nretrieval on the held-out test split: nDCG@10 of {found['models']['base']} and "
          f"{found['models']['tuned']}\n{'dim':>5} {'base':>8} {'tuned':>8} {'change':>8}")
    for dim in quality["dims"]:
        b, t = quality["base_ndcg"][str(dim)], quality["tuned_ndcg"][str(dim)]
        print(f"{dim:>5} {b:8.4f} {t:8.4f} {100 * (t / b - 1):+7.1f}%")
    small, full = quality["dims"][-1], quality["dims"][0]
    print(f"tuned at {small} dims against base at {full}: "
          f"{quality['tuned_ndcg'][str(small)]:.4f} vs {quality['base_ndcg'][str(full)]:.4f}")
    sts = quality["sts_test_spearman"]
    if sts["base"] is not None and sts["tuned"] is not None:
        print(f"STS-B test cosine Spearman: base {sts['base']:.4f}, tuned {sts['tuned']:.4f} "
              f"({sts['tuned'] - sts['base']:+.4f})")
    print(f"training: {quality['train_rows']:,} rows + {quality['replay_rows']:,} STS-B pairs, "
          f"{quality['steps']} steps in {quality['training_seconds']:.0f} s; run folder {run_dir}; "
          f"{time.perf_counter() - start:.0f} s")
    write(args, NAME, found, run_provenance(run_dir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
