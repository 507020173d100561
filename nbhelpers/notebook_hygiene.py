"""Keep the notebooks in git clean: no outputs, one ``parameters`` cell, markdown at both ends.

``python -m nbhelpers.notebook_hygiene notebooks/*.ipynb`` lists what is wrong and exits 1;
with ``--strip`` it first removes outputs, execution counts and run metadata (``make strip``).
Executed copies belong in ``reports/``, never in ``notebooks/``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from nbhelpers.runs import write_text_atomic

#: Cell metadata that executing a notebook adds (papermill, JupyterLab) and git should not keep.
RUN_METADATA = ("execution", "papermill", "collapsed", "scrolled")


def problems(path: str | Path) -> list[str]:
    """What keeps the notebook at ``path`` from being a clean, teachable source file."""
    nb = nbformat.read(path, as_version=4)
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if cell.outputs:
            found.append(f"cell {index}: has outputs (strip them: make strip)")
        if cell.execution_count is not None:
            found.append(f"cell {index}: execution_count {cell.execution_count}, expected null")
    for index, cell in enumerate(nb.cells):
        left = sorted(set(RUN_METADATA) & set(cell.metadata))
        if left:
            found.append(f"cell {index}: run metadata {left} (strip it: make strip)")
    if "papermill" in nb.metadata:
        found.append("notebook metadata 'papermill' from an executed copy (strip it: make strip)")
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    if len(tagged) != 1 or nb.cells[tagged[0]].cell_type != "code":
        found.append(f"expected one code cell tagged 'parameters', found cells {tagged}")
    for where, index in (("first", 0), ("last", -1)):
        if not nb.cells or nb.cells[index].cell_type != "markdown":
            found.append(f"the {where} cell should be markdown (what the notebook "
                         f"{'does and needs' if index == 0 else 'produced and what comes next'})")
    return [f"{path}: {problem}" for problem in found]


def strip(path: str | Path) -> bool:
    """Remove outputs, execution counts and run metadata in place; True if anything changed."""
    text = Path(path).read_text(encoding="utf-8")
    nb = nbformat.reads(text, as_version=4)
    for cell in nb.cells:
        for key in RUN_METADATA:
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.metadata.pop("papermill", None)
    nb.metadata.pop("widgets", None)
    cleaned = nbformat.writes(nb) + "\n"
    if cleaned == text:
        return False
    write_text_atomic(Path(path), cleaned, overwrite=True)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--strip", action="store_true", help="clean the notebooks in place first")
    args = parser.parse_args(argv)
    if args.strip:
        for path in args.notebooks:
            if strip(path):
                print(f"stripped {path}")
    found = [problem for path in args.notebooks for problem in problems(path)]
    print("\n".join(found) or f"{len(args.notebooks)} notebooks clean")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
