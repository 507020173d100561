"""Notebook 06: a tuned model made ready to serve fast on a CPU.

One module per step, imported as ``from nbhelpers import serving`` and used as
``serving.export.folder(...)`` (each loads on first use):

* :mod:`~nbhelpers.serving.config`: the notebook's settings and their checks;
* :mod:`~nbhelpers.serving.export`: export folders in sentence-transformers' layout, the ONNX
  export, calibration batches for OpenVINO's int8;
* :mod:`~nbhelpers.serving.runtime`: an encoder that runs an exported folder with ONNX Runtime
  or OpenVINO (``nbhelpers.models.resolve_model`` loads export folders through it);
* :mod:`~nbhelpers.serving.static`: a static-embedding model distilled from the tuned one, and its
  Matryoshka fine-tuning;
* :mod:`~nbhelpers.serving.vectors`: quantised vectors with rescoring of the top candidates;
* :mod:`~nbhelpers.serving.variants`: every variant measured side by side, its figure and the
  recommendation that follows from it.

Notebook 06 calls ONNX Runtime's, OpenVINO's, NNCF's and sentence-transformers' own functions in
its cells; ``benchmarks/serving.py`` composes these same blocks.
"""
import importlib

STEPS = ("config", "export", "runtime", "static", "variants", "vectors")


def __getattr__(name):
    if name in STEPS:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
