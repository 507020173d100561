"""Notebook 01's pipeline as one call, and the reader every later notebook uses.

``prepare_datasets`` loads the taxonomy, splits it, builds graded and retrieval pairs per
split (and optional QA pairs from documents) and writes them to ``<run-dir>/data/``
atomically, with a manifest entry. ``load_prepared`` reads them back, checking them.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from nbhelpers import pairs as pairs_mod
from nbhelpers.errors import InputError, command_line
from nbhelpers.esco import Taxonomy, load_esco
from nbhelpers.paths import project_root
from nbhelpers.runs import (DATA_DIR, latest_run_dir, new_run_dir, record_step,
                            sha256, staged_dir)
from nbhelpers.splits import SPLITS, Split, split_occupations

STEP = "01_data_preparation"
PAIR_COLUMNS = ("text1", "text2", "level", "score", "score_angular")
RETRIEVAL_COLUMNS = ("query_id", "query", "passage_id", "passage")


def sample_docs_dir() -> Path:
    """Two short documents written for this project, to demonstrate documents -> QA pairs."""
    return project_root() / "data" / "sample_docs"


#: Graded-pair targets of the full profile (cosine scale).
FULL_SCORES = {**pairs_mod.DEFAULT_SCORES, "same_occupation": 0.9, "unrelated": 0.1}


@dataclass
class PrepareConfig:
    """Every knob of data preparation; the notebook's parameters map onto it."""

    esco_dir: str | None = None          # None: the embedded sample in data/sample
    seed: int = 42
    pairs_per_level: int = 200           # graded pairs per level and split (fewer if fewer exist)
    queries_per_occupation: int = 3
    train_queries_per_occupation: int | None = None  # training split only (None: as above)
    train_pairs_per_level: int | None = None         # training split only (None: pairs_per_level)
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    hold_out_groups: bool = True
    scores: dict[str, float] = field(default_factory=lambda: dict(pairs_mod.DEFAULT_SCORES))
    docs_dir: str | None = "sample"      # .txt/.md/.pdf folder for QA pairs; "sample": data/sample_docs
    qa_method: str = "inverse-cloze"     # or "llm" (OpenAI-compatible endpoint)
    qa_chunk_size: int = 400
    qa_overlap: int = 1
    qa_max_failed_share: float = 0.5     # llm: the share of chunks that may fail before the run stops

    @classmethod
    def full(cls, **changes) -> PrepareConfig:
        """Settings for the real ESCO export (``--profile full``), measured in docs/siamese-experiments.md.

        The training split gets more graded pairs and retrieval queries than the held-out
        splits. The graded targets are evenly spaced, 0.9 / 0.7 / 0.5 / 0.3 / 0.1, instead of
        the defaults' 1.0 ... 0.0: USE puts unrelated job titles at cosine 0.22 on average, not
        0, and arccos is steepest near cosine 1, so the defaults' end targets dominate the loss.
        The headline scores (Spearman, nDCG) depend only on the order of the targets.
        """
        preset = {"pairs_per_level": 10_000, "train_pairs_per_level": 30_000,
                  "train_queries_per_occupation": 6, "scores": dict(FULL_SCORES)}
        return cls(**{**preset, **changes})

    def validate(self) -> PrepareConfig:
        """Check the settings' types and ranges before any data is read; names the parameter."""
        def whole(name, value, minimum=1, optional=False):
            if optional and value is None:
                return
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise InputError(f"{name}={value!r}: expected a whole number >= {minimum}"
                                 + (" or None" if optional else ""))

        whole("seed", self.seed, 0)
        whole("pairs_per_level", self.pairs_per_level)
        whole("queries_per_occupation", self.queries_per_occupation)
        whole("train_pairs_per_level", self.train_pairs_per_level, optional=True)
        whole("train_queries_per_occupation", self.train_queries_per_occupation, optional=True)
        whole("qa_chunk_size", self.qa_chunk_size, 50)
        whole("qa_overlap", self.qa_overlap, 0)
        fractions = list(self.fractions) if isinstance(self.fractions, (list, tuple)) else None
        if not fractions or len(fractions) != 3 or not all(
                isinstance(f, (int, float)) and not isinstance(f, bool) and 0 < f < 1 for f in fractions) \
                or abs(sum(fractions) - 1) > 1e-6:
            raise InputError(f"fractions={self.fractions!r}: expected three shares of the occupations "
                             "(train, validation, test), each between 0 and 1, adding up to 1")
        if not isinstance(self.hold_out_groups, bool):
            raise InputError(f"hold_out_groups={self.hold_out_groups!r}: expected true or false")
        if self.qa_method not in ("inverse-cloze", "llm"):
            raise InputError(f"qa_method={self.qa_method!r}: expected 'inverse-cloze' or 'llm'")
        share = self.qa_max_failed_share
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
            raise InputError(f"qa_max_failed_share={share!r}: expected a share between 0 and 1")
        return self


