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
def tiny_use(tmp_path_factory) -> Path:
    """A tiny SavedModel with USE's contract (16 dimensions, random weights): the TensorFlow
    counterpart of :func:`tiny_bert`."""
    from nbhelpers.use_savedmodel import build_tiny_savedmodel

    return build_tiny_savedmodel(tmp_path_factory.mktemp("tiny") / "tiny-use", dim=16, seed=0)


@pytest.fixture(scope="session")
def sample():
    return load_esco()


@pytest.fixture(scope="session")
def full_esco(esco_dir):
    return load_esco(esco_dir)


#: How long a test may wait for work that another worker does (nbval's run, the joint pass).
WAIT_SECONDS = 3600


def wait_for(done: Path, failed: Path, what: str) -> None:
    """Wait until ``done`` exists (another worker's ``what`` is complete); fail when ``failed``
    exists or after :data:`WAIT_SECONDS`. The files are the project's conftest.py markers."""
    import time

    deadline = time.monotonic() + WAIT_SECONDS
    while not done.exists():
        if failed.exists():
            pytest.fail(f"{what} failed: {failed.read_text().strip()}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what} was not done after {WAIT_SECONDS} s")
        time.sleep(2)


@pytest.fixture(scope="session")
def series_run(request, tmp_path_factory, series_markers):
    """A run of the whole series at its quick defaults.

    pytest collects ``notebooks/`` first: nbval executes every notebook at its defaults, and
    they write one run folder under ``$NBHELPERS_REPORTS`` (shared by the workers of ``make
    test``); that run is reused, once nbval's last cell is done, also by a test on another
    worker. Run without the notebooks, the tests execute the series themselves with the runner,
    at the same defaults.
    """
    from nbhelpers import run
    from nbhelpers.runs import latest_run_dir

    if any(item.path.suffix == ".ipynb" for item in request.session.items):
        wait_for(series_markers["done"], series_markers["failed"], "nbval's run of the series")
    executed_by_nbval = latest_run_dir(require="results/06_serving.json")
    if executed_by_nbval is not None:
        return executed_by_nbval
    run_dir = tmp_path_factory.mktemp("series")
    run.run_series(run.notebooks(), run_dir)
    return run_dir


@pytest.fixture(scope="session")
def joint_pass(series_markers) -> Path:
    """The series' joint pass (notebook 04 with ``joint = True``, quick defaults) in a run folder
    of its own: notebook 01 at its defaults, then notebook 04. Notebook 01 is seeded, so the data
    are nbval's (tests/test_series_passes.py compares the files before it merges the two runs).
    Under ``make test`` it runs beside nbval's run, as the unit of tests/test_series_joint.py."""
    import papermill as pm

    from nbhelpers.paths import project_root

    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="joint-pass-", dir=os.environ["NBHELPERS_REPORTS"]))
    run_dir = folder / "run"
    try:
        for notebook, parameters in (("01_data_preparation", {}), ("04_matryoshka", {"joint": True})):
            pm.execute_notebook(str(project_root() / "notebooks" / f"{notebook}.ipynb"),
                                str(folder / f"{notebook}.ipynb"), kernel_name="python3",
                                parameters={"run_dir": str(run_dir), **parameters}, progress_bar=False)
    except BaseException as err:
        series_markers["joint failed"].write_text(f"{type(err).__name__}: {err}"[:2000])
        raise
    series_markers["joint done"].write_text(str(run_dir))
    return run_dir


@pytest.fixture(scope="session")
def finished_joint_pass(request, series_markers) -> Path:
    """:func:`joint_pass`, made by another worker when tests/test_series_joint.py runs (waited
    for), else here."""
    if any(item.path.name == "test_series_joint.py" for item in request.session.items):
        wait_for(series_markers["joint done"], series_markers["joint failed"], "the joint pass")
        return Path(series_markers["joint done"].read_text())
    return request.getfixturevalue("joint_pass")
