"""Notebook 04's training as a command: ``python -m nbhelpers.train_matryoshka``.

The command composes the same blocks as the notebook's cells (:mod:`nbhelpers.matryoshka`), in
the notebook's order (:func:`nbhelpers.matryoshka.train.train_matryoshka`), so the same run can
go to a bigger machine::

    python -m nbhelpers.train_matryoshka --print-default-config [--full] > cfg.json
    python -m nbhelpers.train_matryoshka --config cfg.json --run-dir reports/<run-id> [--output-dir DIR]
    torchrun --standalone --nproc_per_node 4 -m nbhelpers.train_matryoshka --config cfg.json --run-dir ...
    accelerate launch --multi_gpu --num_processes 4 -m nbhelpers.train_matryoshka --config cfg.json ...

``--run-dir`` reads notebook 01's datasets (``reports/<run-id>/data``); without it the datasets
are built in memory from ``--esco-dir`` (default: the sample). The config file is JSON or YAML
with the fields of :class:`~nbhelpers.matryoshka.config.MatryoshkaConfig` (plus ``"preset":
"full"`` to start from the full settings). The command writes ``<output_dir>/manifest.json``:
its parameters, the input files' checksums, package versions and time taken.
"""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import nbhelpers  # noqa: F401  (the hub mode before any hub library is imported)
from nbhelpers.errors import InputError, command_line
from nbhelpers.matryoshka.config import MatryoshkaConfig, read_config
from nbhelpers.matryoshka.launch import check_same_setup, is_main_process
from nbhelpers.matryoshka.train import RESULT_FILE, train_matryoshka
from nbhelpers.runs import DATA_DIR, record_step, sha256


@command_line
def main(argv=None) -> int:
    """``python -m nbhelpers.train_matryoshka --config cfg.json [--run-dir DIR] [--output-dir DIR]``"""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m nbhelpers.train_matryoshka",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", help="JSON or YAML file with MatryoshkaConfig fields")
    parser.add_argument("--run-dir", help="run folder with notebook 01's datasets (data/)")
    parser.add_argument("--esco-dir", help="without --run-dir: build the datasets from this ESCO "
                                           "export (default: the sample)")
    parser.add_argument("--output-dir", help="overrides the config's output_dir")
    parser.add_argument("--full", action="store_true", help="start from the full preset")
    parser.add_argument("--print-default-config", action="store_true",
                        help="print the default (or, with --full, the full) config as JSON and exit")
    args = parser.parse_args(argv)
    try:
        config = MatryoshkaConfig.full() if args.full else MatryoshkaConfig()
        if args.print_default_config:
            print(json.dumps(config.to_dict(), indent=2))
            return 0
        if args.config:
            values = read_config(args.config)
            if args.full:
                values.setdefault("preset", "full")
            config = MatryoshkaConfig.from_dict(values, source=args.config)
        if args.output_dir:
            config = dataclasses.replace(config, output_dir=args.output_dir)
        config.validate()
        prepared = None
        if args.run_dir:
            inputs = sorted((Path(args.run_dir) / DATA_DIR).glob("*.csv"))
        else:
            from nbhelpers.esco import load_esco
            from nbhelpers.prepare import PrepareConfig, build_datasets

            taxonomy = load_esco(args.esco_dir)
            prepared, _ = build_datasets(taxonomy, PrepareConfig(esco_dir=args.esco_dir))
            inputs = [taxonomy.occupations_file, taxonomy.groups_file]
        checksums = {str(p): sha256(p) for p in inputs}
        check_same_setup({"config": config.to_dict(), "inputs": checksums})
        start = time.perf_counter()
        result = train_matryoshka(config, prepared, run_dir=args.run_dir)
    except InputError as err:
        parser.exit(2, f"error: {err}\n")
    if is_main_process():   # one manifest entry, from the main process
        record_step(result.output_dir, "train_matryoshka", parameters=config.to_dict(),
                    inputs=checksums,
                    result=str(result.output_dir / RESULT_FILE),
                    seconds=round(time.perf_counter() - start, 2))
        summary = {k: v for k, v in result.summary().items() if k not in ("losses", "evals", "config")}
        print(json.dumps(summary, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
