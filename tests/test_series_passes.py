"""The series' notebooks run again on a copy of the quick series' run (the ``series_run``
fixture): a learner's second attempt of notebook 04 and the runner's joint pass of it, then
notebook 05 over all three models. One unit of work of its own under ``make test``: it starts once
nbval's run is complete, on whichever worker is free (conftest.py)."""
import pandas as pd
import pytest

from test_notebooks import _results


#: What a learner changes before running notebook 04 a second time in the same run folder.
SECOND_ATTEMPT = {"matryoshka": False, "guard_alphas": None, "hard_negatives": False}


@pytest.fixture(scope="module")
def more_passes(series_run, tmp_path_factory):
    """A copy of the series' run where notebook 04 runs twice more, then notebook 05 once over
    everything: a learner's second attempt (:data:`SECOND_ATTEMPT`) and the series' joint pass
    (``joint = True``, the runner's second step of 04; nbval executes each notebook once)."""
    import shutil

    import papermill as pm

    from nbhelpers.paths import project_root

    folder = tmp_path_factory.mktemp("more-passes")
    run_dir = folder / series_run.name
    shutil.copytree(series_run, run_dir, ignore=shutil.ignore_patterns("tensorboard", "checkpoints"))
    first = (run_dir / "results" / "04_matryoshka.json").read_bytes()
    notebook = str(project_root() / "notebooks" / "04_matryoshka.ipynb")
    for output, parameters in ((folder / "04_matryoshka-2.ipynb", SECOND_ATTEMPT),
                               (run_dir / "04_matryoshka-joint.ipynb", {"joint": True})):
        pm.execute_notebook(notebook, str(output), kernel_name="python3",
                            parameters={"run_dir": str(run_dir), **parameters}, progress_bar=False)
    pm.execute_notebook(str(project_root() / "notebooks" / "05_comparison.ipynb"),
                        str(folder / "05_comparison-2.ipynb"), kernel_name="python3",
                        parameters={"run_dir": str(run_dir)}, progress_bar=False)
    return run_dir, first, (folder / "05_comparison-2.ipynb").read_text()


def test_notebook_04_runs_again_beside_its_first_attempt_and_05_shows_both(more_passes):
    """A learner changes parameters and runs notebook 04 again in the same run folder: a new
    attempt with its own model and results; notebook 05, run again, compares both."""
    run_dir, first, executed = more_passes
    assert (run_dir / "results" / "04_matryoshka.json").read_bytes() == first   # untouched
    table, payload = _results(run_dir, "04_matryoshka-2")
    assert payload["attempt"]["changed"] == SECOND_ATTEMPT
    assert payload["training"]["config"]["matryoshka"] is False and payload["forgetting_guard"] is None
    assert (run_dir / "models" / "matryoshka-minilm-2" / "model").is_dir()
    assert "minilm-matryoshka-2" in set(table.model)
    compared, _ = _results(run_dir, "05_comparison-2")
    assert {"minilm-matryoshka", "minilm-matryoshka-2"} <= set(compared.model)
    label = payload["attempt"]["label"]
    assert label.startswith("attempt 2: ") and label in executed   # 05 names what changed
    assert all(f"{name}={value!r}" in label for name, value in SECOND_ATTEMPT.items())


def test_notebook_04_joint_trains_both_uses_and_05_weighs_one_model_against_two(more_passes):
    """The series' second pass of notebook 04 (``joint = True``, quick defaults), then notebook 05
    again: three tuned candidates, and advice on one model for both uses."""
    import numpy as np

    from nbhelpers.models import resolve_model

    run_dir, _, executed = more_passes
    table, payload = _results(run_dir, "04_matryoshka-joint")
    assert payload["attempt"]["number"] == 1   # the joint model's own first attempt
    training = payload["training"]
    assert training["metric_for_best_model"] == "eval_sequential_score"
    assert training["pairs_rows"] == training["train_rows"] > 0   # pairs_share 1: one pair per row
    assert (run_dir / "models" / "joint-minilm" / "model").is_dir()
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

    compared, advice = _results(run_dir, "05_comparison-2")
    assert {"use-m3-merged", "minilm-matryoshka", "minilm-joint"} <= set(compared.model)
    assert "short of best domain test Spearman" in executed   # the two-uses table
    assert ("One model for both uses: **" in advice["recommendation"]
            or "No model is within 0.01 of the best on both uses" in advice["recommendation"])
