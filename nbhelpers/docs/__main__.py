"""``python -m nbhelpers.docs``: generate the tables of README.md and docs/*.md from docs/data.

    python -m nbhelpers.docs                  # fill every table marker (make docs)
    python -m nbhelpers.docs --check          # exit 1 naming the pages whose tables are stale
    python -m nbhelpers.docs record RUN_DIR NAME [--replace]
                                              # docs/data/NAME.json and docs/images/NAME-*.png
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nbhelpers.docs import data_dir, render
from nbhelpers.errors import InputError
from nbhelpers.paths import project_root


def record(run_dir: Path, name: str, replace: bool) -> list[Path]:
    from nbhelpers.docs.run_tables import figures, summarise_run
    from nbhelpers.figures import write_figures
    from nbhelpers.provenance import command, stamp

    summary = summarise_run(run_dir)
    provenance = summary.pop("provenance")
    summary["recorded_by"] = stamp(command(prog="python -m nbhelpers.docs"))
    target = data_dir() / f"{name}.json"
    if target.exists() and not replace:
        raise InputError(f"{target} already exists: pass --replace to record another run in its place")
    path = write_figures(target, "run-summary/1", summary, provenance["command"], replace=replace,
                         provenance=provenance)
    return [path, *figures({**summary, "provenance": provenance}, project_root() / "docs" / "images", name)]


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv[:1] == ["record"]:
            parser = argparse.ArgumentParser(prog="python -m nbhelpers.docs record",
                                             description="Record a run's figures for the docs.")
            parser.add_argument("run_dir", type=Path, help="a run folder written by make run")
            parser.add_argument("name", help="the figure file's name, e.g. full-esco")
            parser.add_argument("--replace", action="store_true",
                                help="replace an earlier recording of that name")
            args = parser.parse_args(argv[1:])
            for path in record(args.run_dir, args.name, args.replace):
                print(f"wrote {path}")
            return 0
        parser = argparse.ArgumentParser(prog="python -m nbhelpers.docs", description=__doc__,
                                         formatter_class=argparse.RawDescriptionHelpFormatter)
        parser.add_argument("--check", action="store_true",
                            help="change nothing; exit 1 when a page's tables differ from docs/data")
        args = parser.parse_args(argv)
        changed = render(check=args.check)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for page in changed:
        print(f"{'stale' if args.check else 'updated'}: {page.relative_to(project_root())}")
    if args.check and changed:
        print("run `python -m nbhelpers.docs` (make docs) to regenerate them", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
