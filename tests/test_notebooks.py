"""What the executed series wrote, checked notebook by notebook (the ``series_run`` fixture of
conftest.py: the run nbval wrote, or one made for these tests)."""
import json

import pandas as pd
import pytest

from nbhelpers.paths import project_root
from nbhelpers.prepare import load_prepared

def _results(run_dir, name):
    payload = json.loads((run_dir / "results" / f"{name}.json").read_text())
    return pd.DataFrame(payload["records"]), payload


def test_notebook_01_writes_datasets_and_manifest(series_run):
    prepared = load_prepared(series_run)
    assert set(prepared.pairs["train"].level) == {"same_occupation", "same_unit_group",
                                                   "same_minor_group", "same_sub_major",
                                                   "unrelated"}
    assert prepared.pairs["train"].level.value_counts().max() == 200
    manifest = json.loads((series_run / "manifest.json").read_text())
    assert manifest["steps"]["01_data_preparation"]["parameters"]["pairs_per_level"] == 200
    assert manifest["steps"]["01_data_preparation"]["counts"]["occupations"]["test"] > 20
    test_groups = set(prepared.occupations.query("split == 'test'").isco_group)
    assert not test_groups & set(prepared.occupations.query("split == 'train'").isco_group)


def test_notebook_01_turns_the_sample_documents_into_qa_pairs(series_run):
    qa = load_prepared(series_run).qa
    assert qa is not None and len(qa) >= 5
    assert set(qa.source) == {p.name for p in (project_root() / "data" / "sample_docs").glob("*.md")}
    assert all(q not in p for q, p in zip(qa["query"], qa.passage))


def test_notebook_02_records_domain_and_retrieval_metrics_for_both_models(series_run):
    table, payload = _results(series_run, "02_baseline")
    assert payload["models"] == {"use-m3": {"dim": 512, "type": "TFHubEncoder"},
                                 "minilm": {"dim": 384, "type": "STEncoder"}}
    pairs = table[table.dataset == "esco-pairs"].set_index(["model", "metric"]).value
    for model in ("use-m3", "minilm"):
        assert 0.3 < pairs[model, "spearman"] < 0.95
        assert pairs[model, "same_occupation/mean_cosine"] > pairs[model, "unrelated/mean_cosine"]
        aucs = pairs[model][pairs[model].index.str.endswith("/auc")]
        assert list(aucs.index) == ["unrelated<same_sub_major/auc", "same_sub_major<same_minor_group/auc",
                                    "same_minor_group<same_unit_group/auc",
                                    "same_unit_group<same_occupation/auc"]
        assert aucs.between(0, 1).all() and aucs.iloc[-1] > 0.5
    retrieval = table[table.dataset == "esco-retrieval"]
    dims = retrieval.groupby("model").dim.apply(lambda d: sorted(set(d), reverse=True)).to_dict()
    assert dims == {"use-m3": [512, 256, 128, 64], "minilm": [384, 256, 128, 64]}
    assert set(retrieval.metric) == {"ndcg@10", "mrr@10", "recall@1", "recall@10", "map@100"}
    ndcg = retrieval[retrieval.metric == "ndcg@10"].set_index(["model", "dim"]).value
    assert 0.2 < ndcg["minilm", 384] < 1.0 and ndcg["use-m3", 512] > ndcg["use-m3", 64]


def test_notebook_02_reproduces_the_published_sts_b_baselines(series_run, stsb_dir):
    table, _ = _results(series_run, "02_baseline")
    sts = table[table.dataset == "stsb"].set_index(["model", "split", "metric"]).value
    assert sts["use-m3", "dev", "angular_pearson"] == pytest.approx(0.8317, abs=0.002)
    assert sts["minilm", "test", "cosine_spearman"] == pytest.approx(0.8203, abs=0.002)
    assert {"dev", "test"} <= set(table[table.dataset == "stsb"].split)


def test_notebook_05_compares_storage_and_speed_and_recommends(series_run):
    table, payload = _results(series_run, "05_comparison")
    kept = table[table.metric.str.startswith("ndcg@10/")].set_index(["model", "dim", "metric"]).value
    assert kept["minilm", 384, "ndcg@10/float32"] > kept["minilm", 384, "ndcg@10/binary"]
    size = table[table.metric == "bytes_per_text/int8"].set_index(["model", "dim"]).value
    assert size["use-m3", 512] == 512 and size["minilm", 64] == 64
    assert (table[table.metric == "texts_per_second"].value > 0).all()
    assert payload["recommendation"].startswith("For retrieval in this domain deploy")


