"""Where the project's folders are, wherever a notebook or command is started from."""
from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """The repository root (the folder holding ``nbhelpers/`` and ``notebooks/``)."""
    return Path(__file__).resolve().parent.parent


def reports_root() -> Path:
    """Where runs are written: ``$NBHELPERS_REPORTS`` or ``<repo>/reports``."""
    return Path(os.environ.get("NBHELPERS_REPORTS") or project_root() / "reports")


def cache_root() -> Path:
    """Built models and other reusable artefacts: ``$NBHELPERS_CACHE`` or ``~/.cache/nbhelpers``."""
    return Path(os.environ.get("NBHELPERS_CACHE") or Path.home() / ".cache" / "nbhelpers")
