"""Your own scored pairs: a CSV of two texts and a similarity score per row, for notebook 03.

The USE tutorial's file works as it is: header ``base,ref,similarity``, scores from 0 to 1.
Other column names and scales are parameters (``columns``, ``scale``). A score ``s`` on the
stated scale ``[low, high]`` becomes the cosine-scale target ``(s - low) / (high - low)`` in
[0, 1] (``score``), and its angular counterpart (``score_angular``), the two scales the graded
ESCO pairs carry. Spearman, the headline score, depends only on the order of the scores.

The split keeps held-out texts out of training: pairs that share a text (compared
case-insensitively) form one group, and whole groups go to train, validation or test. A file
that brings its own ``split`` column keeps it, and is refused if a held-out pair shares a text
with an earlier split. Score *levels* for the per-level plots and AUCs are equal-width bins of
the stated scale.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from nbhelpers.errors import InputError
from nbhelpers.pairs import to_angular
from nbhelpers.splits import SPLITS

DEFAULT_COLUMNS = ("base", "ref", "similarity")
#: Score bins on the stated scale: the "levels" of the user's pairs.
N_LEVELS = 5
#: Fewest pairs a validation or test split may hold (a Spearman over fewer says little).
MIN_HELD_OUT = 10
#: Fewest pairs the training split may hold.
MIN_TRAIN = 20


def read_scored_pairs(path: str | Path, columns=DEFAULT_COLUMNS, scale=(0.0, 1.0)) -> pd.DataFrame:
    """Read and check a scored-pairs CSV.

    Returns ``text1, text2, similarity`` (as given), ``score`` (cosine scale), ``score_angular``,
    ``level`` (the score bin) and, when the file has one, ``split``. Every fault names the
    file, the row (1 = first data row; the line number counts the header) and the column.
    """
    path = Path(path)
    first, second, score_column = _check_columns_parameter(columns)
    low, high = _check_scale(scale)
    if not path.is_file():
        raise InputError(f"pairs_csv={str(path)!r}: file not found")
    from nbhelpers.prepare import read_checked_csv

    frame = read_checked_csv(path, (first, second, score_column))
    for column in (first, second):
        blank = frame[column].str.strip().eq("")
        if blank.any():
            raise InputError(f"{_where(path, blank)}, column {column!r}: the text is empty")
    values = pd.to_numeric(frame[score_column].str.strip(), errors="coerce")
    bad = values.isna()
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise InputError(f"{_where(path, bad)}, column {score_column!r}: "
                         f"{frame[score_column].iloc[row]!r} is not a number")
    outside = ~values.between(low, high)
    if outside.any():
        row = int(outside.to_numpy().nonzero()[0][0])
        raise InputError(f"{_where(path, outside)}, column {score_column!r}: {values.iloc[row]:g} "
                         f"is outside the stated scale [{low:g}, {high:g}] (pairs_scale)")
    out = pd.DataFrame({"text1": frame[first].str.strip(), "text2": frame[second].str.strip(),
                        "similarity": values.astype(float)})
    out["score"] = (out.similarity - low) / (high - low)
    out["score_angular"] = to_angular(out.score.to_numpy())
    out["level"] = score_levels(out.similarity, (low, high))
    if "split" in frame.columns:
        unknown = ~frame.split.isin(SPLITS)
        if unknown.any():
            row = int(unknown.to_numpy().nonzero()[0][0])
            raise InputError(f"{_where(path, unknown)}, column 'split': {frame.split.iloc[row]!r}; "
                             f"expected one of {', '.join(SPLITS)}")
        out["split"] = frame.split
    return out


def score_levels(similarity: pd.Series, scale) -> pd.Series:
    """The equal-width bin of the stated scale each score falls in, as a label like "0.8-1"."""
    low, high = scale
    edges = np.linspace(low, high, N_LEVELS + 1)
    index = np.clip(np.searchsorted(edges, similarity.to_numpy(), side="right") - 1, 0, N_LEVELS - 1)
    labels = [f"{edges[i]:g}-{edges[i + 1]:g}" for i in range(N_LEVELS)]
    return pd.Series([labels[i] for i in index], index=similarity.index)


def levels_of(scale) -> tuple[str, ...]:
    """Every level label of a scale, highest scores first (as ESCO's levels are ordered)."""
    low, high = _check_scale(scale)
    edges = np.linspace(low, high, N_LEVELS + 1)
    return tuple(f"{edges[i]:g}-{edges[i + 1]:g}" for i in reversed(range(N_LEVELS)))


def split_scored_pairs(pairs: pd.DataFrame, fractions=(0.8, 0.1, 0.1), seed: int = 42,
                       name: str = "pairs_csv") -> dict[str, pd.DataFrame]:
    """Train / validation / test pairs, no text of a held-out pair in an earlier split.

    Pairs linked by a shared text form one group (connected components); the groups, largest
    first (ties in a seeded random order), go to the split furthest below its share. A
    ``split`` column in ``pairs`` is used as given and checked instead. Each split carries a
    ``group`` column: the bootstrap draws whole groups.
    """
    pairs = pairs.assign(group=text_groups(pairs))
    if "split" in pairs:
        splits = {s: pairs[pairs.split == s].drop(columns="split") for s in SPLITS}
    else:
        splits = _deal(pairs, fractions, seed)
    check_disjoint(splits, name)
    for split, frame in splits.items():
        needed = MIN_TRAIN if split == "train" else MIN_HELD_OUT
        if len(frame) < needed:
            raise InputError(f"{name}: {len(pairs):,} pairs give the {split} split {len(frame)}, "
                             f"fewer than the {needed} it needs; give more pairs"
                             + ("" if "split" in pairs else " or change fractions"))
    return {s: f.reset_index(drop=True) for s, f in splits.items()}


def check_disjoint(splits: dict[str, pd.DataFrame], name: str = "pairs") -> None:
    """Refuse held-out pairs that share a text (case-insensitively) with an earlier split."""
    seen: dict[str, str] = {}
    for split in SPLITS:
        frame = splits[split]
        texts = set(pd.concat([frame.text1, frame.text2]).str.casefold())
        shared = sorted(texts & seen.keys())
        if shared:
            raise InputError(f"{name}: the text {shared[0]!r} is in the {seen[shared[0]]} and the "
                             f"{split} split ({len(shared)} shared text(s)); a held-out pair must "
                             "not share a text with an earlier split")
        seen.update(dict.fromkeys(texts, split))


def _deal(pairs: pd.DataFrame, fractions, seed: int) -> dict[str, pd.DataFrame]:
    targets = dict(zip(SPLITS, np.asarray(fractions, dtype=float) * len(pairs)))
    sizes = pairs.group.value_counts()
    rng = np.random.default_rng(seed)
    order = sorted(sizes.index, key=lambda g, r=dict(zip(sizes.index, rng.permutation(len(sizes)))):
                   (-sizes[g], r[g]))
    filled = dict.fromkeys(SPLITS, 0)
    split_of = {}
    for group in order:
        split = max(SPLITS, key=lambda s: (targets[s] - filled[s], -SPLITS.index(s)))
        split_of[group] = split
        filled[split] += sizes[group]
    chosen = pairs.group.map(split_of)
    return {s: pairs[chosen == s] for s in SPLITS}


def text_groups(pairs: pd.DataFrame) -> np.ndarray:
    """Connected components of the graph whose nodes are texts and whose edges are pairs."""
    parent: dict[str, str] = {}

    def root(text):
        parent.setdefault(text, text)
        while parent[text] != text:
            parent[text] = parent[parent[text]]
            text = parent[text]
        return text

    left, right = pairs.text1.str.casefold(), pairs.text2.str.casefold()
    for a, b in zip(left, right):
        parent[root(a)] = root(b)
    roots = [root(a) for a in left]
    return pd.factorize(pd.Series(roots))[0]


def _where(path: Path, mask: pd.Series) -> str:
    row = int(mask.to_numpy().nonzero()[0][0])
    return f"{path}: row {row + 1} (line {row + 2})"


def _check_columns_parameter(columns) -> tuple[str, str, str]:
    if (not isinstance(columns, (list, tuple)) or len(columns) != 3
            or not all(isinstance(c, str) and c for c in columns) or len(set(columns)) != 3):
        raise InputError(f"pairs_columns={columns!r}: expected three different column names: "
                         "the first text, the second text and the score, e.g. "
                         f"{list(DEFAULT_COLUMNS)}")
    return tuple(columns)


def _check_scale(scale) -> tuple[float, float]:
    numbers = (isinstance(scale, (list, tuple)) and len(scale) == 2
               and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in scale))
    if not numbers or not scale[0] < scale[1]:
        raise InputError(f"pairs_scale={scale!r}: expected [lowest, highest] score of the file, "
                         "e.g. [0, 1] or [0, 5], lowest below highest")
    return float(scale[0]), float(scale[1])
