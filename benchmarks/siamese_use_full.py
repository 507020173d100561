"""Notebook 03 on the full ESCO export: siamese tuning of USE-m3 with the forgetting guard.

The series' runner executes notebooks 01 and 03 at ``--profile full`` (``PrepareConfig.full()``
and ``SiameseConfig.full()``) into a new run folder; the notebook is the recipe, and this script
reads what it recorded: the base, tuned and chosen model on the validation and test pairs and
STS-B dev, the chosen blend, the test gain's 95 % interval (a bootstrap over held-out unit
groups) and how well each model tells neighbouring levels apart (AUC), each against the base
model. ``--run-dir`` reads a run that already holds notebook 03 (a full ``make run``) instead.
About 25 minutes on 2 CPU cores.

    .venv/bin/python benchmarks/siamese_use_full.py [--esco-dir DIR] [--stsb-dir DIR] \\
        [--run-dir DIR | --reports DIR] [--json PATH [--replace]]

Notebook 03's experiment log (docs/siamese-experiments.md) records the trials of other settings.
"""
from __future__ import annotations

import argparse
import json
import time

import nbhelpers  # noqa: F401  (the hub mode before any hub library is imported)
from common import (add_data_option, add_figure_options, add_run_options, notebook_run,
                    run_provenance, write)

NAME = "siamese-use-full"
MEASURES = ("domain_val_spearman", "domain_test_spearman", "stsb_dev_spearman")


def figures(run_dir) -> dict:
    payload = json.loads((run_dir / "results" / "03_siamese_use.json").read_text())
    guard = payload["forgetting_guard"]
    sweep = {row["alpha"]: row for row in guard["sweep"]}
    pick = lambda row: {m: row.get(m) for m in MEASURES}  # noqa: E731
    names = {info.get("alpha") is not None: spec for spec, info in payload["models"].items()
             if info.get("path")}
    merged, base = names[True], payload["models"][names[True]]["base"]
    auc = {}
    for record in payload["records"]:
        if record["dataset"] == "esco-pairs" and record["metric"].endswith("/auc") \
                and record["model"] in (base, merged):
            auc.setdefault(record["metric"].removesuffix("/auc"), {})[
                "base" if record["model"] == base else "chosen"] = record["value"]
    return {"settings": payload["training"]["config"],
            "models": {"base": pick(sweep[0.0]), "tuned": pick(sweep[1.0]),
                       "chosen": pick(sweep[guard["alpha"]])},
            "alpha": guard["alpha"], "guard": guard["reason"], "gain": payload["test_gain"],
            "auc": auc, "training": {k: payload["training"][k]
                                     for k in ("seconds", "samples_per_second", "best_epoch", "history")},
            "seconds": payload["seconds"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_option(parser, "esco")
    add_data_option(parser, "stsb")
    add_run_options(parser)
    add_figure_options(parser, NAME)
    args = parser.parse_args()
    start = time.perf_counter()
    run_dir = notebook_run(args, ["01", "03"], NAME)
    found = figures(run_dir)
    base, chosen = found["models"]["base"], found["models"]["chosen"]
    print(f"\n{'model':<22} {'domain val Spearman':>20} {'domain test Spearman':>21} "
          f"{'STS-B dev Spearman':>19}")
    for name, row in found["models"].items():
        label = f"chosen (alpha={found['alpha']:g})" if name == "chosen" else name
        print(f"{label:<22} {row['domain_val_spearman']:>20.5f} {row['domain_test_spearman']:>21.5f} "
              f"{row['stsb_dev_spearman']:>19.5f}")
    print("\nneighbouring levels told apart on the test pairs (AUC; 0.5: not at all)")
    for boundary, values in found["auc"].items():
        print(f"  {boundary:<40} base {values['base']:.4f}  chosen {values['chosen']:.4f}")
    gain = found["gain"]
    print(f"\nchosen blend vs base: domain test Spearman {gain['gain']:+.5f} (95 % interval "
          f"{gain['low']:+.5f} to {gain['high']:+.5f}), STS-B dev Spearman "
          f"{chosen['stsb_dev_spearman'] - base['stsb_dev_spearman']:+.5f}; {found['guard']}")
    print(f"run folder {run_dir}; {time.perf_counter() - start:.0f} s")
    write(args, NAME, found, run_provenance(run_dir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
