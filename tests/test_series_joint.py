"""The series' joint pass of notebook 04 (``joint = True``, quick defaults): one model trained
for retrieval and job-title similarity at once (the ``joint_pass`` fixture, a run of notebooks
01 and 04 of its own). Under ``make test`` a unit of work beside nbval's run (conftest.py);
notebook 05's view of the joint model is in tests/test_series_passes.py."""
import numpy as np
import pandas as pd

from test_notebooks import _results


def test_notebook_04_joint_trains_one_model_that_gains_on_both_uses(joint_pass):
    from nbhelpers.models import resolve_model

    table, payload = _results(joint_pass, "04_matryoshka-joint")
    assert payload["attempt"]["number"] == 1   # the joint model's own first attempt
    training = payload["training"]
    assert training["metric_for_best_model"] == "eval_sequential_score"
    assert training["pairs_rows"] == training["train_rows"] > 0   # pairs_share 1: one pair per row
    assert (joint_pass / "models" / "joint-minilm" / "model").is_dir()
    test = table[table.split == "test"]
    pairs = test[(test.dataset == "esco-pairs") & (test.metric == "spearman")].set_index("model").value
    ndcg = test[(test.metric == "ndcg@10") & (test.dim == 384)].set_index("model").value
    # even at the quick size one model gains on both uses of held-out unit groups
    assert pairs["minilm-joint"] > pairs["minilm"] + 0.02 and ndcg["minilm-joint"] > ndcg["minilm"] + 0.05
    validation = pd.DataFrame(training["validation"])
    assert {"ndcg@10 @ 64", "pair Spearman", "STS-B dev Spearman",
            "selection score"} <= set(validation.columns)
    sweep = pd.DataFrame(payload["forgetting_guard"]["sweep"]).set_index("alpha")
    assert {"eval_dim_64_cosine_ndcg@10", "eval_pairs_spearman_cosine"} <= set(sweep.columns)
    assert np.allclose(sweep["eval_sequential_score"],
                       (sweep["eval_dim_64_cosine_ndcg@10"] + sweep["eval_pairs_spearman_cosine"]) / 2)
    assert resolve_model(payload["models"]["minilm-joint"]["path"]).encode(["nurse"]).shape == (1, 384)
