"""The docs' tables come from the figure files in docs/data, and stay in step with them."""
import json
import shutil

import pytest

from nbhelpers import docs
from nbhelpers.docs.__main__ import main as docs_main
from nbhelpers.errors import InputError
from nbhelpers.figures import read_figures, write_figures
from nbhelpers.paths import project_root


def test_every_committed_table_matches_its_figure_file():
    stale = docs.render(check=True)
    assert stale == [], f"run `make docs`: {[str(p) for p in stale]}"


def test_every_figure_file_has_a_known_schema_and_provenance():
    files = sorted(docs.data_dir().glob("*.json"))
    assert files
    for path in files:
        provenance = read_figures(path)["provenance"]
        assert provenance["command"]
        if "how" not in provenance:   # measured (not transcribed): commit, machine and date
            assert provenance["commit"] and provenance["machine"]["cpu_model"] and provenance["date"]


def test_every_test_the_reliability_page_names_exists():
    import re

    page = (project_root() / "docs" / "reliability.md").read_text(encoding="utf-8")
    named = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", page)
    assert len(named) >= 25
    for path, name in named:
        source = (project_root() / path).read_text(encoding="utf-8")
        assert re.search(rf"^def {name}\(", source, re.M), f"{path}::{name} named in docs/reliability.md"


def _project(tmp_path, page_text, figures=None):
    """A minimal project: README.md with ``page_text`` and the given figure files."""
    (tmp_path / "docs" / "data").mkdir(parents=True)
    (tmp_path / "README.md").write_text(page_text)
    for name, payload in (figures or {}).items():
        (tmp_path / "docs" / "data" / f"{name}.json").write_text(json.dumps(payload))
    return tmp_path


def test_a_table_edited_by_hand_is_found_and_regenerated(tmp_path):
    root = _project(tmp_path, "x\n<!-- table: code/graded-targets -->\n<!-- /table -->\n")
    assert docs.render(root) == [root / "README.md"]
    fresh = (root / "README.md").read_text()
    assert "| `same_unit_group` | same 4-digit ISCO group | 0.7 | 0.7468 | 0.7 |" in fresh
    (root / "README.md").write_text(fresh.replace("0.7468", "0.75"))
    assert docs.render(root, check=True) == [root / "README.md"]
    assert "0.75 |" in (root / "README.md").read_text()   # --check changes nothing
    docs.render(root)
    assert (root / "README.md").read_text() == fresh


def test_a_figure_file_of_unknown_schema_is_refused_naming_it(tmp_path):
    root = _project(tmp_path, "<!-- table: odd/x -->\n<!-- /table -->\n",
                    {"odd": {"schema": "mystery/3", "provenance": {"command": "c"}}})
    with pytest.raises(InputError, match=r"odd\.json: unknown schema 'mystery/3'"):
        docs.render(root)


@pytest.mark.parametrize("page, message", [
    ("<!-- table: missing/x -->\n<!-- /table -->\n", r"README.md:1: figure file .*missing\.json not found"),
    ("a\n<!-- table: code/nope -->\n<!-- /table -->\n", r"README.md:2: table code/nope does not exist"),
    ("<!-- table: code/graded-targets -->\nno end\n", "without a closing"),
])
def test_bad_markers_name_the_page_and_line(tmp_path, page, message):
    with pytest.raises(InputError, match=message):
        docs.render(_project(tmp_path, page))


def test_figure_files_are_not_overwritten_unless_asked(tmp_path):
    path = write_figures(tmp_path / "f.json", "prepare-counts/1", {"label": "a"}, "cmd")
    with pytest.raises(InputError, match="already exists"):
        write_figures(path, "prepare-counts/1", {"label": "b"}, "cmd")
    write_figures(path, "prepare-counts/1", {"label": "b"}, "cmd", replace=True)
    payload = read_figures(path)
    assert payload["label"] == "b" and payload["provenance"]["machine"]["cores"] >= 1
    with pytest.raises(InputError, match="schema 'nope/1'"):
        write_figures(tmp_path / "g.json", "nope/1", {}, "cmd")


