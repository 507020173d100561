"""Execute the series headless (as `make run` does) on the embedded sample and check what
each notebook wrote. nbval separately executes every notebook cell by cell."""
import json

import pytest

from nbhelpers import run
from nbhelpers.prepare import load_prepared


@pytest.fixture(scope="module")
def series_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("series")
    paths = run.select(run.notebooks(), only=["01"])
    run.run_series(paths, run_dir, overrides={"pairs_per_level": 60})
    return run_dir


def test_notebook_01_writes_datasets_and_manifest(series_run):
    prepared = load_prepared(series_run)
    assert set(prepared.pairs["train"].level) == {"same_occupation", "same_unit_group",
                                                   "same_minor_group", "same_sub_major",
                                                   "unrelated"}
    assert prepared.pairs["train"].level.value_counts().max() == 60
    manifest = json.loads((series_run / "manifest.json").read_text())
    assert manifest["steps"]["01_data_preparation"]["parameters"]["pairs_per_level"] == 60
    assert (series_run / "01_data_preparation.ipynb").is_file()
    test_groups = set(prepared.occupations.query("split == 'test'").isco_group)
    assert not test_groups & set(prepared.occupations.query("split == 'train'").isco_group)


def test_notebook_01_turns_the_sample_documents_into_qa_pairs(series_run):
    qa = load_prepared(series_run).qa
    assert qa is not None and len(qa) >= 5
    assert set(qa.source) == {"careers_in_data.md", "nursing_and_care_roles.md"}
    assert all(q not in p for q, p in zip(qa["query"], qa.passage))