def test_notebook_03_trains_guards_and_saves_reloadable_models(series_run):
    table, payload = _results(series_run, "03_siamese_use")
    assert set(table.model) == {"use-m3", "use-m3-tuned", "use-m3-merged"}
    history = payload["training"]["history"]
    assert len(history["loss"]) == len(history["val_loss"]) >= 1
    assert payload["training"]["samples_per_second"] > 0
    guard = payload["forgetting_guard"]
    assert guard["alpha"] in [row["alpha"] for row in guard["sweep"]]
    by_alpha = {row["alpha"]: row for row in guard["sweep"]}
    # quick settings still tune: the tuned weights beat the base on the validation pairs
    assert by_alpha[1.0]["domain_val_spearman"] > by_alpha[0.0]["domain_val_spearman"] + 0.01
    for name in ("use-m3-tuned", "use-m3-merged"):
        assert (series_run / "models" / name / "saved_model.pb").is_file()
    sts = table[(table.dataset == "stsb") & (table.split == "dev") & (table.metric == "cosine_spearman")]
    if guard["guarded"]:  # the chosen blend kept STS-B within the tolerance, also after reloading
        by_model = sts.set_index("model").value
        tolerance = payload["training"]["config"]["sts_tolerance"]
        assert by_model["use-m3-merged"] >= by_model["use-m3"] - tolerance - 1e-4
    assert payload["models"]["use-m3-merged"]["base"] == "use-m3"
    assert payload["attempt"] == {"number": 1, "changed": {}, "label": "attempt 1"}
    chosen = next(r for r in guard["sweep"] if r["alpha"] == guard["alpha"])
    merged = table[(table.model == "use-m3-merged") & (table.dataset == "esco-pairs")
                   & (table.metric == "spearman")].value.iloc[0]
    assert merged == pytest.approx(chosen["domain_test_spearman"], abs=1e-4)  # saved == in memory
    gain = payload["test_gain"]   # the bootstrap interval brackets the chosen model's gain
    base = table[(table.model == "use-m3") & (table.dataset == "esco-pairs")
                 & (table.metric == "spearman")].value.iloc[0]
    assert gain["gain"] == pytest.approx(merged - base, abs=1e-4)
    assert gain["low"] <= gain["gain"] <= gain["high"] and gain["low"] < gain["high"]


def test_notebook_04_tunes_minilm_with_matryoshka_and_saves_it(series_run):
    from nbhelpers.models import resolve_model

    table, payload = _results(series_run, "04_matryoshka")
    ndcg = table[(table.dataset == "esco-retrieval") & (table.metric == "ndcg@10")]
    by = ndcg.set_index(["model", "dim"]).value
    assert sorted(ndcg.dim.unique()) == [64, 128, 256, 384]
    # quick settings still tune: the tuned model beats the base at the smallest dim
    assert by["minilm-matryoshka", 64] > by["minilm", 64]
    training = payload["training"]
    assert training["samples_per_second"] > 0 and len(training["losses"]["loss"]) >= 1
    assert training["metric_for_best_model"] == "eval_dim_64_cosine_ndcg@10"
    # every step the notebook explains ran at the quick defaults
    assert training["config"]["hard_negatives"] and training["replay_rows"] > 0
    validation = pd.DataFrame(training["validation"])
    assert {"ndcg@10 @ 384", "ndcg@10 @ 64"} <= set(validation.columns) and len(validation) >= 1
    guard = payload["forgetting_guard"]
    assert [row["alpha"] for row in guard["sweep"]] == [0.0, 0.5, 1.0] and guard["guarded"]
    path = payload["models"]["minilm-matryoshka"]["path"]
    assert resolve_model(path).encode(["nurse"]).shape == (1, 384)


def test_notebook_06_serves_the_tuned_model_in_every_variant_and_recommends(series_run):
    import numpy as np

    from nbhelpers.models import resolve_model

    table, payload = _results(series_run, "06_serving")
    assert payload["served_model"] == "minilm-matryoshka"   # the run's best retrieval model
    variants = pd.DataFrame(payload["variants"]).set_index("variant")
    assert list(variants.index) == ["minilm-matryoshka", "onnx", "onnx-int8", "openvino", "openvino-int8",
                                    "static", "static-tuned"]
    assert variants.loc["onnx", "kept"] == pytest.approx(1.0, abs=0.002)   # the same network
    assert variants.loc[["onnx-int8", "openvino", "openvino-int8"], "kept"].min() > 0.9
    assert (variants.texts_per_second > 0).all() and variants.loc["static", "speedup"] > 5
    # the short Matryoshka pass lifts the distilled static model at 64 dimensions
    assert variants.loc["static-tuned", "ndcg@10 at 64"] > variants.loc["static", "ndcg@10 at 64"]
    store = pd.DataFrame(payload["vector_store"])
    full = store[store.dim == 384].set_index("search")
    assert full.loc["binary + rescoring", "ndcg@10"] > full.loc["binary", "ndcg@10"]
    assert full.loc["binary", "bytes_per_vector"] == 48
    assert payload["recommendation"].startswith("Serve **")
    texts = ["nurse", "Which occupation repairs engines?", "software developer"]
    reference = resolve_model(payload["exports"]["minilm-matryoshka"]).encode(texts)
    for name in ("onnx", "openvino-int8", "static-tuned"):
        encoder = resolve_model(payload["exports"][name])
        assert encoder.encode(texts).shape[0] == 3
        if name == "onnx":
            assert np.allclose(encoder.encode(texts), reference, atol=1e-4)
