"""Shared fixtures. Real data lives beside the repo and is found through environment
variables (set by .ci/run and the Makefile when ../shared/data exists):
ESCO_DIR (the ESCO v1.0 export) and STSB_DIR (the STS benchmark files)."""
import os
import tempfile
from pathlib import Path

import pytest

# Tests run offline unless a test says otherwise: the hub's answer must not change a result.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import nbhelpers  # noqa: E402,F401  (sets TF_USE_LEGACY_KERAS before anything imports TF)
from nbhelpers.esco import load_esco  # noqa: E402


def _env_dir(name: str) -> Path:
    value = os.environ.get(name)
    if not value:
        pytest.skip(f"{name} is not set: point it at the folder (CI sets it to ../shared/data/...)")
    path = Path(value)
    if not path.is_dir():
        pytest.fail(f"{name}={value} is not a folder")
    return path


@pytest.fixture(scope="session")
def esco_dir() -> Path:
    return _env_dir("ESCO_DIR")


@pytest.fixture(scope="session")
def stsb_dir() -> Path:
    return _env_dir("STSB_DIR")


@pytest.fixture(scope="session")
def sample():
    return load_esco()


@pytest.fixture(scope="session")
def full_esco(esco_dir):
    return load_esco(esco_dir)


# Notebooks executed by nbval (and by the tests) write their runs here, not into reports/.
os.environ.setdefault("NBHELPERS_REPORTS", tempfile.mkdtemp(prefix="nbhelpers-test-reports-"))
