import os
import subprocess
import sys


def test_importing_the_package_selects_legacy_keras_and_stays_offline():
    code = ("import os; [os.environ.pop(k, None) for k in ('TF_USE_LEGACY_KERAS', 'HF_HUB_OFFLINE')];"
            "import nbhelpers; print(os.environ['TF_USE_LEGACY_KERAS'], os.environ['HF_HUB_OFFLINE'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "1"]


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
