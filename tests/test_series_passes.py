"""The series' notebooks again, on a copy of the quick series' run (the ``series_run``
fixture) with the joint pass's model in it (``finished_joint_pass``): a learner's second
attempt of notebook 04, then notebook 05 over every model. Under ``make test`` one unit of work,
handed out once nbval's run and the joint pass are complete (conftest.py)."""
import pytest

from test_notebooks import _results


#: What a learner changes before running notebook 04 a second time in the same run folder.
SECOND_ATTEMPT = {"matryoshka": False, "guard_alphas": None, "hard_negatives": False}


@pytest.fixture(scope="module")
def more_passes(series_run, finished_joint_pass, tmp_path_factory):
    """A copy of the series' run with the joint pass's results and model merged in (the same
    data, file by file), where notebook 04 runs again (a learner's second attempt,
    :data:`SECOND_ATTEMPT`), then notebook 05 once over everything."""
    import shutil

    import papermill as pm

    from nbhelpers.paths import project_root
    from nbhelpers.runs import DATA_DIR

    folder = tmp_path_factory.mktemp("more-passes")
    run_dir = folder / series_run.name
    shutil.copytree(series_run, run_dir, ignore=shutil.ignore_patterns("tensorboard", "checkpoints"))
    data = sorted(p.name for p in (run_dir / DATA_DIR).iterdir())
    assert data == sorted(p.name for p in (finished_joint_pass / DATA_DIR).iterdir())
    for name in data:   # notebook 01 is seeded: the joint pass trained on nbval's data
        ours, joint = run_dir / DATA_DIR / name, finished_joint_pass / DATA_DIR / name
        assert ours.read_bytes() == joint.read_bytes(), name
    for part in ("results/04_matryoshka-joint.json", "attempts/04_matryoshka-joint-1.json"):
        shutil.copy(finished_joint_pass / part, run_dir / part)
    shutil.copytree(finished_joint_pass / "models" / "joint-minilm", run_dir / "models" / "joint-minilm")
    first = (run_dir / "results" / "04_matryoshka.json").read_bytes()
    pm.execute_notebook(str(project_root() / "notebooks" / "04_matryoshka.ipynb"),
                        str(folder / "04_matryoshka-2.ipynb"), kernel_name="python3",
                        parameters={"run_dir": str(run_dir), **SECOND_ATTEMPT}, progress_bar=False)
    # speed is timed on 50 texts, not 400: what these tests read is the comparison and the advice
    pm.execute_notebook(str(project_root() / "notebooks" / "05_comparison.ipynb"),
                        str(folder / "05_comparison-2.ipynb"), kernel_name="python3",
                        parameters={"run_dir": str(run_dir), "speed_texts": 50}, progress_bar=False)
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
    assert all(f"{name}={value!r}" in label for name, value in SECOND_ATTEMPT.items())
    assert "attempt 2: matryoshka=False, guard_alphas=None" in executed   # 05 names what changed


def test_notebook_05_weighs_the_joint_model_against_one_model_per_use(more_passes):
    """Notebook 05 over the series with its joint pass: three tuned candidates, and advice on
    one model for both uses."""
    run_dir, _, executed = more_passes
    compared, advice = _results(run_dir, "05_comparison-2")
    assert {"use-m3-merged", "minilm-matryoshka", "minilm-joint"} <= set(compared.model)
    assert "short of best domain test Spearman" in executed   # the two-uses table
    assert ("One model for both uses: **" in advice["recommendation"]
            or "No model is within 0.01 of the best on both uses" in advice["recommendation"])
