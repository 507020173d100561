"""Figures the notebooks show. Each function returns a matplotlib Figure."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from nbhelpers.esco import Taxonomy
from nbhelpers.evaluation import rows_of
from nbhelpers.splits import SPLITS

SPLIT_COLOURS = ["#4c72b0", "#dd8452", "#55a868"]


def plot_split(prepared, source):
    """What notebook 01's split holds out: occupations per ISCO major group (ESCO), questions
    per document (your documents) or the scores of each split (your pairs)."""
    if prepared.domain == "esco":
        return plot_split_by_major_group(prepared.occupations, source)
    if prepared.domain == "docs":
        docs = prepared.documents.sort_values(["split", "source"])
        fig, ax = plt.subplots(figsize=(8, 0.3 * len(docs) + 1.2))
        colours = dict(zip(SPLITS, SPLIT_COLOURS))
        ax.barh(docs.source, docs.questions, color=docs.split.map(colours))
        ax.invert_yaxis()
        ax.legend(handles=[plt.Rectangle((0, 0), 1, 1, color=colours[s]) for s in SPLITS],
                  labels=list(SPLITS), loc="lower right")
        ax.set_xlabel("questions")
        ax.set_title("Questions per document, coloured by the document's split")
        fig.tight_layout()
        return fig
    fig, ax = plt.subplots(figsize=(8, 3.2))
    for split, colour in zip(SPLITS, SPLIT_COLOURS):
        ax.hist(prepared.pairs[split].similarity, bins=20, alpha=0.6, color=colour, label=split,
                density=True)
    ax.set_xlabel("score (the file's scale)")
    ax.set_ylabel("share of the split's pairs")
    ax.set_title("Scores of each split")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_split_by_major_group(occupations: pd.DataFrame, taxonomy: Taxonomy):
    """Occupations per ISCO major group, stacked by split: shows what the test holds out."""
    table = (occupations.assign(major=occupations.isco_group.str[0])
             .pivot_table(index="major", columns="split", values="uri", aggfunc="count",
                          fill_value=0)
             .reindex(columns=[s for s in SPLITS if s in set(occupations.split)]))
    table.index = [f"{code} {taxonomy.group_label(code)}" for code in table.index]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(table) + 1.2))
    table.iloc[::-1].plot.barh(stacked=True, ax=ax, color=SPLIT_COLOURS)
    ax.set_xlabel("occupations")
    ax.set_title("Occupations per ISCO-08 major group and split")
    fig.tight_layout()
    return fig


def plot_pair_levels(pairs: pd.DataFrame, levels):
    """Pairs per relation level with the target each level trains towards."""
    counts = pairs.level.value_counts().reindex(levels, fill_value=0)
    targets = pairs.groupby("level")[["score", "score_angular"]].mean().reindex(levels)
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


def similarity_matrix(encoder, texts) -> np.ndarray:
    vectors = encoder.encode(list(texts))
    return vectors @ vectors.T


def _color_range(matrices) -> tuple[float, float]:
    """A colour scale spanning the off-diagonal values, so models whose similarities all
    sit high (BGE: 0.6-0.9) still show structure instead of one saturated colour."""
    values = np.concatenate([m[~np.eye(len(m), dtype=bool)] for m in matrices])
    low, high = float(values.min()), float(values.max())
    pad = 0.05 * max(high - low, 1e-3)
    return low - pad, min(1.0, high + pad)


def plot_similarity(texts, encoder=None, *, matrix=None, title=None, ax=None, vrange=None):
    """The tutorial's heatmap of pairwise cosine similarity, annotated with the values."""
    import seaborn as sns

    texts = list(texts)
    matrix = similarity_matrix(encoder, texts) if matrix is None else np.asarray(matrix)
    vmin, vmax = vrange or _color_range([matrix])
    if ax is None:
        fig, ax = plt.subplots(figsize=(0.8 * len(texts) + 2, 0.65 * len(texts) + 1))
    labels = [t if len(t) <= 40 else t[:39] + "…" for t in texts]
    sns.heatmap(matrix, xticklabels=labels, yticklabels=labels, vmin=vmin, vmax=vmax,
                cmap="YlOrRd", annot=True, fmt=".2f", annot_kws={"size": 8}, square=True,
                cbar_kws={"shrink": 0.7}, ax=ax)
    ax.tick_params(axis="x", rotation=90)
    ax.set_title(title or f"Cosine similarity: {getattr(encoder, 'spec', '')}")
    ax.figure.tight_layout()
    return ax.figure


