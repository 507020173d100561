"""Notebook 03: siamese tuning of a TF Hub sentence encoder, after the original USE tutorial.

One module per step of the recipe, imported as ``from nbhelpers.siamese import ...``:

* :mod:`~nbhelpers.siamese.config`: the settings, and their checks (no TensorFlow: the runner
  reads the full profile from it);
* :mod:`~nbhelpers.siamese.layer`: the encoder as a ``hub.KerasLayer``, its weights (snapshot,
  blend, save) and an in-memory encoder for scoring;
* :mod:`~nbhelpers.siamese.model`: the Keras model class that keeps some encoder variables fixed;
* :mod:`~nbhelpers.siamese.data`: graded pairs as a ``tf.data`` pipeline, with STS-B replay;
* :mod:`~nbhelpers.siamese.results`: what the notebook saves.

The notebook itself writes the tutorial's graph (two string inputs, one shared
``hub.KerasLayer``, ``Dot(normalize=True)``, the clip, the angular similarity), its compile and
its fit; these modules hold what is around them.
"""

import importlib

STEPS = ("config", "data", "layer", "model", "results")


def __getattr__(name):
    """``siamese.layer`` and the other step modules load on first use (TensorFlow with them)."""
    if name in STEPS:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
