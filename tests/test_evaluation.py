import json
import math

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from nbhelpers import evaluation, plots
from nbhelpers.errors import InputError

matplotlib.use("Agg")


class TableEncoder:
    """Looks vectors up in a dict: metrics can be checked by hand."""

    spec = "table"

    def __init__(self, vectors):
        self.vectors = {k: np.asarray(v, dtype=np.float32) for k, v in vectors.items()}
        self.dim = len(next(iter(self.vectors.values())))

    def encode(self, texts, kind="document"):
        out = np.stack([self.vectors[t] for t in texts])
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_retrieval_metrics_of_a_known_ranking():
    # q1's relevant passage d2 ranks second (d1 is closer); q2's ranks first.
    enc = TableEncoder({"q1": [1, 0, 0], "q2": [0, 0, 1],
                        "p1": [0.9, 0.1, 0], "p2": [0.7, 0.3, 0], "p3": [0, 0.1, 1]})
    scores = evaluation.retrieval_scores(
        enc, {"a": "q1", "b": "q2"}, {"d1": "p1", "d2": "p2", "d3": "p3"},
        {"a": {"d2"}, "b": {"d3"}})[3]
    assert scores["ndcg@10"] == pytest.approx((1 / math.log2(3) + 1) / 2)
    assert scores["mrr@10"] == pytest.approx((0.5 + 1) / 2)
    assert scores["recall@1"] == pytest.approx(0.5)
    assert scores["recall@10"] == pytest.approx(1.0)
    assert scores["map@100"] == pytest.approx((0.5 + 1) / 2)


def test_truncation_changes_the_ranking_and_dims_are_checked():
    # In full, q finds d1; keeping the first 2 dimensions, d2 wins.
    enc = TableEncoder({"q": [1, 0, 1], "p1": [0, 0.1, 1], "p2": [1, 1, -1]})
    result = evaluation.retrieval_scores(enc, {"a": "q"}, {"d1": "p1", "d2": "p2"},
                                         {"a": {"d1"}}, dims=[3, 2])
    assert result[3]["recall@1"] == 1.0 and result[2]["recall@1"] == 0.0
    with pytest.raises(InputError, match=r"dims=\[4\]: the model outputs 3 dimensions"):
        evaluation.retrieval_scores(enc, {"a": "q"}, {"d1": "p1"}, {"a": {"d1"}}, dims=[4])
    vectors = evaluation.truncate(np.array([[3.0, 4.0, 12.0]]), 2)
    np.testing.assert_allclose(vectors, [[0.6, 0.8]])


def test_sts_scores_cosine_and_angular():
    enc = TableEncoder({"a": [1, 0], "b": [1, 0], "c": [0.6, 0.8], "d": [0, 1]})
    frame = pd.DataFrame({"sentence1": ["a", "a", "a"], "sentence2": ["b", "c", "d"],
                          "score": [1.0, 0.5, 0.1]})
    scores = evaluation.sts_scores(enc, frame)
    assert scores["cosine_spearman"] == pytest.approx(1.0)
    assert scores["angular_spearman"] == pytest.approx(1.0)
    cos = np.array([1.0, 0.6, 0.0])
    assert scores["cosine_pearson"] == pytest.approx(np.corrcoef(cos, frame.score)[0, 1])
    angular = 1 - np.arccos(cos) / np.pi
    assert scores["angular_pearson"] == pytest.approx(np.corrcoef(angular, frame.score)[0, 1])


def test_pair_scores_overall_and_per_level():
    enc = TableEncoder({"a": [1, 0], "b": [1, 0], "c": [0.6, 0.8], "d": [0, 1]})
    pairs = pd.DataFrame({"text1": ["a", "a", "a"], "text2": ["b", "c", "d"],
                          "score": [1.0, 0.7, 0.0],
                          "level": ["same_occupation", "same_unit_group", "unrelated"]})
    scores = evaluation.pair_scores(enc, pairs)
    assert scores["spearman"] == pytest.approx(1.0)
    assert scores["same_unit_group/mean_cosine"] == pytest.approx(0.6)
    assert scores["same_unit_group/mae"] == pytest.approx(0.1)
    assert scores["unrelated/mae"] == pytest.approx(0.0, abs=1e-6)
    assert scores["unrelated<same_unit_group/auc"] == scores["same_unit_group<same_occupation/auc"] == 1
    with pytest.raises(InputError, match="no rows"):
        evaluation.pair_scores(enc, pairs.iloc[:0])


