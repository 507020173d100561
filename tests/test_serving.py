"""Notebook 06's blocks on a tiny model: every export round-trips through ``resolve_model`` with
the vectors of the PyTorch model, rescoring ranks as float32 when it may rescore everything, and
every bad input is refused with its name before work starts."""
import json
import shutil

import numpy as np
import pytest

from nbhelpers.errors import InputError
from nbhelpers.evaluation import ranking_metrics, retrieval_judge
from nbhelpers.models import STEncoder, resolve_model
from nbhelpers.serving import config, export, runtime, static, variants, vectors
from nbhelpers.serving.runtime import FILES, ExportedEncoder
from tiny_models import tiny_sentence_transformer as tiny_model

TEXTS = ["software developer", "a nurse cares for patients in a hospital ward", "welder",
         "Which occupation repairs engines of heavy vehicles?", "chef", "x", ""]


def export_all(model, target, calibration_texts):
    """The four exports with the calls notebook 06's cells make, in its order."""
    import nncf
    import openvino as ov
    from onnxruntime.quantization import QuantType, quantize_dynamic

    made = {name: target / name for name in FILES}
    with export.folder(model, made["onnx"]) as out:
        export.torch_to_onnx(model, out / FILES["onnx"])
    onnx_file = made["onnx"] / FILES["onnx"]
    with export.folder(made["onnx"], made["onnx-int8"]) as out:
        quantize_dynamic(onnx_file, out / FILES["onnx-int8"], per_channel=True, weight_type=QuantType.QInt8)
    with export.folder(made["onnx"], made["openvino"]) as out:
        ov.save_model(ov.convert_model(onnx_file), out / FILES["openvino"], compress_to_fp16=False)
    calibration = nncf.Dataset(export.calibration_batches(made["openvino"], calibration_texts))
    with export.folder(made["openvino"], made["openvino-int8"]) as out:
        int8 = nncf.quantize(ov.Core().read_model(made["openvino"] / FILES["openvino"]), calibration,
                             model_type=nncf.ModelType.TRANSFORMER)
        ov.save_model(int8, out / FILES["openvino-int8"])
    return made


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_model(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def exported(tiny, tmp_path_factory):
    model, source = export.load_for_export(str(tiny))
    texts = [f"{t} number {i}" for i in range(20) for t in TEXTS[:5]]
    return export_all(model, tmp_path_factory.mktemp("exports") / "serving", texts)


def test_every_export_round_trips_with_the_pytorch_models_vectors(tiny, exported):
    reference = resolve_model(str(tiny)).encode(TEXTS)
    lowest = {}
    for name, folder in exported.items():
        assert (folder / FILES[name]).is_file() and (folder / "modules.json").is_file()
        assert not (folder / "model.safetensors").exists()      # the backend file replaces the weights
        encoder = resolve_model(str(folder))
        assert isinstance(encoder, ExportedEncoder) and encoder.dim == 32
        lowest[name] = float((encoder.encode(TEXTS) * reference).sum(axis=1).min())
    assert lowest["onnx"] > 0.9999 and lowest["openvino"] > 0.99   # OpenVINO may compute in bfloat16
    assert lowest["onnx-int8"] > 0.9 and lowest["openvino-int8"] > 0.9
    assert (exported["openvino"] / FILES["openvino"]).with_suffix(".bin").is_file()


def test_cls_pooling_and_the_query_prompt_are_served_as_sentence_transformers_computes_them(tmp_path):
    from sentence_transformers import SentenceTransformer

    folder = tiny_model(tmp_path, pooling="cls", prompts={"query": "search: ", "document": ""})
    model, _ = export.load_for_export(str(folder))
    with export.folder(model, tmp_path / "onnx") as out:
        export.torch_to_onnx(model, out / FILES["onnx"])
    served = resolve_model(str(tmp_path / "onnx"))
    original = SentenceTransformer(str(folder), device="cpu")
    queries = original.encode_query(TEXTS[:5])
    documents = original.encode_document(TEXTS[:5])
    assert np.allclose(served.encode(TEXTS[:5], kind="query"), queries, atol=1e-4)
    assert np.allclose(served.encode(TEXTS[:5]), documents, atol=1e-4)
    assert not np.allclose(queries, documents, atol=1e-3)   # the prompt changed the query vectors


def test_a_static_model_distilled_from_the_export_source_loads_back(tiny, tmp_path):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding

    from nbhelpers.matryoshka.model import save_model

    model, source = export.load_for_export(str(tiny))
    texts = ["Welders weld. Welders and glaziers."] * 3
    words = static.domain_vocabulary(texts, model.tokenizer, min_count=3)
    assert "welders" in words and "and" not in words   # whole words the tokenizer cuts; known ones not
    module = StaticEmbedding.from_distillation(source, vocabulary=words, device="cpu", pca_dims=16)
    distilled = SentenceTransformer(modules=[module], device="cpu")
    save_model(distilled, tmp_path / "static")
    encoder = resolve_model(str(tmp_path / "static"))
    assert isinstance(encoder, STEncoder) and encoder.dim == 16
    assert variants.runtime_of(encoder) == "static (PyTorch EmbeddingBag)"
    expected = distilled.encode(TEXTS[:5], normalize_embeddings=True)
    assert np.allclose(encoder.encode(TEXTS[:5]), expected, atol=1e-5)
    with pytest.raises(InputError, match="static-embedding model is already a lookup table"):
        export.load_for_export(str(tmp_path / "static"))


def test_tensorflow_models_are_refused_with_what_is_supported(tmp_path):
    (tmp_path / "saved_model.pb").write_bytes(b"")
    for spec in ("use-m3", str(tmp_path), "https://tfhub.dev/google/universal-sentence-encoder/4"):
        with pytest.raises(InputError, match="TensorFlow SavedModel .*sentence-transformers models"):
            export.load_for_export(spec)


def test_a_missing_backend_package_is_named():
    with pytest.raises(InputError, match="the not_a_backend_package package is not installed"):
        runtime.require("not_a_backend_package")


def test_damaged_or_partial_export_folders_are_refused_with_their_path(exported, tmp_path):
    cases = {}
    for name, damage in (("truncated", "onnx"), ("no-bin", "openvino"), ("two-files", "onnx"),
                         ("no-tokenizer", "onnx"), ("no-pooling", "onnx")):
        folder = tmp_path / name
        shutil.copytree(exported[damage], folder)
        cases[name] = folder
    onnx_file = cases["truncated"] / FILES["onnx"]
    onnx_file.write_bytes(onnx_file.read_bytes()[:5000])
    (cases["no-bin"] / FILES["openvino"]).with_suffix(".bin").unlink()
    shutil.copy(cases["two-files"] / FILES["onnx"], cases["two-files"] / FILES["onnx-int8"])
    for tokenizer_file in ("tokenizer.json", "tokenizer_config.json", "vocab.txt"):
        (cases["no-tokenizer"] / tokenizer_file).unlink(missing_ok=True)
    shutil.rmtree(next(cases["no-pooling"].glob("*Pooling")))
    messages = {"truncated": "ONNX Runtime cannot load it", "no-bin": "openvino_model.bin is missing",
                "two-files": "expected exactly one backend model file", "no-tokenizer": "no usable tokenizer",
                "no-pooling": "Pooling/config.json is missing"}
    for name, folder in cases.items():
        with pytest.raises(InputError) as caught:
            resolve_model(str(folder))
        assert str(folder) in str(caught.value) and messages[name] in str(caught.value), name


def test_an_export_that_writes_no_model_leaves_nothing_and_nothing_is_overwritten(exported, tmp_path):
    with pytest.raises(InputError, match="wrote 0 backend files"):
        with export.folder(exported["onnx"], tmp_path / "empty"):
            pass
    assert not (tmp_path / "empty").exists() and not list(tmp_path.glob(".empty*"))
    with pytest.raises(InputError, match="already exists"):
        with export.folder(exported["onnx"], exported["onnx-int8"]):
            pass
    with pytest.raises(InputError, match="no modules.json"):
        with export.folder(tmp_path, tmp_path / "from-nothing"):
            pass


def _retrieval(seed=0, queries=30, passages=200, dim=48):
    rng = np.random.default_rng(seed)
    corpus = rng.normal(size=(passages, dim)).astype(np.float32)
    targets = rng.integers(0, passages, size=queries)
    query_vectors = corpus[targets] + rng.normal(scale=1.2, size=(queries, dim)).astype(np.float32)
    unit = lambda v: v / np.linalg.norm(v, axis=1, keepdims=True)  # noqa: E731
    judge = retrieval_judge({f"q{i}": f"query {i}" for i in range(queries)},
                            {f"p{j}": f"passage {j}" for j in range(passages)},
                            {f"q{i}": {f"p{t}"} for i, t in enumerate(targets)})
    return unit(query_vectors), unit(corpus), judge


def test_rescoring_every_passage_ranks_exactly_as_float32_and_only_candidates_get_scores():
    queries, corpus, judge = _retrieval()
    exact = ranking_metrics(judge, queries @ corpus.T)["ndcg@10"]
    for precision in ("binary", "int8"):
        everything = vectors.rescored_scores(queries, corpus, precision, candidates=len(corpus))
        assert ranking_metrics(judge, everything)["ndcg@10"] == pytest.approx(exact)
        some = vectors.rescored_scores(queries, corpus, precision, candidates=20)
        assert (np.isfinite(some).sum(axis=1) == 20).all()
        rows, cols = np.nonzero(np.isfinite(some))
        assert np.allclose(some[rows, cols], (queries @ corpus.T)[rows, cols], atol=1e-5)
    table = vectors.vector_table(queries, corpus, judge, dims=[None, 16], candidates=50)
    full = table[table.dim == 48].set_index("search")
    assert full.loc["float32", "kept"] == 1.0 and full.loc["binary", "bytes_per_vector"] == 6
    assert full.loc["binary + rescoring", "ndcg@10"] >= full.loc["binary", "ndcg@10"]
    with pytest.raises(InputError, match="candidates=9"):
        vectors.rescored_scores(queries, corpus, "binary", candidates=9)
    with pytest.raises(InputError, match="precision='int4'"):
        vectors.rescored_scores(queries, corpus, "int4")


@pytest.mark.parametrize("change, message", [
    ({"keep": 1.5}, "keep=1.5"), ({"keep_vectors": 0}, "keep_vectors=0"),
    ({"candidates": 5}, "candidates=5"), ({"static_epochs": -1}, "static_epochs=-1"),
    ({"speed_texts": 0}, "speed_texts=0"), ({"static_pca_dims": 32}, "static_pca_dims=32"),
    ({"static_train_samples": 0}, "static_train_samples=0"), ({"small_dim": "64"}, "small_dim=.64."),
    ({"static_learning_rate": 0}, "static_learning_rate=0"),
])
def test_notebook_06_parameters_are_checked_by_name(change, message):
    with pytest.raises(InputError, match=message):
        config.ServingConfig(**change).validate()


def test_the_recommendation_follows_the_tables():
    import pandas as pd

    table = pd.DataFrame({
        "runtime": ["PyTorch", "ONNX Runtime", "OpenVINO", "static (PyTorch EmbeddingBag)"],
        "ndcg@10": [0.80, 0.799, 0.78, 0.70], "kept": [1.0, 0.999, 0.975, 0.875],
        "texts_per_second": [100.0, 150.0, 400.0, 9000.0], "speedup": [1.0, 1.5, 4.0, 90.0],
        "disk_mb": [90.0, 90.0, 23.0, 8.0]}, index=["tuned", "onnx", "openvino-int8", "static"])
    store = pd.DataFrame({"dim": [384, 384, 384], "search": ["float32", "binary", "binary + rescoring"],
                          "bytes_per_vector": [1536, 48, 48], "ndcg@10": [0.8, 0.7, 0.79],
                          "kept": [1.0, 0.875, 0.9875]})
    text = variants.advice(table, store, "tuned", keep=0.99, keep_vectors=0.97)
    assert "Serve **onnx** (ONNX Runtime): 1.5×" in text          # openvino-int8 is faster but keeps < 99 %
    assert "**static** encodes 90× faster and keeps 87.5 %" in text
    assert "**binary + rescoring** at 384 dimensions keeps 98.8 %" in text
    assert "Serve **openvino-int8**" in variants.advice(table, store, "tuned", keep=0.97)
    records = variants.records(table.assign(dim=384, **{"ndcg@10 at 64": 0.5}), store)
    assert {r["dataset"] for r in records} == {"serving", "vector-store"}
    json.dumps(records)