@dataclass
class Prepared:
    """The prepared datasets of one run."""

    occupations: pd.DataFrame                 # uri, preferred_label, isco_group, split
    pairs: dict[str, pd.DataFrame]            # split -> graded pairs
    retrieval: dict[str, pd.DataFrame]        # split -> (query, passage) pairs
    qa: pd.DataFrame | None = None            # (query, passage) pairs from documents
    qa_report: dict | None = None             # chunks, skipped chunks by reason, failures

    def ir(self, split: str = "test", distractors: bool = True):
        """``(queries, corpus, relevant_docs)`` for a split's retrieval evaluation.

        With ``distractors`` the corpus also holds every other split's passages, so a query
        must find its occupation among all of them, not only among the split's few.
        """
        others = {}
        if distractors:
            for frame in self.retrieval.values():
                others.update(zip(frame.passage_id, frame.passage))
        return pairs_mod.ir_dataset(self.retrieval[split], corpus=others)

    def counts(self) -> dict:
        return {
            "occupations": self.occupations.split.value_counts().reindex(SPLITS).to_dict(),
            "pairs": {s: p.level.value_counts().reindex(pairs_mod.LEVELS, fill_value=0).to_dict()
                      for s, p in self.pairs.items()},
            "retrieval_pairs": {s: len(r) for s, r in self.retrieval.items()},
            **({"occupations_without_description": {
                s: int(((self.occupations.split == s) & ~self.occupations.has_description).sum())
                for s in SPLITS}} if "has_description" in self.occupations else {}),
            "qa_pairs": 0 if self.qa is None else len(self.qa),
        }


def build_datasets(taxonomy: Taxonomy, config: PrepareConfig) -> tuple[Prepared, Split]:
    """Split the taxonomy and build every dataset in memory."""
    config.validate()
    split = split_occupations(taxonomy, config.fractions, hold_out_groups=config.hold_out_groups,
                              seed=config.seed)
    graded, retrieval = {}, {}
    # More training data never changes the held-out splits: each split has its own seed.
    queries = _per_split(config, "queries_per_occupation")
    per_level = _per_split(config, "pairs_per_level")
    for i, name in enumerate(SPLITS):
        frame = pairs_mod.graded_pairs(
            taxonomy, split.labels[name], scores=config.scores, scale="cosine",
            pairs_per_level=per_level[name], seed=config.seed + i)
        frame["score_angular"] = pairs_mod.to_angular(frame.score.to_numpy())
        graded[name] = frame
        retrieval[name] = pairs_mod.retrieval_pairs(
            taxonomy, split.labels[name], queries_per_occupation=queries[name], seed=config.seed + i)
    split_of = split.split_of()
    occupations = taxonomy.occupations.loc[list(split_of), ["uri", "preferred_label",
                                                            "isco_group"]].copy()
    occupations["split"] = occupations.uri.map(split_of)
    occupations["has_description"] = taxonomy.occupations.description.loc[occupations.uri].str.strip().ne("")
    _check_descriptions(taxonomy, occupations)
    qa = qa_report = None
    if config.docs_dir:
        from nbhelpers.documents import documents_to_qa_pairs

        folder = sample_docs_dir() if config.docs_dir == "sample" else config.docs_dir
        generated = documents_to_qa_pairs(
            folder, chunk_size=config.qa_chunk_size, overlap=config.qa_overlap,
            method=config.qa_method, seed=config.seed, progress=config.qa_method == "llm",
            max_failed_share=config.qa_max_failed_share)
        # Named columns even when no pair came out, so the saved file reads back as empty.
        qa = pd.DataFrame(generated.pairs, columns=[*RETRIEVAL_COLUMNS, "source"])
        qa_report = {"chunks": generated.n_chunks, "skipped": generated.skipped,
                     "failures": generated.failures}
    return Prepared(occupations.reset_index(drop=True), graded, retrieval, qa,
                    qa_report if config.docs_dir else None), split


