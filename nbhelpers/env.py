"""Process-wide settings that must happen before TensorFlow or a model hub is touched.

Hub mode. The series goes online when the Hugging Face hub answers and stays offline when it
does not, so a connected laptop gets STS-B and hub models without any setup and a machine
without internet runs on the embedded default:

* ``HF_HUB_OFFLINE=1`` (``make run OFFLINE=1``) forces offline, ``HF_HUB_OFFLINE=0``
  (``make run ONLINE=1``) forces online; either way nothing is probed;
* unset, :func:`configure` asks the hub once (``$HF_ENDPOINT`` or huggingface.co), waits at
  most :data:`PROBE_TIMEOUT` seconds, and prints one line saying which mode it chose.

The packaged models stay the default models in both modes; online only adds what can be
downloaded (the ``sentence-transformers/stsb`` dataset, hub model ids).
"""
from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import os
import sys
import threading
import time
import urllib.error
import urllib.request
import warnings

#: Seconds the hub may take to answer before the series goes offline.
PROBE_TIMEOUT = 3.0
DEFAULT_ENDPOINT = "https://huggingface.co"
#: The file the probe asks for: a small file of the STS-B dataset the series downloads first.
PROBE_PATH = "datasets/sentence-transformers/stsb/resolve/main/README.md"
_FLAGS = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")
_FALSE = ("0", "false", "False", "no", "off")


def configure(offline: bool | None = None) -> None:
    """Select legacy Keras for TF Hub, quieten TF's logs and choose the hub mode.

    Call it before importing TensorFlow or a Hugging Face library. ``offline=None`` keeps what
    ``HF_HUB_OFFLINE`` says and, when it is unset, probes the hub (see the module docstring).
    """
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if not any(isinstance(f, _QuietTensorFlow) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlow())
    # tensorflow-hub 0.16.1 imports pkg_resources, which setuptools (pinned <82) warns about.
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
    if offline is None:
        setting = os.environ.get("HF_HUB_OFFLINE")
        if setting is None or setting.strip() == "":
            reachable, reason = probe_hub()
            offline = not reachable
            print(mode_line(offline, reason), flush=True)
        else:
            offline = setting not in _FALSE
    value = "1" if offline else "0"
    for var in _FLAGS:
        os.environ[var] = value


def is_offline() -> bool:
    """True when the hub must not be contacted."""
    setting = os.environ.get("HF_HUB_OFFLINE", "").strip()
    return setting == "" or setting not in _FALSE


def endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def probe_hub(url: str | None = None, timeout: float = PROBE_TIMEOUT) -> tuple[bool, str]:
    """Does the hub answer within ``timeout`` seconds? Returns ``(reachable, reason)``.

    Any HTTP answer counts (even an error status: the server is there). The whole probe,
    name lookup included, runs in a background thread, so a server that accepts the
    connection and never answers, or a name lookup that hangs, costs ``timeout`` at most.
    """
    url = url or f"{endpoint()}/{PROBE_PATH}"
    outcome: dict = {}

    def ask():
        start = time.perf_counter()
        try:
            opener = urllib.request.build_opener(_NoRedirect)
            opener.open(urllib.request.Request(url, method="HEAD"), timeout=timeout).close()
            outcome["answer"] = "answered"
        except urllib.error.HTTPError as err:   # a status code is an answer
            outcome["answer"] = f"answered ({err.code})"
        except Exception as err:  # noqa: BLE001 - any failure to get an answer means offline
            if not isinstance(getattr(err, "reason", err), TimeoutError):  # a timeout is no answer
                outcome["error"] = f"{type(err).__name__}: {getattr(err, 'reason', err)}"
        outcome["seconds"] = time.perf_counter() - start

    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    thread.join(timeout)
    host = url.split("/")[2] if "://" in url else url
    if "answer" in outcome:
        return True, f"{host} answered in {outcome['seconds']:.1f} s"
    if "error" in outcome:
        return False, f"{host} is not reachable ({outcome['error']})"
    return False, f"{host} did not answer within {timeout:g} s"


def mode_line(offline: bool, reason: str) -> str:
    """The one line that tells a user which mode the series runs in, and why."""
    if offline:
        return (f"Hub offline: {reason}. Using the embedded default (packaged models; STS-B only "
                "from STSB_DIR). Set HF_HUB_OFFLINE=0 to insist on the hub.")
    return (f"Hub online: {reason}. STS-B and hub model ids download on first use and are cached; "
            "set HF_HUB_OFFLINE=1 to stay offline.")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer: do not follow it to the file's storage."""

    def redirect_request(self, *args, **kwargs):
        return None


@contextlib.contextmanager
def quiet_stderr():
    """Point the process's stderr (file descriptor 2) at /dev/null for the block: the only way
    to keep out the lines TensorFlow's C++ runtime writes before its logging starts."""
    try:
        saved = os.dup(2)
    except OSError:        # no file descriptor 2 to quiet
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class _QuietTensorFlow(importlib.abc.MetaPathFinder):
    """The first ``import tensorflow`` runs with stderr quieted, then asks TensorFlow for its
    devices (which probes for CUDA), so that the start-up lines of the C++ runtime ("oneDNN
    custom operations are on", "Could not find cuda drivers", "failed call to cuInit") do not
    land in a notebook's output as if something had failed. Python errors still raise."""

    searching = False

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow" or self.searching:
            return None
        self.searching = True            # the real finders do the finding
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self.searching = False
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader, self)
        return spec


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader, finder):
        self.loader, self.finder = loader, finder

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        if self.finder in sys.meta_path:   # the one real import: later ones find it in sys.modules
            sys.meta_path.remove(self.finder)
        with quiet_stderr():
            self.loader.exec_module(module)
            module.config.list_physical_devices()
