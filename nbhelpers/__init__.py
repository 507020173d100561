"""Helpers for the sentence-embedding domain-adaptation notebook series.

Importing the package selects legacy Keras (``TF_USE_LEGACY_KERAS=1``) before TensorFlow can
be imported, and keeps the model hubs offline unless the environment says otherwise.
"""
from nbhelpers import env as _env

_env.configure()

__version__ = "0.1.0"