#: The share of occupations that must have a description for retrieval to mean anything.
MIN_DESCRIBED = 0.5


def _check_descriptions(taxonomy: Taxonomy, occupations: pd.DataFrame) -> None:
    """Occupations without a description give no retrieval pairs and no passage (they are
    counted in ``Prepared.counts``); a split with none, or a taxonomy where fewer than half
    have one, is an error naming the column."""
    blank = ~occupations.has_description.to_numpy()
    for split in SPLITS:
        in_split = (occupations.split == split).to_numpy()
        if in_split.any() and blank[in_split].all():
            raise InputError(f"{taxonomy.occupations_file}: column 'description' is blank for every "
                             f"occupation of the {split} split; retrieval needs descriptions as passages")
    if blank.mean() > 1 - MIN_DESCRIBED:
        raise InputError(f"{taxonomy.occupations_file}: column 'description' is blank for "
                         f"{int(blank.sum()):,} of {len(blank):,} occupations; retrieval needs a "
                         f"description for at least {MIN_DESCRIBED:.0%} of them")


def _per_split(config: PrepareConfig, name: str) -> dict[str, int]:
    """``config.<name>`` for every split, ``config.train_<name>`` (if set) for the training one."""
    values = {split: getattr(config, name) for split in SPLITS}
    train = getattr(config, f"train_{name}")
    if train is not None:
        if isinstance(train, bool) or not isinstance(train, int) or train < 1:
            raise InputError(f"train_{name}={train!r}: expected an int >= 1 or None (as {name})")
        values["train"] = train
    return values


def prepare_datasets(run_dir: str | Path, config: PrepareConfig | None = None) -> Prepared:
    """Load, build and save in one call (what notebook 02 does when 01 has not run)."""
    config = config or PrepareConfig()
    start = time.perf_counter()
    taxonomy = load_esco(config.esco_dir)
    prepared, _ = build_datasets(taxonomy, config)
    save_prepared(run_dir, prepared, taxonomy, config, seconds=time.perf_counter() - start)
    return prepared


def save_prepared(run_dir: str | Path, prepared: Prepared, taxonomy: Taxonomy,
                  config: PrepareConfig, seconds: float | None = None) -> Path:
    """Write the datasets to ``<run_dir>/data/`` atomically and add a manifest entry."""
    final = Path(run_dir) / DATA_DIR
    with staged_dir(final) as tmp:
        prepared.occupations.to_csv(tmp / "occupations.csv", index=False)
        for name in SPLITS:
            prepared.pairs[name].to_csv(tmp / f"pairs_{name}.csv", index=False)
            prepared.retrieval[name].to_csv(tmp / f"retrieval_{name}.csv", index=False)
        if prepared.qa is not None:
            prepared.qa.to_csv(tmp / "qa_pairs.csv", index=False)
    record_step(
        run_dir, STEP, parameters=asdict(config),
        inputs={str(p): sha256(p) for p in (taxonomy.occupations_file, taxonomy.groups_file)},
        source=taxonomy.summary(), counts=prepared.counts(), qa_report=prepared.qa_report,
        outputs={p.name: sha256(p) for p in sorted(final.iterdir())},
        seconds=None if seconds is None else round(seconds, 2))
    return final


def open_run(run_dir: str | Path | None = None,
             esco_dir: str | None = None) -> tuple[Path, Prepared]:
    """The run folder a later notebook works in, with notebook 01's datasets.

    ``run_dir=None`` (a notebook opened in JupyterLab) takes the newest run under ``reports/``
    that has datasets; when there is none, it prepares them with notebook 01's defaults in a
    new run folder and says so first. A ``run_dir`` given explicitly must hold notebook 01's
    datasets: a later notebook never prepares data behind the user's back.
    """
    if run_dir is None:
        run_dir = latest_run_dir()
        if run_dir is None:
            run_dir = new_run_dir()
            print(f"No run folder with datasets under {run_dir.parent}: preparing them in {run_dir} "
                  "with notebook 01's defaults (run notebook 01 to choose them)")
            prepare_datasets(run_dir, PrepareConfig(esco_dir=esco_dir))
    return Path(run_dir), load_prepared(run_dir)


