"""The encoder of notebook 03 as a ``hub.KerasLayer``: where it comes from, its weights, and
how to score or save it while it trains."""
from __future__ import annotations

from pathlib import Path

import nbhelpers  # noqa: F401  (selects legacy Keras before TensorFlow is imported)
import numpy as np
import tensorflow as tf
import tensorflow_hub as hub

from nbhelpers import env
from nbhelpers.errors import InputError
from nbhelpers.models import OFFLINE_CHOICES, Encoder, folder_name

#: Offline handles a hub.KerasLayer can load (the other offline models are PyTorch).
LAYER_OFFLINE_CHOICES = tuple(c for c in OFFLINE_CHOICES
                              if c in ("use-m3", "a local SavedModel folder"))


def encoder_handle(model: str | Path = "use-m3") -> str:
    """What ``hub.KerasLayer`` loads for a model spec: the rebuilt USE's folder for ``use-m3``
    (built once into the cache), a SavedModel folder, or a TF Hub URL (online)."""
    import tensorflow_text  # noqa: F401  (registers the SentencePiece ops USE needs)

    text = str(model)
    if text == "use-m3":
        from nbhelpers.use_savedmodel import use_m3_path

        return str(use_m3_path())
    if text.startswith(("http://", "https://")):
        if env.is_offline():
            raise InputError(f"model {text!r} needs internet (it is downloaded from TF Hub), but the "
                             "series is offline (the hub did not answer, or HF_HUB_OFFLINE=1). "
                             f"Offline choices: {', '.join(LAYER_OFFLINE_CHOICES)}. With internet, "
                             "run with HF_HUB_OFFLINE=0 (make run ONLINE=1)")
        return text
    if (Path(text).expanduser() / "saved_model.pb").is_file():
        return str(Path(text).expanduser())
    raise InputError(f"model {text!r}: not a SavedModel folder (no saved_model.pb), nor a TF Hub "
                     f"URL; offline choices: {', '.join(LAYER_OFFLINE_CHOICES)}")


def check_trainable(layer: hub.KerasLayer, frozen=()) -> list[str]:
    """The names of the variables training will change; refuses a layer that has none and a
    ``frozen`` prefix that matches no variable (both would silently train something else)."""
    names = [w.name for w in layer.trainable_weights]
    if not names:
        raise InputError("the encoder has no trainable variables: was the SavedModel exported "
                         "without them, or the layer built with trainable=False? Nothing would train")
    frozen = (frozen,) if isinstance(frozen, str) else tuple(frozen)
    unknown = [f for f in frozen if not any(n.startswith(f) for n in names)]
    if unknown:
        raise InputError(f"frozen={list(frozen)!r}: {unknown} match no trainable variable of the "
                         f"encoder; its variables: {sorted(n.split(':')[0] for n in names)}")
    return [n for n in names if not n.startswith(frozen)]


class LayerEncoder(Encoder):
    """An in-memory ``hub.KerasLayer`` (e.g. while it trains) as an :class:`Encoder`."""

    batch_size = 256

    def __init__(self, layer: hub.KerasLayer, spec: str = "siamese-tuned"):
        self.layer = layer
        self.spec = spec
        self.dim = int(layer(tf.constant(["probe"])).shape[-1])

    def _encode_batch(self, texts, kind):
        return self.layer(tf.constant(texts), training=False).numpy()


def snapshot_weights(layer: hub.KerasLayer) -> list[np.ndarray]:
    """Copies of the layer's variables (take one of the base model before training)."""
    return [np.array(w.numpy(), copy=True) for w in layer.weights]


def interpolate(layer: hub.KerasLayer, base: list[np.ndarray], tuned: list[np.ndarray],
                alpha: float) -> None:
    """Set the layer's weights to ``(1 - alpha) * base + alpha * tuned`` (alpha in [0, 1])."""
    if not 0.0 <= alpha <= 1.0:
        raise InputError(f"alpha={alpha!r}: expected a number in [0, 1]")
    if not len(base) == len(tuned) == len(layer.weights):
        raise InputError(f"interpolate: the layer has {len(layer.weights)} variables, base "
                         f"{len(base)} and tuned {len(tuned)}; snapshot the same layer")
    for var, b, t in zip(layer.weights, base, tuned):
        if b.shape != var.shape or t.shape != var.shape:
            raise InputError(f"interpolate: {var.name} has shape {tuple(var.shape)}, base "
                             f"{b.shape}, tuned {t.shape}; snapshot the same layer")
        var.assign((1.0 - alpha) * b + alpha * t)


def output_names(model: str, suffix: str = "") -> dict[str, str]:
    """Notebook 03's names for the base, tuned and chosen (merged) encoder of ``model``.

    The base keeps its spec, so notebook 02's records of it are reused and notebook 05 can
    reload it; the two tuned models are named (and saved under ``models/``) after it, with
    ``suffix`` telling a notebook's later attempts in one run folder apart.
    """
    stem = folder_name(model)
    return {"base": str(model), "tuned": f"{stem}-tuned{suffix}", "merged": f"{stem}-merged{suffix}"}


def save_encoder(layer: hub.KerasLayer, path: str | Path) -> Path:
    """Write the layer's current weights as a TF Hub-format SavedModel at a new folder ``path``.

    The folder loads with ``hub.KerasLayer(path, trainable=True)`` and
    ``nbhelpers.models.resolve_model(path)``. It is written under a temporary sibling name and
    renamed; an existing folder is never overwritten.
    """
    from nbhelpers.use_savedmodel import save_atomically

    try:
        # The layer's loaded object keeps the TF Hub contract (__call__, variables,
        # trainable_variables, regularization_losses) and holds the trained variables.
        return save_atomically(layer.resolved_object, Path(path))
    except FileExistsError as err:
        raise InputError(f"{path} already exists; save the encoder to a new folder "
                         "(an earlier model is never overwritten)") from err
