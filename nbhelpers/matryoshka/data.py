"""Notebook 04's training data: rows for the chosen loss, STS-B replay, mined hard negatives,
and the graded pairs a joint run trains beside the retrieval rows.

Every function returns a ``datasets.Dataset`` with exactly the columns the loss takes, the form
``SentenceTransformerTrainer`` trains on.
"""
from __future__ import annotations

import pandas as pd

from nbhelpers.errors import InputError
from nbhelpers.matryoshka.config import CONTRASTIVE_LABELS, LOSSES, MatryoshkaConfig


def training_frame(prepared, config: MatryoshkaConfig) -> pd.DataFrame:
    """Training rows for ``config.loss`` from notebook 01's datasets (train split only).

    Retrieval losses: ``anchor`` (query) and ``positive`` (its occupation description) from the
    retrieval pairs, plus the QA pairs with ``include_qa``. ``cosent``/``cosine``: graded
    pairs as ``sentence1, sentence2, score`` (cosine scale). Contrastive losses: graded pairs
    labelled by :data:`CONTRASTIVE_LABELS`. Shuffled with ``seed``, capped at
    ``max_train_samples``.
    """
    config.validate()
    kind = LOSSES[config.loss][1]
    if kind == "retrieval":
        parts = [prepared.retrieval["train"]]
        if config.include_qa:
            if prepared.domain == "docs":
                print("include_qa=True: with your documents the QA pairs are the training questions")
            elif prepared.qa is None or prepared.qa.empty:
                print("include_qa=True, but the run has no QA pairs; training on retrieval pairs only")
            else:
                parts.append(prepared.qa)
        frame = pd.concat([p[["query", "passage"]] for p in parts], ignore_index=True)
        frame = frame.rename(columns={"query": "anchor", "passage": "positive"})
        frame = frame.drop_duplicates(ignore_index=True)
    else:
        if "pairs" not in prepared.tasks:
            raise InputError(f"loss={config.loss!r} trains on graded pairs, which the run's data "
                             f"(domain {prepared.domain!r}) do not have; use a retrieval loss such "
                             "as 'mnrl'")
        pairs = prepared.pairs["train"]
        frame = pairs.rename(columns={"text1": "sentence1", "text2": "sentence2"})
        if kind == "scored":
            frame = frame[["sentence1", "sentence2", "score"]].astype({"score": float})
        else:
            frame = frame[frame.level.isin(list(CONTRASTIVE_LABELS))]
            frame = frame.assign(label=frame.level.map(CONTRASTIVE_LABELS).astype(int))
            frame = frame[["sentence1", "sentence2", "label"]]
    frame = frame.sample(frac=1.0, random_state=config.seed).reset_index(drop=True)
    if config.max_train_samples is not None:
        frame = frame.head(config.max_train_samples)
    return frame


def to_dataset(rows, loss: str, name: str = "training data"):
    """A ``datasets.Dataset`` with exactly the columns ``loss`` takes, in its order.

    ``rows`` is a DataFrame or Dataset. For ``mnrl``/``cached_mnrl`` a ``negative`` column
    (or ``negative_1``, ``negative_2``...) is kept when present (hard negatives).
    """
    from datasets import Dataset

    if loss not in LOSSES:
        raise InputError(f"loss={loss!r}: unknown; choose one of {', '.join(LOSSES)}")
    columns = list(rows.column_names if isinstance(rows, Dataset) else rows.columns)
    needed = list(LOSSES[loss][0])
    missing = [c for c in needed if c not in columns]
    if missing:
        raise InputError(f"{name}: loss {loss!r} needs columns {needed}; missing {missing}, found "
                         f"{columns}" + (" (mine negatives with hard_negatives=True)"
                                         if missing == ["negative"] else ""))
    if LOSSES[loss][2]:
        needed += [c for c in columns if c == "negative" or c.startswith("negative_")]
    n_rows = len(rows)
    if n_rows == 0:
        raise InputError(f"{name}: no rows; training needs at least one {tuple(needed)} row")
    if isinstance(rows, Dataset):
        return rows.select_columns(needed)
    frame = rows[needed].reset_index(drop=True)
    for column in needed:
        if column in ("score", "label"):
            values = pd.to_numeric(frame[column], errors="coerce")
            if values.isna().any():
                row = int(values.isna().to_numpy().nonzero()[0][0])
                raise InputError(f"{name}: row {row}: {column} {frame[column].iloc[row]!r} is not a number")
            frame[column] = values.astype(int if column == "label" else float)
        else:
            bad = ~frame[column].map(lambda v: isinstance(v, str))
            if bad.any():
                row = int(bad.to_numpy().nonzero()[0][0])
                raise InputError(f"{name}: row {row}: {column} is {frame[column].iloc[row]!r}, expected text")
    return Dataset.from_pandas(frame, preserve_index=False)


