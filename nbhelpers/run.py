"""Run the notebook series headless with papermill: ``python -m nbhelpers.run``.

Each numbered notebook in ``notebooks/`` is executed in order into a new
``reports/<run-id>/`` folder. Every notebook receives the shared ``run_dir`` and
``profile``, the profile's settings, and any ``-p name value`` override, but only the
parameters it declares in its ``parameters`` cell; kernels start in the current directory, so
relative paths given with ``-p`` mean what they mean where the command was typed. The first
failing notebook stops the run and its executed copy (which shows the error) is named. Each
executed notebook is also exported to HTML, and ``index.html`` is the run's report
(``nbhelpers.report``), written also when a notebook failed, marking what is missing.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from nbhelpers.env import is_offline
from nbhelpers.errors import InputError, command_line
from nbhelpers.paths import project_root
from nbhelpers.prepare import DATASET_FILE, TASKS, PrepareConfig
from nbhelpers.report import PeakMemory, export_html, write_report
from nbhelpers.provenance import command, stamp
from nbhelpers.runs import DATA_DIR, finished_steps, new_run_dir, record_invocation, record_step
from nbhelpers.matryoshka.config import MatryoshkaConfig
from nbhelpers.siamese.config import SiameseConfig

#: MatryoshkaConfig fields that notebook 04 does not take as parameters.
NOT_NOTEBOOK_04_PARAMETERS = {"logging_steps"}


def full_settings(quick: dict, full: dict, skip=frozenset()) -> dict:
    """What a ``full()`` preset changes from the quick defaults, as notebook parameters."""
    return {name: value for name, value in full.items() if value != quick[name] and name not in skip}


def matryoshka_full_settings() -> dict:
    """What ``MatryoshkaConfig.full()`` changes from the quick defaults, as notebook 04 parameters."""
    return full_settings(MatryoshkaConfig().to_dict(), MatryoshkaConfig.full().to_dict(),
                         NOT_NOTEBOOK_04_PARAMETERS)


#: Settings each profile passes, by notebook number (the notebooks' own defaults are "quick").
#: "full" is for the real ESCO export: 01 gets ``PrepareConfig.full()``, 03 ``SiameseConfig.full()``
#: and 04 ``MatryoshkaConfig.full()``, each as the parameters that differ from the quick ones.
PROFILES = {
    "quick": {},
    "full": {
        "01": full_settings(asdict(PrepareConfig()), asdict(PrepareConfig.full())),
        "03": full_settings(SiameseConfig().to_dict(), SiameseConfig.full().to_dict()),
        "04": matryoshka_full_settings(),
    },
}


#: The task each notebook tunes for; a run whose data lack it skips the notebook with one line.
NEEDS = {"03": ("pairs", "notebook 03 tunes on scored pairs (-p domain pairs -p pairs_csv FILE)"),
         "04": ("retrieval", "notebook 04 tunes for retrieval on questions and passages "
                "(-p domain docs -p docs_dir FOLDER)"),
         "06": ("retrieval", "notebook 06 serves a retrieval model, measured on questions and "
                "passages (-p domain docs -p docs_dir FOLDER)")}


#: Notebooks the series runs a second time, as a step of their own with more parameters: after
#: notebook 04's retrieval model, its joint model (retrieval and the graded job-title pairs at
#: once), so that notebook 05 weighs one model for both uses against one model per use.
PASSES = {"04": (("joint", {"joint": True}),)}
#: What each pass teaches, for the tables that list the series.
PASS_TITLES = {"joint": "One model for retrieval and job-title similarity (`joint = True`)"}


@dataclass(frozen=True)
class Step:
    """One execution of the series: a notebook, or one of its passes with the pass's parameters."""

    path: Path
    pass_name: str | None = None   # e.g. "joint"; None: the notebook's own execution
    parameters: dict = field(default_factory=dict)   # the pass's, beside the profile's and overrides

    @property
    def number(self) -> str:
        return self.path.name[:2]

    @property
    def name(self) -> str:
        """The executed copy's stem and the manifest's step, e.g. ``04_matryoshka-joint``."""
        return self.path.stem if self.pass_name is None else f"{self.path.stem}-{self.pass_name}"


def steps(paths: list[Path], skip_passes=()) -> list[Step]:
    """The series' executions: each notebook, then its passes (:data:`PASSES`) but those named
    in ``skip_passes``."""
    known = {name for passes in PASSES.values() for name, _ in passes}
    unknown = sorted(set(skip_passes) - known)
    if unknown:
        raise InputError(f"--skip-pass {', '.join(unknown)}: no such pass; the series' passes: "
                         f"{', '.join(sorted(known)) or 'none'}")
    out = []
    for path in paths:
        out.append(Step(path))
        out += [Step(path, name, dict(values))
                for name, values in PASSES.get(path.name[:2], ()) if name not in skip_passes]
    return out


