import math

import numpy as np
import pandas as pd
import pytest

from nbhelpers import pairs
from nbhelpers.errors import InputError
from nbhelpers.splits import SPLITS, split_occupations


def _code(taxonomy, uri):
    return taxonomy.occupations.at[uri, "isco_group"]


def test_levels_follow_the_isco_hierarchy(sample):
    frame = pairs.graded_pairs(sample, pairs_per_level=100, scale="cosine")
    shared = {"same_unit_group": 4, "same_minor_group": 3, "same_sub_major": 2}
    for row in frame.itertuples():
        a, b = _code(sample, row.uri1), _code(sample, row.uri2)
        if row.level == "same_occupation":
            assert row.uri1 == row.uri2
        elif row.level == "unrelated":
            assert a[:2] != b[:2]
        else:
            n = shared[row.level]
            assert row.uri1 != row.uri2 and a[:n] == b[:n]
            assert n == 4 or a[:n + 1] != b[:n + 1]
        assert row.score == pairs.DEFAULT_SCORES[row.level]


def test_balanced_deduplicated_and_seeded(sample):
    frame = pairs.graded_pairs(sample, pairs_per_level=80, seed=7)
    assert (frame.level.value_counts() == 80).all() and set(frame.level) == set(pairs.LEVELS)
    keys = {frozenset((a.lower(), b.lower())) for a, b in zip(frame.text1, frame.text2)}
    assert len(keys) == len(frame)
    assert (frame.text1.str.lower() != frame.text2.str.lower()).all()
    assert frame.equals(pairs.graded_pairs(sample, pairs_per_level=80, seed=7))
    assert not frame.equals(pairs.graded_pairs(sample, pairs_per_level=80, seed=8))


def test_angular_scale_reproduces_the_tutorial_targets(sample):
    assert pairs.to_angular(0.0) == pytest.approx(0.5)
    assert pairs.to_angular(0.7) == pytest.approx(0.7468, abs=1e-4)
    assert pairs.to_angular(1.0) == pytest.approx(1.0)
    frame = pairs.graded_pairs(sample, pairs_per_level=10, scale="angular")
    by_level = frame.groupby("level").score.first()
    assert by_level["unrelated"] == pytest.approx(0.5)
    assert by_level["same_unit_group"] == pytest.approx(1 - math.acos(0.7) / math.pi)


def test_scores_are_configurable_and_checked(sample):
    frame = pairs.graded_pairs(sample, pairs_per_level=5, scale="cosine",
                               scores={"unrelated": 0.1})
    assert set(frame[frame.level == "unrelated"].score) == {0.1}
    with pytest.raises(InputError, match=r"scores\['unrelated'\]=1.5"):
        pairs.graded_pairs(sample, scores={"unrelated": 1.5})
    with pytest.raises(InputError, match="unknown level"):
        pairs.graded_pairs(sample, scores={"cousins": 0.2})
    with pytest.raises(InputError, match="scale='degrees'"):
        pairs.graded_pairs(sample, scale="degrees")


def test_level_targets_read_back_the_scores_pairs_were_made_with(sample):
    scores = {"same_occupation": 0.9, "unrelated": 0.1}
    frame = pairs.graded_pairs(sample, pairs_per_level=5, scale="cosine", scores=scores)
    assert pairs.level_targets(frame) == {**pairs.DEFAULT_SCORES, **scores}
    frame.loc[frame.index[frame.level == "unrelated"][0], "score"] = 0.2
    with pytest.raises(InputError, match=r"test pairs: expected one score per level.*unrelated"):
        pairs.level_targets(frame, "test pairs")
    with pytest.raises(InputError, match=r"missing column\(s\) \['level'\]"):
        pairs.level_targets(frame.drop(columns="level"))


def test_level_groups_count_the_groups_each_level_is_drawn_from(sample):
    frame = pairs.graded_pairs(sample, pairs_per_level=60, seed=5)
    table = pairs.level_groups(frame, sample)
    assert list(table.index) == list(pairs.LEVELS) and (table.pairs == 60).all()
    minor = frame[frame.level == "same_minor_group"].uri1.map(lambda u: _code(sample, u)[:3])
    counts = minor.value_counts()
    assert table.at["same_minor_group", "groups"] == len(counts) > 1
    assert table.at["same_minor_group", "largest_group"] == counts.index[0]
    assert table.at["same_minor_group", "largest_share"] == pytest.approx(counts.iloc[0] / 60)
    assert pd.isna(table.at["unrelated", "groups"])   # unrelated pairs share no group
    one = frame[(frame.level == "same_minor_group") & (minor == counts.index[0])]
    assert pairs.level_groups(one, sample).loc["same_minor_group"].to_dict() == {
        "pairs": len(one), "groups": 1, "largest_group": counts.index[0], "largest_share": 1.0}
    with pytest.raises(InputError, match=r"test pairs: missing column\(s\) \['uri1'\]"):
        pairs.level_groups(frame.drop(columns="uri1"), sample, "test pairs")
    with pytest.raises(InputError, match="1 uri1 value.*not in the taxonomy.*'nowhere'"):
        pairs.level_groups(frame.assign(uri1=["nowhere"] + list(frame.uri1[1:])), sample)


