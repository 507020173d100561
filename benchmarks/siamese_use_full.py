"""Siamese tuning of USE-m3 on the real ESCO export, end to end, with the STS-B forgetting guard.

Prepares graded pairs with the full settings and the group-disjoint split, measures the base
model (a separately loaded copy: domain Spearman on validation and test pairs, STS-B dev
angular Pearson), trains with ``SiameseConfig.full()`` (the tutorial's siamese network and
loss; learning rate, frozen token table and STS-B replay as documented there), sweeps the
interpolation weight alpha, chooses it on the validation pairs within the STS-B tolerance (as
notebook 03 does) and prints how many ISCO groups each level of the held-out pairs comes from,
base / tuned / chosen figures, how well base and chosen model tell neighbouring levels of test
pairs apart (AUC), a 95 % interval for the test gain (a bootstrap over held-out unit groups), the
timings, and the chosen blend's domain test Spearman and STS-B dev Pearson against the base
model's. The figures are also written to a figure file (``--json``; schema
``benchmark/siamese-use-full/1``).
The other settings can be changed too (see ``--help``; docs/siamese-experiments.md lists the
experiments on the full export). ``--scores``, ``--soup``, ``--lr-decay``, ``--checks-per-epoch``,
``--anchor-pairs-per-level``, ``--description-pairs-per-level``, ``--ranking-weight``,
``--teacher-weight`` and ``--hard-share`` (with ``--hard-pool``) exist for trials: other graded
scores, several training runs averaged into one model before the guard, a learning rate
falling to zero, early stopping checked within epochs, (label, ISCO group title) or (label,
occupation description) training pairs, a ranking loss beside the MSE, training scores moved
towards the base model's cosines, training pairs mined for the ones the base model gets most
wrong. ESCO is read from ``--esco-dir`` or $ESCO_DIR, STS-B from ``--stsb-dir`` or $STSB_DIR.
TensorBoard logs go to a temporary folder; apart from the figure file nothing is written.
``--save-tuned`` keeps the tuned encoder for ``benchmarks/siamese_blend.py``.

    .venv/bin/python benchmarks/siamese_use_full.py [--esco-dir DIR] [--stsb-dir DIR] \\
        [--pairs-per-level 10000] [--train-pairs-per-level 30000] [--epochs 2] [--batch-size 64] \\
        [--learning-rate 1e-4] [--frozen token_table] [--replay 0.25] [--seed 42] \\
        [--alphas 0 0.25 0.5 0.75 1] [--scores LEVEL=COSINE ...] [--soup 1] [--lr-decay] \\
        [--checks-per-epoch 1] [--anchor-pairs-per-level 0] [--ranking-weight 0] \\
        [--description-pairs-per-level 0] [--teacher-weight 0] [--hard-share 0 --hard-pool 3] \\
        [--save-tuned DIR] [--json PATH [--replace]]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

import nbhelpers  # noqa: F401  (selects legacy Keras before TensorFlow is imported)
from common import add_data_option, add_figure_options, data_dir, records, write
from nbhelpers import siamese
from nbhelpers.evaluation import forgetting_scores, gain_interval, pair_scores
from nbhelpers.esco import load_esco
from nbhelpers.guard import choose_alpha
from nbhelpers.models import resolve_model
from nbhelpers.pairs import (description_pairs, graded_pairs, group_anchor_pairs, level_groups,
                             to_angular)
from nbhelpers.prepare import PrepareConfig, build_datasets
from nbhelpers.stsb import as_graded_pairs, load_stsb

#: The forgetting guard's tolerance: the chosen blend's STS-B dev Pearson stays within this of
#: the base model's.
STS_TOLERANCE = 0.01
#: The figures of one model in the figure file.
SCORES = ("domain_val_spearman", "domain_test_spearman", "stsb_dev_pearson")


def parse_scores(items: list[str]) -> dict[str, float]:
    """``["same_occupation=0.9"]`` -> ``{"same_occupation": 0.9}`` (checked by the data code)."""
    scores = {}
    for item in items:
        level, _, value = item.partition("=")
        try:
            scores[level] = float(value)
        except ValueError:
            raise SystemExit(f"--scores {item!r}: expected LEVEL=NUMBER") from None
    return scores


def main() -> int:
    full, prepare_full = siamese.SiameseConfig.full(), PrepareConfig.full()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_option(parser, "esco")
    add_data_option(parser, "stsb")
    parser.add_argument("--pairs-per-level", type=int, default=prepare_full.pairs_per_level,
                        help="graded pairs per level in each split (validation and test)")
    parser.add_argument("--train-pairs-per-level", type=int,
                        default=prepare_full.train_pairs_per_level,
                        help="graded pairs per level in the training split only (validation and "
                        "test pairs stay the same)")
    parser.add_argument("--epochs", type=int, default=full.epochs,
                        help="at most this many epochs (early stopping on validation loss)")
    parser.add_argument("--batch-size", type=int, default=full.batch_size, help="pairs per step")
    parser.add_argument("--learning-rate", type=float, default=full.learning_rate, help="Adam's")
    parser.add_argument("--replay", type=float, default=full.replay,
                        help="STS-B train pairs mixed in, as a share of the domain pairs (0: none)")
    parser.add_argument("--lr-decay", action=argparse.BooleanOptionalAction, default=False,
                        help="learning rate falling linearly to zero over the epochs (a trial)")
    parser.add_argument("--checks-per-epoch", type=int, default=1,
                        help="validate this many times per epoch; early stopping (patience "
                        "counted in checks) keeps the best check (a trial)")
    parser.add_argument("--frozen", nargs="*", default=list(full.frozen), metavar="PREFIX",
                        help="name prefixes of encoder variables left untrained (default: "
                        "token_table; no value: train everything, the tutorial's setup: steps 3x slower)")
    parser.add_argument("--alphas", type=float, nargs="+", default=full.alphas,
                        help="interpolation weights the guard sweeps (0: base, 1: tuned)")
    parser.add_argument("--scores", nargs="+", default=[], metavar="LEVEL=COSINE",
                        help="graded-pair scores to change, e.g. same_occupation=0.9 "
                        "(defaults: PrepareConfig.full().scores)")
    parser.add_argument("--ranking-weight", type=float, default=0.0,
                        help="add this times a CoSENT ranking loss to the MSE (a trial; 0: the "
                        "tutorial's MSE alone)")
    parser.add_argument("--anchor-pairs-per-level", type=int, default=0,
                        help="add this many (label, ISCO group title) training pairs per level "
                        "(pairs.group_anchor_pairs; a trial)")
    parser.add_argument("--description-pairs-per-level", type=int, default=0,
                        help="add this many (label, occupation description) training pairs per "
                        "level (pairs.description_pairs; a trial)")
    parser.add_argument("--teacher-weight", type=float, default=0.0,
                        help="move each domain pair's training score this share of the way to "
                        "the base model's cosine (siamese.soften_targets; a trial)")
    parser.add_argument("--hard-share", type=float, default=0.0,
                        help="share of each level's training pairs mined as the ones the base "
                        "model gets most wrong (siamese.hard_pairs; a trial)")
    parser.add_argument("--hard-pool", type=int, default=3,
                        help="with --hard-share: candidates drawn per level, as a multiple of "
                        "--train-pairs-per-level")
    parser.add_argument("--soup", type=int, default=1,
                        help="train this many times from the base weights (seeds seed, seed+1, "
                        "...) and average the tuned weights before the guard (a uniform soup)")
    parser.add_argument("--save-tuned", metavar="DIR",
                        help="also save the tuned encoder (alpha = 1, after any soup) as a SavedModel "
                        "in this new folder, for benchmarks/siamese_blend.py")
    parser.add_argument("--seed", type=int, default=full.seed,
                        help="seeds the split, the pairs and training alike: another seed "
                        "measures another held-out test set")
    add_figure_options(parser, "siamese-use-full")
    args = parser.parse_args()
    if args.soup < 1:
        parser.error(f"--soup {args.soup}: expected at least 1 training run")
    if args.hard_pool < 1:
        parser.error(f"--hard-pool {args.hard_pool}: expected at least 1")
    if args.save_tuned and Path(args.save_tuned).exists():
        parser.error(f"--save-tuned {args.save_tuned}: already exists; name a new folder")
    args.esco_dir, args.stsb_dir = str(data_dir(args.esco_dir, "esco")), str(data_dir(args.stsb_dir, "stsb"))
    scores = {**prepare_full.scores, **parse_scores(args.scores)}
    config = siamese.SiameseConfig.full(epochs=args.epochs, batch_size=args.batch_size,
                                        learning_rate=args.learning_rate, seed=args.seed,
                                        replay=args.replay, sts_tolerance=STS_TOLERANCE,
                                        alphas=tuple(args.alphas),
                                        frozen=tuple(args.frozen))
    start = time.perf_counter()

    taxonomy = load_esco(args.esco_dir)
    prepared, split = build_datasets(taxonomy, PrepareConfig(
        esco_dir=args.esco_dir, pairs_per_level=args.pairs_per_level, seed=config.seed,
        train_pairs_per_level=args.train_pairs_per_level, scores=scores, docs_dir=None))
    pairs = prepared.pairs
    sts_dev = load_stsb("dev", args.stsb_dir)

    def evaluate(encoder):
        return forgetting_scores(encoder, pairs["validation"], pairs["test"], sts_dev)

    print(f"pairs train / validation / test: {len(pairs['train']):,} / "
          f"{len(pairs['validation']):,} / {len(pairs['test']):,} "
          f"({args.pairs_per_level} per level and held-out split, "
          f"{args.train_pairs_per_level} in training; group-disjoint split)",
          flush=True)
    groups = {name: level_groups(pairs[name], taxonomy, f"{name} pairs") for name in ("validation", "test")}
    for name, table in groups.items():
        print(f"\n{name} pairs: ISCO groups each level is drawn from\n" + table.round(3).to_string())
    base_encoder = resolve_model(config.model)
    if args.hard_share:
        candidates = graded_pairs(taxonomy, split.labels["train"], scores=scores, scale="cosine",
                                  pairs_per_level=args.hard_pool * args.train_pairs_per_level,
                                  seed=config.seed)
        pairs["train"] = siamese.hard_pairs(candidates, base_encoder, args.train_pairs_per_level,
                                            args.hard_share, config.seed)
        pairs["train"]["score_angular"] = to_angular(pairs["train"].score.to_numpy())
        print(f"training pairs mined from {len(candidates):,} candidates; base cosine per level "
              "(mean, sd):\n" + pairs["train"].groupby("level").teacher_cosine
              .agg(["mean", "std"]).round(3).to_string(), flush=True)
    extras = {"group anchor pairs": (group_anchor_pairs, args.anchor_pairs_per_level),
              "description pairs": (description_pairs, args.description_pairs_per_level)}
    for name, (make, per_level) in extras.items():
        if per_level:
            extra = make(taxonomy, split.labels["train"], scores=scores, pairs_per_level=per_level,
                         seed=config.seed)
            extra["score_angular"] = to_angular(extra.score.to_numpy())
            example = extra[["text1", "text2", "level"]].head(2).to_dict("records")
            print(f"{name}: {len(extra):,}, {extra.text2.str.split().str.len().mean():.0f} words "
                  f"in text2 on average, e.g. {example}")
            pairs["train"] = pd.concat([pairs["train"], extra], ignore_index=True)
    if args.teacher_weight:
        pairs["train"] = siamese.soften_targets(pairs["train"], base_encoder, args.teacher_weight)
        print("training scores moved towards the base model's cosine, per level (mean, sd):\n"
              + pairs["train"].groupby("level").score.agg(["mean", "std"]).round(3).to_string())
    train_pairs = siamese.mix_replay(pairs["train"], as_graded_pairs(load_stsb("train", args.stsb_dir)),
                                     config.replay, config.seed)
    print(f"training rows: {len(train_pairs):,} ({len(train_pairs) - len(pairs['train']):,} of them "
          "STS-B train pairs, replayed against forgetting)")
    print(f"settings: {config}, lr_decay={args.lr_decay}, "
          f"checks_per_epoch={args.checks_per_epoch}, ranking_weight={args.ranking_weight:g}, "
          f"teacher_weight={args.teacher_weight:g}, hard_share={args.hard_share:g}\n"
          f"graded-pair scores (cosine): {scores}", flush=True)
    base = evaluate(base_encoder)
    print(f"base: {base}", flush=True)

    layer = siamese.load_encoder_layer(config.model)
    base_weights = siamese.snapshot_weights(layer)
    ingredients = []
    for k in range(args.soup):
        siamese.interpolate(layer, base_weights, base_weights, 0.0)
        model = siamese.build_siamese_model(layer, frozen=config.frozen,
                                            ranking_weight=args.ranking_weight, **config.adam())
        with tempfile.TemporaryDirectory(prefix="siamese-use-full-") as tmp:
            result = siamese.train_siamese(model, train_pairs, pairs["validation"],
                                           log_dir=Path(tmp) / "tensorboard", verbose=2,
                                           lr_decay=args.lr_decay,
                                           checks_per_epoch=args.checks_per_epoch,
                                           **{**config.training(), "seed": config.seed + k})
        ingredients.append(siamese.snapshot_weights(layer))
        if args.soup > 1:
            print(f"ingredient {k + 1}: {result.seconds:.0f} s, best epoch {result.best_epoch}, "
                  f"{evaluate(siamese.LayerEncoder(layer))}", flush=True)
    tuned_weights = [np.mean(ws, axis=0) for ws in zip(*ingredients)]
    del ingredients
    if args.save_tuned:
        siamese.interpolate(layer, base_weights, tuned_weights, 1.0)
        print(f"tuned encoder saved to {siamese.save_encoder(layer, args.save_tuned)}", flush=True)
    sweep = siamese.alpha_sweep(layer, base_weights, tuned_weights, config.alphas, evaluate)
    choice = choose_alpha(sweep, base["stsb_dev_pearson"], config.sts_tolerance,
                          domain="domain_val_spearman")

    siamese.interpolate(layer, base_weights, tuned_weights, choice.alpha)
    auc = {name: {k.removesuffix("/auc"): float(v) for k, v in pair_scores(encoder, pairs["test"]).items()
                  if k.endswith("/auc")}
           for name, encoder in [("base", base_encoder), ("chosen", siamese.LayerEncoder(layer))]}
    separation = pd.DataFrame(auc).rename(columns={"chosen": f"chosen (alpha={choice.alpha:g})"})
    interval = gain_interval(base_encoder, siamese.LayerEncoder(layer), pairs["test"],
                             taxonomy.occupations.isco_group.loc[pairs["test"].uri1], seed=config.seed)
    by_alpha = sweep.set_index("alpha")
    models = {"base": base, "tuned": by_alpha.loc[1.0].to_dict(),
              "chosen": (by_alpha.loc[choice.alpha].to_dict() if choice.alpha in by_alpha.index else base)}
    models = {name: {k: float(figures[k]) for k in SCORES} for name, figures in models.items()}
    base, chosen = models["base"], models["chosen"]
    names = {"base": "base", "tuned": "tuned (alpha=1)", "chosen": f"chosen (alpha={choice.alpha:g})"}

    print("\ntraining history:\n" + result.history.round(5).to_string(index=False))
    print("\nalpha sweep:\n" + sweep.round(5).to_string(index=False))
    print(f"\n{'model':<20} {'domain val Spearman':>20} {'domain test Spearman':>21} "
          f"{'STS-B dev Pearson':>18}")
    for name, figures in models.items():
        print(f"{names[name]:<20} {figures['domain_val_spearman']:>20.5f} "
              f"{figures['domain_test_spearman']:>21.5f} {figures['stsb_dev_pearson']:>18.5f}")
    print("\ntest pairs, neighbouring levels told apart (AUC; 0.5: not at all):\n"
          + separation.round(4).to_string())
    print(f"\ntest Spearman gain of the chosen model: {interval['gain']:+.5f}, 95 % interval "
          f"[{interval['low']:+.5f}, {interval['high']:+.5f}] (cluster bootstrap over the unit "
          "group of each pair's first occupation, 1,000 resamples)")
    print(f"chosen alpha: {choice.alpha:g} ({choice.reason})")
    print(f"training{' (last ingredient)' if args.soup > 1 else ''}: {result.seconds:.0f} s, "
          f"{result.samples_per_second:.1f} pairs/s, "
          f"best epoch {result.best_epoch:g} of {result.history.epoch.iloc[-1]:g}")
    seconds = time.perf_counter() - start
    print(f"chosen blend vs base: domain test Spearman "
          f"{chosen['domain_test_spearman'] - base['domain_test_spearman']:+.5f} "
          f"({chosen['domain_test_spearman']:.5f} vs {base['domain_test_spearman']:.5f}), "
          f"STS-B dev Pearson {chosen['stsb_dev_pearson'] - base['stsb_dev_pearson']:+.5f} "
          f"({chosen['stsb_dev_pearson']:.5f} vs {base['stsb_dev_pearson']:.5f}); total {seconds:.0f} s")

    best_epoch = float(result.best_epoch)
    settings = {key: (str(value) if isinstance(value, Path) else value) for key, value in vars(args).items()}
    write(args, "siamese-use-full", {
        "settings": {**settings, "config": asdict(config)},
        "models": models,
        "alpha": float(choice.alpha),
        "gain": {key: float(interval[key]) for key in ("gain", "low", "high")},
        "auc": {boundary: {"base": value, "chosen": auc["chosen"][boundary]}
                for boundary, value in auc["base"].items()},
        "level_groups": {name: records(table) for name, table in groups.items()},
        "training": {"seconds": float(result.seconds),
                     "samples_per_second": float(result.samples_per_second),
                     "best_epoch": int(best_epoch) if best_epoch.is_integer() else best_epoch,
                     "history": records(result.history, index=False)},
        "seconds": seconds})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