def replay_dataset(stsb_train, share: float, domain_rows: int, seed: int = 42):
    """STS-B *train* pairs to train beside the domain rows (``sentence1, sentence2, score``), or
    ``None`` when ``share`` is 0 or STS-B is unavailable (``stsb_train`` None).

    ``share`` times ``domain_rows`` pairs, drawn by :func:`nbhelpers.replay.replay_pairs`; they
    train with CoSENT (only the order of the scores matters), so the model keeps ranking general
    English sentence pairs while it learns the domain. The guard's STS-B *dev* pairs and the
    reported STS-B *test* pairs are never trained on.
    """
    from nbhelpers.replay import replay_count, replay_pairs

    count = replay_count(share, domain_rows, name="stsb_replay")
    if not count or stsb_train is None:
        return None
    return to_dataset(replay_pairs(stsb_train, count, seed), "cosent", name="STS-B train pairs")


def graded_pairs(prepared, split: str, name: str = "graded pairs", seed: int = 42):
    """Notebook 01's graded pairs of ``split`` as ``sentence1, sentence2, score`` rows, ordered
    so that any first ``n`` rows hold the levels in equal shares (``select(range(n))``; the
    trainer's sampler shuffles the batches).

    The scores are cosine targets; a score outside [-1, 1] (the range of the cosine the
    scored-pair losses compare them with) raises :class:`InputError` naming the row.
    """
    if "pairs" not in prepared.tasks:
        raise InputError(f"joint=True trains on graded pairs, which the run's data (domain "
                         f"{prepared.domain!r}) do not have; set joint=False")
    frame = prepared.pairs.get(split)
    if frame is None or frame.empty:
        raise InputError(f"{name}: the run's {split!r} split has no graded pairs; joint training "
                         "needs them (notebook 01's pairs_per_level)")
    scores = pd.to_numeric(frame.score, errors="coerce")
    bad = ~scores.between(-1.0, 1.0)
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise InputError(f"{name}: row {row} of the {split!r} split: score {frame.score.iloc[row]} "
                         "is outside [-1, 1]; the pairs losses (pairs_loss) compare scores with "
                         "cosine similarities, so scores must be cosine targets")
    frame = frame.sample(frac=1.0, random_state=seed)
    frame = (frame.assign(turn=frame.groupby("level").cumcount())   # level by level, in turn
             .sort_values(["turn", "level"], kind="stable"))
    frame = frame.rename(columns={"text1": "sentence1", "text2": "sentence2"})
    return to_dataset(frame[["sentence1", "sentence2", "score"]].reset_index(drop=True), "cosent",
                      name=name)


def pairs_count(share: float, retrieval_rows: int, available: int) -> int:
    """How many graded pairs a joint run trains on: ``share`` per retrieval row, at most all
    ``available`` (said when fewer exist); :class:`InputError` when that leaves none."""
    wanted = round(share * retrieval_rows)
    if wanted < 1:
        raise InputError(f"pairs_share={share!r}: {share!r} x {retrieval_rows} retrieval rows "
                         "leaves no graded pair to train on; raise pairs_share")
    if wanted > available:
        print(f"pairs_share={share}: {wanted:,} graded pairs wanted, the training split has "
              f"{available:,}; training on all of them")
    return min(wanted, available)


def mine_negatives(dataset, model, config: MatryoshkaConfig, corpus: list[str] | None = None):
    """(anchor, positive) rows -> (anchor, positive, negative) with hard negatives.

    Candidates are ranked by ``model`` among ``corpus`` (default: the dataset's positives, i.e.
    training passages only); a query's own positive(s) are never candidates, and candidates
    scoring within ``hn_relative_margin`` of the positive (likely false negatives) are skipped.
    Rows without a valid negative are dropped.
    """
    from sentence_transformers.util import mine_hard_negatives

    dataset = to_dataset(dataset, "mnrl", name="hard-negative mining input").select_columns(
        ["anchor", "positive"])
    n_positives = len(set(dataset["positive"]) | set(corpus or []))
    range_max = config.hn_range_max
    if range_max is not None:
        range_max = min(range_max, max(n_positives - 1, config.hn_range_min + config.hn_num_negatives))
    try:
        mined = mine_hard_negatives(
            dataset, model, anchor_column_name="anchor", positive_column_name="positive",
            corpus=corpus, range_min=config.hn_range_min, range_max=range_max,
            relative_margin=config.hn_relative_margin, num_negatives=config.hn_num_negatives,
            sampling_strategy=config.hn_sampling, output_format="triplet",
            batch_size=config.eval_batch_size, verbose=config.progress)
    except ValueError as err:
        raise InputError(f"hard-negative mining: {err}") from None
    if len(mined) == 0:
        raise InputError("hard-negative mining found no negative for any row; lower "
                         "hn_relative_margin or hn_range_min, or raise hn_range_max")
    return mined
