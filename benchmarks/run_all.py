"""Run the benchmark scripts in this folder one after another (what ``make bench`` calls).

Each script in SCRIPTS runs as a subprocess of this interpreter with its output streamed as it
comes, under a header, followed by its wall time; a summary closes the run. Each writes its
figures to the docs' figure file ``docs/data/<name>.json`` (the script's name with hyphens,
e.g. ``docs/data/encode-throughput.json``), replacing the one measured before; ``make docs``
(``python -m nbhelpers.docs``) then regenerates the tables of the README and ``docs/`` from
them. The exit status is non-zero when a script fails to run.

    make bench
    .venv/bin/python benchmarks/run_all.py [--only encode_throughput]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: Where the docs' figure files are, from the project's root (python -m nbhelpers.docs reads them).
DOCS_DATA = Path("docs") / "data"
#: The benchmarks, in the order they run. Add new scripts here.
SCRIPTS = [
    "use_parity.py",
    "encode_throughput.py",
    "siamese_use_full.py",
    "matryoshka_full.py",
    "training_memory.py",
    "serving.py",
]


def figure_file(script: str) -> Path:
    """The docs' figure file of a script: ``use_parity.py`` -> ``docs/data/use-parity.json``."""
    return DOCS_DATA / f"{Path(script).stem.replace('_', '-')}.json"


def run(script: str) -> tuple[int, float]:
    """Exit status and wall time in seconds of one script, its output going to this process's."""
    print(f"\n{'=' * 72}\n== {script}\n{'=' * 72}", flush=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # stream lines as they come, also into a pipe
    start = time.perf_counter()
    command = [sys.executable, str(HERE / script), "--json", str(figure_file(script)), "--replace"]
    status = subprocess.run(command, cwd=ROOT, env=env, check=False).returncode
    seconds = time.perf_counter() - start
    outcome = "ok" if status == 0 else f"error (exit {status})"
    print(f"-- {script}: {outcome} in {seconds:.1f} s", flush=True)
    return status, seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", metavar="NAME",
                        help=f"run one script, e.g. encode_throughput (one of: {', '.join(SCRIPTS)})")
    args = parser.parse_args()
    scripts = SCRIPTS
    if args.only:
        name = args.only if args.only.endswith(".py") else f"{args.only}.py"
        if name not in SCRIPTS:
            parser.error(f"--only {args.only}: unknown benchmark; choose from {', '.join(SCRIPTS)}")
        scripts = [name]

    results = {script: run(script) for script in scripts}
    failed = [script for script, (status, _) in results.items() if status != 0]
    print(f"\n{'=' * 72}\nsummary")
    for script, (status, seconds) in results.items():
        print(f"  {script:<28} {'ok' if status == 0 else f'error (exit {status})':<18} {seconds:7.1f} s")
    tail = f"; stopped with an error: {', '.join(failed)}" if failed else ""
    print(f"{len(scripts) - len(failed)} of {len(scripts)} ran to the end{tail}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
