"""Where notebook 04's memory goes at the full profile, and what each way of saving it costs.

Notebook 01's full-profile datasets are built from the ESCO export in memory; then each part of
notebook 04's work runs in a fresh process, so that one part's peak does not hide another's:

* ``loaded``: the packaged MiniLM and the datasets, nothing else;
* ``mining``: a hard negative mined for every training row (``mine_hard_negatives``);
* ``evaluation``: one round of the trainer's validation evaluator, at every dimension;
* ``train <loss>``: ``--steps`` training steps of the full profile's batch, 64 rows of
  (question, passage, hard negative) of up to 128 tokens, with the Matryoshka loss around
  MNRL, MNRL with gradient checkpointing, and cached MNRL at mini-batches of 32 and 16 texts.

Each prints its peak resident memory (the process's high-water mark), what it adds to
``loaded``, and for training the seconds per step (the first step left out). About 10 minutes
on 2 CPU cores.

    .venv/bin/python benchmarks/training_memory.py [--esco-dir DIR] [--steps N] [--json PATH [--replace]]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import add_data_option, add_figure_options, data_dir, write

NAME = "training-memory"
#: Training variants: name -> (loss, mini_batch_size, gradient checkpointing).
TRAINING = {"mnrl": ("mnrl", None, False), "mnrl + gradient checkpointing": ("mnrl", None, True),
            "cached_mnrl, mini-batch 32": ("cached_mnrl", 32, False),
            "cached_mnrl, mini-batch 16": ("cached_mnrl", 16, False)}
PARTS = ["loaded", "mining", "evaluation", *(f"train {name}" for name in TRAINING)]


def peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(part: str, esco: Path, triplets: Path, steps: int) -> dict:
    """Run ``part`` in this process; returns its figures."""
    import nbhelpers  # noqa: F401  (the hub mode before any hub library is imported)
    from nbhelpers.esco import load_esco
    from nbhelpers.matryoshka import data, evaluators, train
    from nbhelpers.matryoshka.config import MatryoshkaConfig
    from nbhelpers.matryoshka.model import load_base_model
    from nbhelpers.prepare import PrepareConfig, build_datasets

    config = MatryoshkaConfig.full()
    prepared = build_datasets(load_esco(esco), PrepareConfig.full())[0]
    model = load_base_model(config.model)[0]
    model.max_seq_length = config.max_seq_length
    loaded = peak_mb()
    out = {"part": part, "loaded_mb": loaded}
    start = time.perf_counter()
    if part == "mining":
        rows = data.to_dataset(data.training_frame(prepared, config), config.loss)
        mined = data.mine_negatives(rows, model, config)
        mined.to_parquet(str(triplets))
        out["rows"] = len(mined)
    elif part == "evaluation":
        dims = [384, 256, 128, 64]
        evaluator = evaluators.share_encodings(
            evaluators.ir_evaluator(prepared.ir(config.eval_split), dims, config.eval_batch_size))
        evaluator(model)
        out["queries"] = len(prepared.ir(config.eval_split)[0])
    elif part.startswith("train "):
        import pandas as pd
        from transformers import TrainerCallback

        loss, mini_batch, checkpointing = TRAINING[part.removeprefix("train ")]
        stamps = []

        class Clock(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                stamps.append(time.perf_counter())

        if checkpointing:
            model[0].auto_model.gradient_checkpointing_enable()
        settings = {"loss": loss, "max_steps": steps, "evaluate": False, "guard_alphas": None,
                    "stsb_replay": 0.0, "hard_negatives": False, "baseline_eval": False, "progress": False,
                    "output_dir": tempfile.mkdtemp(prefix="training-memory-")}
        if mini_batch:
            settings["mini_batch_size"] = mini_batch
        run = train.setup(MatryoshkaConfig.full(**settings), train_data=pd.read_parquet(triplets),
                          model=model, model_source="minilm", callbacks=[Clock()])
        run.trainer.train()
        gaps = [b - a for a, b in zip(stamps, stamps[1:])]
        out["seconds_per_step"] = sum(gaps) / len(gaps)
        out["batch_size"] = config.batch_size
    out["seconds"] = time.perf_counter() - start
    out["peak_mb"] = peak_mb()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_option(parser, "esco")
    parser.add_argument("--steps", type=int, default=6, help="training steps per variant (default 6)")
    parser.add_argument("--part", choices=PARTS, help=argparse.SUPPRESS)   # one part, in a child process
    parser.add_argument("--triplets", type=Path, help=argparse.SUPPRESS)
    add_figure_options(parser, NAME)
    args = parser.parse_args()
    if args.steps < 2:
        raise SystemExit(f"--steps {args.steps}: expected at least 2 (the first step is left out "
                         "of the timing)")
    esco = data_dir(args.esco_dir, "esco")
    if args.part:
        print("RESULT " + json.dumps(measure(args.part, esco, args.triplets, args.steps)), flush=True)
        return 0
    found = []
    with tempfile.TemporaryDirectory(prefix="training-memory-") as folder:
        triplets = Path(folder) / "triplets.parquet"
        for part in PARTS:
            print(f"measuring {part} ...", flush=True)
            child = subprocess.run([sys.executable, __file__, "--esco-dir", str(esco), "--part", part,
                                    "--triplets", str(triplets), "--steps", str(args.steps)],
                                   capture_output=True, text=True, check=False)
            line = next((x for x in child.stdout.splitlines() if x.startswith("RESULT ")), None)
            if child.returncode != 0 or line is None:
                raise SystemExit(f"{part} failed:\n{child.stderr[-3000:]}")
            found.append(json.loads(line.removeprefix("RESULT ")))
    loaded = next(f for f in found if f["part"] == "loaded")["peak_mb"]
    for row in found:
        row["added_mb"] = row["peak_mb"] - loaded
        speed = f", {row['seconds_per_step']:.1f} s per step" if "seconds_per_step" in row else ""
        print(f"  {row['part']:<42} peak {row['peak_mb']:>6,.0f} MB (+{row['added_mb']:,.0f} MB over "
              f"the loaded model and data){speed}")
    plain = next(f for f in found if f["part"] == "train mnrl")
    for row in found:
        if row["part"].startswith("train ") and row is not plain:
            time_ratio = row["seconds_per_step"] / plain["seconds_per_step"]
            print(f"  {row['part'].removeprefix('train ')}: {row['added_mb'] / plain['added_mb']:.2f}x the "
                  f"memory MNRL adds, {time_ratio:.2f}x its time per step")
    write(args, NAME, {"steps": args.steps, "parts": found})
    return 0


if __name__ == "__main__":
    sys.exit(main())