def plot_similarity_grid(texts, encoders: dict, shared_scale: bool = False):
    """Heatmaps side by side (e.g. before / after tuning), one per named encoder.

    Each panel gets its own colour range unless ``shared_scale``, because two models'
    similarities can sit in very different ranges.
    """
    texts = list(texts)
    matrices = {name: similarity_matrix(enc, texts) for name, enc in encoders.items()}
    shared = _color_range(list(matrices.values())) if shared_scale else None
    size = 0.8 * len(texts) + 2
    fig, axes = plt.subplots(1, len(matrices), figsize=(size * len(matrices), size * 0.85),
                             squeeze=False)
    for ax, (name, matrix) in zip(axes[0], matrices.items()):
        plot_similarity(texts, matrix=matrix, title=name, ax=ax, vrange=shared)
    fig.tight_layout()
    return fig


def plot_metric_by_dim(table: pd.DataFrame, metric: str = "ndcg@10"):
    """A retrieval metric against the truncation dimension, one line per model."""
    rows = table[table.metric == metric].dropna(subset=["dim"])
    fig, ax = plt.subplots(figsize=(8, 3.8))
    for model, group in rows.groupby("model", sort=False):
        group = group.sort_values("dim")
        ax.plot(group.dim, group.value, marker="o", label=model)
    ax.set_xscale("log", base=2)
    dims = sorted(rows.dim.unique())
    ax.set_xticks(dims, [str(int(d)) for d in dims])
    ax.set_xlabel("embedding dimensions kept")
    ax.set_ylabel(metric)
    ax.set_title(f"Retrieval {metric} by truncation dimension")
    ax.grid(alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8)  # beside the lines
    fig.tight_layout()
    return fig


def plot_level_similarity(table: pd.DataFrame, levels, targets: dict[str, float]):
    """Mean cosine per relation level for each model, against the level's target."""
    rows = table[table.metric.str.endswith("/mean_cosine")].assign(
        level=lambda t: t.metric.str.split("/").str[0])
    wide = rows.pivot_table(index="level", columns="model", values="value", sort=False)
    wide = wide.reindex(levels)
    fig, ax = plt.subplots(figsize=(8, 3.6))
    wide.plot.bar(ax=ax)
    ax.plot(range(len(levels)), [targets[level] for level in levels], "k_", markersize=30,
            markeredgewidth=2, label="target")
    ax.set_ylabel("mean cosine")
    ax.set_title("Mean similarity per level (black: the level's target)")
    ax.tick_params(axis="x", rotation=20)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_generalisation_vs_domain(table: pd.DataFrame, sts=("dev", "angular_pearson")):
    """Each model as a point: STS-B (general English) against domain pair Spearman."""
    split, metric = sts
    general = table[(table.dataset == "stsb") & (table.split == split) & (table.metric == metric)]
    domain = rows_of(table[table.split == "test"], "pairs")
    domain, domain_label = domain[domain.metric == "spearman"], "domain pair Spearman (held-out)"
    if domain.empty:  # your documents: retrieval is the domain use
        domain = rows_of(table[(table.split == "test") & (table.metric == "ndcg@10")], "retrieval")
        domain = domain[domain.dim == domain.groupby("model").dim.transform("max")]
        domain_label = "nDCG@10, full size (held-out)"
    points = pd.merge(general.groupby("model").value.first().rename("general"),
                      domain.groupby("model").value.first().rename("domain"),
                      left_index=True, right_index=True)
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    ax.scatter(points.general, points.domain, s=60)
    for model, row in points.iterrows():
        ax.annotate(model, (row.general, row.domain), textcoords="offset points", xytext=(6, 4))
    ax.set_xlabel(f"STS-B {split} {metric} (general English)")
    ax.set_ylabel(domain_label)
    ax.set_title("Generalisation vs domain fit: up is better, left is forgetting")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_two_uses(uses: pd.DataFrame, tolerance: float):
    """Each model as a point: domain pair Spearman against nDCG@10 at full size (``uses``:
    :func:`nbhelpers.compare.two_uses`); the shaded corner holds the models within
    ``tolerance`` of the best on both."""
    x, y = "domain test Spearman", "nDCG@10 full size"
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    ax.scatter(uses[x], uses[y], s=60)
    for model, row in uses.iterrows():
        ax.annotate(model, (row[x], row[y]), textcoords="offset points", xytext=(6, 4))
    best_x, best_y = uses[x].max(), uses[y].max()
    ax.axvspan(best_x - tolerance, best_x, ymin=0, ymax=1, alpha=0.08, color="green")
    ax.axhspan(best_y - tolerance, best_y, alpha=0.08, color="green")
    ax.set_xlabel("job-title similarity: pair Spearman (held-out)")
    ax.set_ylabel("retrieval: nDCG@10, full size (held-out)")
    ax.set_title(f"Two uses: a model in both green bands is within {tolerance} of the best on each")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_storage_tradeoff(storage: pd.DataFrame):
    """nDCG@10 against bytes per stored vector, one line per model and precision."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for (model, precision), group in storage.groupby(["model", "precision"], sort=False):
        group = group.sort_values("bytes_per_text")
        ax.plot(group.bytes_per_text, group["ndcg@10"], marker="o", label=f"{model} {precision}")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("bytes per stored vector (log scale)")
    ax.set_ylabel("nDCG@10 (test)")
    ax.set_title("Storage vs retrieval quality")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def plot_training_history(history: pd.DataFrame, best_epoch: int | None = None):
    """Training and validation loss per epoch; the restored epoch marked."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(history.epoch, history.loss, marker="o", label="train loss")
    ax.plot(history.epoch, history.val_loss, marker="o", label="validation loss")
    if best_epoch:
        ax.axvline(best_epoch, color="grey", linestyle="--", label=f"restored: epoch {best_epoch}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE (angular scale)")
    ax.set_xticks(history.epoch)
    ax.set_title("Siamese training")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


