"""Run a notebook's own cells in a test, so a test checks the recipe the notebook shows rather
than a copy of it."""
from __future__ import annotations

import json

from nbhelpers.paths import project_root


def cell(notebook: str, marker: str) -> str:
    """The source of the one code cell of ``notebooks/<notebook>`` that contains ``marker``."""
    cells = json.loads((project_root() / "notebooks" / notebook).read_text())["cells"]
    found = ["".join(c["source"]) for c in cells
             if c["cell_type"] == "code" and marker in "".join(c["source"])]
    assert len(found) == 1, f"{notebook}: {len(found)} code cells contain {marker!r}"
    return found[0]


def run(notebook: str, markers: list[str], namespace: dict) -> dict:
    """Execute the cells holding ``markers``, in that order, in ``namespace``; returns it."""
    for marker in markers:
        exec(compile(cell(notebook, marker), f"{notebook}[{marker}]", "exec"), namespace)
    return namespace
