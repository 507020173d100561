"""Process-wide settings that must happen before TensorFlow or a model hub is touched."""
from __future__ import annotations

import os
import warnings


def configure(offline: bool | None = None) -> None:
    """Select legacy Keras for TF Hub, quieten TF's logs and, by default, stay offline.

    Call it before importing TensorFlow. ``offline=None`` keeps whatever the environment
    says (``HF_HUB_OFFLINE``) and defaults to offline when nothing is set.
    """
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # tensorflow-hub 0.16.1 imports pkg_resources, which setuptools (pinned <82) warns about.
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
    if offline is None:
        offline = os.environ.get("HF_HUB_OFFLINE", "1") not in ("0", "false", "False", "")
    value = "1" if offline else "0"
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        os.environ[var] = value


def is_offline() -> bool:
    """True when the hub must not be contacted."""
    return os.environ.get("HF_HUB_OFFLINE", "1") not in ("0", "false", "False", "")
