"""Notebook 04's settings and their checks: every knob of a Matryoshka run, checked before a
model is loaded."""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from nbhelpers.errors import InputError

#: Loss name -> (columns the loss takes, in order; where the rows come from; in-batch negatives).
LOSSES = {
    "mnrl": (("anchor", "positive"), "retrieval", True),
    "cached_mnrl": (("anchor", "positive"), "retrieval", True),
    "triplet": (("anchor", "positive", "negative"), "retrieval", False),
    "cosent": (("sentence1", "sentence2", "score"), "scored", False),
    "cosine": (("sentence1", "sentence2", "score"), "scored", False),
    "angle": (("sentence1", "sentence2", "score"), "scored", False),
    "contrastive": (("sentence1", "sentence2", "label"), "labelled", False),
    "online_contrastive": (("sentence1", "sentence2", "label"), "labelled", False),
}
#: Losses for the graded pairs of a joint run (``joint``): both rank the pairs of a batch by
#: their scores, so only the order of the targets matters; AnglE compares angles instead of
#: cosines, whose gradient vanishes near 1.
PAIRS_LOSSES = ("cosent", "angle")
#: Graded-pair level -> contrastive label. Levels not listed (same minor / sub-major group:
#: related but different jobs) are left out of contrastive training as ambiguous.
CONTRASTIVE_LABELS = {"same_occupation": 1, "same_unit_group": 1, "unrelated": 0}
DEFAULT_LR, DEFAULT_LORA_LR = 2e-5, 2e-4
#: Learning-rate schedules the trainer knows (``transformers.SchedulerType``) that need no
#: extra arguments.
LR_SCHEDULERS = ("linear", "cosine", "cosine_with_restarts", "polynomial", "constant",
                 "constant_with_warmup", "inverse_sqrt")


