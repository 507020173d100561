import os
import socket
import subprocess
import sys
import time

import pytest

from hub_standin import HubStandIn

IMPORT = ("import os, time; start = time.perf_counter(); import nbhelpers; "
          "print(os.environ['TF_USE_LEGACY_KERAS'], os.environ['HF_HUB_OFFLINE'], "
          "round(time.perf_counter() - start, 1))")


def _import_nbhelpers(**env):
    """Import the package in a fresh interpreter with the hub mode unset; stdout lines."""
    clean = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TF_USE_LEGACY_KERAS")}
    out = subprocess.run([sys.executable, "-c", IMPORT], capture_output=True, text=True, check=True,
                         env={**clean, **env}, timeout=60)
    return out.stdout.splitlines()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_without_a_hub_the_series_goes_offline_at_once_and_says_so():
    line, values = _import_nbhelpers(HF_ENDPOINT=f"http://127.0.0.1:{_closed_port()}")
    assert line.startswith("Hub offline:") and "not reachable" in line and "embedded default" in line
    legacy, offline, seconds = values.split()
    assert (legacy, offline) == ("1", "1") and float(seconds) < 2


def test_a_hub_that_never_answers_costs_the_probe_timeout_then_offline():
    from nbhelpers import env

    with socket.socket() as silent:   # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        start = time.perf_counter()
        reachable, reason = env.probe_hub(f"http://127.0.0.1:{silent.getsockname()[1]}/x", timeout=1.0)
        assert time.perf_counter() - start < 4   # bounded: the timeout, plus a loaded machine's slack
    assert not reachable and "did not answer within 1 s" in reason


def test_a_hub_that_answers_turns_the_series_online():
    with HubStandIn({}, "0" * 40) as hub:
        line, values = _import_nbhelpers(HF_ENDPOINT=hub.url)
    assert line.startswith("Hub online:") and "127.0.0.1" in line
    assert values.split()[:2] == ["1", "0"]


@pytest.mark.parametrize("setting, offline", [("1", "1"), ("0", "0"), ("true", "1")])
def test_an_explicit_setting_wins_and_nothing_is_probed(setting, offline):
    lines = _import_nbhelpers(HF_HUB_OFFLINE=setting, HF_ENDPOINT=f"http://127.0.0.1:{_closed_port()}")
    assert len(lines) == 1 and lines[0].split()[:2] == ["1", offline]


def test_configure_online_and_offline(monkeypatch):
    from nbhelpers import env

    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(name, os.environ.get(name, "1"))  # restored after the test
    env.configure(offline=False)
    assert not env.is_offline() and os.environ["TRANSFORMERS_OFFLINE"] == "0"
    env.configure(offline=True)
    assert env.is_offline() and os.environ["HF_DATASETS_OFFLINE"] == "1"


def test_tensorflow_hub_import_no_longer_warns_about_pkg_resources():
    code = "import warnings; warnings.simplefilter('default'); import nbhelpers; import tensorflow_hub"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pkg_resources" not in out.stderr
    bare = subprocess.run([sys.executable, "-c", code.replace("import nbhelpers; ", "")],
                          capture_output=True, text=True, check=True)
    assert "pkg_resources is deprecated" in bare.stderr   # the warning the filter is for


def test_tensorflows_start_up_lines_stay_out_of_the_output():
    """Importing TensorFlow after nbhelpers (also through a library that first only looks for it)
    writes none of the C++ runtime's start-up lines, and a model still loads and encodes."""
    code = ("import importlib.util, nbhelpers; importlib.util.find_spec('tensorflow'); "
            "import tensorflow as tf; from nbhelpers.models import resolve_model; "
            "print(resolve_model('use-m3').encode(['nurse']).shape)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=300)
    assert out.stdout.strip() == "(1, 512)"
    for line in ("oneDNN custom operations", "cuda drivers", "cuInit", "absl::InitializeLog"):
        assert line not in out.stderr, out.stderr
