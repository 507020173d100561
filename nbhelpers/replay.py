"""STS-B replay: general-English pairs mixed into domain training, against forgetting.

Rehearsal is the simplest guard against forgetting: while the model learns job titles, it
keeps seeing some STS-B *train* pairs. Both training notebooks draw them with
:func:`replay_pairs`; the STS-B dev pairs (the guard) and test pairs (the report) are never
trained on.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from nbhelpers.errors import InputError


def replay_count(share, domain_rows: int, name: str = "replay") -> int:
    """How many replay pairs ``share`` of ``domain_rows`` asks for (``share`` >= 0)."""
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not share >= 0 \
            or share == float("inf"):
        raise InputError(f"{name}={share!r}: expected a number >= 0 (STS-B train pairs mixed in, "
                         "as a share of the domain training rows; 0: none)")
    return round(share * domain_rows)


def replay_pairs(general: pd.DataFrame, count: int, seed: int = 42) -> pd.DataFrame:
    """``count`` rows of ``general``, drawn in whole seeded passes.

    Each pass is a fresh shuffle of all rows, so every pair is used equally often (give or take
    one) and the seed, not the file's order, decides which pairs the last pass reaches; more
    pairs than exist repeat them.
    """
    if count <= 0:
        return general.iloc[:0]
    if general.empty:
        raise InputError("replay: no general-English pairs to draw from")
    rng = np.random.default_rng(seed)
    passes = [rng.permutation(len(general)) for _ in range(-(-count // len(general)))]
    return general.iloc[np.concatenate(passes)[:count]].reset_index(drop=True)
