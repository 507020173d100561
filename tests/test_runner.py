import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from nbhelpers import run
from nbhelpers.errors import InputError


def test_parameters_only_reach_notebooks_that_declare_them(tmp_path):
    params = run.parameters_for({"run_dir", "seed", "pairs_per_level"}, tmp_path, "full",
                                {"seed": 3, "epochs": 2}, "01")
    assert params == {"run_dir": str(tmp_path), "seed": 3,
                      "pairs_per_level": run.PROFILES["full"]["01"]["pairs_per_level"]}
    # profile settings go to their notebook only; overrides win over them
    declared = {"epochs", "batch_size"}
    assert run.parameters_for(declared, tmp_path, "full", {}, "03") == run.PROFILES["full"]["03"]
    assert run.parameters_for(declared, tmp_path, "full", {}, "02") == {}
    assert run.parameters_for(declared, tmp_path, "full", {"epochs": 2}, "03")["epochs"] == 2
    with pytest.raises(InputError, match="profile='huge'"):
        run.parameters_for(set(), tmp_path, "huge", {})


def test_full_profile_matches_the_training_presets():
    from dataclasses import asdict

    from nbhelpers.pairs import LEVELS
    from nbhelpers.prepare import PrepareConfig
    from nbhelpers.siamese.config import SiameseConfig
    from nbhelpers.matryoshka.config import MatryoshkaConfig

    full = run.PROFILES["full"]
    assert full["01"]["pairs_per_level"] == PrepareConfig.full().pairs_per_level
    assert full["01"]["train_pairs_per_level"] == PrepareConfig.full().train_pairs_per_level
    targets = [full["01"]["scores"][level] for level in LEVELS]
    assert targets == sorted(targets, reverse=True) and full["01"]["scores"] == PrepareConfig.full().scores
    assert set(full["01"]) <= set(asdict(PrepareConfig()))
    siamese_quick, siamese_full = asdict(SiameseConfig()), asdict(SiameseConfig.full())
    assert full["03"] == {k: v for k, v in siamese_full.items() if v != siamese_quick[k]}
    quick_with_profile = MatryoshkaConfig(**full["04"]).to_dict()
    missing = {k for k, v in MatryoshkaConfig.full().to_dict().items() if quick_with_profile[k] != v}
    assert missing == run.NOT_NOTEBOOK_04_PARAMETERS == {"logging_steps"}


def test_every_profile_setting_is_a_parameter_of_its_notebook():
    import papermill as pm

    for path in run.notebooks():
        declared = set(pm.inspect_notebook(str(path)))
        for profile in run.PROFILES.values():
            assert set(profile.get(path.name[:2], {})) <= declared, path.name


def test_select_by_number(tmp_path):
    paths = [tmp_path / f"{n}_x.ipynb" for n in ("01", "02", "03")]
    assert run.select(paths, only=["02"]) == [paths[1]]
    assert run.select(paths, start="02") == paths[1:]
    with pytest.raises(InputError, match="notebook '07' not found"):
        run.select(paths, only=["07"])


def _notebook(path, *sources):
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cells = [new_code_cell(s) for s in sources]
    cells[0].metadata["tags"] = ["parameters"]
    nb.cells = cells
    nbformat.write(nb, path)
    return path


def test_series_passes_parameters_and_stops_at_the_first_failure(tmp_path):
    folder = tmp_path / "nbs"
    folder.mkdir()
    good = _notebook(folder / "01_ok.ipynb", "run_dir = None\nanswer = 1",
                     "import pathlib; pathlib.Path(run_dir, 'out.txt').write_text(str(answer))")
    bad = _notebook(folder / "02_bad.ipynb", "answer = 1", "raise ValueError('broken on purpose')")
    never = _notebook(folder / "03_never.ipynb", "x = 1")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with pytest.raises(run.NotebookFailed) as err:
        run.run_series([good, bad, never], run_dir, overrides={"answer": 42})
    assert (run_dir / "out.txt").read_text() == "42"
    assert err.value.path == run_dir / "02_bad.ipynb"
    assert "broken on purpose" in str(err.value) and str(run_dir / "02_bad.ipynb") in str(err.value)
    assert not (run_dir / "03_never.ipynb").exists()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    step = manifest["steps"]["run:01_ok"]
    assert step["parameters"] == {"run_dir": str(run_dir), "answer": 42}
    assert step["peak_memory_mb"] > 10 and step["seconds"] > 0
    assert (run_dir / "01_ok.html").is_file()
    assert "broken on purpose" in (run_dir / "02_bad.html").read_text()
    # continuing the run: a finished notebook is refused before anything executes, a failed one
    # may run again
    executed_01 = (run_dir / "01_ok.ipynb").read_bytes()
    with pytest.raises(InputError, match=r"finished notebook\(s\) \['01_ok.ipynb'\]"):
        run.run_series([good, bad], run_dir)
    assert (run_dir / "01_ok.ipynb").read_bytes() == executed_01
    with pytest.raises(run.NotebookFailed):
        run.run_series([bad], run_dir)


