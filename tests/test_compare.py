import numpy as np
import pandas as pd
import pytest

from nbhelpers import compare
from nbhelpers.errors import InputError


class RandomEncoder:
    """Queries are noisy copies of their passages: retrieval works, and degrades with
    coarser storage."""

    def __init__(self, spec, dim, seed=0):
        self.spec, self.dim = spec, dim
        rng = np.random.default_rng(seed)
        self.base = {f"p{i}": rng.normal(size=dim) for i in range(40)}
        self.noise = {f"q{i}": rng.normal(size=dim) for i in range(40)}

    def encode(self, texts, kind="document", progress=None):
        rows = [self.base["p" + t[1:]] + 0.8 * self.noise[t] if t.startswith("q") else self.base[t]
                for t in texts]
        out = np.asarray(rows, dtype=np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


@pytest.fixture
def ir():
    queries = {f"a{i}": f"q{i}" for i in range(40)}
    corpus = {f"d{i}": f"p{i}" for i in range(40)}
    return queries, corpus, {f"a{i}": {f"d{i}"} for i in range(40)}


def test_quantized_scores_rank_like_float_when_signals_are_clear():
    rng = np.random.default_rng(1)
    corpus = rng.normal(size=(30, 64)).astype(np.float32)
    queries = corpus[:5] + 0.05 * rng.normal(size=(5, 64)).astype(np.float32)
    for precision in compare.PRECISIONS:
        scores = compare.quantized_scores(queries, corpus, precision)
        assert scores.shape == (5, 30)
        assert (scores.argmax(axis=1) == np.arange(5)).all(), precision
    binary = compare.quantized_scores(np.array([[1.0, -1.0, 1.0]]), np.array([[1.0, 1.0, 1.0]]), "binary")
    assert binary[0, 0] == 1  # 3 bits, 1 differs: 3 - 2 * 1
    with pytest.raises(ValueError, match="precision='float16'"):
        compare.quantized_scores(queries, corpus, "float16")


def test_storage_table_bytes_and_kept_quality(ir):
    table = compare.storage_table({"m": RandomEncoder("m", 128)}, ir, {"m": [128, 64]})
    assert len(table) == 6
    row = table.set_index(["dim", "precision"]).loc
    assert row[128, "float32"].bytes_per_text == 512
    assert row[128, "int8"].bytes_per_text == 128
    assert row[64, "binary"].bytes_per_text == 8
    assert row[128, "float32"]["ndcg@10"] > 0.9
    assert row[128, "float32"]["ndcg@10"] >= row[64, "binary"]["ndcg@10"]


def test_best_per_use_and_recommendation(ir):
    rows = [("base", "esco-pairs", "spearman", None, 0.6),
            ("tuned", "esco-pairs", "spearman", None, 0.7),
            ("base", "esco-retrieval", "ndcg@10", 128, 0.8),
            ("base", "esco-retrieval", "ndcg@10", 64, 0.5),
            ("tuned", "esco-retrieval", "ndcg@10", 128, 0.7),
            ("tuned", "esco-retrieval", "ndcg@10", 64, 0.65)]
    results = pd.DataFrame(rows, columns=["model", "dataset", "metric", "dim", "value"])
    results = results.assign(split="test")
    best = compare.best_per_use(results)
    assert best.model.tolist() == ["tuned", "base", "tuned"]
    storage = compare.storage_table({"base": RandomEncoder("base", 128)}, ir, {"base": [128, 64]})
    text = compare.recommendation(best, storage)
    assert "**base**" in text and "bytes per text" in text and "**tuned**" in text


def test_throughput_is_positive():
    speeds = compare.throughput({"m": RandomEncoder("m", 8)}, ["p1", "p2", "q3"] * 10)
    assert speeds["m"] > 0


def test_collect_results_merges_runs_and_finds_model_paths(tmp_path):
    from nbhelpers.evaluation import save_results, to_records

    save_results(tmp_path / "r1", "02_baseline", to_records("minilm", "stsb", "dev", {"x": 0.5}),
                 models={"minilm": {"dim": 384}})
    save_results(tmp_path / "r1", "04_matryoshka", to_records("minilm", "stsb", "dev", {"x": 0.6})
                 + to_records("tuned", "stsb", "dev", {"x": 0.7}),
                 models={"tuned": {"dim": 384, "path": "/models/tuned"}})
    table, models = compare.collect_results(tmp_path / "r1")
    assert models == {"minilm": "minilm", "tuned": "/models/tuned"}
    assert table.set_index("model").value.to_dict() == {"minilm": 0.5, "tuned": 0.7}
    save_results(tmp_path / "r2", "02_baseline", to_records("minilm", "stsb", "dev", {"x": 0.4}),
                 models={"minilm": {"dim": 384}})
    table, models = compare.collect_results(tmp_path / "r1", [tmp_path / "r2"])
    assert set(models) == {"r1/minilm", "r1/tuned", "r2/minilm"} and len(table) == 3
    with pytest.raises(InputError, match="no run folder with results under reports/: run notebooks"):
        compare.collect_results(None)   # what latest_run_dir gives when no run has results


def test_comparison_records(ir):
    storage = compare.storage_table({"m": RandomEncoder("m", 16)}, ir, {"m": [16]})
    records = compare.comparison_records(storage, pd.Series({"m": 123.0}))
    by_metric = {(r["metric"], r["dim"]): r["value"] for r in records}
    assert by_metric["bytes_per_text/binary", 16] == 2 and by_metric["texts_per_second", None] == 123.0
    assert len(records) == 3 * 2 + 1


def test_recommendation_without_a_cheaper_option():
    best = pd.DataFrame({"model": ["m", "m", "m"], "value": [0.6, 0.8, 0.5], "dim": [None, 16, 8]},
                        index=["similarity (domain Spearman)", "retrieval at full size (nDCG@10)",
                               "retrieval at 64 dims (nDCG@10)"])
    storage = pd.DataFrame({"model": "m", "dim": [16, 16, 8], "precision": ["float32", "binary", "float32"],
                            "bytes_per_text": [64, 2, 32], "ndcg@10": [0.8, 0.3, 0.5]})
    assert "Store it at full size in float32 (64 bytes per text)" in compare.recommendation(best, storage)


def test_recommendation_states_the_held_out_gain_its_interval_and_its_cost(tmp_path):
    from nbhelpers.evaluation import save_results

    run = tmp_path / "run"
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "weights.bin").write_bytes(b"0" * 2**21)
    gain = {"gain": 0.05, "low": 0.01, "high": 0.09, "clusters": 15, "unit": "document",
            "model": "t", "base": "m", "metric": "ndcg@10", "dim": 16}
    save_results(run, "04_matryoshka", [], models={"m": {}, "t": {"path": str(model_dir), "base": "m"}},
                 training={"seconds": 120.0}, test_gain=gain, forgetting_guard={"alpha": 0.5})
    gains = compare.tuning_gains(run)
    assert gains.loc[0, "model_mb"] == 2 and gains.loc[0, "alpha"] == 0.5
    best = pd.DataFrame({"model": [None, "t", "t"], "value": [np.nan, 0.8, 0.5], "dim": [None, 16, 8]},
                        index=["similarity (domain Spearman)", "retrieval at full size (nDCG@10)",
                               "retrieval at 64 dims (nDCG@10)"])
    storage = pd.DataFrame({"model": "t", "dim": [16], "precision": ["float32"], "bytes_per_text": [64],
                            "ndcg@10": [0.8]})
    advice = compare.recommendation(best, storage, gains=gains, speed=pd.Series({"t": 60.0}),
                                    domain="docs")
    assert advice.startswith("For search over your documents deploy **t**: nDCG@10 0.800")
    assert ("Tuning gains +0.050 nDCG@10 for **t** over m on your held-out documents (95 % interval "
            "+0.010 to +0.090, redrawing 15 documents; the interval is above zero).") in advice
    assert "Cost: training took 120 s on this machine, the model takes 2 MB on disk, it encodes 60 " \
        "texts per second here." in advice
    kept_base = gains.assign(alpha=0.0, gain=0.0, low=0.0, high=0.0)
    assert "the forgetting guard kept the base weights (α = 0), so **t** is m" in compare.recommendation(
        best, storage, gains=kept_base, domain="docs")


