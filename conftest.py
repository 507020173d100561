"""How pytest runs this project's suite: its two lanes and the two workers of ``make test``.

* ``slow`` marks a test that trains a real model, executes a notebook of the series or starts a
  browser; ``make test-fast`` leaves those out. nbval's notebook cells and every test that reads
  the series' run or the joint pass (:data:`RUN_FIXTURES`) are marked here.
* ``make test`` runs on pytest-xdist workers, each with its share of the cores (two workers on
  two cores: one thread each, so that neither spins waiting on threads the other holds). nbval
  executes the notebooks cell by cell, each notebook in one kernel and each after the one
  before it; the scheduler below sends them with the tests of :data:`SERIES_MODULES`, which read
  the run they write, to one worker as one unit, in collection order. The tests of
  :data:`JOINT_MODULE` run the series' joint pass of notebook 04 in a run folder of their own:
  one unit, handed out second, beside the series. The tests of :data:`PASSES_MODULE` run
  notebooks again on a copy of nbval's run with the joint pass's model in it: one unit, handed
  out to the first free worker once both are complete (last until then), that waits for them
  when it gets there first (or fails when they failed).
  Every other test module is a unit that goes wherever a worker is free, the longest first.
"""
import os
import tempfile
from pathlib import Path

import pytest

#: The test modules whose tests read the series' run alongside nbval's execution of it.
SERIES_MODULES = ("tests/test_notebooks.py", "tests/test_report.py", "tests/test_docs.py")
#: The test module of the series' joint pass, which runs in a run folder of its own.
JOINT_MODULE = "tests/test_series_joint.py"
#: The test module that runs notebooks again on a copy of the series' run and the joint pass.
PASSES_MODULE = "tests/test_series_passes.py"
#: The fixtures of tests/conftest.py that execute the series' notebooks or wait for them.
RUN_FIXTURES = {"series_run", "joint_pass", "finished_joint_pass"}
#: Modules of many minutes, handed out first after the series and the joint pass, so that no
#: worker starts one when the other is about to finish.
LONG_MODULES = ("tests/test_launch.py", "tests/test_your_data_series.py", "tests/test_train_matryoshka.py",
                "tests/test_jupyterlab.py", "tests/test_runner.py")
#: Written into the reports folder when nbval's last notebook cell is done, or one has failed.
SERIES_DONE, SERIES_FAILED = ".series-done", ".series-failed"
#: Written into the reports folder by the joint pass's fixture when it is done, or failed.
JOINT_DONE, JOINT_FAILED = ".joint-done", ".joint-failed"

# Notebooks executed by nbval (and by the tests) write their runs here, not into reports/; set
# before pytest-xdist starts its workers, so that they all share it.
os.environ.setdefault("NBHELPERS_REPORTS", tempfile.mkdtemp(prefix="nbhelpers-test-reports-"))
if not os.environ.get("PYTEST_XDIST_WORKER"):   # a new test run: no earlier run's markers count
    for _marker in (SERIES_DONE, SERIES_FAILED, JOINT_DONE, JOINT_FAILED):
        Path(os.environ["NBHELPERS_REPORTS"], _marker).unlink(missing_ok=True)
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    _threads = str(max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))
    for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                  "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        os.environ.setdefault(_name, _threads)   # before torch or TensorFlow is imported


def scope(nodeid: str) -> str:
    """The unit of work of the test ``nodeid``: "series", "joint", "passes" or its module (whose
    module-scoped fixtures then run once)."""
    path = nodeid.split("::", 1)[0]
    if path.endswith(".ipynb") or path in SERIES_MODULES:
        return "series"
    return {JOINT_MODULE: "joint", PASSES_MODULE: "passes"}.get(path, path)


def pytest_collection_modifyitems(config, items):
    for item in items:
        reads_run = bool(RUN_FIXTURES & set(getattr(item, "fixturenames", ())))
        if reads_run and scope(item.nodeid) not in ("series", "joint", "passes"):
            raise pytest.UsageError(f"{item.nodeid} reads the series' run or the joint pass: its "
                                    "module belongs in SERIES_MODULES of conftest.py (or is "
                                    "JOINT_MODULE or PASSES_MODULE)")
        if reads_run or item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)
    global _last_cell
    cells = [item.nodeid for item in items if item.path.suffix == ".ipynb"]
    _last_cell = cells[-1] if cells else None


#: The nodeid of nbval's last notebook cell in this process's collection.
_last_cell = None


@pytest.fixture(scope="session")
def series_markers() -> dict[str, Path]:
    """The files saying that nbval's run of the series, and the joint pass, are complete or failed."""
    reports = Path(os.environ["NBHELPERS_REPORTS"])
    return {"done": reports / SERIES_DONE, "failed": reports / SERIES_FAILED,
            "joint done": reports / JOINT_DONE, "joint failed": reports / JOINT_FAILED}


def pytest_runtest_logreport(report):
    """Tell the tests that wait for nbval's run (``series_run``) that it is complete or failed."""
    if not report.nodeid.split("::", 1)[0].endswith(".ipynb"):
        return
    reports = Path(os.environ["NBHELPERS_REPORTS"])
    if report.failed:
        (reports / SERIES_FAILED).write_text(report.nodeid + "\n")
    elif report.when == "teardown" and report.nodeid == _last_cell:
        (reports / SERIES_DONE).write_text(report.nodeid + "\n")


def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class SeriesScheduling(LoadScopeScheduling):
        """Load balancing module by module, but the series' notebooks and readers as one unit,
        the joint pass as another, and the passes over a copy of their runs as a third."""

        def _split_scope(self, nodeid: str) -> str:
            return scope(nodeid)

        def _assign_work_unit(self, node) -> None:
            reports = Path(os.environ["NBHELPERS_REPORTS"])
            ready = (reports / SERIES_DONE).exists() and (reports / JOINT_DONE).exists()
            # the series first, the joint pass beside it, then the passes once both are done
            # (last until then), then the long modules, then the rest in collection order
            order = ["series", "joint", *(["passes"] if ready else []), *LONG_MODULES]
            if "passes" in self.workqueue and not ready:
                self.workqueue.move_to_end("passes")
            for name in reversed(order):
                if name in self.workqueue:
                    self.workqueue.move_to_end(name, last=False)
            super()._assign_work_unit(node)

    return SeriesScheduling(config, log)