def test_level_auc_counts_ties_half_and_skips_levels_with_equal_targets():
    enc = TableEncoder({"a": [1, 0], "b": [1, 0], "c": [0.6, 0.8], "d": [0, 1]})
    # cosines: a-d 0.0 and a-c 0.6 in the lower level, a-c 0.6 and a-b 1.0 in the upper one
    pairs = pd.DataFrame({"text1": ["a"] * 5, "text2": ["d", "c", "c", "b", "b"],
                          "score": [0.3, 0.3, 0.5, 0.5, 0.5],
                          "level": ["sub", "sub", "minor", "minor", "other_minor"]})
    scores = evaluation.pair_scores(enc, pairs)
    assert scores["sub<minor/auc"] == pytest.approx(3.5 / 4)  # 1 + 0.5 (tie) + 1 + 1
    assert not any("other_minor" in key and key.endswith("/auc") for key in scores)
    assert evaluation.auc([0.9], [0.1, 0.2]) == 0.0


def test_bootstrap_gain_gives_the_gain_and_a_cluster_interval_around_it():
    rng = np.random.default_rng(0)
    gold = np.repeat([0.1, 0.5, 0.9], 200)
    clusters = np.tile(np.arange(20), 30)
    before = gold + rng.normal(0, 0.5, gold.size)
    after = gold + rng.normal(0, 0.2, gold.size)
    result = evaluation.bootstrap_gain(gold, before, after, clusters, resamples=200)
    expected = (evaluation.correlations(after, gold)["spearman"]
                - evaluation.correlations(before, gold)["spearman"])
    assert result["gain"] == pytest.approx(expected)
    assert 0 < result["low"] < result["gain"] < result["high"]
    assert evaluation.bootstrap_gain(gold, before, before, clusters, resamples=50) == {
        "gain": 0.0, "low": 0.0, "high": 0.0, "clusters": 20}
    assert result == evaluation.bootstrap_gain(gold, before, after, clusters, resamples=200)
    # A gain that all comes from one cluster is less certain than the same gain spread over many.
    clumped = np.where(clusters == 0, gold, before)
    wide = evaluation.bootstrap_gain(gold, before, clumped, clusters, resamples=200)
    narrow = evaluation.bootstrap_gain(gold, before, clumped, np.repeat(np.arange(20), 30),
                                       resamples=200)
    assert wide["high"] - wide["low"] > narrow["high"] - narrow["low"]
    with pytest.raises(InputError, match="one value per pair; got 600, 600, 600 and 599"):
        evaluation.bootstrap_gain(gold, before, after, clusters[1:])
    with pytest.raises(InputError, match="1 cluster"):
        evaluation.bootstrap_gain(gold, before, after, np.zeros(gold.size))
    with pytest.raises(InputError, match="resamples=0"):
        evaluation.bootstrap_gain(gold, before, after, clusters, resamples=0)


def test_results_file_schema_and_no_overwrite(tmp_path):
    records = evaluation.to_records("m", "stsb", "dev", {"cosine_pearson": 0.5})
    records += evaluation.retrieval_records("m", "test", {64: {"ndcg@10": 0.25}})
    path = evaluation.save_results(tmp_path, "02_baseline", records, seconds=1.0)
    payload = json.loads(path.read_text())
    assert path == tmp_path / "results" / "02_baseline.json"
    assert payload["records"][1] == {"model": "m", "dataset": "esco-retrieval", "split": "test",
                                     "metric": "ndcg@10", "dim": 64, "value": 0.25}
    assert payload["schema_version"] == 1 and payload["seconds"] == 1.0
    with pytest.raises(InputError, match="already exists"):
        evaluation.save_results(tmp_path, "02_baseline", records)
    with pytest.raises(InputError, match=r"records\[0\] lacks \['dataset', 'dim'"):
        evaluation.save_results(tmp_path, "x", [{"model": "m"}])