def test_a_run_is_recorded_with_its_provenance_and_rendered(series_run, tmp_path, monkeypatch):
    from nbhelpers.docs import run_tables
    from nbhelpers.runs import record_invocation

    run_dir = tmp_path / "run"
    shutil.copytree(series_run, run_dir,
                    ignore=shutil.ignore_patterns("models", "tensorboard", "checkpoints"))
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest.pop("invocations", None)        # as nbval leaves it: no runner command
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="records no runner command"):
        run_tables.summarise_run(run_dir)
    record_invocation(run_dir, command="python -m nbhelpers.run", commit="abc1234", date="2026-12-02",
                      machine={"cpu_model": "Test CPU", "cores": 2}, profile="quick", hub="offline")
    monkeypatch.setattr("nbhelpers.docs.__main__.data_dir", lambda root=None: tmp_path / "data")
    monkeypatch.setattr("nbhelpers.docs.__main__.project_root", lambda: tmp_path)
    assert docs_main(["record", str(run_dir), "quick"]) == 0
    assert docs_main(["record", str(run_dir), "quick"]) == 1        # never replaced silently
    payload = read_figures(tmp_path / "data" / "quick.json")
    assert payload["provenance"]["commit"] == "abc1234" and payload["recorded_by"]["commit"]
    assert payload["models"]["use-m3-merged"]["base"] == "use-m3"
    assert payload["models"]["minilm-matryoshka"]["base"] == "minilm"
    tables = docs.renderers()["run-summary/1"]([payload])
    assert {"summary", "timings", "baseline", "baseline-retrieval", "siamese", "siamese-auc",
            "matryoshka", "storage", "recommendation"} <= set(tables)
    assert "on Test CPU, 2 cores, 2026-12-02" in tables["summary"]
    tuned = next(line for line in tables["summary"].splitlines() if line.startswith("| `minilm-matryoshka`"))
    assert " %)" in tuned   # the change against the base model
    for name in ("quick-ndcg-by-dim.png", "quick-sts-vs-domain.png"):
        assert (tmp_path / "docs" / "images" / name).stat().st_size > 10_000


def _joint_run(joint: bool, pairs: float, ndcg: float, alpha: float) -> dict:
    """One run of benchmarks/joint.py as its figure file holds it."""
    names = ("pair Spearman", "nDCG@10", "nDCG@10 at 64", "STS-B test Spearman")
    at_64, pair_key = "eval_dim_64_cosine_ndcg@10", "eval_pairs_spearman_cosine"
    sweep = ([{"alpha": a, at_64: 0.6 + 0.1 * a, pair_key: 0.6 + 0.05 * a} for a in (0.0, 0.5, 1.0)]
             if joint else [{"alpha": 1.0, at_64: 0.7}])
    return {"label": "joint-v1" if joint else "retrieval", "base": "minilm", "seconds": 600.0,
            "peak_memory_mb": 5_000.0, "config": {"joint": joint, "pairs_loss": "cosent", "pairs_share": 1.0},
            "tuned": dict(zip(names, (pairs, ndcg, ndcg - 0.05, 0.81))),
            "base_figures": dict(zip(names, (0.647, 0.765, 0.70, 0.8203))),
            "guard": {"alpha": alpha, "reason": "r", "sweep": sweep}}


def test_the_joint_trade_off_table_and_figure_come_from_every_file_named(tmp_path):
    provenance = {"command": "benchmarks/joint.py", "commit": "abc1234", "date": "2026-12-05",
                  "machine": {"cpu_model": "Test CPU", "cores": 2}}
    files = {"joint": {"schema": "benchmark/joint/1", "provenance": provenance,
                       "runs": [_joint_run(False, 0.70, 0.84, 1.0), _joint_run(True, 0.74, 0.83, 0.5)]},
             "joint-angle": {"schema": "benchmark/joint/1", "provenance": {**provenance, "commit": "def5678"},
                             "runs": [_joint_run(True, 0.75, 0.82, 1.0)]}}
    root = _project(tmp_path, "", files)
    (root / "docs" / "joint.md").write_text(
        "<!-- table: joint+joint-angle/tradeoff -->\n<!-- /table -->\n"
        "<!-- table: joint+joint-angle/figure-tradeoff -->\n<!-- /table -->\n"
        "<!-- table: joint+joint-angle/blends -->\n<!-- /table -->\n")
    image = root / "docs" / "images" / "joint_joint-angle-tradeoff.png"
    assert docs.render(root, check=True) == [root / "docs" / "joint.md"] and not image.exists()
    docs.render(root)
    page = (root / "docs" / "joint.md").read_text()
    assert "| retrieval only (`joint = False`) | 0.7000 (+0.053) | 0.8400 (+0.075) |" in page
    assert "| joint: `pairs_loss = cosent`, `pairs_share = 1` | 0.7400 (+0.093) |" in page
    assert page.count("| joint: ") == 2 + 6 and "| 0.5 | 10 min | 4.9 GB |" in page
    assert "| 0.8100 (-0.010) | 0.7600 | 0.5 | 10 min |" in page   # the selection rule's mean on test
    assert page.count("| retrieval only") == 1   # its guard weighed retrieval alone: no blend rows
    kept = "| joint: `pairs_loss = cosent`, `pairs_share = 1` | 0.5 (kept) | 0.6250 | 0.6500 | 0.6375 |"
    assert kept in page
    assert "at commit abc1234" in page and "at commit def5678" in page
    assert "](images/joint_joint-angle-tradeoff.png)" in page and image.stat().st_size > 10_000
    assert docs.render(root, check=True) == []


def test_the_readme_and_every_docs_page_link_to_pages_that_exist():
    import re

    root = project_root()
    for page in docs.pages(root):
        for target in re.findall(r"\]\(([^)#\s]+)", page.read_text()):
            if not target.startswith(("http://", "https://", "mailto:")):
                assert (page.parent / target).exists(), f"{page.name}: broken link {target}"
