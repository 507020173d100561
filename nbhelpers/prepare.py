"""Notebook 01's pipeline as one call, and the reader every later notebook uses.

``prepare_datasets`` loads the source, splits it, builds the datasets per split and writes
them to ``<run-dir>/data/`` atomically, with a manifest entry. ``load_prepared`` reads them
back, checking them. The source is the ESCO example (graded and retrieval pairs, optional QA
pairs from documents), your documents (:mod:`nbhelpers.prepare_docs`) or your scored pairs
(:mod:`nbhelpers.prepare_pairs`), chosen by ``PrepareConfig.domain``.
"""
from __future__ import annotations

import json
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
#: Where the data come from: the ESCO example, your documents, or your scored pairs.
DOMAINS = ("esco", "docs", "pairs")
#: What each domain's data can measure and train: graded pairs (notebook 03), retrieval (04).
TASKS = {"esco": ("pairs", "retrieval"), "docs": ("retrieval",), "pairs": ("pairs",)}
#: The ``dataset`` name of each domain's results records.
DATASETS = {"esco": {"pairs": "esco-pairs", "retrieval": "esco-retrieval"},
            "docs": {"retrieval": "docs-retrieval"}, "pairs": {"pairs": "scored-pairs"}}
PAIR_COLUMNS = ("text1", "text2", "level", "score", "score_angular")
RETRIEVAL_COLUMNS = ("query_id", "query", "passage_id", "passage")
DATASET_FILE = "dataset.json"  # the domain and what its split and filters did


def sample_docs_dir() -> Path:
    """Two short documents written for this project, to demonstrate documents -> QA pairs."""
    return project_root() / "data" / "sample_docs"


#: Graded-pair targets of the full profile (cosine scale).
FULL_SCORES = {**pairs_mod.DEFAULT_SCORES, "same_occupation": 0.9, "unrelated": 0.1}


