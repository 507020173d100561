"""What the benchmark scripts share: where the real data is read from, and the figure file.

The data folders come from an option (``--esco-dir``, ``--stsb-dir``) or, without it, from the
variable the Makefile exports (``ESCO_DIR``, ``STSB_DIR``); there is no other default. The
figures go to a figure file (:mod:`nbhelpers.figures`) with the command, commit and machine
that measured them.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

#: Each data folder: its option, its variable and what it must hold.
DATA = {
    "esco": ("--esco-dir", "ESCO_DIR", "the ESCO v1 export (occupations_en.csv and ISCOGroups_en.csv)"),
    "stsb": ("--stsb-dir", "STSB_DIR",
             "the STS benchmark's original files (sts-train.csv, sts-dev.csv, sts-test.csv)"),
}


def add_data_option(parser: argparse.ArgumentParser, name: str) -> None:
    """``--esco-dir`` or ``--stsb-dir``, read with :func:`data_dir`."""
    option, variable, holds = DATA[name]
    parser.add_argument(option, type=Path, metavar="DIR",
                        help=f"folder with {holds}; default: ${variable}")


def data_dir(given: str | Path | None, name: str) -> Path:
    """The folder given as the option, else the one in the variable; exits when there is none."""
    option, variable, holds = DATA[name]
    if given:
        folder, source = Path(given), option
    elif os.environ.get(variable):
        folder, source = Path(os.environ[variable]), variable
    else:
        raise SystemExit(f"no data folder: pass {option} DIR or set {variable} to the folder with {holds}")
    if not folder.is_dir():
        raise SystemExit(f"{source} {folder}: no such folder; expected the folder with {holds}")
    return folder


def add_figure_options(parser: argparse.ArgumentParser, name: str) -> None:
    """``--json PATH`` and ``--replace`` of the benchmark ``name`` (as in :func:`write`)."""
    parser.add_argument("--json", type=Path, metavar="PATH",
                        help=f"write the figures here; default: a new file figures/{name}-<UTC time>.json")
    parser.add_argument("--replace", action="store_true", help="with --json: replace an existing file")


def write(args: argparse.Namespace, name: str, figures: dict) -> Path:
    """Write ``figures`` as schema ``benchmark/<name>/1`` to ``--json`` (or a new file under
    ``figures/``), with the provenance of this command; prints and returns the path."""
    from nbhelpers.figures import default_path, write_figures
    from nbhelpers.provenance import command

    script = f".venv/bin/python benchmarks/{name.replace('-', '_')}.py"
    path = write_figures(args.json or default_path(name), f"benchmark/{name}/1", figures,
                         command(prog=script), replace=args.replace)
    print(f"wrote {path}")
    return path


def records(frame, index: bool = True) -> list[dict]:
    """The rows of a DataFrame as JSON records (with ``index``: the index as a first column),
    missing values as null."""
    flat = frame.reset_index() if index else frame
    return flat.astype(object).where(flat.notna(), None).to_dict("records")
