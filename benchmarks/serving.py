"""Notebook 06 on the full ESCO export: the tuned model served fast on a CPU.

The series' runner executes notebooks 01, 04 and 06 at ``--profile full`` on the ESCO export
into a new run folder: notebook 04 tunes MiniLM (the full profile), notebook 06 exports the
tuned model to ONNX and OpenVINO (float32 and int8), distils and fine-tunes a static model, and
measures every variant side by side on the held-out test split, with quantised vectors and
rescoring. The notebook is the recipe; this script reads what it recorded and prints each
variant's speed and quality against the served model in PyTorch. ``--run-dir`` reads a run that
already holds notebook 04 (a full ``make run``): notebook 06 runs into it unless it has already.
``--model SPEC`` serves that model instead of notebook 04's, and runs notebooks 01 and 06 only
(``--model minilm``: the packaged base model, the same network as the tuned one, in minutes
instead of notebook 04's hour and a half).

    .venv/bin/python benchmarks/serving.py [--esco-dir DIR] [--stsb-dir DIR] [--model SPEC] \\
        [--run-dir DIR | --reports DIR] [--json PATH [--replace]]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

import nbhelpers  # noqa: F401  (the hub mode before any hub library is imported)
from common import (add_data_option, add_figure_options, add_run_options, notebook_run,
                    run_provenance, write)

NAME = "serving"
RESULTS = "results/06_serving.json"


def serve_in(run_dir) -> bool:
    """Run notebook 06 in a run folder that holds notebook 04's results but not yet its own;
    False when it had run there already."""
    if (run_dir / RESULTS).exists():
        return False
    command = [sys.executable, "-m", "nbhelpers.run", "--profile", "full", "--run-dir", str(run_dir),
               "--only", "06"]
    print("running:", " ".join(command[1:]), flush=True)
    if subprocess.run(command, check=False).returncode != 0:
        raise SystemExit(f"notebook 06 failed; its executed copy is in {run_dir}")
    return True


def figures(run_dir) -> dict:
    payload = json.loads((run_dir / RESULTS).read_text())
    manifest = json.loads((run_dir / "manifest.json").read_text())
    step = manifest["steps"].get("run:06_serving", {})
    return {"served_model": payload["served_model"], "variants": payload["variants"],
            "vector_store": payload["vector_store"], "recommendation": payload["recommendation"],
            "parameters": manifest["steps"]["06_serving"]["parameters"],
            "seconds": step.get("seconds", payload["seconds"]), "peak_memory_mb": step.get("peak_memory_mb")}


def report(found: dict) -> None:
    reference = found["served_model"]
    print(f"served model: {reference}; every figure relative to it in PyTorch (batch of 32)")
    for row in found["variants"]:
        print(f"  {row['variant']:<16} {row['runtime']:<30} nDCG@10 {row['ndcg@10']:.4f} "
              f"({100 * row['kept']:.1f} %), at 64 dims {row['ndcg@10 at 64']:.4f} "
              f"({100 * row['kept at 64']:.1f} %), {row['texts_per_second']:,.0f} texts/s "
              f"({row['speedup']:.1f}x), {row['disk_mb']:.0f} MB")
    print("vector store (the tuned model's vectors):")
    for row in found["vector_store"]:
        print(f"  {row['dim']:>4} dims {row['search']:<22} {row['bytes_per_vector']:>7g} bytes "
              f"nDCG@10 {row['ndcg@10']:.4f} ({100 * row['kept']:.1f} % of float32)")
    print(found["recommendation"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_option(parser, "esco")
    add_data_option(parser, "stsb")
    add_run_options(parser)
    parser.add_argument("--model", metavar="SPEC", help="serve this model (notebook 06's model "
                        "parameter) instead of the run's best retrieval model; runs 01 and 06 only")
    add_figure_options(parser, NAME)
    args = parser.parse_args()
    if args.model and args.run_dir:
        raise SystemExit("--model runs notebooks 01 and 06 in a new run; --run-dir serves an "
                         "earlier run's model")
    run_dir = (notebook_run(args, ["01", "06"], "serving", {"model": args.model}) if args.model
               else notebook_run(args, ["01", "04", "06"], "serving"))
    served_now = serve_in(run_dir)
    found = figures(run_dir)
    report(found)
    write(args, NAME, found, provenance=run_provenance(run_dir) if args.run_dir and not served_now else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
