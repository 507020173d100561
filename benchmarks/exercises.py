"""The notebooks' "Try this" exercises, measured: what each change really does at the quick size.

Every notebook ends with exercises that name the parameters to change, what to look at and what
to expect. The expectation comes from here: the script runs the series once at its quick
defaults (the runner, into a temporary run folder), then each exercise as a learner would in
JupyterLab (the notebook again in the same run folder, with the exercise's parameters: a new
attempt), and records the figures that answer it. ``python -m nbhelpers.docs`` writes them
into the notebooks' "Try this" sections. About 30 minutes on 2 CPU cores.

    STSB_DIR=/path/to/stsbenchmark .venv/bin/python benchmarks/exercises.py \\
        [--only 04] [--json docs/data/exercises.json --replace]

With ``--only`` and ``--replace`` the other notebooks' exercises of the file are kept, each with
the provenance (command, commit, machine) it was measured with.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import nbhelpers  # noqa: F401  (the hub mode before any hub library is imported)
import pandas as pd
from common import add_data_option, add_figure_options, data_dir, write

from nbhelpers.paths import project_root

NAME = "exercises"


def value(payload: dict, model: str, dataset: str, metric: str, dim=None, split: str = "test") -> float:
    """One figure of a results file."""
    for r in payload["records"]:
        if (r["model"], r["dataset"], r["split"], r["metric"], r["dim"]) == (model, dataset, split,
                                                                            metric, dim):
            return r["value"]
    raise KeyError(f"{model} {dataset} {split} {metric} {dim} not in {payload['notebook']}")


def tuned(payload: dict, kind: str = "") -> str:
    """The tuned model of a results file (``kind``: "merged" or "tuned" for notebook 03)."""
    return next(spec for spec, info in payload["models"].items()
                if info.get("path") and (not kind or spec.rsplit("-", 1)[0].endswith(kind)
                                         or f"-{kind}" in spec))


def occupations(run_dir: Path) -> pd.DataFrame:
    return pd.read_csv(run_dir / "data" / "occupations.csv", dtype=str)


def shared_groups(run_dir: Path) -> int:
    """Test occupations whose unit group also has training occupations."""
    occ = occupations(run_dir)
    train = set(occ[occ.split == "train"].isco_group)
    return int(occ[occ.split == "test"].isco_group.isin(train).sum())


def counts(run_dir: Path) -> dict:
    return json.loads((run_dir / "manifest.json").read_text())["steps"]["01_data_preparation"]["counts"]


def qa_report(run_dir: Path) -> dict:
    return json.loads((run_dir / "manifest.json").read_text())["steps"]["01_data_preparation"]["qa_report"]


@dataclass
class Exercise:
    notebook: str
    title: str
    change: dict
    look_at: str
    expect: str                        # a format string over the measured figures
    discussion: str
    measure: Callable                  # (first, changed) -> figures; payloads, or run folders for 01

    def as_record(self, figures: dict, seconds: float) -> dict:
        record = {k: v for k, v in asdict(self).items() if k != "measure"}
        return {**record, "figures": figures, "seconds": round(seconds, 1)}


def compared(new: float, old: float, what: str, tolerance: float = 0.01) -> str:
    """A sentence that says which way ``new`` went against ``old`` (by more than ``tolerance``)."""
    if new > old + tolerance:
        return f"{what} rose by {new - old:.3f}"
    if new < old - tolerance:
        return f"{what} fell by {old - new:.3f}"
    return f"{what} stayed within {tolerance} ({new - old:+.3f})"


def _nb03(first, changed):
    m0, m1 = tuned(first, "merged"), tuned(changed, "merged")
    g0, g1 = first["forgetting_guard"], changed["forgetting_guard"]
    sweep0 = {r["alpha"]: r for r in g0["sweep"]}
    sweep1 = {r["alpha"]: r for r in g1["sweep"]}
    figures = {"gain": first["test_gain"]["gain"], "changed_gain": changed["test_gain"]["gain"],
               "alpha": g0["alpha"], "changed_alpha": g1["alpha"],
               "chosen": value(first, m0, "esco-pairs", "spearman"),
               "changed_chosen": value(changed, m1, "esco-pairs", "spearman"),
               "seconds": first["training"]["seconds"], "changed_seconds": changed["training"]["seconds"],
               "sts_tuned": sweep0[1.0]["stsb_dev_spearman"],
               "changed_sts_tuned": sweep1[1.0]["stsb_dev_spearman"],
               "sts_base": sweep0[0.0]["stsb_dev_spearman"]}
    figures["gain_verdict"] = compared(figures["changed_gain"], figures["gain"], "the gain", 0.005)
    return figures


def _nb04(first, changed):
    t0, t1 = tuned(first), tuned(changed)
    base = first["models"][t0]["base"]
    figures = {f"{who}_{d}": value(p, m, "esco-retrieval", "ndcg@10", d)
               for who, p, m in (("base", first, base), ("tuned", first, t0), ("changed", changed, t1))
               for d in (384, 64)}
    guard = changed.get("forgetting_guard")
    key = changed["training"]["metric_for_best_model"]
    figures.update(seconds=first["training"]["seconds"], changed_seconds=changed["training"]["seconds"],
                   changed_alpha=guard["alpha"] if guard else 1.0,
                   changed_sweep=", ".join(f"α {r['alpha']:g}: {r[key]:.3f}" for r in guard["sweep"])
                   if guard else "")
    figures["verdict_64"] = compared(figures["changed_64"], figures["tuned_64"], "at 64 dimensions nDCG@10")
    figures["verdict_384"] = compared(figures["changed_384"], figures["tuned_384"], "at 384 it")
    return figures


def _nb04_joint(first, changed):
    t0, t1 = tuned(first), tuned(changed)
    base = first["models"][t0]["base"]
    figures = {}
    for who, payload, model in (("base", first, base), ("tuned", first, t0), ("joint", changed, t1)):
        figures[f"{who}_pairs"] = value(payload, model, "esco-pairs", "spearman")
        figures[f"{who}_384"] = value(payload, model, "esco-retrieval", "ndcg@10", 384)
    figures["verdict_pairs"] = compared(figures["joint_pairs"], figures["tuned_pairs"], "pair Spearman")
    figures["verdict_384"] = compared(figures["joint_384"], figures["tuned_384"], "nDCG@10")
    return figures


QUICK_SIZE = ("At the quick size (512 training rows, one epoch) a change shows only what it does to "
              "a short run; the full profile trains on the whole training split of the ESCO export.")

EXERCISES = [
    Exercise("01", "Split by occupation instead of by unit group", {"hold_out_groups": False},
             "the split plot of section 2 and which test occupations share a unit group with training",
             "Held out by unit group, {before} test occupations share a unit group with training "
             "occupations; split by occupation, {after} of {test} do.",
             "A test that shares unit groups with training asks about nearly seen jobs, so its scores "
             "say less about occupations the model has never met.",
             lambda first, changed: {"before": shared_groups(first), "after": shared_groups(changed),
                                     "test": int((occupations(changed).split == "test").sum())}),
    Exercise("01", "Cut documents into smaller chunks", {"qa_chunk_size": 200},
             "the QA pairs of section 5",
             "The {documents} sample documents make {chunks_before} chunks and {before} QA pairs at "
             "400 characters per chunk, {chunks_after} chunks and {after} QA pairs at 200.",
             "Smaller chunks are more numerous but hold one or two sentences each: a one-sentence "
             "chunk leaves nothing to be the passage, and with one sentence of overlap a short chunk "
             "often has no sentence of its own to ask about, so more chunks give no question. The "
             "passages that remain carry less context around their answer.",
             lambda first, changed: {"before": counts(first)["qa_pairs"],
                                     "after": counts(changed)["qa_pairs"],
                                     "chunks_before": qa_report(first)["chunks"],
                                     "chunks_after": qa_report(changed)["chunks"],
                                     "documents": len(list((project_root() / "data" / "sample_docs")
                                                           .glob("*.md")))}),
    Exercise("02", "Cut the vectors further", {"dims": [256, 64, 32]},
             "the retrieval table and the nDCG@10 plot of section 5",
             "nDCG@10 of minilm falls from {m64:.3f} at 64 dimensions to {m32:.3f} at 32; use-m3 "
             "from {u64:.3f} to {u32:.3f}.",
             "Neither model was trained to keep its meaning in its first components; notebook 04 "
             "trains minilm with that aim.",
             lambda first, changed: {"m64": value(changed, "minilm", "esco-retrieval", "ndcg@10", 64),
                                     "m32": value(changed, "minilm", "esco-retrieval", "ndcg@10", 32),
                                     "u64": value(changed, "use-m3", "esco-retrieval", "ndcg@10", 64),
                                     "u32": value(changed, "use-m3", "esco-retrieval", "ndcg@10", 32)}),
    Exercise("03", "Train at the tutorial's learning rate", {"learning_rate": 1e-5},
             "the training history, the guard's sweep and the test gain of section 9",
             "At 1e-5 the chosen blend gains {changed_gain:+.3f} test Spearman over the base, at "
             "1e-4 {gain:+.3f}: {gain_verdict}.",
             "The step size decides how far USE moves in the few hundred steps a CPU run has; the "
             "experiment log (docs/siamese-experiments.md) has the same comparison on the full export.",
             _nb03),
    Exercise("03", "Train the token table too", {"frozen": []},
             "the training time and the test gain",
             "Training takes {changed_seconds:.0f} s instead of {seconds:.0f} s; the chosen blend "
             "gains {changed_gain:+.3f} against {gain:+.3f}: {gain_verdict}.",
             "Adam moves every row of USE's 128,000 x 512 token table at every step when it trains; "
             "frozen, that work is saved. docs/siamese-experiments.md has the full-export comparison.",
             _nb03),
    Exercise("03", "Train without replay", {"replay": 0.0},
             "STS-B dev Spearman in the guard's sweep, and the α the guard chooses",
             "The tuned model's STS-B dev Spearman is {changed_sts_tuned:.3f} without replay and "
             "{sts_tuned:.3f} with it (base {sts_base:.3f}); the guard chooses α = {changed_alpha:g} "
             "without replay and {alpha:g} with it.",
             "Replay rehearses general English while the model learns job titles; the guard only "
             "measures forgetting and blends back towards the base when STS-B falls too far.",
             _nb03),
    Exercise("04", "Train without Matryoshka", {"matryoshka": False},
             "nDCG@10 at 64 dimensions in the before/after table",
             "Without Matryoshka the tuned model scores {changed_64:.3f} at 64 dimensions and "
             "{changed_384:.3f} at 384; with it {tuned_64:.3f} and {tuned_384:.3f} (base {base_64:.3f} "
             "and {base_384:.3f}): {verdict_64}, {verdict_384}.",
             "MatryoshkaLoss adds the loss at 256, 128 and 64 components to the one at full size. "
             + QUICK_SIZE, _nb04),
    Exercise("04", "Switch the loss to CoSENT on graded pairs", {"loss": "cosent"},
             "the training rows (graded pairs instead of questions and passages) and retrieval at "
             "every dimension",
             "Trained with CoSENT on graded job-title pairs, nDCG@10 is {changed_384:.3f} at 384 "
             "dimensions and {changed_64:.3f} at 64, against {tuned_384:.3f} and {tuned_64:.3f} "
             "with MNRL on questions and passages: {verdict_64}.",
             "The loss learns what its data asks: titles ordered by the ISCO hierarchy are another "
             "task than questions finding descriptions.", _nb04),
    Exercise("04", "Read a finer forgetting guard", {"guard_alphas": [0.25, 0.5, 0.75, 1.0]},
             "the sweep table and plot of section 7",
             "The guard keeps α = {changed_alpha:g}; validation nDCG@10 at 64 dimensions by α: "
             "{changed_sweep}.",
             "The guard takes the best validation score among the blends whose STS-B dev Spearman "
             "stays within the tolerance of the base model's.", _nb04),
    Exercise("04", "Train without hard negatives", {"hard_negatives": False},
             "the training rows of section 2, nDCG@10 after training and the training time",
             "Without mined negatives nDCG@10 is {changed_384:.3f} at 384 dimensions and "
             "{changed_64:.3f} at 64, with them {tuned_384:.3f} and {tuned_64:.3f}: {verdict_64}; "
             "training takes {changed_seconds:.0f} s instead of {seconds:.0f} s.",
             "A hard negative is a third text per row: it costs time and asks the model to tell "
             "neighbouring occupations apart. " + QUICK_SIZE, _nb04),
    Exercise("04", "Train one model for both uses", {"joint": True},
             "pair Spearman and nDCG@10 of section 8, against the first attempt's",
             "The joint model scores pair Spearman {joint_pairs:.3f} and nDCG@10 {joint_384:.3f} at "
             "384 dimensions; the retrieval-only model {tuned_pairs:.3f} and {tuned_384:.3f} (base "
             "{base_pairs:.3f} and {base_384:.3f}): {verdict_pairs}, {verdict_384}.",
             "The graded pairs teach the order of the ISCO levels, which MNRL never sees; nDCG@10 "
             "shows what retrieval pays for it. " + QUICK_SIZE, _nb04_joint),
    Exercise("05", "Accept a larger loss for smaller vectors", {"tolerance": 0.05},
             "the recommendation of section 7",
             "With tolerance 0.02: \"{before}\" With 0.05: \"{after}\"",
             "The recommendation picks the smallest stored vector whose nDCG@10 stays within the "
             "tolerance of full size.",
             lambda first, changed: {"before": first["recommendation"].split(". ")[1],
                                     "after": changed["recommendation"].split(". ")[1]}),
]
STEPS = {"02": "02_baseline", "03": "03_siamese_use", "04": "04_matryoshka", "05": "05_comparison"}


def run_notebook(number: str, run_dir: Path, parameters: dict, output: Path) -> float:
    import papermill as pm

    path = next((project_root() / "notebooks").glob(f"{number}_*.ipynb"))
    start = time.perf_counter()
    pm.execute_notebook(str(path), str(output), parameters={"run_dir": str(run_dir), **parameters},
                        kernel_name="python3", progress_bar=False, cwd=str(Path.cwd()))
    return time.perf_counter() - start


def kept_from_earlier(args) -> list[dict]:
    """With ``--only`` and ``--replace``: the other notebooks' exercises of the file being
    replaced, each keeping the provenance it was measured with."""
    if not (args.only and args.replace and args.json and args.json.exists()):
        return []
    earlier = json.loads(args.json.read_text(encoding="utf-8"))
    return [{**e, "provenance": e.get("provenance", earlier["provenance"])}
            for e in earlier["exercises"] if e["notebook"] not in args.only]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_option(parser, "stsb")
    parser.add_argument("--only", action="append", help="only the exercises of this notebook number")
    add_figure_options(parser, NAME)
    args = parser.parse_args()
    os.environ["STSB_DIR"] = str(data_dir(args.stsb_dir, "stsb"))
    reports = Path(tempfile.mkdtemp(prefix="exercises-"))
    os.environ["NBHELPERS_REPORTS"] = str(reports)
    base = reports / "quick"
    if subprocess.run([sys.executable, "-m", "nbhelpers.run", "--run-id", "quick"],
                      check=False).returncode != 0:
        raise SystemExit(f"the quick series failed; see {base}")
    found = []
    for k, exercise in enumerate(e for e in EXERCISES if not args.only or e.notebook in args.only):
        print(f"\n== {exercise.notebook}: {exercise.title} {exercise.change}", flush=True)
        if exercise.notebook == "01":
            first, changed = base, reports / f"exercise-{k}"
            seconds = run_notebook("01", changed, exercise.change, reports / f"exercise-{k}.ipynb")
        else:
            before = {p.name for p in (base / "results").glob("*.json")}
            seconds = run_notebook(exercise.notebook, base, exercise.change,
                                   reports / f"exercise-{k}.ipynb")
            new = sorted({p.name for p in (base / "results").glob("*.json")} - before)
            step = STEPS[exercise.notebook]
            first = json.loads((base / "results" / f"{step}.json").read_text())
            changed = json.loads((base / "results" / new[0]).read_text())
        figures = exercise.measure(first, changed)
        print(exercise.expect.format(**figures), f"({seconds:.0f} s)", flush=True)
        found.append(exercise.as_record(figures, seconds))
    write(args, NAME, {"exercises": kept_from_earlier(args) + found})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