def test_a_pass_runs_its_notebook_again_under_a_name_of_its_own(tmp_path, monkeypatch):
    folder = tmp_path / "nbs"
    folder.mkdir()
    notebook = _notebook(folder / "01_ok.ipynb", "run_dir = None\nanswer = 1",
                         "import pathlib; pathlib.Path(run_dir, f'out-{answer}.txt').write_text('x')")
    monkeypatch.setattr(run, "PASSES", {"01": (("twice", {"answer": 2}),)})
    assert [(s.name, s.parameters) for s in run.steps([notebook])] == [
        ("01_ok", {}), ("01_ok-twice", {"answer": 2})]
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    executed = run.run_series([notebook], run_dir)
    assert executed == [run_dir / "01_ok.ipynb", run_dir / "01_ok-twice.ipynb"]
    assert (run_dir / "out-1.txt").is_file() and (run_dir / "out-2.txt").is_file()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["steps"]["run:01_ok-twice"]["parameters"] == {"run_dir": str(run_dir), "answer": 2}
    with pytest.raises(InputError, match=r"\['01_ok.ipynb', '01_ok-twice.ipynb'\]"):
        run.run_series([notebook], run_dir)
    with pytest.raises(InputError,
                       match="-p answer: the series sets it in a step of its own \\(01_ok-twice\\)"):
        run.check_parameter_names([notebook], {"answer": 3})


def test_the_series_trains_the_joint_model_after_the_retrieval_one():
    names = run.series_names()
    assert names[names.index("04_matryoshka.ipynb") + 1] == "04_matryoshka-joint.ipynb"
    assert dict((s.name, s.parameters) for s in run.steps(run.notebooks()))["04_matryoshka-joint"] == {
        "joint": True}


def test_missing_run_dir_points_to_run_id(tmp_path, capsys):
    missing = tmp_path / "full-esco"
    assert run.main(["--run-dir", str(missing)]) == 1
    assert "name a new run with --run-id full-esco" in capsys.readouterr().err
    assert not missing.exists()


def test_a_parameter_that_is_no_yaml_is_named(capsys):
    assert run.main(["--only", "01", "-p", "fractions", "[0.8, 0.1"]) == 1
    assert "-p fractions '[0.8, 0.1': not valid YAML" in capsys.readouterr().err


def _newcomer_run(tmp_path, hub_url, model):
    """``make run`` as a newcomer types it, on notebooks 01 and 02 at a small size (``model``, the
    suite's tiny model): no hub mode set, no STSB_DIR; the hub is ``hub_url``."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items()
           if k not in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "STSB_DIR")}
    env.update(HF_ENDPOINT=hub_url, HF_HOME=str(tmp_path / "hf-home"),
               NBHELPERS_REPORTS=str(tmp_path / "reports"))
    out = subprocess.run([sys.executable, "-m", "nbhelpers.run", "--only", "01", "--only", "02",
                          "--run-id", "newcomer", "-p", "models", json.dumps([str(model)]),
                          "-p", "sts_splits", "[dev]", "-p", "dims", "[128, 64]"],
                         capture_output=True, text=True, env=env, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    run_dir = tmp_path / "reports" / "newcomer"
    records = json.loads((run_dir / "results" / "02_baseline.json").read_text())["records"]
    return out.stdout, {r["dataset"] for r in records}, (run_dir / "index.html").read_text()


@pytest.mark.slow
def test_a_newcomer_without_the_hub_gets_the_offline_line_and_a_finished_run(tmp_path, tiny_bert):
    import socket

    with socket.socket() as sock:   # a port nobody listens on: the hub cannot be reached
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    stdout, datasets, page = _newcomer_run(tmp_path, f"http://127.0.0.1:{closed}", tiny_bert)
    assert stdout.splitlines()[0].startswith("Hub offline:")
    assert datasets == {"esco-pairs", "esco-retrieval"} and "No STS-B results" in page


@pytest.mark.slow
def test_a_newcomer_with_a_reachable_hub_gets_the_sts_b_steps(tmp_path, stsb_dir, tiny_bert):
    from hub_standin import HubStandIn, stsb_files
    from nbhelpers.stsb import HUB_REVISION

    with HubStandIn(stsb_files(stsb_dir, tmp_path / "files"), HUB_REVISION) as hub:
        stdout, datasets, page = _newcomer_run(tmp_path, hub.url, tiny_bert)
        downloaded = [path for method, path in hub.requests if method == "GET" and "stsb" in path]
    assert stdout.splitlines()[0].startswith("Hub online:")
    assert "stsb" in datasets and "hub online" in page
    assert any(path.endswith("validation-00000-of-00001.parquet") for path in downloaded)
