import json
import os

import pandas as pd
import pytest

from nbhelpers import runs
from nbhelpers.errors import InputError
from nbhelpers.esco import load_esco
from nbhelpers.prepare import (RETRIEVAL_COLUMNS, PrepareConfig, build_datasets, load_pairs, load_prepared,
                               open_run, prepare_datasets)
from nbhelpers.splits import SPLITS


def test_prepare_writes_datasets_and_manifest(tmp_path):
    run_dir = runs.new_run_dir("r1", root=tmp_path)
    prepared = prepare_datasets(run_dir, PrepareConfig(pairs_per_level=30))
    again = load_prepared(run_dir)
    for name in SPLITS:
        pd.testing.assert_frame_equal(again.pairs[name], prepared.pairs[name], check_dtype=False)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    step = manifest["steps"]["01_data_preparation"]
    assert step["parameters"]["pairs_per_level"] == 30
    assert len(step["inputs"]) == 2 and all(len(h) == 64 for h in step["inputs"].values())
    assert step["outputs"]["pairs_train.csv"] == runs.sha256(run_dir / "data" / "pairs_train.csv")
    assert manifest["packages"]["pandas"] == pd.__version__
    assert step["counts"]["pairs"]["train"]["same_occupation"] == 30


def test_full_export_counts(esco_dir, tmp_path):
    prepared = prepare_datasets(tmp_path, PrepareConfig(esco_dir=str(esco_dir)))
    counts = prepared.counts()
    assert sum(counts["occupations"].values()) > 2900
    assert all(n == 200 for n in counts["pairs"]["train"].values())


def test_a_run_never_overwrites_another(tmp_path):
    runs.new_run_dir("same", root=tmp_path)
    with pytest.raises(InputError, match="already exists"):
        runs.new_run_dir("same", root=tmp_path)
    prepare_datasets(tmp_path / "same", PrepareConfig(pairs_per_level=5))
    with pytest.raises(InputError, match="data already exists"):
        prepare_datasets(tmp_path / "same", PrepareConfig(pairs_per_level=5))


def test_open_run_prepares_data_only_when_no_run_folder_was_given(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NBHELPERS_REPORTS", str(tmp_path / "reports"))
    run_dir, prepared = open_run(None)                      # JupyterLab, nothing prepared yet
    assert capsys.readouterr().out.startswith("No run folder with datasets under")
    assert len(prepared.pairs["test"]) > 0 and run_dir.parent == tmp_path / "reports"
    assert open_run(None)[0] == run_dir                     # the newest run with datasets
    empty = tmp_path / "reports" / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match=r"empty/data not found: .* Run notebook 01 .* there first"):
        open_run(empty)
    assert not (empty / "data").exists()
    with pytest.raises(InputError, match="is not a folder"):
        open_run(tmp_path / "nowhere")


def test_attempts_get_their_own_numbers_and_say_what_changed(tmp_path):
    from nbhelpers.attempts import start_attempt

    first = start_attempt(tmp_path, "04_matryoshka", {"epochs": 1.0, "lora": False})
    second = start_attempt(tmp_path, "04_matryoshka", {"epochs": 2.0, "lora": False})
    other = start_attempt(tmp_path, "03_siamese_use", {"epochs": 3})
    assert (first.name, first.suffix, first.label) == ("04_matryoshka", "", "attempt 1")
    assert (second.name, second.suffix) == ("04_matryoshka-2", "-2")
    assert second.changed == {"epochs": 2.0} and second.label == "attempt 2: epochs=2.0"
    assert other.number == 1
    (tmp_path / "attempts" / "04_matryoshka-3.json").write_text("{}")   # claimed, then interrupted
    assert start_attempt(tmp_path, "04_matryoshka", {"epochs": 1.0}).number == 4


def test_failure_leaves_nothing_half_written(tmp_path, monkeypatch):
    def broken(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken)
    with pytest.raises(OSError):
        prepare_datasets(tmp_path, PrepareConfig(pairs_per_level=5))
    assert os.listdir(tmp_path) == []


def test_atomic_text_write_cleans_up(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError("boom")))
    with pytest.raises(OSError):
        runs.write_text_atomic(tmp_path / "x.json", "{}")
    assert os.listdir(tmp_path) == []


