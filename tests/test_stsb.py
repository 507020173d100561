import pytest

from nbhelpers.errors import InputError
from nbhelpers.stsb import load_splits, load_stsb


@pytest.mark.parametrize("split, rows", [("train", 5749), ("dev", 1500), ("test", 1379)])
def test_original_files_load_with_quotes_intact(stsb_dir, split, rows):
    frame = load_stsb(split, stsb_dir)
    assert len(frame) == rows
    assert frame.score.between(0, 1).all()
    assert frame.sentence1.str.contains('"').any() or split == "test"


def test_first_dev_pair(stsb_dir):
    first = load_stsb("dev", stsb_dir).iloc[0]
    assert first.sentence1 == "A man with a hard hat is dancing."
    assert first.score == pytest.approx(1.0)


def _file(tmp_path, text):
    (tmp_path / "sts-dev.csv").write_text(text, encoding="utf-8")
    return tmp_path


def test_reads_quotes_literally(tmp_path):
    line = 'g\tf\t2012\t0001\t2.5\tHe said "hi.\tShe said "bye".\n'
    frame = load_stsb("dev", _file(tmp_path, line))
    assert frame.sentence1[0] == 'He said "hi.' and frame.score[0] == 0.5


@pytest.mark.parametrize("text, message", [
    ("g\tf\t2012\t1\tNaN\ta\tb\n", "line 1: score 'NaN' is not a number between 0 and 5"),
    ("g\tf\t2012\t1\t3.0\ta\tb\ng\tf\t2012\t2\t\ta\tb\n", "line 2: score ''"),
    ("g\tf\t2012\t1\t7\ta\tb\n", "score '7'"),
    ("g\tf\t2012\t1\t3.0\ta\n", "line 1 has 6 tab-separated fields"),
    ("", "file is empty"),
])
def test_bad_files(tmp_path, text, message):
    with pytest.raises(InputError) as err:
        load_stsb("dev", _file(tmp_path, text))
    assert message in str(err.value) and "sts-dev.csv" in str(err.value)


def test_bad_split_and_missing_source(tmp_path, monkeypatch):
    with pytest.raises(InputError, match="split='validation'"):
        load_stsb("validation", tmp_path)
    with pytest.raises(InputError, match="not found"):
        load_stsb("dev", tmp_path)
    monkeypatch.delenv("STSB_DIR", raising=False)
    with pytest.raises(InputError, match="STSB_DIR"):
        load_stsb("dev")


def test_load_splits_reads_each_split_or_says_why_there_are_none(tmp_path, monkeypatch, capsys):
    line = "g\tf\t2012\t0001\t2.5\ta\tb\n"
    for split in ("dev", "test"):
        (tmp_path / f"sts-{split}.csv").write_text(line, encoding="utf-8")
    frames = load_splits(("dev", "test"), tmp_path)
    assert list(frames) == ["dev", "test"] and frames["test"].score[0] == 0.5
    monkeypatch.delenv("STSB_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert load_splits(("dev",)) == {}
    assert "STS-B unavailable: offline and STSB_DIR is not set" in capsys.readouterr().out


HUB_LOAD = ("from nbhelpers.stsb import load_splits; "
            "print({k: (len(v), round(v.score.mean(), 6)) "
            "for k, v in load_splits(('train', 'dev')).items()})")


def test_online_without_stsb_dir_the_hub_dataset_is_downloaded_once_and_cached(stsb_dir, tmp_path):
    """The online path against a local stand-in for the hub's files: the first run downloads,
    a later offline run reads the cache."""
    import os
    import subprocess
    import sys

    from hub_standin import HubStandIn, stsb_files
    from nbhelpers.stsb import HUB_REVISION

    env = {k: v for k, v in os.environ.items() if k != "STSB_DIR"}
    env.update(HF_HOME=str(tmp_path / "hf-home"))
    expected = {s: (len(f), round(f.score.mean(), 6)) for s, f in
                load_splits(("train", "dev"), stsb_dir).items()}
    with HubStandIn(stsb_files(stsb_dir, tmp_path / "files"), HUB_REVISION) as hub:
        online = subprocess.run([sys.executable, "-c", HUB_LOAD], capture_output=True, text=True,
                                env={**env, "HF_ENDPOINT": hub.url, "HF_HUB_OFFLINE": "0"}, timeout=120)
        downloads = [path for method, path in hub.requests if method == "GET"]
    assert online.returncode == 0, online.stderr
    assert online.stdout.strip().endswith(str(expected))
    assert len([d for d in downloads if d.endswith(".parquet")]) == 2
    # the stand-in is gone: the cached copy serves an offline run
    cached = subprocess.run([sys.executable, "-c", HUB_LOAD.replace("load_splits(('train', 'dev'))",
                                                                    "load_splits(('train', 'dev'), 'hub')")],
                            capture_output=True, text=True, env={**env, "HF_HUB_OFFLINE": "1"}, timeout=120)
    assert cached.returncode == 0, cached.stderr
    assert cached.stdout.strip().endswith(str(expected))


def test_a_hub_without_the_dataset_is_a_clear_error(tmp_path, monkeypatch):
    import subprocess
    import sys

    from hub_standin import HubStandIn

    with HubStandIn({}, "0" * 40) as hub:
        out = subprocess.run([sys.executable, "-c", HUB_LOAD], capture_output=True, text=True, timeout=120,
                             env={"PATH": "/usr/bin:/bin", "HF_HOME": str(tmp_path), "HF_ENDPOINT": hub.url,
                                  "HF_HUB_OFFLINE": "0"})
    assert out.returncode == 1
    assert "STS-B train: could not download data/train-00000-of-00001.parquet" in out.stderr
    assert "set STSB_DIR" in out.stderr
