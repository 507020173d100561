"""Where a figure came from: the command, the commit, the machine and the date.

Run manifests, benchmark figures and the docs' figure files all carry :func:`stamp`, so a
number can be traced to what produced it without anyone having to remember.
"""
from __future__ import annotations

import datetime as dt
import os
import platform
import shlex
import subprocess
import sys

from nbhelpers.paths import project_root


#: Changes here do not change what is measured (the docs and the figure files they are made of).
NOT_MEASURED = ("docs", "README.md")


def commit() -> str | None:
    """The project's git commit, with ``-dirty`` when tracked files other than the docs have
    uncommitted changes; ``None`` outside a git checkout."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=project_root(), capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()

    try:
        head = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".",
                    *(f":!{path}" for path in NOT_MEASURED))
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}-dirty" if dirty else head


def cpu_model() -> str:
    """The processor's name as the operating system reports it."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    """CPU model, logical cores, architecture, operating system and Python version."""
    return {"cpu_model": cpu_model(), "cores": os.cpu_count(), "arch": platform.machine(),
            "platform": platform.platform(), "python": platform.python_version()}


def command(argv: list[str] | None = None, prog: str | None = None) -> str:
    """The command line of this process, as it could be typed again: ``prog`` (e.g.
    ``python -m nbhelpers.run``, default the script's path) and the quoted arguments."""
    arguments = sys.argv[1:] if argv is None else argv
    return " ".join([prog or sys.argv[0], *map(shlex.quote, arguments)])


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def stamp(cmd: str) -> dict:
    """Everything that says where a set of figures came from."""
    return {"command": cmd, "commit": commit(), "machine": machine(), "date": now()}
