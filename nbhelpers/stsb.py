"""The STS benchmark: the series' check that domain tuning did not break general English.

Local files are the original release (``sts-train.csv``, ``sts-dev.csv``, ``sts-test.csv``):
tab separated, score 0-5 in column 5, the sentences in columns 6 and 7; some sentences
contain quote characters, so quoting is disabled. Online, the hub dataset
``sentence-transformers/stsb`` has the same pairs with scores already in [0, 1].
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
_HUB_SPLIT = {"train": "train", "dev": "validation", "test": "test"}


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
    from datasets import load_dataset

    try:
        data = load_dataset(HUB_DATASET, split=_HUB_SPLIT[split])
    except Exception as err:  # offline, or hub unreachable
        raise InputError(f"could not load {HUB_DATASET} from the hub ({err}); offline, "
                         "pass a local STS-B folder instead") from err
    return data.to_pandas()[["sentence1", "sentence2", "score"]]


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
