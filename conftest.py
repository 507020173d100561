"""How pytest runs this project's suite: its two lanes and the two workers of ``make test``.

* ``slow`` marks a test that trains a real model, executes a notebook of the series or starts a
  browser; ``make test-fast`` leaves those out. nbval's notebook cells and every test that reads
  the series' run (the ``series_run`` fixture of tests/conftest.py) are marked here.
* ``make test`` runs on pytest-xdist workers. nbval executes the notebooks cell by cell, each
  notebook in one kernel and each after the one before it, and the tests of
  :data:`SERIES_MODULES` read the run they write: the scheduler below sends all of them, in
  collection order, to one worker as one unit; every other test goes wherever a worker is free.
"""
import pytest

#: The test modules whose tests may read the series' run; a test elsewhere that reads it is
#: refused at collection, since another worker would not find the run.
SERIES_MODULES = ("tests/test_notebooks.py", "tests/test_report.py", "tests/test_docs.py")


def in_series(nodeid: str) -> bool:
    """Does the test ``nodeid`` belong to the one unit of work that executes and reads the series?"""
    path = nodeid.split("::", 1)[0]
    return path.endswith(".ipynb") or path in SERIES_MODULES


def pytest_collection_modifyitems(config, items):
    for item in items:
        reads_run = "series_run" in getattr(item, "fixturenames", ())
        if reads_run and not in_series(item.nodeid):
            raise pytest.UsageError(f"{item.nodeid} reads the series' run: its module belongs in "
                                    "SERIES_MODULES of conftest.py")
        if reads_run or item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)


def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class SeriesScheduling(LoadScopeScheduling):
        """Load balancing test by test, but the series' notebooks and readers as one unit."""

        def _split_scope(self, nodeid: str) -> str:
            return "series" if in_series(nodeid) else nodeid

    return SeriesScheduling(config, log)
