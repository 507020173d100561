import json
import os

import pandas as pd
import pytest

from nbhelpers import runs
from nbhelpers.errors import InputError
from nbhelpers.prepare import PrepareConfig, load_pairs, load_prepared, prepare_datasets
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
    with pytest.raises(InputError, match="run notebook 01"):
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
