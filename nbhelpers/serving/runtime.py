"""Run an exported folder (ONNX Runtime or OpenVINO) with the same interface as every encoder.

An export folder is a sentence-transformers folder whose transformer lives in one backend file
(``onnx/model.onnx``, ``onnx/model_qint8.onnx``, ``openvino/openvino_model.xml`` or
``openvino/openvino_model_qint8_quantized.xml``) instead of PyTorch weights. The encoder here
tokenizes as the model's tokenizer does (its ``max_seq_length``), runs the backend file for the
token vectors, pools them as the folder's pooling module says (mean or CLS) and normalises:
what ``SentenceTransformer(folder, backend=...)`` computes where optimum's runtimes install.

A folder that cannot be served is refused with its path: no backend file or more than one, an
OpenVINO ``.xml`` without its ``.bin``, a missing tokenizer or pooling configuration, a file the
runtime cannot read (a partial copy), or a pooling mode this runtime does not implement.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from nbhelpers.errors import InputError
from nbhelpers.models import Encoder

#: Where each variant keeps its model file, as sentence-transformers' backends name them.
FILES = {"onnx": "onnx/model.onnx", "onnx-int8": "onnx/model_qint8.onnx",
         "openvino": "openvino/openvino_model.xml",
         "openvino-int8": "openvino/openvino_model_qint8_quantized.xml"}
#: The package each backend needs, for the message when it is missing.
PACKAGES = {"onnx": "onnxruntime", "openvino": "openvino"}
POOLING_MODES = ("mean", "cls")
#: Files of which a tokenizer folder holds at least one (fast tokenizer, WordPiece, BPE, SentencePiece).
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model", "sentencepiece.bpe.model",
                   "tokenizer.model")


def backend_files(folder: str | Path) -> list[Path]:
    """The backend model files in an export folder (``onnx/*.onnx``, ``openvino/*.xml``)."""
    folder = Path(folder)
    return sorted([*folder.glob("onnx/*.onnx"), *folder.glob("openvino/*.xml")])


def is_export_folder(folder: str | Path) -> bool:
    """True for a sentence-transformers folder with an ``onnx/`` or ``openvino/`` folder and no
    PyTorch weights (complete or not: :class:`ExportedEncoder` says what is missing)."""
    folder = Path(folder)
    return ((folder / "modules.json").is_file()
            and any((folder / name).is_dir() for name in ("onnx", "openvino"))
            and not any((folder / name).exists() for name in ("model.safetensors", "pytorch_model.bin")))


def require(module: str):
    """Import an optional backend package, or say which package to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise InputError(f"the {module} package is not installed ({err}); it comes with this "
                         f"project's install (make install), or: pip install -c constraints.txt "
                         f"{module}") from None


class Preprocess:
    """The model's tokenizer with its ``max_seq_length``: texts to the arrays a backend takes."""

    def __init__(self, folder: str | Path):
        from transformers import AutoTokenizer

        folder = Path(folder)
        if not any((folder / name).is_file() for name in TOKENIZER_FILES):
            raise InputError(f"{folder}: no usable tokenizer (none of {', '.join(TOKENIZER_FILES)}); "
                             "an export folder carries the model's tokenizer files")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(folder))
        except (OSError, ValueError) as err:
            raise InputError(f"{folder}: no usable tokenizer ({type(err).__name__}: {err}); an "
                             "export folder carries the model's tokenizer files") from None
        config = _read_json(folder / "sentence_bert_config.json", required=False)
        self.max_length = int(config.get("max_seq_length") or self.tokenizer.model_max_length)

    def __call__(self, texts: list[str]) -> dict[str, np.ndarray]:
        encoded = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length,
                                 return_tensors="np")
        return {name: value.astype(np.int64) for name, value in encoded.items()}


class ExportedEncoder(Encoder):
    """An export folder run with ONNX Runtime or OpenVINO on the CPU."""

    batch_size = 32

    def __init__(self, folder: str | Path, spec: str | None = None):
        self.folder = Path(folder)
        self.spec = spec or str(folder)
        files = backend_files(self.folder)
        if len(files) != 1:
            found = ", ".join(str(f.relative_to(self.folder)) for f in files) or "none"
            raise InputError(f"{self.folder}: expected exactly one backend model file "
                             f"({', '.join(FILES.values())}), found {found}")
        self.file = files[0]
        self.backend = "onnx" if self.file.suffix == ".onnx" else "openvino"
        self.pooling, self.include_prompt = _read_modules(self.folder)
        self.prompts = _read_json(self.folder / "config_sentence_transformers.json",
                                  required=False).get("prompts") or {}
        self.preprocess = Preprocess(self.folder)
        self._run = _onnx(self.file) if self.backend == "onnx" else _openvino(self.file)
        self.dim = int(self._encode_batch(["probe"], "document").shape[1])

    def _encode_batch(self, texts, kind):
        prompt = self.prompts.get(kind) or ""
        inputs = self.preprocess([prompt + text for text in texts])
        tokens = self._run(inputs)
        mask = inputs["attention_mask"].astype(np.float32)
        if prompt and not self.include_prompt:
            skip = len(self.preprocess.tokenizer(prompt, add_special_tokens=False)["input_ids"])
            mask[:, 1:1 + skip] = 0   # after the start token: the prompt's own tokens
        if self.pooling == "cls":
            return tokens[:, 0]
        summed = (tokens * mask[:, :, None]).sum(axis=1)
        return summed / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)


def _onnx(path: Path):
    ort = require("onnxruntime")
    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as err:   # onnxruntime raises its own types for unreadable files
        raise InputError(f"{path}: ONNX Runtime cannot load it ({type(err).__name__}: {err}); "
                         "a partial or damaged export: export the model again") from None
    wanted = [i.name for i in session.get_inputs()]

    def run(inputs):
        return session.run(None, {name: inputs[name] for name in wanted})[0]
    return run


def _openvino(path: Path):
    ov = require("openvino")
    if not path.with_suffix(".bin").is_file():
        raise InputError(f"{path}: its weights file {path.with_suffix('.bin').name} is missing; "
                         "an OpenVINO model is an .xml and a .bin side by side: export it again")
    try:
        compiled = ov.Core().compile_model(str(path), "CPU")
    except Exception as err:   # OpenVINO raises RuntimeError subclasses for unreadable files
        raise InputError(f"{path}: OpenVINO cannot load it ({type(err).__name__}: "
                         f"{str(err).splitlines()[0] if str(err) else ''}); a partial or damaged "
                         "export: export the model again") from None
    wanted = [port.get_any_name() for port in compiled.inputs]

    def run(inputs):
        return compiled({name: inputs[name] for name in wanted})[0]
    return run


def _read_modules(folder: Path) -> tuple[str, bool]:
    """(pooling mode, include_prompt) from ``modules.json`` and the pooling config (every
    encoder of this project normalises its vectors, so a ``Normalize`` module changes nothing)."""
    modules = _read_json(folder / "modules.json")
    kinds = {m.get("type", "").rsplit(".", 1)[-1]: m for m in modules} if isinstance(modules, list) else {}
    unsupported = sorted(set(kinds) - {"Transformer", "Pooling", "Normalize"})
    if "Transformer" not in kinds or "Pooling" not in kinds or unsupported:
        raise InputError(f"{folder / 'modules.json'}: this runtime serves a transformer, a pooling "
                         f"module and an optional normalisation; the folder has "
                         f"{', '.join(kinds) or 'no modules'}")
    config = _read_json(folder / kinds["Pooling"]["path"] / "config.json")
    mode = config.get("pooling_mode")
    if mode is None:   # the older format: one flag per mode
        flags = {"mean": "pooling_mode_mean_tokens", "cls": "pooling_mode_cls_token",
                 "max": "pooling_mode_max_tokens",
                 "mean_sqrt_len_tokens": "pooling_mode_mean_sqrt_len_tokens",
                 "weightedmean": "pooling_mode_weightedmean_tokens", "lasttoken": "pooling_mode_lasttoken"}
        chosen = [name for name, flag in flags.items() if config.get(flag)]
        mode = chosen[0] if len(chosen) == 1 else "+".join(chosen) or None
    if mode not in POOLING_MODES:
        raise InputError(f"{folder / kinds['Pooling']['path'] / 'config.json'}: pooling {mode!r}; "
                         f"this runtime implements {', '.join(POOLING_MODES)}")
    return mode, bool(config.get("include_prompt", True))


def _read_json(path: Path, required: bool = True):
    if not path.is_file():
        if required:
            raise InputError(f"{path} is missing; an export folder holds the model's "
                             "sentence-transformers configuration beside its backend file")
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: not valid JSON ({err})") from None
