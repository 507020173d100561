"""Export folders: a sentence-transformers model as ONNX and OpenVINO files, float32 and int8.

Every export is a new folder in sentence-transformers' own layout: the model's configuration,
tokenizer and pooling files and one backend file (``runtime.FILES``), never the PyTorch weights.
:func:`folder` makes one; the block inside writes the backend file with the library's own call:

    with export.folder(model, models / "onnx") as out:                # the PyTorch model
        export.torch_to_onnx(model, out / FILES["onnx"])
    with export.folder(models / "onnx", models / "onnx-int8") as out:  # an earlier export
        quantize_dynamic(models / "onnx" / FILES["onnx"], out / FILES["onnx-int8"], ...)

The folder appears only when its block succeeded and wrote exactly one backend file; an existing
folder is never overwritten.

Only sentence-transformers models with a transformer export: ``use-m3`` and other TensorFlow
SavedModels are refused (they serve as they are, with TensorFlow Serving or ``tf.saved_model``),
and so is a static-embedding model, which has no network to export.
"""
from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path

import torch

from nbhelpers.errors import InputError
from nbhelpers.runs import staged_dir
from nbhelpers.serving.runtime import FILES, Preprocess, backend_files

WEIGHTS = ("model.safetensors", "pytorch_model.bin")
#: ONNX operator set of the export (ONNX Runtime and OpenVINO both run it).
OPSET = 17


def load_for_export(spec: str):
    """``(SentenceTransformer, source)`` for a spec, checked to be exportable before any work
    starts; ``source`` is the folder or hub id the weights came from."""
    from nbhelpers.matryoshka.model import load_base_model
    from nbhelpers.models import is_tensorflow

    text = str(spec)
    if is_tensorflow(text):
        raise InputError(f"model {text!r} is a TensorFlow SavedModel (USE): ONNX and OpenVINO "
                         "export here covers sentence-transformers models with a transformer "
                         "('minilm', notebook 04's models, a hub id such as BAAI/bge-base-en-v1.5); "
                         "a SavedModel serves as it is with TensorFlow Serving or tf.saved_model.load")
    model, source = load_base_model(text)
    first = model[0]
    if not hasattr(first, "auto_model"):
        raise InputError(f"model {text!r} starts with {type(first).__name__}, not a transformer: "
                         "a static-embedding model is already a lookup table, with nothing to export")
    return model, source


@contextmanager
def folder(source, target: str | Path):
    """A new export folder ``target`` holding ``source``'s configuration (``source``: a
    SentenceTransformer or an export folder); the block writes one backend file into it."""
    target = Path(target)
    with staged_dir(target) as out:
        if isinstance(source, (str, Path)):
            source = Path(source)
            if not (source / "modules.json").is_file():
                raise InputError(f"{source}: not a sentence-transformers or export folder "
                                 "(no modules.json)")
            shutil.copytree(source, out, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("onnx", "openvino", *WEIGHTS))
        else:
            source.save(str(out))
            for name in WEIGHTS:
                (out / name).unlink(missing_ok=True)
        for backend in ("onnx", "openvino"):
            (out / backend).mkdir(exist_ok=True)
        yield out
        for backend in ("onnx", "openvino"):
            if not any((out / backend).iterdir()):
                (out / backend).rmdir()
        written = backend_files(out)
        if len(written) != 1:
            raise InputError(f"{target}: the export wrote {len(written)} backend files "
                             f"({', '.join(p.name for p in written) or 'none'}); expected one of "
                             f"{', '.join(FILES.values())}")


class TokenVectors(torch.nn.Module):
    """The transformer alone, as the exported graph: token ids in, token vectors out."""

    def __init__(self, transformer, names: list[str]):
        super().__init__()
        self.transformer, self.names = transformer, names

    def forward(self, *inputs):
        return self.transformer(**dict(zip(self.names, inputs))).last_hidden_state


def torch_to_onnx(model, path: str | Path) -> Path:
    """Export ``model``'s transformer with ``torch.onnx.export`` (batch and sequence length
    dynamic); the inputs are the tokenizer's, the output the token vectors pooling reads."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    example = dict(model[0].tokenizer(["an example", "a second, longer example text"],
                                      padding=True, return_tensors="pt"))
    graph = TokenVectors(model[0].auto_model, list(example)).eval()
    axes = {name: {0: "batch", 1: "sequence"} for name in [*example, "last_hidden_state"]}
    with torch.no_grad():
        torch.onnx.export(graph, tuple(example.values()), str(path), input_names=list(example),
                          output_names=["last_hidden_state"], dynamic_axes=axes,
                          opset_version=OPSET, dynamo=False)
    return path


def calibration_batches(export_folder: str | Path, texts: list[str], batch_size: int = 32) -> list[dict]:
    """Tokenized batches of ``texts`` for OpenVINO's static int8 calibration (NNCF)."""
    if not texts:
        raise InputError("calibration texts: the list is empty; static int8 needs example inputs")
    preprocess = Preprocess(export_folder)
    return [preprocess(texts[i:i + batch_size]) for i in range(0, len(texts), batch_size)]
