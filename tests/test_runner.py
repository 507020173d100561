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
    from nbhelpers.siamese import SiameseConfig
    from nbhelpers.train_matryoshka import MatryoshkaConfig

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


def test_index_links_notebooks_and_shows_headline_numbers(tmp_path):
    from nbhelpers.evaluation import retrieval_records, save_results, to_records
    from nbhelpers.report import write_index

    records = to_records("minilm", "esco-pairs", "test", {"spearman": 0.6123})
    records += retrieval_records("minilm", "test", {384: {"ndcg@10": 0.5833}, 64: {"ndcg@10": 0.4}})
    save_results(tmp_path, "02_baseline", records)
    (tmp_path / "02_baseline_evaluation.ipynb").write_text("{}")
    page = write_index(tmp_path, [tmp_path / "02_baseline_evaluation.ipynb"]).read_text()
    assert 'href="02_baseline_evaluation.html"' in page
    assert "0.6123" in page and "0.5833" in page and "0.4000" not in page


def test_missing_run_dir_points_to_run_id(tmp_path, capsys):
    missing = tmp_path / "full-esco"
    assert run.main(["--run-dir", str(missing)]) == 1
    assert "name a new run with --run-id full-esco" in capsys.readouterr().err
    assert not missing.exists()


def test_a_parameter_that_is_no_yaml_is_named(capsys):
    assert run.main(["--only", "01", "-p", "fractions", "[0.8, 0.1"]) == 1
    assert "-p fractions '[0.8, 0.1': expected a YAML value" in capsys.readouterr().err
