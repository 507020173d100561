"""The forgetting guard, shared by notebooks 03 (USE) and 04 (sentence-transformers): the sweep
over blends and the choice of alpha."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from nbhelpers.errors import InputError
from nbhelpers.guard import STS_METRIC, check_alphas, choose_alpha, run_guard, sweep


def sweep_frame(domain, sts, domain_column="domain_val_spearman"):
    return pd.DataFrame({"alpha": [0.0, 0.25, 0.5, 0.75, 1.0], domain_column: domain, STS_METRIC: sts})


def test_choose_alpha_respects_the_sts_tolerance_around_the_base_row():
    table = sweep_frame([0.60, 0.65, 0.70, 0.74, 0.76], [0.830, 0.828, 0.8205, 0.815, 0.80])
    choice = choose_alpha(table, tolerance=0.01)
    assert (choice.alpha, choice.guarded) == (0.5, True) and "0.8200" in choice.reason
    assert choose_alpha(table, tolerance=0.05).alpha == 1.0
    assert choose_alpha(table, tolerance=0.0).alpha == 0.0
    # ties go to the smaller alpha
    assert choose_alpha(sweep_frame([0.60, 0.70, 0.70, 0.70, 0.70], [0.83] * 5)).alpha == 0.25


def test_choose_alpha_takes_named_columns():
    table = sweep_frame([0.5, 0.6, 0.7, 0.8, 0.9], [0.85, 0.848, 0.845, 0.83, 0.80], domain_column="ndcg")
    choice = choose_alpha(table, 0.01, domain="ndcg")
    assert choice.alpha == 0.5 and "ndcg" in choice.reason


def test_without_sts_the_guard_says_it_was_not_applied():
    table = sweep_frame([0.60, 0.65, 0.70, 0.74, 0.72], [math.nan] * 5)
    for frame in (table, table.drop(columns=STS_METRIC)):
        choice = choose_alpha(frame)
        assert (choice.alpha, choice.guarded) == (0.75, False) and "not applied" in choice.reason
    with pytest.raises(InputError, match="domain_val_spearman"):
        choose_alpha(table.drop(columns="domain_val_spearman"))
    with pytest.raises(InputError, match="tolerance"):
        choose_alpha(table, tolerance=-0.1)


def test_the_sweep_always_scores_the_base_reuses_known_scores_and_ends_on_the_choice():
    weights, calls = [], []

    def blend(alpha):
        weights.append(alpha)

    def score(alpha):
        calls.append(alpha)
        return {"domain_val_spearman": 0.5 + alpha / 4, STS_METRIC: 0.8 - alpha / 10}

    table, choice = run_guard([1.0, 0.5], blend, score, tolerance=0.06,
                              known={0.0: {"domain_val_spearman": 0.5, STS_METRIC: 0.8}})
    assert list(table.alpha) == [0.0, 0.5, 1.0] and calls == [0.5, 1.0]   # alpha 0 was known
    assert choice.alpha == 0.5 and weights[-1] == 0.5   # the model ends holding the choice


def test_a_sweep_that_fails_leaves_the_tuned_weights():
    weights = []

    def score(alpha):
        raise RuntimeError("evaluation broke")

    with pytest.raises(RuntimeError):
        sweep([0.5], weights.append, score)
    assert weights[-1] == 1.0


@pytest.mark.parametrize("alphas", [[], [1.5], "0.5", [True], None])
def test_alphas_are_checked(alphas):
    with pytest.raises(InputError, match="alphas"):
        check_alphas(alphas)
