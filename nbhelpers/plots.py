"""Figures the notebooks show. Each function returns a matplotlib Figure."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from nbhelpers.esco import Taxonomy
from nbhelpers.splits import SPLITS


def plot_split_by_major_group(occupations: pd.DataFrame, taxonomy: Taxonomy):
    """Occupations per ISCO major group, stacked by split: shows what the test holds out."""
    table = (occupations.assign(major=occupations.isco_group.str[0])
             .pivot_table(index="major", columns="split", values="uri", aggfunc="count",
                          fill_value=0)
             .reindex(columns=[s for s in SPLITS if s in set(occupations.split)]))
    table.index = [f"{code} {taxonomy.group_label(code)}" for code in table.index]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(table) + 1.2))
    table.iloc[::-1].plot.barh(stacked=True, ax=ax, color=["#4c72b0", "#dd8452", "#55a868"])
    ax.set_xlabel("occupations")
    ax.set_title("Occupations per ISCO-08 major group and split")
    fig.tight_layout()
    return fig


def plot_pair_levels(pairs: pd.DataFrame, levels):
    """Pairs per relation level with the target each level trains towards."""
    counts = pairs.level.value_counts().reindex(levels, fill_value=0)
    targets = pairs.groupby("level")[["score", "score_angular"]].first().reindex(levels)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.2))
    counts.plot.bar(ax=left, color="#4c72b0")
    left.set_title("Pairs per level")
    left.tick_params(axis="x", rotation=30)
    targets.plot.bar(ax=right)
    right.set_title("Target similarity per level")
    right.set_ylim(0, 1.05)
    right.tick_params(axis="x", rotation=30)
    right.legend(["cosine scale", "angular scale"], loc="upper right")
    fig.tight_layout()
    return fig
