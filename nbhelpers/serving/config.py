"""Notebook 06's settings and their checks, made before any model loads."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from nbhelpers.errors import InputError


@dataclass
class ServingConfig:
    small_dim: int = 64                # the small vector size reported beside full size
    speed_texts: int = 400             # test passages each variant is timed on
    calibration_texts: int = 300       # training texts OpenVINO's static int8 calibrates on
    static_pca_dims: int = 256         # dimensions of the distilled static model
    static_vocabulary: int = 2000      # extra whole-word tokens from the training texts (0: none)
    static_epochs: float = 1.0         # Matryoshka fine-tuning of the static model (0: none)
    static_batch_size: int = 256
    static_learning_rate: float = 0.05
    static_train_samples: int | None = None   # training rows for the static model (None: all)
    candidates: int = 100              # first-pass candidates rescored with float32 vectors
    keep: float = 0.99                 # share of nDCG@10 an export must keep to be recommended
    keep_vectors: float = 0.97         # ... and a quantised vector store
    seed: int = 42

    def validate(self) -> ServingConfig:
        for name in ("small_dim", "speed_texts", "calibration_texts", "static_pca_dims",
                     "static_batch_size", "seed"):
            _whole(name, getattr(self, name), 1 if name != "seed" else 0)
        _whole("static_vocabulary", self.static_vocabulary, 0)
        _whole("candidates", self.candidates, 10)
        if self.static_train_samples is not None:
            _whole("static_train_samples", self.static_train_samples, 1)
        if isinstance(self.static_epochs, bool) or not isinstance(self.static_epochs, (int, float)) \
                or self.static_epochs < 0:
            raise InputError(f"static_epochs={self.static_epochs!r}: expected a number >= 0 "
                             "(0: the distilled model without fine-tuning)")
        rate = self.static_learning_rate
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate <= 1:
            raise InputError(f"static_learning_rate={rate!r}: expected a number in (0, 1]")
        for name in ("keep", "keep_vectors"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
                raise InputError(f"{name}={value!r}: expected a share of nDCG@10 in (0, 1], "
                                 "e.g. 0.99")
        if self.static_pca_dims < self.small_dim:
            raise InputError(f"static_pca_dims={self.static_pca_dims}: expected at least "
                             f"small_dim={self.small_dim}, the size the static model is also scored at")
        return self

    def to_dict(self) -> dict:
        return asdict(self)


def _whole(name: str, value, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise InputError(f"{name}={value!r}: expected a whole number >= {least}")
