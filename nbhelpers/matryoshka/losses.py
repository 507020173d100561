"""Notebook 04's loss menu: the tutorial's ``MatryoshkaLoss(MultipleNegativesRankingLoss)`` and
the losses a user can switch to (the ``loss`` parameter)."""
from __future__ import annotations

from nbhelpers.errors import InputError
from nbhelpers.evaluation import check_dims
from nbhelpers.matryoshka.config import LOSSES, MatryoshkaConfig


def build_loss(model, name: str, dims=None, config: MatryoshkaConfig | None = None):
    """The loss ``name`` (see :data:`LOSSES`), wrapped in ``MatryoshkaLoss`` when ``dims``."""
    from sentence_transformers.sentence_transformer import losses

    config = config or MatryoshkaConfig(loss=name)
    if name not in LOSSES:
        raise InputError(f"loss={name!r}: unknown; choose one of {', '.join(LOSSES)}")
    distance = losses.SiameseDistanceMetric.COSINE_DISTANCE
    inner = {
        "mnrl": lambda: losses.MultipleNegativesRankingLoss(
            model, scale=config.mnrl_scale, gather_across_devices=config.mnrl_gather),
        "cached_mnrl": lambda: losses.CachedMultipleNegativesRankingLoss(
            model, scale=config.mnrl_scale, mini_batch_size=config.mini_batch_size,
            gather_across_devices=config.mnrl_gather),
        "triplet": lambda: losses.TripletLoss(
            model, distance_metric=losses.TripletDistanceMetric.COSINE,
            triplet_margin=config.triplet_margin),
        "cosent": lambda: losses.CoSENTLoss(model),
        "angle": lambda: losses.AnglELoss(model),
        "cosine": lambda: losses.CosineSimilarityLoss(model),
        "contrastive": lambda: losses.ContrastiveLoss(model, distance_metric=distance,
                                                      margin=config.contrastive_margin),
        "online_contrastive": lambda: losses.OnlineContrastiveLoss(
            model, distance_metric=distance, margin=config.contrastive_margin),
    }[name]()
    if not dims:
        return inner
    dims = check_dims(dims, model.get_embedding_dimension())
    return losses.MatryoshkaLoss(model, inner, matryoshka_dims=dims)