def test_retrieval_pairs_and_ir_dicts(sample):
    frame = pairs.retrieval_pairs(sample, queries_per_occupation=2)
    assert frame.groupby("passage_id").size().max() <= 2
    assert frame["query"].str.lower().is_unique
    queries, corpus, relevant = pairs.ir_dataset(frame)
    assert set(queries) == set(relevant)
    assert all(docs <= set(corpus) for docs in relevant.values())
    assert corpus[frame.passage_id[0]] == sample.occupations.at[frame.passage_id[0], "description"]
    assert not frame["query"].str.contains(r"\ba [aeiou]", regex=True).any()


def _texts(taxonomy, split, name):
    uris = split.uris[name]
    labels = {t.lower() for u in uris for t in split.labels[name][u]}
    return labels | {taxonomy.occupations.at[u, "description"].lower() for u in uris}


@pytest.mark.parametrize("hold_out_groups", [True, False])
def test_splits_are_disjoint_by_occupation_and_text(sample, hold_out_groups):
    split = split_occupations(sample, hold_out_groups=hold_out_groups, seed=3)
    sets = [set(split.uris[s]) for s in SPLITS]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert sum(map(len, sets)) == len(sample.occupations)
    test_texts = _texts(sample, split, "test")
    assert not test_texts & _texts(sample, split, "train")
    assert not test_texts & _texts(sample, split, "validation")
    if hold_out_groups:
        groups = {s: set(sample.occupations.loc[split.uris[s], "isco_group"]) for s in SPLITS}
        assert not groups["train"] & groups["test"] and not groups["validation"] & groups["test"]
        assert not groups["train"] & groups["validation"]


def test_split_of_the_real_export_keeps_test_text_out_of_train(full_esco):
    split = split_occupations(full_esco)
    assert not _texts(full_esco, split, "test") & _texts(full_esco, split, "train")
    counts = split.counts()
    assert counts["test"] == pytest.approx(0.1 * 2942, rel=0.2)


def test_split_fraction_errors(sample):
    with pytest.raises(InputError, match=r"fractions=\(0.5, 0.5\)"):
        split_occupations(sample, fractions=(0.5, 0.5))
    with pytest.raises(InputError, match="fewer than the 4 it needs"):
        split_occupations(sample.subset(sample.occupations.uri[:12]), fractions=(0.9, 0.05, 0.05),
                          hold_out_groups=False)
    shared = sample.subset(sample.occupations.uri[:40])  # every occupation named "clerk" alone
    shared.occupations["preferred_label"] = "clerk"
    shared.occupations["alt_labels"] = [()] * 40
    with pytest.raises(InputError, match="the validation split gets 0 occupations of 40 "
                                         r"\(counting only those with a label no later split uses\)"):
        split_occupations(shared, hold_out_groups=False)


def test_split_is_seeded(sample):
    a, b = split_occupations(sample, seed=1), split_occupations(sample, seed=1)
    assert a.uris == b.uris
    assert a.uris != split_occupations(sample, seed=2).uris
    assert np.isclose(sum(a.counts().values()), len(sample.occupations))


def test_more_training_queries_leave_the_held_out_splits_alone(sample):
    from nbhelpers.prepare import PrepareConfig, build_datasets

    default = build_datasets(sample, PrepareConfig())[0].retrieval
    more = build_datasets(sample, PrepareConfig(train_queries_per_occupation=6))[0].retrieval
    assert len(more["train"]) > 1.5 * len(default["train"])
    assert more["train"].groupby("passage_id").size().max() == 6
    for name in ("validation", "test"):
        assert more[name].equals(default[name])
    with pytest.raises(InputError, match="train_queries_per_occupation=0: expected a whole number >= 1"):
        build_datasets(sample, PrepareConfig(train_queries_per_occupation=0))


def test_more_training_pairs_leave_the_held_out_splits_alone(sample):
    from nbhelpers.prepare import PrepareConfig, build_datasets

    default = build_datasets(sample, PrepareConfig(pairs_per_level=20))[0].pairs
    more = build_datasets(sample, PrepareConfig(pairs_per_level=20, train_pairs_per_level=60))[0].pairs
    assert len(more["train"]) > 1.5 * len(default["train"])
    assert more["train"].level.value_counts().max() == 60
    for name in ("validation", "test"):
        assert more[name].equals(default[name])
    with pytest.raises(InputError, match="train_pairs_per_level=-5: expected a whole number >= 1"):
        build_datasets(sample, PrepareConfig(train_pairs_per_level=-5))