def series_names() -> list[str]:
    """The executed copies a whole run holds, in order (the report lists them)."""
    return [f"{step.name}.ipynb" for step in steps(notebooks())]


def run_domain(run_dir: Path, overrides: dict) -> str:
    """The run's domain: what notebook 01 wrote, else the ``domain`` override, else "esco"."""
    written = run_dir / DATA_DIR / DATASET_FILE
    if written.exists():
        return json.loads(written.read_text(encoding="utf-8"))["domain"]
    return overrides.get("domain", "esco")


#: What a pass needs beside its notebook's task (as :data:`NEEDS`).
PASS_NEEDS = {"joint": ("pairs", "the joint model trains on graded pairs beside the retrieval rows; "
                        "the retrieval model of the pass before it is the run's notebook 04 model")}


def skip_reason(number: str, domain: str, pass_name: str | None = None) -> str | None:
    """Why notebook ``number`` (its pass ``pass_name``) does not run on a ``domain`` run (None:
    it runs)."""
    for task, why in (NEEDS.get(number, (None, "")), PASS_NEEDS.get(pass_name, (None, ""))):
        if task is not None and task not in TASKS.get(domain, TASKS["esco"]):
            return f"the run's data (domain {domain!r}) have no {task}: {why}"
    return None


def notebooks(folder: Path | None = None) -> list[Path]:
    """The series in order: ``NN_name.ipynb`` files."""
    folder = folder or project_root() / "notebooks"
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))


def select(paths: list[Path], only: list[str] | None = None, start: str | None = None):
    """Pick notebooks by number prefix: ``only`` (e.g. ["03"]) or everything from ``start``."""
    numbers = [p.name[:2] for p in paths]
    for wanted in (only or []) + ([start] if start else []):
        if wanted not in numbers:
            raise InputError(f"notebook {wanted!r} not found; available: {numbers}")
    if only:
        return [p for p in paths if p.name[:2] in only]
    if start:
        return [p for p in paths if p.name[:2] >= start]
    return paths


def parameters_for(declared: set[str], run_dir: Path, profile: str, overrides: dict,
                   number: str = "") -> dict:
    """What notebook ``number`` receives: run dir, profile and its settings for that notebook,
    then the overrides; only the names it declares."""
    if profile not in PROFILES:
        raise InputError(f"profile={profile!r}: expected one of {sorted(PROFILES)}")
    wanted = {"run_dir": str(run_dir), "profile": profile, **PROFILES[profile].get(number, {}),
              **overrides}
    return {k: v for k, v in wanted.items() if k in declared}


def run_series(paths: list[Path], run_dir: Path, profile: str = "quick",
               overrides: dict | None = None, kernel: str = "python3", skip_passes=()) -> list[Path]:
    """Execute notebooks (and their passes, but ``skip_passes``) in order; returns the executed
    copies. Raises on the first failure."""
    import papermill as pm

    done = finished_steps(run_dir)   # notebooks record their stem when they have saved
    todo = steps(paths, skip_passes)
    finished = [f"{s.name}.ipynb" for s in todo if s.name in done or f"run:{s.name}" in done]
    if finished:
        raise InputError(f"{run_dir} already holds the finished notebook(s) {finished}; a run is "
                         "never overwritten: continue with the notebooks after them (--from, "
                         "--only) or start a new run (--run-id)")
    executed = []
    for index, step in enumerate(todo, start=1):
        reason = skip_reason(step.number, run_domain(run_dir, overrides or {}), step.pass_name)
        if reason:
            print(f"[{index}/{len(todo)}] {step.name}.ipynb skipped: {reason}", flush=True)
            record_step(run_dir, f"skip:{step.name}", reason=reason)
            continue
        declared = set(pm.inspect_notebook(str(step.path)))
        params = parameters_for(declared, run_dir, profile, {**(overrides or {}), **step.parameters},
                                step.number)
        output = run_dir / f"{step.name}.ipynb"
        print(f"[{index}/{len(todo)}] {step.path.name}{_pass_label(step)} -> {output}", flush=True)
        start = time.perf_counter()
        try:
            with PeakMemory() as memory:
                pm.execute_notebook(str(step.path), str(output), parameters=params,
                                    kernel_name=kernel, cwd=str(Path.cwd()), progress_bar=True)
        except pm.PapermillExecutionError as err:
            export_html(output)
            raise NotebookFailed(output, err) from None
        seconds = time.perf_counter() - start
        record_step(run_dir, f"run:{step.name}", parameters=params, seconds=round(seconds, 2),
                    peak_memory_mb=round(memory.peak_mb, 1))
        export_html(output)
        print(f"    {seconds:.0f} s, peak memory {memory.peak_mb:.0f} MB", flush=True)
        executed.append(output)
    return executed


