"""The README's and docs' tables, generated from the figure files in ``docs/data/``.

A page holds a table as a pair of markers::

    <!-- table: full-esco/summary -->
    (generated; edits here are replaced)
    <!-- /table -->

``full-esco`` names the figure file ``docs/data/full-esco.json`` (several files joined by ``+``
put their figures side by side; ``code`` names tables built from the package's own
constants), ``summary`` one of the tables its schema renders. A schema with figures also renders
``figure-<suffix>``: the picture's markdown, ``images/<name>-<suffix>.png`` (a path for pages in
``docs/``), drawn from the same files into ``docs/images/`` (``+`` in the name becomes ``_``).

``python -m nbhelpers.docs`` fills every marker of ``README.md`` and ``docs/*.md`` and draws the
figures; ``--check`` only says which page would change, and a test runs it, so a committed table
always matches its committed figure file.
"""
from __future__ import annotations

import re
from pathlib import Path

from nbhelpers.errors import InputError
from nbhelpers.figures import read_figures
from nbhelpers.paths import project_root

# Markers start a line, so prose that quotes the marker syntax inline is left alone.
MARKER = re.compile(r"(^<!-- table: (?P<name>[\w.+-]+)/(?P<table>[\w.-]+) -->\n)(?P<body>.*?)"
                    r"(<!-- /table -->)", re.S | re.M)
OPENING = re.compile(r"^<!-- table: ", re.M)


def data_dir(root: Path | None = None) -> Path:
    return (root or project_root()) / "docs" / "data"


def pages(root: Path | None = None) -> list[Path]:
    """The README, the docs pages and the notebooks (their markdown cells hold markers too)."""
    root = root or project_root()
    return [root / "README.md", *sorted((root / "docs").glob("*.md")),
            *sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))]


def renderers() -> dict:
    """Schema -> function turning that schema's figure files into ``{table: markdown}``."""
    from nbhelpers.docs import (benchmark_tables, joint_tables, run_tables, serving_tables,
                                your_data_tables)

    return {"experiment-log/1": benchmark_tables.experiment_log,
            "prepare-counts/1": benchmark_tables.prepare_counts,
            "benchmark/use-parity/1": benchmark_tables.use_parity,
            "benchmark/encode-throughput/1": benchmark_tables.encode_throughput,
            "benchmark/siamese-use-full/1": benchmark_tables.siamese_use_full,
            "benchmark/matryoshka-full/1": benchmark_tables.matryoshka_full,
            "benchmark/exercises/1": benchmark_tables.exercises,
            "benchmark/documents/1": your_data_tables.documents,
            "benchmark/scored-pairs/1": your_data_tables.scored_pairs,
            "benchmark/serving/1": serving_tables.serving,
            "benchmark/training-memory/1": joint_tables.training_memory,
            "benchmark/joint/1": joint_tables.joint,
            "benchmark/test-suite/1": benchmark_tables.test_suite,
            "run-summary/1": run_tables.run_summary}


def figure_makers() -> dict:
    """Schema -> (``{suffix: alt text}``, function turning its figure files into ``{suffix:
    matplotlib figure}``)."""
    from nbhelpers.docs import joint_tables

    return {"benchmark/joint/1": (joint_tables.FIGURES, joint_tables.joint_figures)}


class Tables:
    """Rendered tables by source name, each source read and rendered once; with ``draw``, the
    figures of the sources that have them are written to ``docs/images/`` on the way."""

    def __init__(self, folder: Path, draw: bool = False):
        self.folder, self.draw, self.cache = folder, draw, {}

    def get(self, name: str, table: str, where: str) -> str:
        if name not in self.cache:
            self.cache[name] = self._render(name, where)
        tables = self.cache[name]
        if table not in tables:
            raise InputError(f"{where}: table {name}/{table} does not exist; {name} has "
                             f"{sorted(tables)}")
        return tables[table]

    def _render(self, name: str, where: str) -> dict[str, str]:
        if name == "code":
            from nbhelpers.docs.benchmark_tables import code_tables

            return code_tables()
        paths = [self.folder / f"{part}.json" for part in name.split("+")]
        missing = [p for p in paths if not p.is_file()]
        if missing:
            raise InputError(f"{where}: figure file {missing[0]} not found (it is written by the "
                             "command that measures its figures)")
        payloads = [read_figures(p) for p in paths]
        schemas = {p["schema"] for p in payloads}
        if len(schemas) > 1:
            raise InputError(f"{where}: {name} joins files of different schemas {sorted(schemas)}")
        schema = schemas.pop()
        tables = renderers()[schema](payloads)
        if schema in (makers := figure_makers()):
            described, make = makers[schema]
            stem = name.replace("+", "_")
            tables.update({f"figure-{suffix}": f"![{alt}](images/{stem}-{suffix}.png)"
                           for suffix, alt in described.items()})
            if self.draw:
                from nbhelpers.docs.images import write_png

                for suffix, fig in make(payloads).items():
                    write_png(fig, self.folder.parent / "images" / f"{stem}-{suffix}.png")
        return tables


def fill(text: str, tables: Tables, where: str) -> str:
    """``text`` with every marker's table generated afresh."""
    unclosed = len(OPENING.findall(text)) - len(MARKER.findall(text))
    if unclosed:
        raise InputError(f"{where}: {unclosed} table marker(s) without a closing <!-- /table -->")

    def replace(match):
        line = text.count("\n", 0, match.start()) + 1
        body = tables.get(match["name"], match["table"], f"{where}:{line}")
        return f"{match[1]}{body.rstrip()}\n{match[5]}"

    return MARKER.sub(replace, text)


def fill_notebook(text: str, tables: Tables, where: str) -> str:
    """A notebook's JSON with the markers of its markdown cells filled (its format kept)."""
    import json

    notebook = json.loads(text)
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] == "markdown":
            source = "".join(cell["source"])
            filled = fill(source, tables, f"{where} cell {index}")
            if filled != source:
                cell["source"] = filled.splitlines(keepends=True)
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def render(root: Path | None = None, check: bool = False) -> list[Path]:
    """Fill the tables of every page and draw their figures; returns the pages that changed
    (with ``check``: that would change, leaving pages and figures as they are)."""
    tables = Tables(data_dir(root), draw=not check)
    changed = []
    for page in pages(root):
        text = page.read_text(encoding="utf-8")
        where = str(page.relative_to(root or project_root()))
        filler = fill_notebook if page.suffix == ".ipynb" else fill
        new = filler(text, tables, where)
        if new != text:
            changed.append(page)
            if not check:
                from nbhelpers.runs import write_text_atomic

                write_text_atomic(page, new, overwrite=True)
    return changed
