"""How long the test suite takes: ``make test-fast`` and ``make test``, as a contributor types them.

The commit of this checkout is cloned into a temporary folder, ``make install`` builds the
clone's ``.venv`` (timed on its own: the suite's figures are "after make install"), then each
lane runs there: ``make test-fast`` (the tests that train no real model, execute no notebook
and start no browser) and ``make test`` (everything, on two workers). For each lane the figure
file holds its wall time, the counts of its JUnit report and its ten slowest tests, so that a
change that slows the suite shows in review. ``--here`` runs the lanes in this checkout with
its ``.venv`` instead (no clone, no install). About 20 minutes on 2 CPU cores.

The tests that read the ESCO export and the STS benchmark need their folders: ``--esco-dir``
and ``--stsb-dir``, or ``ESCO_DIR`` and ``STSB_DIR`` as the Makefile exports them.

    .venv/bin/python benchmarks/test_suite.py [--here] [--json PATH [--replace]]
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from common import add_data_option, add_figure_options, data_dir, write

NAME = "test-suite"
ROOT = Path(__file__).resolve().parents[1]
#: The lanes in the order they run: name -> make target.
LANES = {"fast": "test-fast", "full": "test"}
#: How many of a lane's slowest tests the figure file keeps.
SLOWEST = 10


def timed(command: list[str], cwd: Path, env: dict) -> tuple[int, float]:
    """Exit status and wall seconds of ``command``, its output streamed to this process's."""
    print(f"$ {' '.join(command)}", flush=True)
    start = time.perf_counter()
    status = subprocess.run(command, cwd=cwd, env=env, check=False).returncode
    return status, round(time.perf_counter() - start, 1)


def junit_figures(path: Path) -> dict:
    """Counts and slowest tests of a JUnit report (setup, call and teardown of a test summed)."""
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    count = {key: sum(int(s.get(key, 0)) for s in suites) for key in ("tests", "failures", "errors",
                                                                        "skipped")}
    durations = {}
    for case in root.iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        durations[name] = durations.get(name, 0.0) + float(case.get("time", 0))
    slowest = sorted(durations.items(), key=lambda item: -item[1])[:SLOWEST]
    passed = count["tests"] - count["failures"] - count["errors"] - count["skipped"]
    return {"passed": passed, "failed": count["failures"] + count["errors"], "skipped": count["skipped"],
            "slowest": [{"test": name, "seconds": round(seconds, 1)} for name, seconds in slowest]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--here", action="store_true",
                        help="run the lanes in this checkout and its .venv (no clone, no install)")
    add_data_option(parser, "esco")
    add_data_option(parser, "stsb")
    add_figure_options(parser, NAME)
    args = parser.parse_args()
    env = {**os.environ, "ESCO_DIR": str(data_dir(args.esco_dir, "esco").resolve()),
           "STSB_DIR": str(data_dir(args.stsb_dir, "stsb").resolve())}
    scratch = Path(tempfile.mkdtemp(prefix="test-suite-"))
    figures = {"lanes": [], "install_seconds": None, "fresh_clone": not args.here}
    try:
        where = ROOT
        if not args.here:
            where = scratch / "clone"
            subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(where)], check=True)
            subprocess.run(["git", "-C", str(where), "checkout", "--quiet", args.commit_at_start],
                           check=True)
            status, figures["install_seconds"] = timed(["make", "install"], where, env)
            if status != 0:
                raise SystemExit(f"make install failed in the clone {where} (exit {status})")
        for lane, target in LANES.items():
            report = scratch / f"{lane}.xml"
            status, seconds = timed(["make", target, f"PYTEST_ARGS=--junitxml={report}"], where, env)
            if status != 0 or not report.is_file():
                raise SystemExit(f"make {target} failed (exit {status}); no figures written")
            figures["lanes"].append({"lane": lane, "command": f"make {target}", "seconds": seconds,
                                     **junit_figures(report)})
            print(f"-- make {target}: {seconds:.0f} s", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    write(args, NAME, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
