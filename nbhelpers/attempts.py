"""Attempts: running a notebook again in the same run folder, with other parameters.

A workshop changes a value and runs again. Each execution of a notebook in a run folder is an
*attempt* with outputs of its own: attempt 1 of notebook 04 writes ``results/04_matryoshka.json``
and ``models/matryoshka-minilm/``, attempt 2 ``results/04_matryoshka-2.json`` and
``models/matryoshka-minilm-2/``, and so on; nothing an earlier attempt wrote is touched. An
attempt is claimed when it starts (``attempts/<step>-<n>.json``, holding its parameters) with an
exclusive create, so two kernels never take the same number, and an interrupted attempt keeps
its number: the next one gets a fresh number and fresh folders. Notebook 05 compares every
attempt, each labelled by the parameters that differ from the notebook's first attempt.

The headless runner does not make attempts: it refuses a notebook that has already finished in
the run folder, so that a run's report always describes one execution of each notebook.
"""
from __future__ import annotations

import datetime as dt
import itertools
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from nbhelpers.errors import InputError

ATTEMPTS_DIR = "attempts"


@dataclass(frozen=True)
class Attempt:
    """One execution of a notebook in a run folder."""

    run_dir: Path
    step: str                       # the notebook's results name, e.g. "04_matryoshka"
    number: int                     # 1, 2, ...
    parameters: dict = field(repr=False)
    changed: dict = field(default_factory=dict)   # parameters that differ from attempt 1

    @property
    def suffix(self) -> str:
        """Appended to the attempt's output names: "" for the first, "-2", "-3"... after."""
        return "" if self.number == 1 else f"-{self.number}"

    @property
    def name(self) -> str:
        """The results file and manifest entry of the attempt, e.g. ``04_matryoshka-2``."""
        return f"{self.step}{self.suffix}"

    @property
    def label(self) -> str:
        """What changed, e.g. ``attempt 2: epochs=2, lora=True`` ("attempt 1" for the first)."""
        changes = ", ".join(f"{k}={v!r}" for k, v in self.changed.items())
        return f"attempt {self.number}" + (f": {changes}" if changes else "")

    def summary(self) -> dict:
        """What a results file records of its attempt."""
        return {"number": self.number, "changed": self.changed, "label": self.label}


def start_attempt(run_dir: str | Path, step: str, parameters: dict) -> Attempt:
    """Claim the next attempt of ``step`` in ``run_dir`` and record its ``parameters``."""
    folder = Path(run_dir) / ATTEMPTS_DIR
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(f"{folder}: cannot create the attempts folder ({err.strerror})") from None
    plain = json.loads(json.dumps(parameters, default=str))
    record = json.dumps({"parameters": plain, "started": dt.datetime.now(dt.timezone.utc)
                         .isoformat(timespec="seconds")}, indent=1, sort_keys=True)
    for number in itertools.count(1):
        path = folder / f"{step}-{number}.json"
        try:
            handle = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            continue
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(record + "\n")
        break
    first = plain if number == 1 else _parameters(folder / f"{step}-1.json")
    changed = {k: v for k, v in plain.items() if k in first and first[k] != v}
    return Attempt(Path(run_dir), step, number, plain, changed)


def _parameters(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))["parameters"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError):
        return {}   # the first attempt's record is unreadable: every parameter counts as unchanged