def test_summary_table_markdown_and_cli(tmp_path, capsys):
    from nbhelpers.evaluation import save_results, to_records

    run = tmp_path / "run"
    records = (to_records("minilm", "stsb", "dev", {"angular_pearson": 0.87})
               + to_records("minilm", "esco-pairs", "test", {"spearman": 0.61})
               + to_records("minilm", "esco-retrieval", "test", {"ndcg@10": 0.76}, 384)
               + to_records("minilm", "esco-retrieval", "test", {"ndcg@10": 0.60}, 64)
               + to_records("tuned", "esco-retrieval", "test", {"ndcg@10": 0.84}, 384))
    save_results(run, "02_baseline", records, models={})
    table, _ = compare.collect_results(run)
    summary = compare.summary_table(table)
    assert list(summary.index) == ["minilm", "tuned"]
    assert summary.loc["minilm", "nDCG@10 full size"] == 0.76
    assert summary.loc["minilm", "nDCG@10 at 64 dims"] == 0.60
    assert np.isnan(summary.loc["tuned", "domain test Spearman"])
    text = compare.to_markdown(summary)
    assert text.splitlines()[2].startswith("| `minilm` | 0.8700 |")
    assert "| `tuned` |  |" in text
    figure = tmp_path / "out" / "ndcg.png"
    assert compare.main([str(run), "--figure", str(figure)]) == 0
    assert figure.read_bytes().startswith(b"\x89PNG")
    assert capsys.readouterr().out.startswith("| model | STS-B dev Pearson")
    with pytest.raises(SystemExit):
        compare.main([str(tmp_path / "empty")])
    with pytest.raises(SystemExit):
        compare.main([str(run), "--figure", str(figure)])
    assert f"--figure {figure}: already exists" in capsys.readouterr().err