def test_default_dims():
    assert evaluation.default_dims(384) == [384, 256, 128, 64]
    assert evaluation.default_dims(768) == [768, 512, 256, 128, 64]


def test_heatmap_returns_a_figure_with_an_unsaturated_scale():
    texts = ["a", "b", "c"]
    enc = TableEncoder({"a": [1, 0.1, 0], "b": [1, 0.2, 0.1], "c": [1, 0, 0.3]})  # all > 0.9
    fig = plots.plot_similarity(texts, enc)
    assert isinstance(fig, matplotlib.figure.Figure)
    mesh = fig.axes[0].collections[0]
    assert mesh.norm.vmin > 0.8  # scale follows the data, not 0..1
    grid = plots.plot_similarity_grid(texts, {"before": enc, "after": enc})
    assert len([ax for ax in grid.axes if ax.get_title()]) == 2


def test_alpha_sweep_plot_draws_the_sts_floor_from_the_base_row():
    key = "eval_dim_64_cosine_ndcg@10"   # notebook 04's guard: validation nDCG, STS-B Spearman
    sweep = pd.DataFrame({"alpha": [0.0, 0.5, 1.0], key: [0.60, 0.70, 0.72],
                          "stsb_dev_spearman": [0.86, 0.855, 0.84]})
    fig = plots.plot_alpha_sweep(sweep, 0.01, chosen=0.5, domain=key)
    ax = fig.axes[0]
    floor = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert len(floor) == 1 and floor[0].get_xdata()[0] == pytest.approx(0.85)
    assert ax.get_xlabel() == "STS-B dev Spearman (cosine)"
    assert ax.get_ylabel() == "validation dim 64 cosine ndcg@10"
    assert any(t.get_text() == "α=0.5 (chosen)" for t in ax.texts)
    plt.close(fig)


def test_load_results_reads_every_file_of_every_run(tmp_path):
    for run in ("a", "b"):
        evaluation.save_results(tmp_path / run, "02_baseline",
                                evaluation.to_records("m", "stsb", "dev", {"cosine_pearson": 0.5}))
    evaluation.save_results(tmp_path / "a", "03_siamese_use",
                            evaluation.retrieval_records("t", "test", {64: {"ndcg@10": 0.3}}))
    table = evaluation.load_results(tmp_path / "a", tmp_path / "b")
    assert len(table) == 3 and set(table.run) == {"a", "b"}
    assert set(table.notebook) == {"02_baseline", "03_siamese_use"}
    (tmp_path / "a" / "results" / "broken.json").write_text("{")
    with pytest.raises(InputError, match="broken.json: not a results file"):
        evaluation.load_results(tmp_path / "a")
    with pytest.raises(InputError, match="no results"):
        evaluation.load_results(tmp_path / "empty")


def test_sts_scores_known_from_an_earlier_notebook_are_reused(tmp_path):
    enc = TableEncoder({"a": [1, 0], "b": [0.6, 0.8], "c": [0, 1]})
    frame = pd.DataFrame({"sentence1": ["a", "a"], "sentence2": ["b", "c"], "score": [0.9, 0.1]})
    known = evaluation.to_records("base", "stsb", "dev", {"angular_pearson": 0.123})
    evaluation.save_results(tmp_path, "02_baseline", known)
    records = evaluation.evaluate_sts({"base": enc, "tuned": enc}, {"dev": frame},
                                      known=evaluation.earlier_records(tmp_path))
    by_model = evaluation.results_table(records).groupby("model").value.apply(list).to_dict()
    assert by_model["base"] == [0.123]          # reused, not recomputed
    assert len(by_model["tuned"]) == 4          # computed: cosine/angular x pearson/spearman
    assert evaluation.earlier_records(tmp_path / "nothing") == []
