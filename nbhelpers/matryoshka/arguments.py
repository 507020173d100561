"""Notebook 04's ``SentenceTransformerTrainingArguments``, with defaults that are safe on a CPU
and use what a GPU offers."""
from __future__ import annotations

from pathlib import Path

from nbhelpers.matryoshka.config import LOSSES, MatryoshkaConfig


def device_flags() -> dict:
    """Precision, optimizer and pinning choices that suit the machine (CPU-safe)."""
    import torch

    from nbhelpers.matryoshka.launch import launched_on_cpus

    cuda = torch.cuda.is_available()
    bf16 = bool(cuda and torch.cuda.is_bf16_supported())
    return {"bf16": bf16, "tf32": True if bf16 else None,
            "optim": "adamw_torch_fused" if cuda else "adamw_torch",
            "dataloader_pin_memory": cuda, "use_cpu": launched_on_cpus()}


def fixed_arguments(config: MatryoshkaConfig, model=None, several_datasets: bool = False) -> dict:
    """The training arguments beside the tutorial's: evaluation batch size, accumulation, the
    schedule, weight decay, the compact progress view, the data seed, and the model's query
    prompt for the anchors (BGE's instruction; with several datasets only the retrieval rows,
    "domain", get it)."""
    from nbhelpers.matryoshka.model import query_prompt

    prompt = query_prompt(model) if model is not None else ""
    prompts = {"anchor": prompt} if prompt and LOSSES[config.loss][1] == "retrieval" else None
    if prompts and several_datasets:
        prompts = {"domain": prompts}
    return {"per_device_eval_batch_size": config.eval_batch_size,
            "gradient_accumulation_steps": config.gradient_accumulation_steps,
            "lr_scheduler_type": config.lr_scheduler, "weight_decay": config.weight_decay,
            "logging_first_step": True, "disable_tqdm": True,   # CompactProgress shows the run
            "data_seed": config.seed, "prompts": prompts}


def training_arguments(config: MatryoshkaConfig, checkpoints_dir: str | Path,
                       metric_for_best_model: str, model=None, several_datasets: bool = False):
    """``SentenceTransformerTrainingArguments`` for ``config``, as notebook 04 writes them out:
    checkpoints (and TensorBoard logs) in ``checkpoints_dir``, the no-duplicates batch sampler
    for in-batch negatives, batches drawn from several datasets in proportion to their sizes,
    model selection on ``metric_for_best_model``, then :func:`fixed_arguments` and
    :func:`device_flags`."""
    from sentence_transformers.sentence_transformer.training_args import (
        BatchSamplers,
        MultiDatasetBatchSamplers,
        SentenceTransformerTrainingArguments,
    )

    strategy = ("epoch" if config.eval_steps is None else "steps") if config.evaluate else "no"
    steps = {} if config.eval_steps is None else {"save_steps": config.eval_steps}
    if config.evaluate and config.eval_steps is not None:
        steps["eval_steps"] = config.eval_steps
    return SentenceTransformerTrainingArguments(
        output_dir=str(checkpoints_dir),
        num_train_epochs=float(config.epochs),
        max_steps=config.max_steps if config.max_steps > 0 else -1,
        per_device_train_batch_size=config.batch_size,
        learning_rate=config.lr(),
        warmup_steps=config.warmup_ratio,
        batch_sampler=(BatchSamplers.NO_DUPLICATES if LOSSES[config.loss][2]
                       else BatchSamplers.BATCH_SAMPLER),
        multi_dataset_batch_sampler=MultiDatasetBatchSamplers.PROPORTIONAL,
        eval_strategy=strategy,
        save_strategy="epoch" if config.eval_steps is None else "steps",
        **steps,
        save_total_limit=config.save_total_limit,
        load_best_model_at_end=config.evaluate,
        metric_for_best_model=metric_for_best_model if config.evaluate else None,
        logging_steps=config.logging_steps,
        report_to="tensorboard",
        seed=config.seed,
        **fixed_arguments(config, model, several_datasets),
        **device_flags(),
    )
