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
    """``--json PATH`` and ``--replace`` of the benchmark ``name`` (as in :func:`write`); a
    figure file that could not be written is refused now, before any long work. The commit is
    read now too: the code that measures is the code at the start, whatever is committed while
    it runs."""
    from nbhelpers.figures import SCHEMAS
    from nbhelpers.provenance import commit

    if f"benchmark/{name}/1" not in SCHEMAS:
        raise SystemExit(f"benchmark {name!r}: its schema benchmark/{name}/1 is not one of "
                         f"nbhelpers.figures.SCHEMAS; add it there and a renderer in nbhelpers.docs")
    parser.add_argument("--json", type=Path, metavar="PATH",
                        help=f"write the figures here; default: a new file figures/{name}-<UTC time>.json")
    parser.add_argument("--replace", action="store_true", help="with --json: replace an existing file")
    parser.set_defaults(commit_at_start=commit())


def write(args: argparse.Namespace, name: str, figures: dict, provenance: dict | None = None) -> Path:
    """Write ``figures`` as schema ``benchmark/<name>/1`` to ``--json`` (or a new file under
    ``figures/``), with the provenance of this command (its commit read at the start), or
    ``provenance`` (a run's) when the figures were read from an earlier run; prints and returns
    the path."""
    from nbhelpers.figures import default_path, write_figures
    from nbhelpers.provenance import command, stamp

    script = f".venv/bin/python benchmarks/{name.replace('-', '_')}.py"
    if provenance is not None:
        figures = {**figures, "read_by": stamp(command(prog=script))}
    else:
        provenance = {**stamp(command(prog=script)), "commit": args.commit_at_start}
    path = write_figures(args.json or default_path(name), f"benchmark/{name}/1", figures,
                         command(prog=script), replace=args.replace, provenance=provenance)
    print(f"wrote {path}")
    return path


def records(frame, index: bool = True) -> list[dict]:
    """The rows of a DataFrame as JSON records (with ``index``: the index as a first column),
    missing values as null."""
    flat = frame.reset_index() if index else frame
    return flat.astype(object).where(flat.notna(), None).to_dict("records")


def notebook_run(args: argparse.Namespace, notebooks: list[str], label: str,
                 parameters: dict | None = None, passes=()) -> Path:
    """The run folder holding ``notebooks`` (numbers such as "01") executed at ``--profile full``
    on the ESCO export, with ``parameters`` (``-p NAME VALUE``) and of the notebooks' second
    passes only those named in ``passes`` (e.g. "joint"): ``--run-dir`` when given (an
    earlier run, e.g. a full ``make run``), else a new run the series' runner makes now under
    ``--reports`` (default: a temporary folder). The notebooks are the recipe; the benchmark
    only reads what they recorded."""
    import subprocess
    import sys
    import tempfile

    from nbhelpers.run import PASSES

    if args.run_dir:
        if not (args.run_dir / "results").is_dir():
            raise SystemExit(f"--run-dir {args.run_dir}: no results/ folder; expected a run folder "
                             "that the series' runner wrote")
        return args.run_dir
    esco = data_dir(args.esco_dir, "esco")
    env = {**os.environ, "STSB_DIR": str(data_dir(args.stsb_dir, "stsb")),
           "NBHELPERS_REPORTS": str(args.reports or tempfile.mkdtemp(prefix=f"{label}-"))}
    command = [sys.executable, "-m", "nbhelpers.run", "--profile", "full", "--run-id", label,
               "-p", "esco_dir", str(esco), *[part for n in notebooks for part in ("--only", n)],
               *[part for name, value in (parameters or {}).items() for part in ("-p", name, value)],
               *[part for number in notebooks for name, _ in PASSES.get(number, ())
                 if name not in passes for part in ("--skip-pass", name)]]
    print("running:", " ".join(command[1:]), flush=True)
    if subprocess.run(command, env=env, check=False).returncode != 0:
        raise SystemExit(f"the run of notebooks {notebooks} failed; its executed notebooks are in "
                         f"{env['NBHELPERS_REPORTS']}/{label}")
    return Path(env["NBHELPERS_REPORTS"]) / label


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """``--run-dir`` (read an earlier run) and ``--reports`` (where a new run goes)."""
    parser.add_argument("--run-dir", type=Path, metavar="DIR",
                        help="read a run folder that already holds these notebooks' results "
                        "(e.g. reports/full-esco of a full make run) instead of running them")
    parser.add_argument("--reports", type=Path, metavar="DIR",
                        help="where the new run folder goes (default: a temporary folder)")


def run_provenance(run_dir: Path) -> dict:
    """The provenance of a run folder: its runner's command, commit, machine and date."""
    import json

    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    first = (manifest.get("invocations") or [{}])[0]
    return {k: first.get(k) for k in ("command", "commit", "machine", "date")}