def test_too_few_occupations_names_the_parameter(tmp_path):
    with pytest.raises(InputError, match="fractions"):
        prepare_datasets(tmp_path, PrepareConfig(fractions=(0.99, 0.005, 0.005),
                                                 hold_out_groups=False))


def test_missing_datasets_point_to_notebook_01(tmp_path):
    with pytest.raises(InputError, match="Run notebook 01"):
        load_prepared(tmp_path)


@pytest.mark.parametrize("score, message", [("nan", "row 2 (line 3): score 'nan'"),
                                            ("1.5", "score '1.5' is not a number in [0, 1]"),
                                            ("", "score ''")])
def test_pair_scores_are_checked(tmp_path, score, message):
    path = tmp_path / "pairs.csv"
    path.write_text(f"text1,text2,score\na,b,0.5\nc,d,{score}\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_pairs(path)
    assert message in str(err.value) and str(path) in str(err.value)


def test_pairs_missing_column(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text("text1,score\na,0.5\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"missing column\(s\) \['text2'\]"):
        load_pairs(path)


def test_latest_run_dir(tmp_path):
    assert runs.latest_run_dir(tmp_path) is None
    first = runs.new_run_dir("a", root=tmp_path)
    (first / "data").mkdir()
    assert runs.latest_run_dir(tmp_path) == first


def test_documents_that_give_no_qa_pairs_leave_a_readable_empty_table(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "short.txt").write_text("One sentence only.\n")
    prepare_datasets(tmp_path / "run", PrepareConfig(pairs_per_level=5, docs_dir=str(docs)))
    qa = load_prepared(tmp_path / "run").qa
    assert qa is not None and qa.empty and list(qa.columns[:4]) == list(RETRIEVAL_COLUMNS)


def test_a_csv_that_does_not_parse_is_named(tmp_path):
    path = tmp_path / "pairs_test.csv"
    path.write_text('text1,text2,score\n"a,b,0.5\n')
    with pytest.raises(InputError, match=r"pairs_test.csv: not a readable CSV"):
        load_pairs(path)


def test_manifest_keeps_the_first_steps_versions_and_notes_changed_ones(tmp_path, monkeypatch):
    runs.record_step(tmp_path, "01_x", seconds=1.0)
    first = json.loads((tmp_path / runs.MANIFEST).read_text())
    runs.record_step(tmp_path, "02_y", seconds=2.0)
    manifest = json.loads((tmp_path / runs.MANIFEST).read_text())
    assert manifest["packages"] == first["packages"] and "packages" not in manifest["steps"]["02_y"]
    monkeypatch.setattr(runs, "package_versions", lambda: {**first["packages"], "pandas": "9.9"})
    runs.record_step(tmp_path, "03_z", seconds=3.0)
    manifest = json.loads((tmp_path / runs.MANIFEST).read_text())
    assert manifest["packages"]["pandas"] == pd.__version__
    assert manifest["steps"]["03_z"]["packages"]["pandas"] == "9.9"
    assert set(manifest["steps"]) == {"01_x", "02_y", "03_z"}


def test_occupations_without_a_description_give_no_retrieval_pairs_and_are_counted(tmp_path, sample):
    import shutil

    from nbhelpers.esco import sample_dir

    folder = tmp_path / "esco"
    shutil.copytree(sample_dir(), folder)
    occupations = pd.read_csv(folder / "occupations.csv", dtype=str, keep_default_na=False)
    blank = occupations.conceptUri.iloc[::10]          # every tenth occupation loses its description
    occupations.loc[occupations.conceptUri.isin(blank), "description"] = "  "
    occupations.to_csv(folder / "occupations.csv", index=False)
    prepared, _ = build_datasets(load_esco(folder), PrepareConfig(esco_dir=str(folder)))
    passages = {p for frame in prepared.retrieval.values() for p in frame.passage}
    assert "" not in {p.strip() for p in passages}
    assert not set(blank) & {i for frame in prepared.retrieval.values() for i in frame.passage_id}
    counts = prepared.counts()["occupations_without_description"]
    assert sum(counts.values()) == len(set(blank) & set(prepared.occupations.uri))

    occupations.loc[occupations.index[: len(occupations) * 2 // 3], "description"] = ""
    occupations.to_csv(folder / "occupations.csv", index=False)
    with pytest.raises(InputError, match=r"occupations.csv: column 'description' is blank for"):
        build_datasets(load_esco(folder), PrepareConfig(esco_dir=str(folder)))