def _two_uses_results(joint_pairs, joint_ndcg):
    from nbhelpers.evaluation import results_table, to_records

    figures = {"use-m3-merged": (0.750, 0.548), "minilm-matryoshka": (0.698, 0.843),
               "minilm-joint": (joint_pairs, joint_ndcg), "minilm": (0.647, None)}
    records = []
    for model, (pairs, ndcg) in figures.items():
        records += to_records(model, "esco-pairs", "test", {"spearman": pairs})
        if ndcg is not None:
            records += to_records(model, "esco-retrieval", "test", {"ndcg@10": ndcg}, 384)
    return results_table(records)


def test_one_model_for_both_uses_only_within_the_tolerance_of_the_best_on_each():
    uses = compare.two_uses(_two_uses_results(0.745, 0.838))
    assert list(uses.index) == ["use-m3-merged", "minilm-matryoshka", "minilm-joint"]   # minilm: one use
    assert uses.loc["minilm-joint", "short of best domain test Spearman"] == pytest.approx(0.005)
    assert uses.loc["minilm-joint", "short of best nDCG@10 full size"] == pytest.approx(0.005)
    chosen = compare.one_model(uses, 0.01)
    assert chosen["model"] == "minilm-joint" and chosen["shortfall"] == pytest.approx(0.005)
    assert compare.one_model(uses, 0.004) is None
    advice = compare.both_uses_sentence(uses, 0.01)
    assert advice.startswith("One model for both uses: **minilm-joint** is within 0.01 of the best on each")
    assert "similarity (Spearman) 0.745, best 0.750" in advice
    far = compare.two_uses(_two_uses_results(0.72, 0.80))
    assert compare.both_uses_sentence(far, 0.01) == (
        "No model is within 0.01 of the best on both uses, so keep one per use; the closest to both, "
        "**minilm-joint**, falls 0.043 short on one of them.")
    with pytest.raises(InputError, match=r"^both_tolerance=-0\.1: expected a number >= 0"):
        compare.one_model(uses, -0.1)
    with pytest.raises(InputError, match=r"^tolerance='0.02': expected a number >= 0"):
        compare.check_tolerance("tolerance", "0.02")