def _pass_label(step: Step) -> str:
    settings = ", ".join(f"{k}={v!r}" for k, v in step.parameters.items())
    return f" with {settings}" if settings else ""


class NotebookFailed(RuntimeError):
    """A notebook raised; ``path`` is its executed copy with the traceback in it."""

    def __init__(self, path: Path, error: Exception):
        self.path = path
        super().__init__(f"{path.name} failed: {getattr(error, 'ename', '')} "
                         f"{getattr(error, 'evalue', error)}\n  see the executed notebook: {path}")


def _parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m nbhelpers.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="quick", choices=sorted(PROFILES))
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                        metavar=("NAME", "VALUE"), help="override a notebook parameter "
                        "(VALUE is parsed as YAML: 3, 0.5, true, null, [1, 2], text)")
    parser.add_argument("--run-id", help="name of the new run folder under reports/")
    parser.add_argument("--run-dir", type=Path, help="an existing run folder to continue "
                        "(with --only or --from)")
    parser.add_argument("--only", action="append", help="run only this notebook number "
                        "(repeatable), e.g. --only 03")
    parser.add_argument("--from", dest="start", help="run from this notebook number on")
    parser.add_argument("--skip-pass", action="append", default=[], metavar="NAME",
                        help="leave out a notebook's second pass, e.g. --skip-pass joint (notebook "
                        "04's joint model)")
    parser.add_argument("--kernel", default="python3")
    return parser.parse_args(argv)


def _parse_parameter(name: str, value: str) -> tuple[str, object]:
    from nbhelpers.values import read_yaml

    return name, read_yaml(value, f"-p {name} {value!r}")


def check_parameter_names(paths: list[Path], overrides: dict) -> None:
    """Refuse, before anything runs, a ``-p`` name that no selected notebook declares."""
    import papermill as pm

    declared = set().union(*(pm.inspect_notebook(str(p)) for p in paths)) if paths else set()
    fixed = sorted({name for s in steps(paths) for name in s.parameters} & set(overrides))
    if fixed:
        raise InputError(f"-p {', '.join(fixed)}: the series sets it in a step of its own "
                         f"({', '.join(s.name for s in steps(paths) if s.parameters)}); to change it, "
                         "run that notebook in JupyterLab or with papermill")
    unknown = sorted(set(overrides) - declared)
    if unknown:
        raise InputError(f"-p {', '.join(unknown)}: no notebook of this run "
                         f"({', '.join(p.name[:2] for p in paths)}) declares it; their parameters: "
                         f"{', '.join(sorted(declared - {'run_dir', 'profile'}))}")


@command_line
def main(argv=None) -> int:
    args = _parse_args(argv)
    try:
        overrides = dict(_parse_parameter(name, value) for name, value in args.parameter)
        paths = select(notebooks(), args.only, args.start)
        steps(paths, args.skip_pass)   # an unknown pass is named before anything runs
        check_parameter_names(paths, overrides)
        if args.run_dir:
            if args.run_dir.is_file():
                raise InputError(f"--run-dir {args.run_dir} is a file; expected a run folder "
                                 "(reports/<run-id>) that an earlier run wrote")
            if not args.run_dir.is_dir():
                raise InputError(f"--run-dir {args.run_dir} does not exist: it continues an "
                                 f"earlier run; name a new run with --run-id "
                                 f"{args.run_dir.name}")
            run_dir = args.run_dir.resolve()
        else:
            run_dir = new_run_dir(args.run_id).resolve()
        record_invocation(run_dir, **stamp(command(argv if argv is not None else sys.argv[1:],
                                                   "python -m nbhelpers.run")),
                          profile=args.profile, parameters=overrides,
                          hub="offline" if is_offline() else "online")
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    start = time.perf_counter()
    failure = None
    with PeakMemory() as memory:
        try:
            run_series(paths, run_dir, args.profile, overrides, args.kernel, args.skip_pass)
        except (InputError, NotebookFailed) as err:
            failure = err
    try:
        index = write_report(run_dir, series_names())
    except InputError as err:
        print(f"error: {failure or err}", file=sys.stderr)
        return 1
    if failure:
        print(f"error: {failure}\nReport of what finished: {index}", file=sys.stderr)
        return 1
    print(f"\nDone in {time.perf_counter() - start:.0f} s, peak memory {memory.peak_mb:.0f} MB."
          f"\nReport: {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
