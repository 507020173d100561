"""Bad input gets a clear error naming the parameter, file or path, before any work starts."""
import json
import subprocess
import sys

import pytest

from nbhelpers import run
from nbhelpers.errors import InputError
from nbhelpers.runs import finished_steps, record_step
from nbhelpers.values import numbers, read_yaml


@pytest.mark.parametrize("text, value", [("1e-5", 1e-5), ("3E2", 300.0), (".5", 0.5), ("-2", -2),
                                         ("[1e-5, 2]", [1e-5, 2]), ("{lr: 1e-4}", {"lr": 1e-4}),
                                         ("text", "text"), ("1e", "1e"), ("null", None)])
def test_numbers_written_as_python_writes_them_arrive_as_numbers(text, value):
    assert read_yaml(text, "-p x") == value
    assert numbers("2.5e-3") == 0.0025 and isinstance(numbers("7"), int)


def test_a_config_file_reads_1e_5_as_a_number(tmp_path):
    from nbhelpers.matryoshka.config import MatryoshkaConfig

    path = tmp_path / "cfg.yaml"
    path.write_text("learning_rate: 1e-5\nguard_alphas: [5e-1, 1]\n")
    config = MatryoshkaConfig.from_file(path).validate()
    assert config.learning_rate == 1e-5 and config.guard_alphas == [0.5, 1]


def test_a_parameter_no_notebook_declares_is_refused_before_anything_runs(tmp_path, capsys):
    reports = tmp_path / "reports"
    code = run.main(["--only", "01", "--run-id", "x", "-p", "learning_rate", "1e-5"])
    err = capsys.readouterr().err
    assert code == 1 and "-p learning_rate: no notebook of this run (01) declares it" in err
    assert "pairs_per_level" in err and not reports.exists()


def test_a_run_dir_that_is_a_file_is_named_as_such(tmp_path, capsys):
    (tmp_path / "file.txt").write_text("x")
    assert run.main(["--run-dir", str(tmp_path / "file.txt"), "--only", "02"]) == 1
    assert "is a file; expected a run folder" in capsys.readouterr().err


@pytest.mark.parametrize("content", ["{", "[]", "{}", "{\"steps\": 3}"])
def test_a_damaged_manifest_names_the_file_and_the_way_out(tmp_path, content):
    (tmp_path / "manifest.json").write_text(content)
    for call in (lambda: finished_steps(tmp_path), lambda: record_step(tmp_path, "x")):
        with pytest.raises(InputError, match=r"manifest.json: the run's manifest is damaged: .*start a "
                                             r"new run \(--run-id\), or move the manifest aside"):
            call()
    assert (tmp_path / "manifest.json").read_text() == content   # left as it was


@pytest.mark.parametrize("spec, message", [
    ("", "model spec '' is empty"), ("  ", "is empty"),
    ("./models/missing", "model folder models/missing does not exist"),
    ("/nowhere/at/all", "model folder /nowhere/at/all does not exist"),
])
def test_model_specs_say_what_is_wrong(spec, message):
    from nbhelpers.models import resolve_model

    with pytest.raises(InputError, match=message):
        resolve_model(spec)


def test_encoding_refuses_a_bad_batch_size_and_a_lone_surrogate():
    from nbhelpers.models import resolve_model

    encoder = resolve_model("minilm")
    with pytest.raises(InputError, match="batch_size=-1: expected a whole number >= 1"):
        encoder.encode(["nurse"], batch_size=-1)
    with pytest.raises(InputError, match=r"texts\[1\]: character 3 .* lone surrogate"):
        encoder.encode(["nurse", "abc\ud800def"])


@pytest.mark.slow
def test_the_runner_reads_minus_p_numbers_as_numbers_and_names_a_wrong_type(tmp_path):
    """``-p fractions [8e-1, 1e-1, 1e-1]`` reaches notebook 01 as numbers; ``-p pairs_per_level
    2e1`` is a float, and notebook 01 names the parameter that wants a whole number."""
    import os

    def runner(*parameters, run_id):
        code = ("import sys; from nbhelpers import run; sys.exit(run.main(['--only', '01', '--run-id', "
                f"{run_id!r}, *{list(parameters)!r}]))")
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                              env={**os.environ, "NBHELPERS_REPORTS": str(tmp_path)})

    good = runner("-p", "fractions", "[8e-1, 1e-1, 1e-1]", "-p", "seed", "7", run_id="good")
    assert good.returncode == 0, good.stderr[-2000:]
    parameters = json.loads((tmp_path / "good" / "manifest.json").read_text())["steps"][
        "01_data_preparation"]["parameters"]
    assert parameters["fractions"] == [0.8, 0.1, 0.1] and parameters["seed"] == 7
    bad = runner("-p", "pairs_per_level", "2e1", run_id="bad")
    assert bad.returncode == 1
    assert "pairs_per_level=20.0: expected a whole number >= 1" in bad.stderr


@pytest.mark.parametrize("run_id", ["../escape", "a/b", "/tmp/abs", "..", ".hidden", "x" * 101])
def test_a_run_id_names_one_folder_under_the_reports_folder(tmp_path, monkeypatch, capsys, run_id):
    monkeypatch.setenv("NBHELPERS_REPORTS", str(tmp_path / "reports"))
    assert run.main(["--only", "01", "--run-id", run_id]) == 1
    assert f"run id {run_id!r}: expected one folder name under the reports folder" in capsys.readouterr().err
    assert not (tmp_path / "escape").exists() and not (tmp_path / "reports").exists()


def test_a_reports_folder_that_cannot_be_created_is_one_line(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "reports"
    blocker.write_text("a file where the reports folder should be")
    monkeypatch.setenv("NBHELPERS_REPORTS", str(blocker / "runs"))
    assert run.main(["--only", "01", "--run-id", "x"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"error: {blocker / 'runs'}: Not a directory (a file stands where a folder" in err


class _FullDisk:
    """A file whose writes fail as on a full disk."""

    def __init__(self, fd, mode):
        import os

        os.close(fd)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def write(self, data):
        import errno

        raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_names_the_file_and_leaves_nothing_half_written(tmp_path, monkeypatch, capsys):
    from nbhelpers import runs

    monkeypatch.setattr(runs.os, "fdopen", _FullDisk)
    with pytest.raises(OSError) as raised:
        runs.write_json(tmp_path / "results.json", {"ndcg": 0.5})
    assert raised.value.filename == str(tmp_path / "results.json")
    assert list(tmp_path.iterdir()) == []   # no temporary file, no partial results file

    monkeypatch.setenv("NBHELPERS_REPORTS", str(tmp_path / "reports"))
    assert run.main(["--only", "01", "--run-id", "x"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"error: {tmp_path / 'reports' / 'x' / 'manifest.json'}: No space left on device (the disk " \
           "is full" in err
    assert list((tmp_path / "reports" / "x").iterdir()) == []