def load_prepared(run_dir: str | Path) -> Prepared:
    """Read notebook 01's datasets from a run folder, checking every file."""
    folder = Path(run_dir) / DATA_DIR
    if not Path(run_dir).is_dir():
        raise InputError(f"run_dir={str(run_dir)!r} is not a folder: give a run folder that "
                         "notebook 01 wrote, or None for the newest one")
    if not folder.is_dir():
        raise InputError(f"{folder} not found: {run_dir} holds no datasets. Run notebook 01 "
                         f"(data preparation) there first, with run_dir={str(run_dir)!r}")
    qa_path = folder / "qa_pairs.csv"
    occupations = read_checked_csv(folder / "occupations.csv", ("uri", "isco_group", "split"))
    if "has_description" in occupations:
        occupations["has_description"] = occupations.has_description.eq("True")
    return Prepared(
        occupations=occupations,
        pairs={s: load_pairs(folder / f"pairs_{s}.csv") for s in SPLITS},
        retrieval={s: read_checked_csv(folder / f"retrieval_{s}.csv", RETRIEVAL_COLUMNS)
                   for s in SPLITS},
        qa=read_checked_csv(qa_path, RETRIEVAL_COLUMNS) if qa_path.exists() else None)


def load_pairs(path: str | Path) -> pd.DataFrame:
    """A graded-pairs CSV (``text1, text2, score`` at least), scores checked to be in [0, 1]."""
    frame = read_checked_csv(path, ("text1", "text2", "score"))
    for column in ("score", "score_angular"):
        if column not in frame:
            continue
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna() | ~values.between(0.0, 1.0)
        if bad.any():
            row = int(bad.to_numpy().nonzero()[0][0])
            raise InputError(f"{path}: row {row + 1} (line {row + 2}): {column} "
                             f"{frame[column].iloc[row]!r} is not a number in [0, 1]")
        frame[column] = values.astype(float)
    return frame


def read_checked_csv(path: str | Path, required) -> pd.DataFrame:
    """Read a CSV the project wrote, naming the file and what is missing on failure."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    try:
        frame = pd.read_csv(path, dtype=str,
                            keep_default_na=False, encoding="utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: byte {err.start} is not UTF-8") from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{path}: file is empty; expected columns {list(required)}") from None
    except pd.errors.ParserError as err:
        raise InputError(f"{path}: not a readable CSV ({str(err).strip()})") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {missing}; found {list(frame.columns)}")
    return frame


@command_line
def main(argv=None) -> int:
    """``python -m nbhelpers.prepare [--esco-dir DIR] [--full] [--json PATH]``: the counts of
    notebook 01's datasets, printed and, with ``--json``, written as a figure file."""
    import argparse
    import json

    from nbhelpers.provenance import command

    parser = argparse.ArgumentParser(prog="python -m nbhelpers.prepare", description=main.__doc__)
    parser.add_argument("--esco-dir", help="ESCO export folder (default: the sample)")
    parser.add_argument("--full", action="store_true",
                        help="the settings of --profile full (PrepareConfig.full())")
    parser.add_argument("--pairs-per-level", type=int, help="graded pairs per level and split")
    parser.add_argument("--run-dir", help="also write the datasets to this new run folder")
    parser.add_argument("--json", type=Path, metavar="PATH",
                        help="write the counts, the settings and the held-out pairs' ISCO groups here")
    parser.add_argument("--replace", action="store_true", help="with --json: replace an existing file")
    args = parser.parse_args(argv)
    changes = {"esco_dir": args.esco_dir}
    if args.pairs_per_level is not None:
        changes["pairs_per_level"] = args.pairs_per_level
    config = PrepareConfig.full(**changes) if args.full else PrepareConfig(**changes)
    taxonomy = load_esco(config.esco_dir)
    if args.run_dir:
        prepared = prepare_datasets(args.run_dir, config)
    else:
        prepared = build_datasets(taxonomy, config)[0]
    figures = {"label": ("the ESCO export" if config.esco_dir else "sample (data/sample)")
               + (", --profile full" if args.full else ""),
               "config": {**asdict(config), "esco_dir": None if config.esco_dir is None else "ESCO export"},
               "source": taxonomy.summary(), "counts": prepared.counts(),
               "level_groups": {split: pairs_mod.level_groups(prepared.pairs[split], taxonomy)
                                .reset_index().astype(object).where(lambda t: t.notna(), None)
                                .to_dict("records") for split in ("validation", "test")}}
    print(json.dumps({"source": figures["source"], **figures["counts"]}, indent=1))
    if args.json:
        from nbhelpers.figures import write_figures

        path = write_figures(args.json, "prepare-counts/1", figures,
                             command(argv, "python -m nbhelpers.prepare"), replace=args.replace)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
