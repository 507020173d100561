"""Shared fixtures and the suite's two lanes.

Real data is found through environment variables (.ci/run and the Makefile set them for
development): ESCO_DIR (the ESCO v1.0 export) and STSB_DIR (the STS benchmark files).

Lanes (the project's conftest.py): a test that trains a real model, executes a notebook of the
series or starts a browser is marked ``slow``, and ``make test-fast`` runs the others. A test
without the mark that executes a series notebook or starts the browser fails here, naming the
mark it needs.
"""
import os
from pathlib import Path

import pytest

# Tests run offline unless a test says otherwise: the hub's answer must not change a result.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import nbhelpers  # noqa: E402,F401  (sets TF_USE_LEGACY_KERAS before anything imports TF)
from nbhelpers.esco import load_esco  # noqa: E402


NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.fixture(autouse=True)
def _unmarked_tests_stay_fast(request, monkeypatch):
    """A test without the ``slow`` mark may neither execute a series notebook nor start a browser."""
    if request.node.get_closest_marker("slow"):
        return
    import papermill

    import browser

    execute = papermill.execute_notebook

    def only_other_notebooks(input_path, *args, **kwargs):
        if Path(input_path).resolve().parent == NOTEBOOKS:
            raise AssertionError(f"{request.node.nodeid} executes {Path(input_path).name}: mark it slow")
        return execute(input_path, *args, **kwargs)

    def no_browser(*args, **kwargs):
        raise AssertionError(f"{request.node.nodeid} starts a browser: mark it slow")

    monkeypatch.setattr(papermill, "execute_notebook", only_other_notebooks)
    monkeypatch.setattr(browser, "chromium", no_browser)


def _env_dir(name: str) -> Path:
    value = os.environ.get(name)
    if not value:
        pytest.skip(f"{name} is not set: point it at the folder (CI sets it)")
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
def tiny_bert(tmp_path_factory) -> Path:
    """A tiny sentence-transformers model (two layers, 128 dimensions, random weights) for tests
    of the series' plumbing: a notebook runs on it in seconds, through the same code paths."""
    from tiny_models import tiny_sentence_transformer

    return tiny_sentence_transformer(tmp_path_factory.mktemp("tiny"), hidden=128, name="tiny-bert")


@pytest.fixture(scope="session")
def sample():
    return load_esco()


@pytest.fixture(scope="session")
def full_esco(esco_dir):
    return load_esco(esco_dir)


#: How long a test may wait for nbval's run of the series, executing on another worker.
SERIES_WAIT = 3600


@pytest.fixture(scope="session")
def series_run(request, tmp_path_factory, series_markers):
    """A run of the whole series at its quick defaults.

    pytest collects ``notebooks/`` first: nbval executes every notebook at its defaults, and
    they write one run folder under ``$NBHELPERS_REPORTS`` (shared by the workers of ``make
    test``); that run is reused, once nbval's last cell is done, also by a test on another
    worker. Run without the notebooks, the tests execute the series themselves with the runner,
    at the same defaults.
    """
    import time

    from nbhelpers import run
    from nbhelpers.runs import latest_run_dir

    done, failed = series_markers   # written by the project's conftest.py
    if any(item.path.suffix == ".ipynb" for item in request.session.items):
        deadline = time.monotonic() + SERIES_WAIT
        while not done.exists():
            if failed.exists():
                pytest.fail(f"nbval's run of the series failed at {failed.read_text().strip()}")
            if time.monotonic() > deadline:
                pytest.fail(f"nbval's run of the series was not done after {SERIES_WAIT} s")
            time.sleep(2)
    executed_by_nbval = latest_run_dir(require="results/06_serving.json")
    if executed_by_nbval is not None:
        return executed_by_nbval
    run_dir = tmp_path_factory.mktemp("series")
    run.run_series(run.notebooks(), run_dir)
    return run_dir
