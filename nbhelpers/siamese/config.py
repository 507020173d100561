"""Notebook 03's settings and their checks. Importing this module does not start TensorFlow."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from nbhelpers.errors import InputError


@dataclass
class SiameseConfig:
    """Training and forgetting-guard settings; the defaults are the quick, sample-data ones.

    Three departures from the tutorial, each measured on the full ESCO export
    (docs/siamese-experiments.md):

    * learning rate 1e-4, not 1e-5: at 1e-5 USE barely moves in the time a CPU run has;
    * ``frozen``: USE's 128,000 x 512 token table stays fixed; Adam would move every row at
      every step, and without that a step is three times faster, at the same domain gain;
    * ``replay``: STS-B train pairs, a share of the domain pairs, are mixed into training
      (rehearsal), which keeps general English instead of trading it away.

    ``learning_rate=1e-5``, ``frozen=()`` and ``replay=0`` give the tutorial's setup.
    """

    model: str = "use-m3"
    epochs: int = 3
    batch_size: int = 32
    patience: int = 1
    learning_rate: float = 1e-4
    beta_1: float = 0.9
    beta_2: float = 0.9999
    epsilon: float = 1e-7
    clipnorm: float = 1.0
    frozen: tuple[str, ...] = ("token_table",)
    replay: float = 0.25
    alphas: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
    sts_tolerance: float = 0.01
    seed: int = 42

    @classmethod
    def full(cls, **changes) -> SiameseConfig:
        """Settings for the real ESCO export, with data prepared by ``PrepareConfig.full()``."""
        return cls(**{"epochs": 2, "batch_size": 64, **changes})

    def to_dict(self) -> dict:
        return asdict(self)

    def validate(self) -> SiameseConfig:
        """Check every setting before a model is loaded; raises :class:`InputError` naming it."""
        if not isinstance(self.model, str) or not self.model.strip():
            raise InputError(f"model={self.model!r}: expected 'use-m3', a SavedModel folder or a "
                             "TF Hub URL")
        for name in ("epochs", "batch_size"):
            _whole(name, getattr(self, name), minimum=1)
        _whole("patience", self.patience, minimum=0)
        _whole("seed", self.seed, minimum=0)
        _number("learning_rate", self.learning_rate, above=0, note="Adam's step size, e.g. 1e-4")
        for name in ("beta_1", "beta_2"):
            value = getattr(self, name)
            _number(name, value, above=0)
            if not value < 1:
                raise InputError(f"{name}={value!r}: expected a number in (0, 1), e.g. 0.9")
        _number("epsilon", self.epsilon, above=0)
        if self.clipnorm is not None:
            _number("clipnorm", self.clipnorm, above=0, note="or None: no clipping")
        if isinstance(self.frozen, str) or not all(isinstance(f, str) and f for f in self.frozen):
            raise InputError(f"frozen={self.frozen!r}: expected a list of variable-name prefixes "
                             "such as ['token_table'], or [] to train every variable")
        _number("replay", self.replay, at_least=0, note="STS-B pairs per domain pair; 0: none")
        from nbhelpers.guard import check_alphas

        check_alphas(self.alphas)
        _number("sts_tolerance", self.sts_tolerance, at_least=0)
        return self


def _whole(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InputError(f"{name}={value!r}: expected a whole number >= {minimum}")


def _number(name, value, above=None, at_least=None, note=""):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (above is None or value > above) and (at_least is None or value >= at_least)
    if not ok:
        bound = f"> {above}" if above is not None else f">= {at_least}"
        raise InputError(f"{name}={value!r}: expected a finite number {bound}"
                         + (f" ({note})" if note else ""))
