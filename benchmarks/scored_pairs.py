"""Your scored pairs, end to end, with real scores: STS-B as a stand-in for a user's file.

STS-B is general English, not a domain; it stands in here because its scores are human
judgements on a stated scale (0 to 5), as a practitioner's own file would carry. The file given
to the series holds the STS-B *train* pairs as training and validation pairs (pairs linked by a
shared sentence stay together; a seeded tenth of those groups validates) and the STS-B *dev*
pairs as the held-out test; train pairs that share a sentence with a dev pair are left out, so
no held-out text is trained on. STS-B is then not also the general-English yardstick: the
series runs without ``STSB_DIR`` (no replay, no STS-B guard), or the test pairs would steer
the training. Then ``python -m nbhelpers.run -p domain pairs -p pairs_csv <file>
-p pairs_columns [sentence1, sentence2, score] -p pairs_scale [0, 5]`` runs notebooks 01, 02,
03 and 05 at their quick settings (04 is skipped: pairs have no retrieval); recorded are the
base and tuned test Spearman, the gain with its interval, the time per notebook and the
recommendation.

    .venv/bin/python benchmarks/scored_pairs.py [--stsb-dir DIR] \\
        [--json docs/data/scored-pairs.json --replace]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbhelpers  # noqa: F401  (the hub mode before any hub library is imported)
import numpy as np
import pandas as pd
from common import add_data_option, add_figure_options, data_dir, write

NAME = "scored-pairs"


def pairs_file(stsb: Path, target: Path, seed: int = 42) -> dict:
    """Write the stand-in file (columns sentence1, sentence2, score, split); returns its counts."""
    from nbhelpers.scored_pairs import text_groups
    from nbhelpers.stsb import load_stsb

    train, dev = load_stsb("train", stsb), load_stsb("dev", stsb)
    for frame in (train, dev):   # as the series reads them: surrounding spaces dropped
        frame["sentence1"], frame["sentence2"] = frame.sentence1.str.strip(), frame.sentence2.str.strip()
    dev_texts = set(pd.concat([dev.sentence1, dev.sentence2]).str.casefold())
    shares = train.sentence1.str.casefold().isin(dev_texts) | train.sentence2.str.casefold().isin(dev_texts)
    kept = train[~shares].rename(columns={"sentence1": "text1", "sentence2": "text2"})
    groups = text_groups(kept)
    chosen = np.random.default_rng(seed).permutation(groups.max() + 1)[: (groups.max() + 1) // 10]
    kept = kept.assign(split=np.where(np.isin(groups, chosen), "validation", "train"))
    rows = pd.concat([kept.rename(columns={"text1": "sentence1", "text2": "sentence2"}),
                      dev.assign(split="test")])[["sentence1", "sentence2", "score", "split"]]
    rows.to_csv(target, index=False)
    return {"train": int((rows.split == "train").sum()),
            "validation": int((rows.split == "validation").sum()), "test": len(dev),
            "left_out_sharing_a_dev_sentence": int(shares.sum())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_option(parser, "stsb")
    add_figure_options(parser, NAME)
    args = parser.parse_args()
    stsb = data_dir(args.stsb_dir, "stsb")
    work = Path(tempfile.mkdtemp(prefix="scored-pairs-"))
    start = time.perf_counter()
    counts = pairs_file(stsb, work / "pairs.csv")
    print(f"pairs: {counts}", flush=True)
    env = {k: v for k, v in os.environ.items() if k != "STSB_DIR"}
    env.update(NBHELPERS_REPORTS=str(work / "reports"), HF_HUB_OFFLINE="1")
    command = [sys.executable, "-m", "nbhelpers.run", "--run-id", "scored-pairs", "-p", "domain", "pairs",
               "-p", "pairs_csv", str(work / "pairs.csv"),
               "-p", "pairs_columns", "[sentence1, sentence2, score]", "-p", "pairs_scale", "[0, 5]"]
    if subprocess.run(command, env=env, check=False).returncode != 0:
        raise SystemExit(f"the series failed; see {work / 'reports' / 'scored-pairs'}")
    run_dir = work / "reports" / "scored-pairs"
    steps = json.loads((run_dir / "manifest.json").read_text())["steps"]
    tuned = json.loads((run_dir / "results" / "03_siamese_use.json").read_text())
    spearman = {r["model"]: r["value"] for r in tuned["records"]
                if (r["dataset"], r["split"], r["metric"]) == ("scored-pairs", "test", "spearman")}
    comparison = json.loads((run_dir / "results" / "05_comparison.json").read_text())
    baseline = json.loads((run_dir / "results" / "02_baseline.json").read_text())
    found = {"pairs": counts,
             "test_spearman": spearman,
             "baseline_test_spearman": {r["model"]: r["value"] for r in baseline["records"]
                                        if r["metric"] == "spearman" and r["split"] == "test"},
             "test_gain": tuned["test_gain"], "guard": tuned["forgetting_guard"],
             "training": {k: tuned["training"][k] for k in ("seconds", "samples_per_second", "best_epoch")},
             "seconds": {n.removeprefix("run:"): s["seconds"] for n, s in steps.items()
                         if n.startswith("run:")},
             "skipped": {n.removeprefix("skip:"): s["reason"] for n, s in steps.items()
                         if n.startswith("skip:")},
             "recommendation": comparison["recommendation"],
             "total_seconds": round(time.perf_counter() - start, 1)}
    gain = found["test_gain"]
    print(f"test Spearman {spearman}; gain {gain['gain']:+.4f} [{gain['low']:+.4f}, {gain['high']:+.4f}]")
    write(args, NAME, found)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
