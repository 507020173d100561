"""Blends of several tuned USE-m3 encoders on the real ESCO export, chosen like notebook 03's guard.

Each ``--model NAME=DIR`` is an encoder saved by ``siamese_use_full.py --save-tuned DIR`` (or
notebook 03's ``models/use-m3-tuned``). A blend holds ``base + sum_i c_i * (tuned_i - base)``:
one model at ``c`` is notebook 03's interpolation with alpha = c, and equal ``c`` for several
models is a model soup blended back towards the base. Each ``--blend`` gives the coefficients,
``|`` separating values to try (``preset=0.5|0.75,hard=0.25`` is two blends). Every blend is
scored on the validation and test pairs of the project's split (``PrepareConfig.full()``, as
the benchmark) and on STS-B dev; the choice is the best validation Spearman among the blends
whose STS-B dev Pearson stays within 0.01 of the base model's, as the guard chooses. It also
prints how alike the models' changes from the base are (cosine between the weight differences),
and the chosen blend's domain test Spearman and STS-B dev Pearson against the base model's. ESCO
is read from ``--esco-dir`` or $ESCO_DIR, STS-B from ``--stsb-dir`` or $STSB_DIR.

    .venv/bin/python benchmarks/siamese_blend.py --model preset=/tmp/preset hard=/tmp/hard \\
        --blend "preset=0.75" "preset=0.5,hard=0.25" [--esco-dir DIR] [--stsb-dir DIR]
"""
from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path

import numpy as np
import pandas as pd

import nbhelpers  # noqa: F401  (selects legacy Keras before TensorFlow is imported)
from nbhelpers import siamese
from nbhelpers.esco import load_esco
from nbhelpers.evaluation import forgetting_scores
from nbhelpers.prepare import PrepareConfig, build_datasets
from nbhelpers.stsb import load_stsb
from common import add_data_option, data_dir
from siamese_use_full import STS_TOLERANCE


def parse_blends(specs: list[str], names: set[str]) -> list[dict[str, float]]:
    """``["a=0.5|0.75,b=0.25"]`` -> ``[{"a": 0.5, "b": 0.25}, {"a": 0.75, "b": 0.25}]``."""
    blends = []
    for spec in specs:
        grid = []
        for part in spec.split(","):
            name, _, values = part.partition("=")
            if name not in names:
                raise SystemExit(f"--blend {spec!r}: {name!r} is not a --model name ({sorted(names)})")
            try:
                grid.append([(name, float(v)) for v in values.split("|")])
            except ValueError:
                raise SystemExit(f"--blend {spec!r}: expected NAME=NUMBER[|NUMBER...]") from None
        blends += [dict(combo) for combo in itertools.product(*grid)]
    return blends


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", nargs="+", required=True, metavar="NAME=DIR",
                        help="tuned encoders saved by siamese_use_full.py --save-tuned")
    parser.add_argument("--blend", nargs="+", required=True, metavar="NAME=C[|C...],...",
                        help="coefficients of each model's change from the base model")
    add_data_option(parser, "esco")
    add_data_option(parser, "stsb")
    args = parser.parse_args()
    esco_dir, stsb_dir = str(data_dir(args.esco_dir, "esco")), str(data_dir(args.stsb_dir, "stsb"))
    bad = [item for item in args.model if not all(item.partition("=")[::2])]
    if bad:
        parser.error(f"--model {bad[0]}: expected NAME=DIR")
    folders = dict(item.partition("=")[::2] for item in args.model)
    missing = [f"{name}={folder}" for name, folder in folders.items() if not Path(folder).is_dir()]
    if missing:
        parser.error(f"--model {missing[0]}: no such folder (save one with siamese_use_full.py "
                     "--save-tuned DIR)")
    blends = parse_blends(args.blend, set(folders))
    start = time.perf_counter()

    prepare = PrepareConfig.full(esco_dir=esco_dir, docs_dir=None)
    pairs = build_datasets(load_esco(esco_dir), prepare)[0].pairs
    sts_dev = load_stsb("dev", stsb_dir)
    layer = siamese.load_encoder_layer("use-m3")
    variables = [w.name for w in layer.weights]
    base = siamese.snapshot_weights(layer)
    tuned = {}
    for name, folder in folders.items():
        other = siamese.load_encoder_layer(folder)
        by_name = {w.name: w.numpy() for w in other.weights}
        if sorted(by_name) != sorted(variables):
            raise SystemExit(f"--model {name}={folder}: its variables are not USE-m3's")
        tuned[name] = [by_name[v] for v in variables]
    changes = {name: np.concatenate([(t - b).ravel() for t, b in zip(ws, base)])
               for name, ws in tuned.items()}
    cosines = pd.DataFrame({a: {b: float(changes[a] @ changes[b] / np.linalg.norm(changes[a])
                                         / np.linalg.norm(changes[b])) for b in changes}
                            for a in changes})
    print("how alike the models' changes from the base are (cosine of the weight differences):\n"
          + cosines.round(3).to_string(), flush=True)
    del changes

    rows = []
    for coefs in [{}] + blends:   # {}: the base model
        for var, b, *ts in zip(layer.weights, base, *(tuned[n] for n in coefs)):
            var.assign(b + sum(c * (t - b) for c, t in zip(coefs.values(), ts)))
        scores = forgetting_scores(siamese.LayerEncoder(layer), pairs["validation"], pairs["test"],
                                   sts_dev)
        label = ", ".join(f"{n}={c:g}" for n, c in coefs.items()) or "base"
        rows.append({"blend": label, **scores})
        print(f"{label}: " + ", ".join(f"{k} {v:.5f}" for k, v in scores.items()), flush=True)
    table = pd.DataFrame(rows)
    base_scores = table.iloc[0]
    allowed = table[table.stsb_dev_pearson >= base_scores.stsb_dev_pearson - STS_TOLERANCE]
    chosen = allowed.loc[allowed.domain_val_spearman.idxmax()]   # the base row always qualifies
    print("\n" + table.round(5).to_string(index=False))
    print(f"\nchosen on validation (STS-B dev >= {base_scores.stsb_dev_pearson - STS_TOLERANCE:.5f}): "
          f"{chosen.blend}; domain test Spearman {chosen.domain_test_spearman:.5f} "
          f"(gain {chosen.domain_test_spearman - base_scores.domain_test_spearman:+.5f}), "
          f"STS-B dev {chosen.stsb_dev_pearson:.5f}")
    print(f"chosen blend vs base: domain test Spearman "
          f"{chosen.domain_test_spearman - base_scores.domain_test_spearman:+.5f} "
          f"({chosen.domain_test_spearman:.5f} vs {base_scores.domain_test_spearman:.5f}), "
          f"STS-B dev Pearson {chosen.stsb_dev_pearson - base_scores.stsb_dev_pearson:+.5f} "
          f"({chosen.stsb_dev_pearson:.5f} vs {base_scores.stsb_dev_pearson:.5f}); "
          f"total {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
