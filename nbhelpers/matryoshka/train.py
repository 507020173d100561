"""Notebook 04's recipe as one function, for the command line: the same blocks the notebook's
cells call (data, losses, evaluators, arguments, model, guard), composed in the notebook's order.

    train_matryoshka(MatryoshkaConfig(), prepared)                               # MiniLM 384/256/128/64
    train_matryoshka(MatryoshkaConfig(model="BAAI/bge-base-en-v1.5"), prepared)  # BGE 768/512/256/128/64

Everything that can be wrong with the input (loss name, columns, empty data, dims, the
``metric_for_best_model`` key, an offline hub id, an existing model folder) raises
:class:`InputError` before training starts. A restart with the same output folder resumes from
the last checkpoint; only the main process of a multi-process launch writes files.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import pandas as pd

from nbhelpers.errors import InputError
from nbhelpers.evaluation import check_dims, default_dims
from nbhelpers.matryoshka import arguments, data, evaluators, guard, losses, tsdae
from nbhelpers.matryoshka import model as models
from nbhelpers.matryoshka.checkpoints import last_good_checkpoint
from nbhelpers.matryoshka.config import MatryoshkaConfig
from nbhelpers.models import folder_name
from nbhelpers.runs import write_json

MODEL_DIR, ADAPTER_DIR, CHECKPOINTS_DIR, RESULT_FILE = "model", "adapter", "checkpoints", "result.json"


@dataclass
class MatryoshkaResult:
    """What :func:`train_matryoshka` did."""

    model_path: Path | None            # the tuned (merged, with LoRA) sentence-transformers folder
    adapter_path: Path | None          # the LoRA adapter folder (None without LoRA)
    output_dir: Path
    checkpoints_dir: Path
    best_checkpoint: str | None
    best_metric: float | None
    metric_for_best_model: str
    dims: list[int]
    losses: pd.DataFrame               # step, epoch, loss, learning_rate, grad_norm (per logging step)
    evals: pd.DataFrame                # step, epoch, eval_* metrics (per evaluation)
    baseline: dict                     # eval_* metrics of the untrained model (empty if skipped)
    train_metrics: dict                # the trainer's train_runtime, train_samples_per_second, ...
    seconds: float                     # wall time of trainer.train()
    samples_per_second: float          # train_samples_per_second
    global_step: int
    train_rows: int                    # domain rows (STS-B replay rows not included)
    resumed_from: str | None
    replay_rows: int = 0               # STS-B train pairs mixed in (stsb_replay)
    pairs_rows: int = 0                # graded pairs trained beside the retrieval rows (joint)
    alpha: float = 1.0                 # weight of the tuned model in the saved weights (guard)
    guard: pd.DataFrame | None = None  # the forgetting guard's sweep: alpha, metric, stsb_dev_spearman
    guard_reason: str = ""
    config: MatryoshkaConfig = field(repr=False, default=None)
    model: object = field(repr=False, default=None)   # the tuned SentenceTransformer in memory

    def summary(self) -> dict:
        out = {}
        for f in fields(self):   # not asdict(): it would deep-copy the model only to drop it
            if f.name not in ("losses", "evals", "config", "model", "guard"):
                value = getattr(self, f.name)
                out[f.name] = str(value) if isinstance(value, Path) else value
        out["config"] = self.config.to_dict() if self.config else None
        out["guard"] = None if self.guard is None else self.guard.to_dict("records")
        out["losses"] = self.losses.to_dict("records")
        out["evals"] = self.evals.to_dict("records")
        return out


def default_output_dir(config: MatryoshkaConfig, run_dir: str | Path | None) -> Path:
    if config.output_dir:
        return Path(config.output_dir).expanduser()
    if run_dir is None:
        raise InputError("output_dir: set config.output_dir or pass run_dir (the model goes to "
                         "<run_dir>/models/matryoshka-<model>, or joint-<model> with joint)")
    suffix = "-lora" if config.lora else ""
    kind = "joint" if config.joint else "matryoshka"
    return Path(run_dir) / "models" / f"{kind}-{folder_name(config.model)}{suffix}"


def build_trainer(model, args, train_set, loss, evaluator, config: MatryoshkaConfig, callbacks=()):
    """``SentenceTransformerTrainer`` with early stopping (``patience``) and the compact progress
    view, as notebook 04 builds it."""
    from sentence_transformers import SentenceTransformerTrainer
    from transformers import EarlyStoppingCallback, PrinterCallback

    from nbhelpers.matryoshka.progress import CompactProgress

    stopper = [EarlyStoppingCallback(config.patience)] if config.patience and config.evaluate else []
    progress = [CompactProgress(config.metric)] if config.progress else []
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=train_set, loss=loss,
                                         evaluator=evaluator if config.evaluate else None,
                                         callbacks=[*stopper, *progress, *callbacks])
    trainer.remove_callback(PrinterCallback)   # the compact view (or nothing) replaces the log lines
    return trainer


@dataclass
class Setup:
    """Everything :func:`setup` prepared for training: the trainer and what finishing needs."""

    config: MatryoshkaConfig
    trainer: object
    output_dir: Path
    dims: list[int]
    key: str                          # the metric_for_best_model key
    evaluator: object
    domain_rows: int
    replay_rows: int
    pairs_rows: int
    baseline: dict
    base_state: dict | None
    base_seq_length: int
    resume_from: str | None


def setup(config: MatryoshkaConfig | None = None, prepared=None, *,
          run_dir: str | Path | None = None, train_data=None, eval_ir: tuple | None = None,
          model=None, model_source: str | None = None, callbacks: list | None = None) -> Setup:
    """Notebook 04's steps up to the trainer: data, model, mining, replay, evaluator, LoRA,
    loss, arguments and ``SentenceTransformerTrainer``, composed as the notebook's cells do.

    Data: ``prepared`` (notebook 01's :class:`~nbhelpers.prepare.Prepared`) or ``run_dir``
    (read with ``load_prepared``) gives the training rows and the held-out retrieval set
    ``prepared.ir(config.eval_split)``; ``train_data`` (DataFrame or Dataset with the loss's
    columns) and ``eval_ir`` (queries, corpus, relevant) override them. ``model`` may be an
    already loaded SentenceTransformer (``model_source``: where its weights came from, for the
    card); it is trained in place. ``callbacks`` are extra ``transformers.TrainerCallback`` objects.
    """
    config = (config or MatryoshkaConfig()).validate()
    from transformers import set_seed

    set_seed(config.seed)   # LoRA's initial weights and random negative mining come before the trainer
    needs_ir = config.evaluate and eval_ir is None
    if prepared is None and run_dir is not None and (train_data is None or needs_ir):
        from nbhelpers.prepare import load_prepared

        prepared = load_prepared(run_dir)
    if prepared is None and (train_data is None or needs_ir):
        raise InputError("no data: pass prepared (notebook 01's datasets), run_dir, or both "
                         "train_data and eval_ir")
    output_dir = default_output_dir(config, run_dir)
    model_dir, adapter_dir = output_dir / MODEL_DIR, output_dir / ADAPTER_DIR
    for final in ([model_dir, adapter_dir] if config.lora else [model_dir]):
        if final.exists():
            raise InputError(f"{final} already exists: that run finished. Choose a new output_dir "
                             "(a saved model is never overwritten)")

    rows = train_data if train_data is not None else data.training_frame(prepared, config)
    dataset = data.to_dataset(rows, config.loss, name="train_data" if train_data is not None
                              else f"training rows for loss {config.loss!r}")
    if train_data is not None and config.max_train_samples is not None:
        dataset = dataset.shuffle(seed=config.seed).select(
            range(min(len(dataset), config.max_train_samples)))
    replay = data.replay_dataset(_stsb_train(config), config.stsb_replay, len(dataset), config.seed)
    ir = eval_ir if eval_ir is not None else (prepared.ir(config.eval_split) if config.evaluate else None)
    pairs = eval_pairs = sts_dev = None
    if config.joint:
        if prepared is None:
            raise InputError("joint=True trains on notebook 01's graded pairs: pass prepared or run_dir")
        pairs = data.graded_pairs(prepared, "train", name="graded pairs (joint)", seed=config.seed)
        data.pairs_count(config.pairs_share, len(dataset), len(pairs))   # none left: said now
        if config.evaluate:
            eval_pairs = data.graded_pairs(prepared, config.eval_split, seed=config.seed,
                                           name="validation graded pairs (joint)")
            eval_pairs = eval_pairs.select(range(min(len(eval_pairs),
                                                     config.max_eval_pairs or len(eval_pairs))))
            sts_dev = _stsb_dev(config)

    if model is None:
        model, model_source = models.load_base_model(config.model)
    model_source = model_source or str(config.model)
    base_seq_length = model.max_seq_length
    model_dim = model.get_embedding_dimension()
    dims = check_dims(config.dims or default_dims(model_dim), model_dim)
    key = evaluators.metric_key(config, dims, model.similarity_fn_name)
    evaluator = None
    if ir is not None:
        evaluator = (evaluators.joint_evaluator(ir, dims, eval_pairs, sts_dev, config.eval_batch_size)
                     if config.joint else evaluators.share_encodings(
                         evaluators.ir_evaluator(ir, dims, batch_size=config.eval_batch_size)))
        if config.evaluate or config.guard_alphas:
            evaluators.check_metric_key(key, evaluators.metric_keys(evaluator, model.similarity_fn_name))
    if config.guard_alphas and evaluator is None:
        raise InputError("guard_alphas needs the validation evaluator (evaluate=True or eval_ir)")

    if config.max_seq_length is not None:
        model.max_seq_length = config.max_seq_length
    if config.loss == "triplet" and "negative" not in dataset.column_names and not config.hard_negatives:
        print("loss 'triplet' needs negatives: mining hard negatives (hard_negatives=True)")
        config = replace(config, hard_negatives=True)
    if config.hard_negatives and not config.mines_negatives():
        print(f"hard negatives apply to retrieval losses; loss {config.loss!r} trains on graded pairs")
    if config.mines_negatives() and "negative" not in dataset.column_names:
        before = len(dataset)
        dataset = data.to_dataset(data.mine_negatives(dataset, model, config), config.loss,
                                  name="mined triplets")
        print(f"hard negatives: {len(dataset)} of {before} rows kept a negative")

    baseline = {}
    if config.baseline_eval and config.evaluate:
        baseline = {f"eval_{k}": float(v) for k, v in evaluator(model).items()}
        print(f"baseline {key} = {baseline.get(key, math.nan):.4f}")
    base_state = guard.snapshot(model) if config.guard_alphas else None
    if config.tsdae:
        sentences = (prepared.sentences("train") if prepared is not None
                     else list(dict.fromkeys(dataset["positive"])))
        seconds = tsdae.adapt(model, sentences, config, output_dir / "tsdae")
        print(f"TSDAE: {len(sentences):,} training sentences in {seconds:.0f} s")
    if config.lora and not models.has_lora(model):
        trainable = models.add_lora(model, config)
        print(f"LoRA r={config.lora_r} alpha={config.lora_alpha}: {trainable:,} trainable parameters")
    models.set_model_card(model, config, model_source)

    checkpoints_dir = output_dir / CHECKPOINTS_DIR
    loss = losses.build_loss(model, config.loss, dims if config.matryoshka else None, config)
    train_set = {"domain": dataset}
    losses_by_set = {"domain": loss}
    if pairs is not None:   # graded pairs beside the retrieval rows: each batch from one dataset
        count = data.pairs_count(config.pairs_share, len(dataset), len(pairs))
        train_set["pairs"] = pairs.select(range(count))
        losses_by_set["pairs"] = losses.build_loss(model, config.pairs_loss,
                                                   dims if config.matryoshka else None, config)
        print(f"joint: {count:,} graded pairs ({config.pairs_loss}) beside {len(dataset):,} retrieval rows")
    if replay is not None:
        train_set["stsb"] = replay
        losses_by_set["stsb"] = losses.build_loss(model, "cosent", dims if config.matryoshka else None)
        print(f"STS-B replay: {len(replay):,} STS-B train pairs (CoSENT) beside {len(dataset):,} domain rows")
    if len(train_set) > 1:   # several datasets, one loss each: each batch comes from one of them
        from datasets import DatasetDict

        train_set, loss = DatasetDict(train_set), losses_by_set
    else:
        train_set = dataset
    args = arguments.training_arguments(config, checkpoints_dir, key, model=model,
                                        several_datasets=isinstance(loss, dict))
    trainer = build_trainer(model, args, train_set, loss, evaluator, config, callbacks or ())
    last = last_good_checkpoint(checkpoints_dir)
    if last:
        print(f"resuming from {last}")
    _write_run_config(output_dir, config, trainer, resuming=bool(last))
    return Setup(config, trainer, output_dir, dims, key, evaluator, len(dataset),
                 0 if replay is None else len(replay), len(train_set["pairs"]) if pairs is not None else 0,
                 baseline, base_state, base_seq_length, last)


def train_matryoshka(config: MatryoshkaConfig | None = None, prepared=None, *,
                     run_dir: str | Path | None = None, train_data=None, eval_ir: tuple | None = None,
                     model=None, model_source: str | None = None,
                     callbacks: list | None = None) -> MatryoshkaResult:
    """Fine-tune ``config.model`` with (Matryoshka) ``config.loss`` and save it: :func:`setup`,
    ``trainer.train()``, then LoRA merging, the forgetting guard and saving, as notebook 04 does.
    The arguments are :func:`setup`'s.
    """
    run = setup(config, prepared, run_dir=run_dir, train_data=train_data, eval_ir=eval_ir,
                model=model, model_source=model_source, callbacks=callbacks)
    config, trainer, output_dir, key = run.config, run.trainer, run.output_dir, run.key
    model_dir, adapter_dir = output_dir / MODEL_DIR, output_dir / ADAPTER_DIR
    start = time.perf_counter()
    output = trainer.train(resume_from_checkpoint=run.resume_from)
    seconds = time.perf_counter() - start

    model = trainer.model
    adapter_path = model_path = None
    if config.lora:
        if trainer.is_world_process_zero():
            adapter_path = models.save_model(model, adapter_dir)
        models.merge_lora(model)
    alpha, sweep, reason = 1.0, None, ""
    if run.base_state is not None:
        from nbhelpers.guard import run_guard
        from nbhelpers.stsb import load_splits

        sts_dev = load_splits(("dev",), config.stsb_source).get("dev")
        also = evaluators.joint_parts(run.dims, model.similarity_fn_name) if config.joint else []
        known = {1.0: guard.best_evaluation(trainer.state.log_history, key)}
        if key in run.baseline:
            known[0.0] = run.baseline
        blend, score = guard.blend_and_score(model, run.base_state, run.evaluator, key, sts_dev,
                                             known, also)
        sweep, choice = run_guard(config.guard_alphas, blend, score, config.sts_tolerance, domain=key)
        alpha, reason = choice.alpha, choice.reason
        print(f"forgetting guard: {reason}")
    model.max_seq_length = run.base_seq_length
    if trainer.is_world_process_zero():
        model_path = models.save_model(model, model_dir)
    trainer.accelerator.wait_for_everyone()

    loss_rows, evals = split_history(trainer.state.log_history)
    result = MatryoshkaResult(
        model_path=model_path, adapter_path=adapter_path, output_dir=output_dir,
        checkpoints_dir=output_dir / CHECKPOINTS_DIR, best_checkpoint=trainer.state.best_model_checkpoint,
        best_metric=trainer.state.best_metric, metric_for_best_model=key, dims=run.dims,
        losses=loss_rows, evals=evals, baseline=run.baseline, train_metrics=dict(output.metrics),
        seconds=seconds, samples_per_second=float(output.metrics.get("train_samples_per_second", math.nan)),
        global_step=trainer.state.global_step, train_rows=run.domain_rows, resumed_from=run.resume_from,
        replay_rows=run.replay_rows, pairs_rows=run.pairs_rows,
        alpha=alpha, guard=sweep, guard_reason=reason, config=config, model=model)
    if trainer.is_world_process_zero():
        write_json(output_dir / RESULT_FILE, result.summary(), overwrite=True)
    return result


def _stsb_train(config: MatryoshkaConfig):
    """STS-B train pairs when replay asks for them; an error naming the way out when it cannot."""
    from nbhelpers.stsb import default_source, load_stsb

    if not config.stsb_replay:
        return None
    source = config.stsb_source or default_source()
    if source is None:
        raise InputError(f"stsb_replay={config.stsb_replay}: needs the STS-B train pairs, but STS-B "
                         "is unavailable (offline and STSB_DIR unset); set STSB_DIR, or stsb_replay=0")
    return load_stsb("train", source)


def _stsb_dev(config: MatryoshkaConfig):
    """STS-B dev pairs for a joint run's evaluator, or None where STS-B is unavailable."""
    from nbhelpers.stsb import load_splits

    return load_splits(("dev",), config.stsb_source).get("dev")


def split_history(log_history: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The trainer's ``log_history`` as (training-loss rows, evaluation rows)."""
    losses = [{k: e.get(k) for k in ("step", "epoch", "loss", "learning_rate", "grad_norm")}
              for e in log_history if "loss" in e]
    evals = [{"step": e.get("step"), "epoch": e.get("epoch"),
              **{k: v for k, v in e.items() if k.startswith("eval_")}}
             for e in log_history if any(k.startswith("eval_") for k in e)]
    return (pd.DataFrame(losses, columns=["step", "epoch", "loss", "learning_rate", "grad_norm"]),
            pd.DataFrame(evals))


#: Settings a restart may not change: the checkpoints would belong to another model or loss.
RESUME_FIXED = ("model", "loss", "dims", "matryoshka", "lora", "lora_r", "lora_alpha",
                "lora_target_modules")


def _write_run_config(output_dir: Path, config: MatryoshkaConfig, trainer, resuming: bool) -> None:
    """``<output_dir>/config.json``: the settings of the checkpoints in ``output_dir``.

    Resuming may change settings such as ``epochs`` (it says so), but not those in
    ``RESUME_FIXED``. Without a checkpoint to resume, the file is (re)written.
    """
    path = output_dir / "config.json"
    current = json.loads(json.dumps(config.to_dict(), default=str))   # as the file holds it
    if resuming and path.exists():
        earlier = json.loads(path.read_text(encoding="utf-8"))
        changed = {k: (earlier.get(k), v) for k, v in current.items() if earlier.get(k) != v}
        fixed = {k: change for k, change in changed.items() if k in RESUME_FIXED}
        if fixed:
            raise InputError(f"{output_dir} holds checkpoints of another setup; changed "
                             f"{fixed} (earlier, now). Resume with the earlier settings, or "
                             "choose a new output_dir")
        if changed and trainer.is_world_process_zero():
            print(f"note: resuming {output_dir} with changed settings {changed}")
    elif trainer.is_world_process_zero():
        write_json(path, current, overwrite=True)
