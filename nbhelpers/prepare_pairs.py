"""Notebook 01 for your own scored pairs (``domain="pairs"``): a split notebook 03 trains on.

The CSV is read and checked by :mod:`nbhelpers.scored_pairs`; the split keeps every text of a
held-out pair out of training.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from nbhelpers.paths import project_root
from nbhelpers.runs import sha256
from nbhelpers.scored_pairs import read_scored_pairs, split_scored_pairs
from nbhelpers.splits import SPLITS


@dataclass
class PairsSource:
    """A scored-pairs CSV, read and checked."""

    path: Path
    frame: pd.DataFrame
    scale: tuple[float, float]

    def summary(self) -> dict:
        texts = pd.concat([self.frame.text1, self.frame.text2]).str.casefold()
        return {"pairs": len(self.frame), "texts": int(texts.nunique()), "scale": list(self.scale)}

    def preview(self, n: int = 5) -> pd.DataFrame:
        """The first pairs as read, with the score on the cosine scale and its level."""
        return self.frame.head(n)

    def inputs(self) -> dict[str, str]:
        return {str(self.path): sha256(self.path)}


def load_pairs_csv(pairs_csv: str, columns, scale) -> PairsSource:
    """``pairs_csv`` read and checked (``"sample"``: the project's data/sample_pairs.csv)."""
    path = project_root() / "data" / "sample_pairs.csv" if pairs_csv == "sample" else Path(pairs_csv)
    frame = read_scored_pairs(path, tuple(columns), tuple(scale))
    return PairsSource(path, frame, (float(scale[0]), float(scale[1])))


def build_pairs_datasets(source: PairsSource, config):
    """Split the pairs and assemble :class:`Prepared` (no retrieval task)."""
    from nbhelpers.prepare import RETRIEVAL_COLUMNS, Prepared

    splits = split_scored_pairs(source.frame, config.fractions, config.seed,
                                f"pairs_csv={str(config.pairs_csv)!r}")
    report = {"pairs": {s: len(f) for s, f in splits.items()},
              "groups": {s: int(f.group.nunique()) for s, f in splits.items()},
              "scale": list(source.scale), "own_split": "split" in source.frame}
    return Prepared(None, splits, {s: pd.DataFrame(columns=RETRIEVAL_COLUMNS) for s in SPLITS},
                    domain="pairs", report=report)
