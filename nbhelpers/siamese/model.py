"""The Keras model class of notebook 03, and what ``fit`` reports back.

The notebook builds the tutorial's graph with Keras layers and hands its inputs and output to
:class:`PartlyFrozenModel`, a ``tf.keras.Model`` whose training step leaves some encoder
variables as they are (USE's 128,000 x 512 token table by default: training it moves every row
at every step, three times the cost for the same gain).
"""
from __future__ import annotations

import nbhelpers  # noqa: F401  (selects legacy Keras before TensorFlow is imported)
import pandas as pd
import tensorflow as tf


class PartlyFrozenModel(tf.keras.Model):
    """``tf.keras.Model`` whose training step leaves the variables named in ``frozen`` unchanged.

    ``frozen`` holds variable-name prefixes (``"token_table"`` is USE's token table). Frozen
    variables get no gradient, so ``clipnorm`` and Adam see only the others. With
    ``frozen=()`` it trains like a plain ``tf.keras.Model``.
    """

    def __init__(self, *args, frozen=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.frozen = (frozen,) if isinstance(frozen, str) else tuple(frozen)

    def tuned_variables(self) -> list[tf.Variable]:
        """The trainable variables training may change."""
        return [v for v in self.trainable_variables if not v.name.startswith(self.frozen)]

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            prediction = self(x, training=True)
            loss = self.compute_loss(x, y, prediction)
        self.optimizer.minimize(loss, self.tuned_variables(), tape=tape)
        return self.compute_metrics(x, y, prediction, None)


def history_frame(history: tf.keras.callbacks.History) -> pd.DataFrame:
    """``model.fit``'s history as a table: epoch (1-based), loss, val_loss."""
    losses = history.history
    return pd.DataFrame({"epoch": range(1, len(losses["loss"]) + 1), "loss": losses["loss"],
                         "val_loss": losses.get("val_loss", [float("nan")] * len(losses["loss"]))})