STS_AXIS_LABELS = {"stsb_dev_pearson": "STS-B dev Pearson (angular)",
                   "stsb_dev_spearman": "STS-B dev Spearman (cosine)"}


def plot_alpha_sweep(sweep: pd.DataFrame, tolerance: float, chosen: float,
                     domain: str = "domain_val_spearman", sts: str = "stsb_dev_spearman"):
    """Domain score against STS-B dev for each interpolation weight alpha; the STS-B floor is
    the base model's score (the sweep's alpha = 0 row) minus ``tolerance``."""
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    has_sts = sts in sweep and sweep[sts].notna().all()
    x = sweep[sts] if has_sts else sweep.alpha
    ax.plot(x, sweep[domain], marker="o")
    for xi, yi, alpha in zip(x, sweep[domain], sweep.alpha):
        ax.annotate(f"α={alpha:g}" + (" (chosen)" if alpha == chosen else ""), (xi, yi),
                    textcoords="offset points", xytext=(6, -12 if alpha == chosen else 4),
                    fontweight="bold" if alpha == chosen else "normal")
    if has_sts and (sweep.alpha == 0).any():
        base_sts = float(sweep.loc[sweep.alpha == 0, sts].iloc[0])
        ax.axvline(base_sts - tolerance, color="red", linestyle="--",
                   label=f"STS-B floor: base − {tolerance}")
        ax.legend()
    ax.set_xlabel(STS_AXIS_LABELS.get(sts, sts) if has_sts else "alpha")
    # a trainer's evaluation key such as eval_dim_64_cosine_ndcg@10 is a validation score
    ax.set_ylabel(domain.replace("eval_", "validation ", 1).replace("_", " "))
    ax.set_title("θ = (1−α)·base + α·tuned: domain gain vs forgetting")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_loss_curve(losses: pd.DataFrame, title: str = "Training loss"):
    """Training loss per logging step (columns ``step``, ``loss``)."""
    fig, ax = plt.subplots(figsize=(6, 3.3))
    ax.plot(losses.step, losses.loss, marker=".")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
