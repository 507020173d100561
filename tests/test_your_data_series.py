"""The series on your own data, run headless as a practitioner would (``python -m nbhelpers.run
-p domain docs`` / ``-p domain pairs``) on the project's sample documents and scored pairs:
each notebook that applies runs, the others are skipped with one line, and the report states
the held-out gain with its interval and the recommendation.

Both runs take the suite's tiny models (``-p models``, ``-p model``): what is checked is how the
series runs on documents and pairs and what it reports, not what MiniLM or USE learn from them."""
import json
import os

import pandas as pd
import pytest

from nbhelpers import run


def _series(reports, run_id, *parameters):
    """Run the series into its own reports folder (other tests look for the newest ESCO run)."""
    argv = ["--run-id", run_id]
    for name, value in parameters:
        argv += ["-p", name, value]
    before = os.environ["NBHELPERS_REPORTS"]
    os.environ["NBHELPERS_REPORTS"] = str(reports)
    try:
        assert run.main(argv) == 0
    finally:
        os.environ["NBHELPERS_REPORTS"] = before
    return reports / run_id


def _results(run_dir, name):
    payload = json.loads((run_dir / "results" / f"{name}.json").read_text())
    return pd.DataFrame(payload["records"]), payload


@pytest.fixture(scope="module")
def docs_run(tmp_path_factory, tiny_bert):
    # random weights rank no passage as a hard negative: mining is left to the ESCO series
    return _series(tmp_path_factory.mktemp("reports"), "your-documents", ("domain", "docs"),
                   ("docs_dir", "sample"), ("models", json.dumps([str(tiny_bert)])),
                   ("model", str(tiny_bert)), ("hard_negatives", "false"), ("guard_alphas", "null"))


@pytest.fixture(scope="module")
def pairs_run(tmp_path_factory, tiny_use, tiny_bert):
    # the tiny USE-format model has no token table to keep fixed: frozen []
    return _series(tmp_path_factory.mktemp("reports"), "your-pairs", ("domain", "pairs"),
                   ("pairs_csv", "sample"), ("models", json.dumps([str(tiny_use), str(tiny_bert)])),
                   ("model", str(tiny_use)), ("frozen", "[]"))


@pytest.mark.slow
def test_documents_run_every_retrieval_notebook_on_held_out_documents(docs_run, tiny_bert):
    manifest = json.loads((docs_run / "manifest.json").read_text())
    assert "scored pairs" in manifest["steps"]["skip:03_siamese_use"]["reason"]
    assert not (docs_run / "03_siamese_use.ipynb").exists()
    assert "graded pairs" in manifest["steps"]["skip:04_matryoshka-joint"]["reason"]
    assert "run:04_matryoshka" in manifest["steps"]
    baseline, _ = _results(docs_run, "02_baseline")
    assert set(baseline.dataset) == {"stsb", "docs-retrieval"}
    tuned, payload = _results(docs_run, "04_matryoshka")
    ndcg = tuned[(tuned.metric == "ndcg@10") & (tuned.dim == 128)].set_index("model").value
    gain = payload["test_gain"]
    assert gain["unit"] == "document" and gain["clusters"] == 2 and gain["base"] == str(tiny_bert)
    assert gain["gain"] == pytest.approx(ndcg["tiny-bert-matryoshka"] - ndcg[str(tiny_bert)], abs=1e-6)
    assert gain["low"] <= gain["gain"] <= gain["high"]


@pytest.mark.slow
def test_the_documents_report_answers_whether_tuning_helps(docs_run):
    page = (docs_run / "index.html").read_text()
    assert "Adapting sentence embeddings to your documents" in page
    assert "skipped: the run&#x27;s data (domain &#x27;docs&#x27;) have no pairs" in page
    assert "Gain from tuning" in page and "2 documents" in page
    _, payload = _results(docs_run, "05_comparison")
    advice = payload["recommendation"]
    assert advice.startswith("For search over your documents deploy")
    assert "on your held-out documents (95 % interval" in advice and "Cost: training took" in advice


@pytest.mark.slow
def test_the_documents_run_serves_its_retrieval_model(docs_run, tiny_bert):
    table, payload = _results(docs_run, "06_serving")
    assert payload["served_model"] in {str(tiny_bert), "tiny-bert-matryoshka"}
    assert {row["variant"] for row in payload["variants"]} == {
        payload["served_model"], "onnx", "onnx-int8", "openvino", "openvino-int8", "static", "static-tuned"}
    assert set(table.dataset) == {"serving", "vector-store"}


@pytest.mark.slow
def test_scored_pairs_run_notebook_03_and_judge_it_on_held_out_pairs(pairs_run):
    manifest = json.loads((pairs_run / "manifest.json").read_text())
    assert "retrieval" in manifest["steps"]["skip:04_matryoshka"]["reason"]
    assert "serves a retrieval model" in manifest["steps"]["skip:06_serving"]["reason"]
    table, payload = _results(pairs_run, "03_siamese_use")
    assert {"scored-pairs", "stsb"} <= set(table.dataset) and "esco-pairs" not in set(table.dataset)
    levels = table[table.metric.str.endswith("/mean_cosine")].metric.str.split("/").str[0]
    assert set(levels) <= {"0.8-1", "0.6-0.8", "0.4-0.6", "0.2-0.4", "0-0.2"}
    gain = payload["test_gain"]
    assert gain["unit"] == "group of pairs sharing a text" and gain["clusters"] == 15
    assert gain["low"] <= gain["gain"] <= gain["high"]
    _, comparison = _results(pairs_run, "05_comparison")
    assert comparison["recommendation"].startswith("For similarity on your pairs use")
    assert "on your held-out pairs (95 % interval" in comparison["recommendation"]
    assert "Adapting sentence embeddings to your scored pairs" in (pairs_run / "index.html").read_text()
