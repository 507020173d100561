"""The STS benchmark: the series' check that domain tuning did not break general English.

Local files are the original release (``sts-train.csv``, ``sts-dev.csv``, ``sts-test.csv``):
tab separated, score 0-5 in column 5, the sentences in columns 6 and 7; some sentences
contain quote characters, so quoting is disabled. Online, the hub dataset
``sentence-transformers/stsb`` has the same pairs with scores already in [0, 1]; its files are
downloaded once, at a pinned revision, into the Hugging Face cache.
"""
from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import pandas as pd

from nbhelpers.errors import InputError

SPLITS = ("train", "dev", "test")
HUB_DATASET = "sentence-transformers/stsb"
#: The dataset's revision the series reads (a commit of the hub repository): the same pairs
#: for everyone, and a cached copy is used without asking the hub again.
HUB_REVISION = "ab7a5ac0e35aa22088bdcf23e7fd99b220e53308"
HUB_FILES = {"train": "data/train-00000-of-00001.parquet",
             "dev": "data/validation-00000-of-00001.parquet",
             "test": "data/test-00000-of-00001.parquet"}


def default_source() -> str | None:
    """``$STSB_DIR`` if set, else the hub dataset when online, else ``None`` (unavailable)."""
    from nbhelpers.env import is_offline

    return os.environ.get("STSB_DIR") or (None if is_offline() else "hub")


def load_splits(splits=("dev", "test"), source: str | Path | None = None) -> dict[str, pd.DataFrame]:
    """The STS-B ``splits`` from ``source`` (``None``: :func:`default_source`), by split name.

    When STS-B is unavailable (offline without ``$STSB_DIR``) it says so and returns ``{}``,
    so a notebook skips its STS-B steps instead of failing.
    """
    source = source or default_source()
    if source is None:
        print("STS-B unavailable: offline and STSB_DIR is not set (a folder with the original "
              "sts-train/dev/test.csv files); the STS-B steps are skipped")
        return {}
    return {split: load_stsb(split, source) for split in splits}


def load_stsb(split: str = "dev", source: str | Path | None = None) -> pd.DataFrame:
    """STS-B pairs as columns ``sentence1, sentence2, score`` with ``score`` in [0, 1].

    ``source`` is a folder with the original files, ``"hub"`` for the hub dataset, or
    ``None`` for the folder in ``$STSB_DIR``.
    """
    if split not in SPLITS:
        raise InputError(f"split={split!r}: expected one of {SPLITS}")
    source = source if source is not None else os.environ.get("STSB_DIR")
    if source is None:
        raise InputError("STS-B source not given: pass a folder with sts-dev.csv, set "
                         "STSB_DIR, or use source='hub' when online")
    if str(source) == "hub":
        return _load_hub(split)
    return _load_file(Path(source) / f"sts-{split}.csv")


def _load_file(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise InputError(f"{path}: STS-B file not found (expected sts-train/dev/test.csv "
                         "from the original STS benchmark release)")
    rows = []
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            for line, fields in enumerate(csv.reader(handle, delimiter="\t",
                                                     quoting=csv.QUOTE_NONE), start=1):
                if len(fields) < 7:
                    raise InputError(f"{path}: line {line} has {len(fields)} tab-separated "
                                     "fields; expected at least 7 (score in column 5)")
                try:
                    score = float(fields[4])
                except ValueError:
                    score = math.nan
                if not 0.0 <= score <= 5.0:  # also rejects NaN
                    raise InputError(f"{path}: line {line}: score {fields[4]!r} is not a "
                                     "number between 0 and 5")
                rows.append((fields[5], fields[6], score / 5.0))
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: byte {err.start} is not UTF-8") from None
    if not rows:
        raise InputError(f"{path}: file is empty")
    return pd.DataFrame(rows, columns=["sentence1", "sentence2", "score"])


def _load_hub(split: str) -> pd.DataFrame:
    from huggingface_hub import hf_hub_download

    from nbhelpers.env import endpoint

    try:
        path = hf_hub_download(HUB_DATASET, HUB_FILES[split], repo_type="dataset",
                               revision=HUB_REVISION, endpoint=endpoint())
    except Exception as err:  # offline, hub unreachable, or the file is not there
        raise InputError(f"STS-B {split}: could not download {HUB_FILES[split]} of {HUB_DATASET} "
                         f"from {endpoint()} ({type(err).__name__}: {err}); set STSB_DIR to a "
                         "folder with the original files, or HF_HUB_OFFLINE=1 to skip STS-B") from None
    frame = pd.read_parquet(path)
    missing = [c for c in ("sentence1", "sentence2", "score") if c not in frame.columns]
    if missing or frame.empty or not frame.score.between(0, 1).all():
        raise InputError(f"{path}: expected STS-B pairs with columns sentence1, sentence2 and a "
                         f"score in [0, 1] (missing: {missing or 'none'}, rows: {len(frame)})")
    return frame[["sentence1", "sentence2", "score"]]


def as_graded_pairs(frame: pd.DataFrame) -> pd.DataFrame:
    """STS-B pairs in the columns of the graded ESCO pairs, to mix into siamese training.

    ``score`` (0-1) is read as a target cosine, as the ESCO levels' scores are, and
    ``score_angular`` is its angular similarity; ``level`` is ``"stsb"``.
    """
    from nbhelpers.pairs import to_angular

    missing = [c for c in ("sentence1", "sentence2", "score") if c not in frame.columns]
    if missing:
        raise InputError(f"STS-B pairs: missing column(s) {missing}; expected the columns of "
                         "load_stsb (sentence1, sentence2, score)")
    score = frame.score.to_numpy(float)
    return pd.DataFrame({"text1": frame.sentence1.to_numpy(), "text2": frame.sentence2.to_numpy(),
                         "score": score, "level": "stsb", "score_angular": to_angular(score)})