@dataclass
class MatryoshkaConfig:
    """Every knob of a Matryoshka run; the defaults are the quick, sample-data settings.

    ``MatryoshkaConfig.full()`` gives the settings for the real ESCO export;
    ``MatryoshkaConfig.from_file(path)`` reads JSON or YAML.
    """

    model: str = "minilm"                 # "minilm", a sentence-transformers folder, or a hub id
    dims: list[int] | None = None         # None: the model's size, then 512/256/128/64 below it
    matryoshka: bool = True               # False: the plain loss (evaluation still at every dim)
    loss: str = "mnrl"                    # see LOSSES
    include_qa: bool = False              # add notebook 01's QA pairs (retrieval losses only)
    max_train_samples: int | None = 512   # cap on training rows (None: all)
    eval_split: str = "validation"        # held-out split for model selection
    batch_size: int = 32                  # per device; = in-batch negatives + 1 for MNRL
    mini_batch_size: int = 16             # cached_mnrl: texts per forward pass
    gradient_accumulation_steps: int = 1  # does NOT add in-batch negatives (use cached_mnrl)
    epochs: float = 1.0
    max_steps: int = -1                   # > 0 overrides epochs
    learning_rate: float | None = None    # None: 2e-5, or 2e-4 with LoRA
    warmup_ratio: float = 0.1
    lr_scheduler: str = "linear"
    weight_decay: float = 0.0
    max_seq_length: int | None = 64       # training/evaluation length (None: the model's own)
    eval_steps: int | float | None = None  # None: evaluate (and checkpoint) once per epoch
    logging_steps: int = 5
    eval_batch_size: int = 64
    metric: str = "ndcg@10"               # model-selection metric ...
    metric_dim: int | None = None         # ... at this dim (None: the smallest)
    metric_for_best_model: str | None = None  # or the full key, e.g. "eval_dim_64_cosine_ndcg@10"
    patience: int | None = 2              # early stopping after this many evals without gain
    save_total_limit: int = 2
    baseline_eval: bool = True            # evaluate the untrained model first (also checks keys)
    evaluate: bool = True                 # False: no evaluation, model selection or early stopping
                                          # during training (the last step is kept)
    guard_alphas: list[float] | None = field(default_factory=lambda: [0.5, 1.0])
                                          # forgetting guard: blends of base and tuned weights to
                                          # try beside the base model (None: no guard)
    sts_tolerance: float = 0.01           # ... keeping STS-B dev Spearman >= base - this
    stsb_source: str | None = None        # STS-B folder or "hub" (None: $STSB_DIR, or hub online)
    stsb_replay: float = 0.1              # STS-B *train* pairs (CoSENT) mixed in, share of the rows
    joint: bool = False                   # also train on notebook 01's graded pairs: one model
                                          # for retrieval and job-title similarity
    pairs_loss: str = "cosent"            # ... their loss: "cosent" or "angle" (PAIRS_LOSSES)
    pairs_share: float = 1.0              # ... graded pairs per retrieval row (their share of batches)
    max_eval_pairs: int | None = 2000     # ... validation pairs the evaluator scores (None: all)
    lora: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.1
    lora_target_modules: list[str] | None = None  # None: peft's default for the architecture
    hard_negatives: bool = True           # mine a hard negative for each row with the base model
    tsdae: bool = False                   # TSDAE on the training split's sentences before pair training
    tsdae_epochs: float = 1.0             # ... passes over those sentences
    hn_num_negatives: int = 1
    hn_range_min: int = 0
    hn_range_max: int | None = 20
    hn_relative_margin: float | None = 0.05
    hn_sampling: str = "top"              # "top" or "random"
    mnrl_scale: float = 20.0
    mnrl_gather: bool = False             # several processes: in-batch negatives from every
                                          # process's batch (MNRL and cached MNRL)
    triplet_margin: float = 0.25          # on cosine distance
    contrastive_margin: float = 0.5       # on cosine distance
    seed: int = 42
    output_dir: str | None = None         # None: <run_dir>/models/matryoshka-<model>
    model_name: str | None = None         # for the model card
    language: str = "en"
    license: str = "apache-2.0"
    progress: bool = True

    @classmethod
    def full(cls, **changes) -> MatryoshkaConfig:
        """Settings for the real ESCO export (14,005 retrieval rows at `--profile full`, 12,473
        of them with a mined hard negative). The loss is MNRL computed in mini-batches of
        ``mini_batch_size`` (16) texts (``cached_mnrl``): the same gradients as ``mnrl`` in a
        fraction of the memory, so that 64 (question, passage, hard negative) rows of up to 128
        tokens train on an 8 GB machine (``benchmarks/training_memory.py`` measures it)."""
        preset = {"max_train_samples": None, "include_qa": True, "batch_size": 64, "epochs": 1.0,
                  "loss": "cached_mnrl",
                  "learning_rate": 5e-5, "max_seq_length": 128, "logging_steps": 20,
                  "guard_alphas": [0.5, 0.7, 0.85, 1.0], "stsb_replay": 0.25, "hard_negatives": True}
        return cls(**{**preset, **changes})

    @classmethod
    def from_dict(cls, values: dict, source: str = "config") -> MatryoshkaConfig:
        values = dict(values or {})
        preset = values.pop("preset", None)
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise InputError(f"{source}: unknown field(s) {unknown}; valid fields: {sorted(names)} "
                             "(and 'preset': 'full')")
        if preset not in (None, "quick", "full"):
            raise InputError(f"{source}: preset={preset!r}; expected 'quick' or 'full'")
        return cls.full(**values) if preset == "full" else cls(**values)

    @classmethod
    def from_file(cls, path: str | Path) -> MatryoshkaConfig:
        """Read a JSON (``.json``) or YAML (``.yaml``/``.yml``) config file."""
        return cls.from_dict(read_config(path), source=str(path))

    def to_dict(self) -> dict:
        return asdict(self)

    def validate(self) -> MatryoshkaConfig:
        """Check every field that needs no model; raises :class:`InputError`."""
        if self.loss not in LOSSES:
            raise InputError(f"loss={self.loss!r}: unknown; choose one of {', '.join(LOSSES)}")
        for name in ("batch_size", "mini_batch_size", "gradient_accumulation_steps",
                     "logging_steps", "eval_batch_size", "save_total_limit", "lora_r",
                     "lora_alpha", "hn_num_negatives"):
            _positive_int(name, getattr(self, name))
        if self.max_train_samples is not None:
            _positive_int("max_train_samples", self.max_train_samples)
        if self.max_seq_length is not None:
            _positive_int("max_seq_length", self.max_seq_length)
        if LOSSES[self.loss][2] and self.batch_size < 2:
            raise InputError(f"batch_size={self.batch_size}: loss {self.loss!r} uses the other rows "
                             "of a batch as negatives; expected at least 2")
        if not (isinstance(self.max_steps, int) and not isinstance(self.max_steps, bool)):
            raise InputError(f"max_steps={self.max_steps!r}: expected an int (-1: use epochs)")
        if self.max_steps <= 0 and not (_is_number(self.epochs) and 0 < self.epochs < math.inf):
            raise InputError(f"epochs={self.epochs!r}: expected a finite number > 0 (or max_steps > 0)")
        if self.learning_rate is not None and not (_is_number(self.learning_rate)
                                                   and 0 < self.learning_rate < math.inf):
            raise InputError(f"learning_rate={self.learning_rate!r}: expected a finite number > 0 "
                             "(or None for the default)")
        if not (_is_number(self.warmup_ratio) and 0 <= self.warmup_ratio < 1):
            raise InputError(f"warmup_ratio={self.warmup_ratio!r}: expected a number in [0, 1)")
        if self.lr_scheduler not in LR_SCHEDULERS:
            raise InputError(f"lr_scheduler={self.lr_scheduler!r}: expected one of "
                             f"{', '.join(LR_SCHEDULERS)}")
        if not (_is_number(self.weight_decay) and 0 <= self.weight_decay < math.inf):
            raise InputError(f"weight_decay={self.weight_decay!r}: expected a finite number >= 0")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise InputError(f"seed={self.seed!r}: expected a whole number >= 0")
        if self.eval_steps is not None and not (isinstance(self.eval_steps, (int, float))
                                                and not isinstance(self.eval_steps, bool)
                                                and self.eval_steps > 0):
            raise InputError(f"eval_steps={self.eval_steps!r}: expected steps (int > 0), a "
                             "fraction of training (0 < x < 1) or None (once per epoch)")
        if isinstance(self.eval_steps, float) and self.eval_steps >= 1 and not self.eval_steps.is_integer():
            raise InputError(f"eval_steps={self.eval_steps!r}: a fraction must be below 1")
        if self.patience is not None and not (isinstance(self.patience, int) and self.patience >= 0):
            raise InputError(f"patience={self.patience!r}: expected an int >= 0 or None (no early stopping)")
        if self.eval_split not in ("train", "validation", "test"):
            raise InputError(f"eval_split={self.eval_split!r}: expected 'validation' (or 'test', 'train')")
        if self.hn_sampling not in ("top", "random"):
            raise InputError(f"hn_sampling={self.hn_sampling!r}: expected 'top' or 'random'")
        if self.include_qa and LOSSES[self.loss][1] != "retrieval":
            raise InputError(f"include_qa=True: QA pairs are (question, passage) rows, but loss "
                             f"{self.loss!r} trains on graded pairs; use a retrieval loss "
                             "(mnrl, cached_mnrl, triplet)")
        if self.guard_alphas is not None and (
                isinstance(self.guard_alphas, (str, bytes)) or not self.guard_alphas or not all(
                    _is_number(a) and 0 <= a <= 1 for a in self.guard_alphas)):
                raise InputError(f"guard_alphas={self.guard_alphas!r}: expected a list of numbers in "
                                 "[0, 1] (1: the tuned weights) or None (no guard)")
        if not isinstance(self.joint, bool):
            raise InputError(f"joint={self.joint!r}: expected true or false")
        if self.joint:
            self._validate_joint()
        if not (_is_number(self.stsb_replay) and self.stsb_replay >= 0):
            raise InputError(f"stsb_replay={self.stsb_replay!r}: expected a number >= 0 (STS-B train "
                             "pairs per training row; 0: no replay)")
        for name in ("sts_tolerance", "triplet_margin", "contrastive_margin"):
            _non_negative(name, getattr(self, name))
        if self.hn_relative_margin is not None:
            _non_negative("hn_relative_margin", self.hn_relative_margin)
        for name in ("matryoshka", "include_qa", "baseline_eval", "evaluate", "lora", "hard_negatives",
                     "mnrl_gather", "progress", "tsdae"):
            if not isinstance(getattr(self, name), bool):
                raise InputError(f"{name}={getattr(self, name)!r}: expected true or false")
        if not (_is_number(self.tsdae_epochs) and self.tsdae_epochs > 0):
            raise InputError(f"tsdae_epochs={self.tsdae_epochs!r}: expected a number > 0")
        if self.tsdae and self.lora:
            raise InputError("tsdae=True with lora=True: TSDAE trains every weight of the encoder; "
                             "switch one of them off")
        if not (_is_number(self.mnrl_scale) and self.mnrl_scale > 0):
            raise InputError(f"mnrl_scale={self.mnrl_scale!r}: expected a number > 0 (the similarity "
                             "scale of the ranking loss; 20 is the usual value)")
        if not (_is_number(self.lora_dropout) and 0 <= self.lora_dropout < 1):
            raise InputError(f"lora_dropout={self.lora_dropout!r}: expected a number in [0, 1)")
        if isinstance(self.hn_range_min, bool) or not (isinstance(self.hn_range_min, int)
                                                       and self.hn_range_min >= 0):
            raise InputError(f"hn_range_min={self.hn_range_min!r}: expected an int >= 0 (skip this "
                             "many of the most similar passages when mining negatives)")
        if self.hn_range_max is not None and (
                isinstance(self.hn_range_max, bool) or not isinstance(self.hn_range_max, int)
                or self.hn_range_max <= self.hn_range_min):
            raise InputError(f"hn_range_max={self.hn_range_max!r}: expected an int above "
                             f"hn_range_min ({self.hn_range_min}) or None (no limit)")
        if self.dims is not None:
            if isinstance(self.dims, (str, bytes)) or not all(
                    isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in self.dims):
                raise InputError(f"dims={self.dims!r}: expected a list of positive ints or None")
            if not self.dims:
                raise InputError("dims=[]: give at least one dim (or None for the defaults)")
        return self

    def _validate_joint(self) -> None:
        if LOSSES[self.loss][1] != "retrieval":
            raise InputError(f"joint=True trains graded pairs beside retrieval rows, but loss "
                             f"{self.loss!r} already trains on graded pairs; use a retrieval loss "
                             "(mnrl, cached_mnrl, triplet) or joint=False")
        if self.pairs_loss not in PAIRS_LOSSES:
            raise InputError(f"pairs_loss={self.pairs_loss!r}: expected one of {', '.join(PAIRS_LOSSES)} "
                             "(losses for scored pairs)")
        if not (_is_number(self.pairs_share) and 0 < self.pairs_share < math.inf):
            raise InputError(f"pairs_share={self.pairs_share!r}: expected a number > 0 (graded pairs "
                             "per retrieval row; 1: as many of each)")
        if self.max_eval_pairs is not None:
            _positive_int("max_eval_pairs", self.max_eval_pairs)

    def mines_negatives(self) -> bool:
        """Hard negatives apply to the retrieval losses, whose rows are (anchor, positive)."""
        return bool(self.hard_negatives) and LOSSES[self.loss][1] == "retrieval"

    def lr(self) -> float:
        if self.learning_rate is not None:
            return float(self.learning_rate)
        return DEFAULT_LORA_LR if self.lora else DEFAULT_LR


def read_config(path: str | Path) -> dict:
    """The mapping in a JSON (``.json``) or YAML (``.yaml``/``.yml``) file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: config file not found")
    from nbhelpers.values import read_yaml

    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".yaml", ".yml"):
        values = read_yaml(text, str(path))   # 1e-5 arrives as a number, as Python writes it
    else:
        try:
            values = json.loads(text)
        except json.JSONDecodeError as err:
            raise InputError(f"{path}: not valid JSON ({err})") from None
    if values is not None and not isinstance(values, dict):
        raise InputError(f"{path}: expected a mapping of config fields, got {type(values).__name__}")
    return dict(values or {})


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{name}={value!r}: expected a positive int")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _non_negative(name, value):
    if not (_is_number(value) and 0 <= value < math.inf):
        raise InputError(f"{name}={value!r}: expected a finite number >= 0")
