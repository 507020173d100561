"""The run report (``index.html``): what it shows for a finished run, what it marks for a run
that stopped part-way, and that it reads well in a real browser (Chromium)."""
import json
import shutil

import pytest

from browser import check_page
from nbhelpers import run
from nbhelpers.evaluation import retrieval_records, save_results, to_records
from nbhelpers.report import write_report
from nbhelpers.runs import record_step

SERIES = [p.name for p in run.notebooks()]


@pytest.fixture(scope="module")
def report(series_run, tmp_path_factory):
    """The quick series' report, written into a copy of its run folder."""
    folder = tmp_path_factory.mktemp("report") / series_run.name
    shutil.copytree(series_run, folder, ignore=shutil.ignore_patterns("models", "tensorboard",
                                                                      "checkpoints"))
    return write_report(folder, SERIES)


def test_a_finished_run_gets_figures_comparison_recommendation_and_timings(report):
    page = report.read_text()
    for image in ("report/ndcg-by-dim.png", "report/sts-vs-domain.png"):
        assert f'src="{image}"' in page and (report.parent / image).stat().st_size > 10_000
    assert "For retrieval in this domain deploy" in page          # notebook 05's recommendation
    serving = page.split("<h2>Serving</h2>")[1].split("<h2>")[0]   # notebook 06's variants
    assert "Serve <strong>" in serving and "<code>openvino-int8</code>" in serving
    assert "<th>model</th><th>STS-B dev Pearson (angular)</th>" in page  # no blank header cells
    assert "<th></th>" not in page.split("<h2>Data</h2>")[0]
    # each tuned model beside its base: value, change and relative change
    row = page.split("<code>minilm-matryoshka</code>")[1].split("</tr>")[0]
    assert "base 0." in row and " %</small>" in row
    assert page.count('<span class="ok">finished</span>') == len(SERIES)
    assert "<summary>parameters</summary>" in page and "<code>pairs_per_level</code>" in page
    assert "graded pairs" in page and "retrieval pairs" in page


@pytest.mark.slow
def test_a_run_that_stopped_part_way_still_renders_and_marks_what_is_missing(tmp_path):
    run_dir = tmp_path / "partial"
    records = to_records("minilm", "esco-pairs", "test", {"spearman": 0.61})
    records += retrieval_records("minilm", "test", {384: {"ndcg@10": 0.58}, 64: {"ndcg@10": 0.40}})
    save_results(run_dir, "02_baseline", records, models={"minilm": {"dim": 384}})
    record_step(run_dir, "run:01_data_preparation", seconds=3.0, peak_memory_mb=210.0)
    record_step(run_dir, "run:02_baseline_evaluation", seconds=60.0, peak_memory_mb=900.0)
    (run_dir / "03_siamese_use.ipynb").write_text("{}")   # executed copy of a failed notebook
    page = write_report(run_dir, SERIES).read_text()
    assert "failed: see the executed notebook" in page and page.count(">not run<") == 3  # 04-06
    assert 'href="03_siamese_use.ipynb"' in page and 'href="04_matryoshka.ipynb"' not in page
    assert "No recommendation: notebook 05" in page
    assert "No STS-B results" in page and 'src="report/ndcg-by-dim.png"' in page
    assert "No datasets recorded" in page
    assert check_page(run_dir / "index.html") == []


def test_a_damaged_manifest_is_named(tmp_path):
    (tmp_path / "manifest.json").write_text("[]")
    with pytest.raises(ValueError, match="manifest.json: the run.s manifest is damaged: expected a JSON"):
        write_report(tmp_path, SERIES)


def test_the_report_reads_well_in_chromium(report, tmp_path):
    screenshot = tmp_path / "report.png"
    assert check_page(report, screenshot) == []
    assert screenshot.stat().st_size > 20_000


def test_the_browser_check_finds_a_missing_image_and_a_broken_link(report, tmp_path):
    page = tmp_path / "index.html"
    text = report.read_text().replace('src="report/ndcg-by-dim.png"', 'src="report/gone.png"')
    page.write_text(text.replace('href="manifest.json"', 'href="nowhere.json"'))
    problems = check_page(page)
    assert any("image report/gone.png did not load" in p for p in problems)
    assert any("nowhere.json points to a missing file" in p for p in problems)


def test_the_runner_writes_the_report_also_when_a_notebook_fails(tmp_path, monkeypatch, capsys):
    from test_runner import _notebook

    folder = tmp_path / "nbs"
    folder.mkdir()
    _notebook(folder / "01_ok.ipynb", "run_dir = None")
    _notebook(folder / "02_bad.ipynb", "x = 1", "raise ValueError('broken on purpose')")
    monkeypatch.setattr(run, "notebooks", lambda: sorted(folder.glob("*.ipynb")))
    monkeypatch.setenv("NBHELPERS_REPORTS", str(tmp_path / "reports"))
    assert run.main(["--run-id", "stops"]) == 1
    err = capsys.readouterr().err
    assert "02_bad.ipynb failed" in err and "Report of what finished:" in err
    page = (tmp_path / "reports" / "stops" / "index.html").read_text()
    assert "failed: see the executed notebook" in page and '<span class="ok">finished</span>' in page
    invocation = json.loads((tmp_path / "reports" / "stops" / "manifest.json").read_text())["invocations"][0]
    assert invocation["command"] == "python -m nbhelpers.run --run-id stops"
    assert invocation["machine"]["cores"] >= 1 and invocation["hub"] in ("online", "offline")
