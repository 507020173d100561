"""The forgetting guard's alpha rule, shared by notebooks 03 (USE) and 04 (sentence-transformers)."""
from __future__ import annotations

import pandas as pd
import pytest

from nbhelpers.errors import InputError
from nbhelpers.guard import choose_alpha


def sweep_frame(domain, sts, sts_column="stsb_dev_pearson"):
    return pd.DataFrame({"alpha": [0.0, 0.25, 0.5, 0.75, 1.0], "domain_spearman": domain,
                         sts_column: sts})


def test_choose_alpha_respects_the_sts_tolerance():
    sweep = sweep_frame([0.60, 0.65, 0.70, 0.74, 0.76], [0.830, 0.828, 0.8205, 0.815, 0.80])
    choice = choose_alpha(sweep, base_sts=0.83, tolerance=0.01)
    assert (choice.alpha, choice.guarded) == (0.5, True) and "0.8200" in choice.reason
    assert choose_alpha(sweep, base_sts=0.83, tolerance=0.05).alpha == 1.0
    assert choose_alpha(sweep, base_sts=0.83, tolerance=0.0).alpha == 0.0
    # alpha = 0 qualifies even when measurement noise puts it just under the floor
    noisy = sweep_frame([0.60, 0.65, 0.70, 0.74, 0.76], [0.8190, 0.70, 0.70, 0.70, 0.70])
    assert choose_alpha(noisy, base_sts=0.83, tolerance=0.01).alpha == 0.0
    # ties go to the smaller alpha
    flat = sweep_frame([0.60, 0.70, 0.70, 0.70, 0.70], [0.83] * 5)
    assert choose_alpha(flat, base_sts=0.83).alpha == 0.25
    # without alpha = 0 in the sweep and nothing within tolerance: the base weights
    assert choose_alpha(noisy.iloc[1:], base_sts=0.83).alpha == 0.0


def test_choose_alpha_takes_named_columns():
    sweep = sweep_frame([0.5, 0.6, 0.7, 0.8, 0.9], [0.85, 0.848, 0.845, 0.83, 0.80],
                        sts_column="stsb_dev_spearman").rename(columns={"domain_spearman": "ndcg"})
    choice = choose_alpha(sweep, 0.85, 0.01, domain="ndcg", sts="stsb_dev_spearman")
    assert choice.alpha == 0.5 and "ndcg" in choice.reason


def test_choose_alpha_without_sts_says_the_guard_was_not_applied():
    sweep = sweep_frame([0.60, 0.65, 0.70, 0.74, 0.72], [float("nan")] * 5)
    cases = ((sweep, 0.83), (sweep, None), (sweep.drop(columns="stsb_dev_pearson"), None),
             (sweep_frame([0.60, 0.65, 0.70, 0.74, 0.72], [0.83] * 5), float("nan")))
    for frame, base_sts in cases:
        choice = choose_alpha(frame, base_sts=base_sts)
        assert (choice.alpha, choice.guarded) == (0.75, False)
        assert "not applied" in choice.reason
    with pytest.raises(InputError, match="domain_spearman"):
        choose_alpha(sweep.drop(columns="domain_spearman"), base_sts=0.83)
    with pytest.raises(InputError, match="tolerance"):
        choose_alpha(sweep, base_sts=0.83, tolerance=-0.1)
