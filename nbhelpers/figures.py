"""Figure files: measured figures with where they came from, the source of every table in the docs.

A figure file is a JSON object with a ``schema`` (``<kind>/<version>``), a ``provenance``
(:func:`nbhelpers.provenance.stamp`: command, commit, machine, date) and the figures. The
benchmarks, ``python -m nbhelpers.prepare --json`` and ``python -m nbhelpers.docs record`` write
them; ``python -m nbhelpers.docs`` turns them into the tables of the README and ``docs/``.
"""
from __future__ import annotations

import json
from pathlib import Path

from nbhelpers.errors import InputError
from nbhelpers.provenance import stamp
from nbhelpers.runs import write_text_atomic

#: Every schema the docs generator can render.
SCHEMAS = ("experiment-log/1", "run-summary/1", "prepare-counts/1", "benchmark/use-parity/1",
           "benchmark/documents/1", "benchmark/scored-pairs/1", "benchmark/encode-throughput/1",
           "benchmark/siamese-use-full/1", "benchmark/matryoshka-full/1", "benchmark/exercises/1",
           "benchmark/serving/1", "benchmark/training-memory/1", "benchmark/joint/1",
           "benchmark/test-suite/1")


def write_figures(path: str | Path, schema: str, figures: dict, command: str, *,
                  replace: bool = False, provenance: dict | None = None) -> Path:
    """Write a figure file atomically. An existing file is kept unless ``replace`` is given
    (the docs' files are replaced on purpose, by the command that measures them again)."""
    if schema not in SCHEMAS:
        raise InputError(f"schema {schema!r}: expected one of {SCHEMAS}")
    payload = {"schema": schema, "provenance": provenance or stamp(command), **figures}
    text = json.dumps(payload, indent=1, sort_keys=False, ensure_ascii=False, default=_plain) + "\n"
    return write_text_atomic(Path(path), text, overwrite=replace)


def read_figures(path: str | Path) -> dict:
    """A figure file, checked: valid JSON with a known schema and a provenance."""
    path = Path(path)
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: figure file not found") from None
    except json.JSONDecodeError as err:
        raise InputError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(payload, dict) or payload.get("schema") not in SCHEMAS:
        schema = payload.get("schema") if isinstance(payload, dict) else type(payload).__name__
        raise InputError(f"{path}: unknown schema {schema!r}; the docs generator knows {SCHEMAS}")
    if not isinstance(payload.get("provenance"), dict) or "command" not in payload["provenance"]:
        raise InputError(f"{path}: no provenance (the command, commit, machine and date that "
                         "produced the figures)")
    return payload


def default_path(name: str) -> Path:
    """Where a command writes its figures when not told: a new file under ``figures/`` in the
    current folder, named by the time, so that no earlier measurement is overwritten."""
    from nbhelpers.provenance import now

    stamp_text = now().replace(":", "").replace("-", "").replace("+0000", "Z")
    return Path("figures") / f"{name}-{stamp_text}.json"


def _plain(value):
    """numpy scalars and paths as plain JSON values."""
    if hasattr(value, "item"):
        return value.item()
    return str(value)