@dataclass
class PrepareConfig:
    """Every knob of data preparation; the notebook's parameters map onto it."""

    domain: str = "esco"                 # "esco", "docs" (your documents) or "pairs" (your scored pairs)
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
    qa_filter_top_k: int | None = 3      # llm, domain "docs": keep a training question only if the
    qa_filter_model: str = "minilm"      # ... base model ranks its passage in the top k (None: keep all)
    pairs_csv: str | None = None         # domain "pairs": the CSV; "sample": data/sample_pairs.csv
    pairs_columns: tuple[str, str, str] = ("base", "ref", "similarity")  # text, text, score
    pairs_scale: tuple[float, float] = (0.0, 1.0)  # lowest and highest score of pairs_csv

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

        if self.domain not in DOMAINS:
            raise InputError(f"domain={self.domain!r}: expected one of {', '.join(DOMAINS)}")
        if self.domain == "docs" and not self.docs_dir:
            raise InputError("domain='docs' needs docs_dir: a folder of .txt, .md or .pdf files "
                             "(\"sample\": data/sample_docs)")
        if self.domain == "pairs" and not self.pairs_csv:
            raise InputError("domain='pairs' needs pairs_csv: a CSV of two texts and a score per row "
                             "(\"sample\": data/sample_pairs.csv)")
        if self.domain != "pairs" and self.pairs_csv:
            raise InputError(f"pairs_csv={self.pairs_csv!r} is read with domain='pairs' only; "
                             f"domain is {self.domain!r}")
        whole("seed", self.seed, 0)
        whole("pairs_per_level", self.pairs_per_level)
        whole("queries_per_occupation", self.queries_per_occupation)
        whole("train_pairs_per_level", self.train_pairs_per_level, optional=True)
        whole("train_queries_per_occupation", self.train_queries_per_occupation, optional=True)
        whole("qa_chunk_size", self.qa_chunk_size, 50)
        whole("qa_overlap", self.qa_overlap, 0)
        whole("qa_filter_top_k", self.qa_filter_top_k, optional=True)
        fractions = list(self.fractions) if isinstance(self.fractions, (list, tuple)) else None
        if not fractions or len(fractions) != 3 or not all(
                isinstance(f, (int, float)) and not isinstance(f, bool) and 0 < f < 1 for f in fractions) \
                or abs(sum(fractions) - 1) > 1e-6:
            raise InputError(f"fractions={self.fractions!r}: expected three shares of the occupations, "
                             "documents or pairs (train, validation, test), each between 0 and 1, "
                             "adding up to 1")
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
    """The prepared datasets of one run, for any domain.

    ``pairs`` and ``retrieval`` hold one frame per split; a domain without that task has
    empty frames (``tasks`` says which it has). The ESCO example fills ``occupations``; your
    documents fill ``documents`` (each file with its split) and ``passages`` (every chunk of
    the collection: the corpus a held-out question is searched in).
    """

    occupations: pd.DataFrame | None          # ESCO: uri, preferred_label, isco_group, split
    pairs: dict[str, pd.DataFrame]            # split -> graded (or your scored) pairs
    retrieval: dict[str, pd.DataFrame]        # split -> (query, passage) pairs
    qa: pd.DataFrame | None = None            # ESCO: extra (query, passage) pairs from documents
    qa_report: dict | None = None             # chunks, skipped chunks by reason, failures
    domain: str = "esco"
    documents: pd.DataFrame | None = None     # docs: source, split, chunks, questions
    passages: pd.DataFrame | None = None      # docs: passage_id, passage, source, split
    report: dict = field(default_factory=dict)  # docs, pairs: what the split and filters did

    @property
    def tasks(self) -> tuple[str, ...]:
        return TASKS[self.domain]

    def dataset(self, task: str) -> str:
        """The results' ``dataset`` name of a task ("pairs" or "retrieval") of this domain."""
        self.require(task)
        return DATASETS[self.domain][task]

    def require(self, task: str, who: str = "this step") -> None:
        """Stop, saying why, when the data have no ``task`` (e.g. notebook 03 on documents)."""
        if task not in self.tasks:
            offer = {"pairs": "scored pairs (domain 'pairs')",
                     "retrieval": "questions and passages (domain 'docs' or 'esco')"}[task]
            raise InputError(f"{who} needs {offer}; this run's data (domain {self.domain!r}) have "
                             f"only {' and '.join(self.tasks)}. Run notebook 01 with other data, or "
                             "skip this notebook (the runner skips it by itself)")

    def texts(self, split: str = "test", n: int | None = None) -> list[str]:
        """Distinct texts of a split to time encoders on: passages, else the pairs' texts."""
        if "retrieval" in self.tasks:
            texts = self.retrieval[split].passage
        else:
            texts = pd.concat([self.pairs[split].text1, self.pairs[split].text2])
        return list(dict.fromkeys(texts))[:n]

    def ir(self, split: str = "test", distractors: bool = True):
        """``(queries, corpus, relevant_docs)`` for a split's retrieval evaluation.

        With ``distractors`` the corpus also holds every other split's passages, so a query
        must find its answer among all of them, not only among the split's few; for your
        documents the corpus is every chunk of the collection.
        """
        self.dataset("retrieval")
        others = {}
        if self.passages is not None:
            chosen = self.passages if distractors else self.passages[self.passages.split == split]
            others = dict(zip(chosen.passage_id, chosen.passage))
        elif distractors:
            for frame in self.retrieval.values():
                others.update(zip(frame.passage_id, frame.passage))
        return pairs_mod.ir_dataset(self.retrieval[split], corpus=others)

    def levels(self) -> tuple[str, ...]:
        """The pair levels, closest first: ISCO relations (ESCO) or score bins (your pairs)."""
        if self.domain == "esco":
            return pairs_mod.LEVELS
        frame = pd.concat(self.pairs.values())
        return tuple(frame.groupby("level").score.mean().sort_values(ascending=False).index)

    def level_targets(self, split: str = "test") -> dict[str, float]:
        """Each level's cosine target (ESCO), or its mean target (your pairs' score bins)."""
        frame = self.pairs[split]
        if self.domain == "esco":
            return pairs_mod.level_targets(frame)
        return frame.groupby("level").score.mean().to_dict()

    def clusters(self, task: str, split: str = "test") -> pd.Series:
        """What the bootstrap redraws, one value per row of ``pairs[split]`` (task "pairs") or
        per query of ``ir(split)`` (task "retrieval"): ESCO unit groups, your documents, or
        your pairs' groups of shared texts."""
        self.dataset(task)
        if task == "pairs":
            frame = self.pairs[split]
            if self.domain == "esco":
                groups = self.occupations.set_index("uri").isco_group.loc[frame.uri1]
                return groups.reset_index(drop=True).rename("ISCO unit group")
            return frame.group.astype(str).rename("group of pairs sharing a text")
        queries = self.retrieval[split].drop_duplicates("query_id")
        if self.domain == "docs":
            return pd.Series(queries.source.to_numpy(), index=queries.query_id, name="document")
        groups = self.occupations.set_index("uri").isco_group
        return pd.Series(groups.loc[queries.passage_id].to_numpy(), index=queries.query_id,
                         name="ISCO unit group")

    def sample_texts(self, n: int = 9) -> list[str]:
        """Texts for the similarity grids: the tutorial's nine job titles (ESCO); questions
        about three held-out documents; or the texts of the closest held-out pairs."""
        if self.domain == "esco":
            from nbhelpers.esco import TUTORIAL_TITLES

            return list(TUTORIAL_TITLES)
        if self.domain == "docs":
            held_out = pd.concat([self.retrieval[s] for s in ("test", "validation", "train")])
            sources = list(dict.fromkeys(held_out.source))[:3]
            return [q for source in sources
                    for q in held_out["query"][held_out.source == source].head(n // 3)]
        test = self.pairs["test"].sort_values("score", ascending=False, kind="stable")
        return list(dict.fromkeys(t for pair in zip(test.text1, test.text2) for t in pair))[:n]

    def sentences(self, split: str = "train") -> list[str]:
        """Distinct sentences of a split's passages: unlabelled text for TSDAE."""
        from nbhelpers.documents import split_sentences

        if self.passages is not None:
            texts = self.passages.passage[self.passages.split == split]
        else:
            texts = self.retrieval[split].passage.drop_duplicates()
        return list(dict.fromkeys(s for text in texts for s in split_sentences(text)
                                  if len(s.split()) >= 4))

    def split_table(self) -> pd.DataFrame:
        """What each split holds, one row per kind of unit, one column per split."""
        rows = {}
        if self.domain == "esco":
            rows["occupations"] = self.occupations.split.value_counts()
        if self.documents is not None:
            rows["documents"] = self.documents.split.value_counts()
            rows["chunks"] = self.passages.split.value_counts()
        if "pairs" in self.tasks:
            rows["pairs"] = pd.Series({s: len(f) for s, f in self.pairs.items()})
        if self.domain == "pairs":
            rows["groups of pairs sharing a text"] = pd.Series(
                {s: f.group.nunique() for s, f in self.pairs.items()})
        if "retrieval" in self.tasks:
            rows["questions"] = pd.Series({s: len(f) for s, f in self.retrieval.items()})
        return pd.DataFrame(rows).T.reindex(columns=list(SPLITS)).fillna(0).astype(int)

    def counts(self) -> dict:
        counts = {"pairs": {s: p.level.value_counts().reindex(self.levels(), fill_value=0).to_dict()
                            for s, p in self.pairs.items()} if "pairs" in self.tasks else {},
                  "retrieval_pairs": {s: len(r) for s, r in self.retrieval.items()}}
        if self.domain == "esco":
            occ = self.occupations
            counts = {"occupations": occ.split.value_counts().reindex(SPLITS).to_dict(), **counts}
            if "has_description" in occ:
                counts["occupations_without_description"] = {
                    s: int(((occ.split == s) & ~occ.has_description).sum()) for s in SPLITS}
            counts["qa_pairs"] = 0 if self.qa is None else len(self.qa)
        if self.documents is not None:
            docs = self.documents
            counts = {"documents": docs.split.value_counts().reindex(SPLITS, fill_value=0).to_dict(),
                      "chunks": docs.groupby("split").chunks.sum().reindex(SPLITS, fill_value=0).to_dict(),
                      **counts}
        return counts


def empty_pairs() -> pd.DataFrame:
    """A pairs frame with no rows, for a domain without graded pairs."""
    return pd.DataFrame(columns=list(PAIR_COLUMNS))


def load_source(config: PrepareConfig):
    """The data ``config.domain`` names, read and checked: the ESCO taxonomy, your documents
    (:class:`~nbhelpers.prepare_docs.DocumentSource`) or your scored pairs
    (:class:`~nbhelpers.prepare_pairs.PairsSource`)."""
    config.validate()
    if config.domain == "docs":
        from nbhelpers.prepare_docs import load_documents

        return load_documents(config.docs_dir)
    if config.domain == "pairs":
        from nbhelpers.prepare_pairs import load_pairs_csv

        return load_pairs_csv(config.pairs_csv, config.pairs_columns, config.pairs_scale)
    return load_esco(config.esco_dir)


def build_datasets(source, config: PrepareConfig) -> tuple[Prepared, Split | None]:
    """Split the source and build every dataset in memory (the ESCO split is returned too)."""
    config.validate()
    if config.domain == "docs":
        from nbhelpers.prepare_docs import build_docs_datasets

        return build_docs_datasets(source, config), None
    if config.domain == "pairs":
        from nbhelpers.prepare_pairs import build_pairs_datasets

        return build_pairs_datasets(source, config), None
    taxonomy = source
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
    source = load_source(config)
    prepared, _ = build_datasets(source, config)
    save_prepared(run_dir, prepared, source, config, seconds=time.perf_counter() - start)
    return prepared


def save_prepared(run_dir: str | Path, prepared: Prepared, source, config: PrepareConfig,
                  seconds: float | None = None) -> Path:
    """Write the datasets to ``<run_dir>/data/`` atomically and add a manifest entry."""
    final = Path(run_dir) / DATA_DIR
    with staged_dir(final) as tmp:
        (tmp / DATASET_FILE).write_text(json.dumps({"domain": prepared.domain,
                                                    "report": prepared.report}, indent=1))
        for name, frame in (("occupations", prepared.occupations), ("documents", prepared.documents),
                            ("passages", prepared.passages), ("qa_pairs", prepared.qa)):
            if frame is not None:
                frame.to_csv(tmp / f"{name}.csv", index=False)
        for name in SPLITS:
            prepared.pairs[name].to_csv(tmp / f"pairs_{name}.csv", index=False)
            prepared.retrieval[name].to_csv(tmp / f"retrieval_{name}.csv", index=False)
    record_step(
        run_dir, STEP, parameters=asdict(config), inputs=_inputs(source), source=source.summary(),
        counts=prepared.counts(), qa_report=prepared.qa_report, report=prepared.report or None,
        outputs={p.name: sha256(p) for p in sorted(final.iterdir())},
        seconds=None if seconds is None else round(seconds, 2))
    return final


def _inputs(source) -> dict[str, str]:
    if isinstance(source, Taxonomy):
        return {str(p): sha256(p) for p in (source.occupations_file, source.groups_file)}
    return source.inputs()


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
    about = {"domain": "esco", "report": {}}
    if (folder / DATASET_FILE).exists():
        about = json.loads((folder / DATASET_FILE).read_text(encoding="utf-8"))
    domain = about["domain"]
    if domain not in DOMAINS:
        raise InputError(f"{folder / DATASET_FILE}: domain {domain!r}; expected one of {DOMAINS}")
    occupations = documents = passages = qa = None
    if domain == "esco":
        occupations = read_checked_csv(folder / "occupations.csv", ("uri", "isco_group", "split"))
        if "has_description" in occupations:
            occupations["has_description"] = occupations.has_description.eq("True")
        if (folder / "qa_pairs.csv").exists():
            qa = read_checked_csv(folder / "qa_pairs.csv", RETRIEVAL_COLUMNS)
    if domain == "docs":
        documents = read_checked_csv(folder / "documents.csv", ("source", "split", "chunks", "questions"))
        documents = documents.astype({"chunks": int, "questions": int})
        passages = read_checked_csv(folder / "passages.csv", ("passage_id", "passage", "source", "split"))
    return Prepared(
        occupations=occupations,
        pairs={s: load_pairs(folder / f"pairs_{s}.csv") for s in SPLITS},
        retrieval={s: read_checked_csv(folder / f"retrieval_{s}.csv", RETRIEVAL_COLUMNS)
                   for s in SPLITS},
        qa=qa, domain=domain, documents=documents, passages=passages, report=about["report"])


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
