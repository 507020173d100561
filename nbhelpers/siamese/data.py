"""Notebook 03's training data: graded pairs as a ``tf.data`` pipeline, with STS-B replay."""
from __future__ import annotations

import nbhelpers  # noqa: F401  (selects legacy Keras before TensorFlow is imported)
import numpy as np
import pandas as pd
import tensorflow as tf

from nbhelpers.errors import InputError
from nbhelpers.replay import replay_count, replay_pairs

PAIR_COLUMNS = ("text1", "text2")


def mix_replay(train_pairs: pd.DataFrame, general_pairs: pd.DataFrame | None, share: float,
               seed: int = 42) -> pd.DataFrame:
    """``train_pairs`` plus general-English pairs amounting to ``share`` of their number.

    ``general_pairs`` are e.g. ``nbhelpers.stsb.as_graded_pairs(load_stsb("train"))``, drawn
    by :func:`nbhelpers.replay.replay_pairs`. With ``share`` 0 or no general pairs, the
    training pairs come back unchanged.
    """
    count = replay_count(share, len(train_pairs))
    if not count or general_pairs is None:
        return train_pairs
    columns = [c for c in ("text1", "text2", "score", "level", "score_angular") if c in train_pairs]
    missing = [c for c in columns if c not in general_pairs.columns]
    if missing:
        raise InputError(f"replay pairs: expected the training pairs' columns; missing {missing}")
    drawn = replay_pairs(general_pairs[columns], count, seed)
    return pd.concat([train_pairs[columns], drawn], ignore_index=True)


def pairs_dataset(pairs: pd.DataFrame, batch_size: int, shuffle: bool = False,
                  seed: int | None = None, target: str = "score_angular",
                  name: str = "pairs") -> tf.data.Dataset:
    """Batches of ``({"text_a", "text_b"}, target)``; reshuffled every epoch when ``shuffle``.

    ``name`` is the parameter or split the frame came from, for error messages.
    """
    missing = [c for c in (*PAIR_COLUMNS, target) if c not in pairs.columns]
    if missing:
        raise InputError(f"{name}: missing column(s) {missing}; found {list(pairs.columns)}")
    if pairs.empty:
        raise InputError(f"{name}: no pairs (an empty split?); training and validation "
                         "each need at least one pair")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InputError(f"batch_size={batch_size!r}: expected a positive int")
    for column in PAIR_COLUMNS:
        bad = ~pairs[column].map(lambda text: isinstance(text, str))
        if bad.any():
            row = int(bad.to_numpy().nonzero()[0][0])
            raise InputError(f"{name}: row {pairs.index[row]!r}: {column} "
                             f"{pairs[column].iloc[row]!r} is not a string")
    values = pd.to_numeric(pairs[target], errors="coerce")
    bad = values.isna() | ~values.between(0.0, 1.0)
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise InputError(f"{name}: row {pairs.index[row]!r} ({pairs.text1.iloc[row]!r} / "
                         f"{pairs.text2.iloc[row]!r}): {target} {pairs[target].iloc[row]!r} "
                         "is not a number in [0, 1]")
    texts = {"text_a": pairs.text1.to_numpy(str), "text_b": pairs.text2.to_numpy(str)}
    data = tf.data.Dataset.from_tensor_slices((texts, values.to_numpy(np.float32)))
    if shuffle:
        data = data.shuffle(len(pairs), seed=seed, reshuffle_each_iteration=True)
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)
