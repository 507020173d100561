"""The forgetting guard's choice: how far to move from the base weights towards the tuned ones.

Fine-tuning on a narrow domain can make a model forget general English. Interpolating weights,
``theta = (1 - alpha) * base + alpha * tuned``, trades the two off; :func:`choose_alpha` keeps
the ``alpha`` with the best domain score whose STS-B score stays within a tolerance of the base
model's. Notebook 03 (TensorFlow, USE) and notebook 04 (PyTorch, sentence-transformers) share
this rule; the module imports neither framework.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from nbhelpers.errors import InputError


@dataclass
class AlphaChoice:
    """The chosen interpolation weight, whether the STS-B guard applied, and why."""

    alpha: float
    guarded: bool
    reason: str


def choose_alpha(sweep: pd.DataFrame, base_sts: float | None, tolerance: float = 0.01,
                 domain: str = "domain_spearman", sts: str = "stsb_dev_pearson") -> AlphaChoice:
    """The alpha with the best ``domain`` score whose ``sts`` stays >= ``base_sts - tolerance``.

    alpha = 0 (the base weights) always qualifies. Without STS-B scores (``base_sts`` None or
    NaN, or the column missing or NaN) the guard cannot apply: the best domain alpha is taken
    and ``guarded`` is False. Ties go to the smaller alpha (closer to the base model).
    """
    missing = [c for c in ("alpha", domain) if c not in sweep.columns]
    if missing or sweep.empty:
        raise InputError(f"sweep: expected rows with columns alpha, {domain}; "
                         f"found {list(sweep.columns)} and {len(sweep)} row(s)")
    if tolerance < 0:
        raise InputError(f"tolerance={tolerance!r}: expected a number >= 0")
    ordered = sweep.sort_values("alpha", kind="stable")
    sts_values = ordered[sts] if sts in ordered else pd.Series(np.nan, index=ordered.index)
    if base_sts is None or np.isnan(base_sts) or sts_values.isna().all():
        best = ordered.loc[ordered[domain].idxmax()]
        return AlphaChoice(float(best.alpha), False,
                           f"STS-B unavailable: the forgetting guard was not applied; alpha="
                           f"{best.alpha:g} has the best {domain} ({best[domain]:.4f})")
    floor = base_sts - tolerance
    allowed = ordered[(sts_values >= floor) | (ordered.alpha == 0.0)]
    if allowed.empty:
        return AlphaChoice(0.0, True, f"no swept alpha kept {sts} >= {floor:.4f} (base "
                                      f"{base_sts:.4f} - {tolerance}); keeping the base weights")
    best = allowed.loc[allowed[domain].idxmax()]
    return AlphaChoice(float(best.alpha), True,
                       f"alpha={best.alpha:g}: best {domain} ({best[domain]:.4f}) among alphas "
                       f"with {sts} >= {floor:.4f} (base {base_sts:.4f} - {tolerance}); "
                       f"its {sts} is {best[sts]:.4f}")
