"""The forgetting guard: how far to move from the base weights towards the tuned ones.

Fine-tuning on a narrow domain can make a model forget general English. Interpolating weights,
``theta = (1 - alpha) * base + alpha * tuned``, trades the two off. :func:`sweep` scores the
blends, :func:`choose_alpha` keeps the ``alpha`` with the best domain score on the validation
split whose STS-B dev Spearman (:data:`STS_METRIC`, the one yardstick of both notebooks) stays
within a tolerance of the base model's. Notebook 03 (TensorFlow, USE) and notebook 04
(PyTorch, sentence-transformers) share both; each framework only supplies how to blend its
weights and how to score a blend. The module imports neither framework.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from nbhelpers.errors import InputError

#: The STS-B measure both guards judge forgetting by: cosine Spearman on the dev split.
STS_METRIC = "stsb_dev_spearman"


@dataclass
class AlphaChoice:
    """The chosen interpolation weight, whether the STS-B guard applied, and why."""

    alpha: float
    guarded: bool
    reason: str


def check_alphas(alphas, name: str = "alphas") -> list[float]:
    """The blends to try, sorted, with 0 (the base model) always among them."""
    if isinstance(alphas, (str, bytes)) or not hasattr(alphas, "__iter__"):
        raise InputError(f"{name}={alphas!r}: expected a list of numbers in [0, 1]")
    values = list(alphas)
    bad = [a for a in values if isinstance(a, bool) or not isinstance(a, (int, float))
           or not 0 <= a <= 1]
    if bad or not values:
        raise InputError(f"{name}={alphas!r}: expected a non-empty list of numbers in [0, 1] "
                         "(0: the base weights, 1: the tuned weights)")
    return sorted({0.0, *map(float, values)})


def sweep(alphas, blend: Callable[[float], None], score: Callable[[float], dict],
          known: dict[float, dict] | None = None) -> pd.DataFrame:
    """One row ``{alpha, **score(alpha)}`` per blend, alpha 0 (the base model) included.

    ``blend(alpha)`` puts ``(1 - alpha) * base + alpha * tuned`` into the model, ``score(alpha)``
    measures it; ``known`` holds scores already measured (they are not measured again). The
    model is left holding the tuned weights (alpha = 1), also when scoring fails.
    """
    rows = []
    try:
        for alpha in check_alphas(alphas):
            if known and alpha in known:
                rows.append({"alpha": alpha, **known[alpha]})
                continue
            blend(alpha)
            rows.append({"alpha": alpha, **score(alpha)})
    finally:
        blend(1.0)
    return pd.DataFrame(rows)


def choose_alpha(sweep: pd.DataFrame, tolerance: float = 0.01, domain: str = "domain_val_spearman",
                 sts: str = STS_METRIC) -> AlphaChoice:
    """The alpha with the best ``domain`` score whose ``sts`` stays >= base - ``tolerance``.

    The base is the sweep's alpha-0 row, which always qualifies. Without STS-B scores (the
    column missing or NaN) the guard cannot apply: the best domain alpha is taken and
    ``guarded`` is False. Ties go to the smaller alpha (closer to the base model).
    """
    missing = [c for c in ("alpha", domain) if c not in sweep.columns]
    if missing or sweep.empty:
        raise InputError(f"sweep: expected rows with columns alpha, {domain}; "
                         f"found {list(sweep.columns)} and {len(sweep)} row(s)")
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not tolerance >= 0:
        raise InputError(f"tolerance={tolerance!r}: expected a number >= 0")
    ordered = sweep.sort_values("alpha", kind="stable")
    sts_values = ordered[sts] if sts in ordered else pd.Series(np.nan, index=ordered.index)
    base_rows = sts_values[ordered.alpha == 0.0]
    base_sts = float(base_rows.iloc[0]) if len(base_rows) else np.nan
    if np.isnan(base_sts):
        best = ordered.loc[ordered[domain].idxmax()]
        return AlphaChoice(float(best.alpha), False,
                           f"STS-B unavailable: the forgetting guard was not applied; alpha="
                           f"{best.alpha:g} has the best {domain} ({best[domain]:.4f})")
    floor = base_sts - tolerance
    allowed = ordered[(sts_values >= floor) | (ordered.alpha == 0.0)]
    best = allowed.loc[allowed[domain].idxmax()]
    return AlphaChoice(float(best.alpha), True,
                       f"alpha={best.alpha:g}: best {domain} ({best[domain]:.4f}) among the blends "
                       f"with {sts} >= {floor:.4f} (base {base_sts:.4f} - {tolerance}); "
                       f"its {sts} is {best[sts]:.4f}")


def run_guard(alphas, blend, score, tolerance: float, domain: str = "domain_val_spearman",
              known: dict[float, dict] | None = None) -> tuple[pd.DataFrame, AlphaChoice]:
    """:func:`sweep`, :func:`choose_alpha`, then ``blend(choice.alpha)``: the model ends
    holding the chosen weights. Returns the sweep and the choice."""
    table = sweep(alphas, blend, score, known)
    choice = choose_alpha(table, tolerance, domain)
    blend(choice.alpha)
    return table, choice
