import numpy as np
import pytest

from nbhelpers import env
from nbhelpers.errors import InputError
from nbhelpers.models import OFFLINE_CHOICES, STEncoder, TFHubEncoder, folder_name, resolve_model
from nbhelpers.use_savedmodel import build_tiny_savedmodel


@pytest.fixture(scope="module")
def minilm():
    return resolve_model("minilm")


@pytest.fixture
def offline(monkeypatch):
    for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.setenv(name, "1")


@pytest.mark.parametrize("spec", ["BAAI/bge-base-en-v1.5",
                                  "https://tfhub.dev/google/universal-sentence-encoder-multilingual/3"])
def test_hub_models_while_offline_name_the_offline_choices(offline, spec):
    with pytest.raises(InputError) as err:
        resolve_model(spec)
    message = str(err.value)
    assert spec in message and "offline" in message
    assert all(choice in message for choice in OFFLINE_CHOICES)


@pytest.mark.parametrize("spec, name", [
    ("use-m3", "use-m3"), ("BAAI/bge-base-en-v1.5", "bge-base-en-v1.5"),
    ("https://tfhub.dev/google/universal-sentence-encoder-multilingual/3",
     "universal-sentence-encoder-multilingual-3"),
    ("/home/me/models/our use/", "our-use"), ("C:\\models\\tuned_v2", "tuned-v2"),
    ("https://tfhub.dev/google/universal-sentence-encoder-multilingual/3?tf-hub-format=compressed",
     "universal-sentence-encoder-multilingual-3")])
def test_folder_name_is_short_and_safe(spec, name):
    assert folder_name(spec) == name


def test_folder_name_of_the_current_folder_is_its_real_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert folder_name(".") == tmp_path.name.replace("_", "-")


def test_folder_name_needs_a_name():
    with pytest.raises(InputError, match="model spec '/': expected a name, folder or URL"):
        folder_name("/")


def test_unknown_spec_lists_choices():
    with pytest.raises(InputError, match="unknown model 'use-m4'; offline choices: use-m3, minilm"):
        resolve_model("use-m4")


def test_folder_that_is_no_model(tmp_path):
    with pytest.raises(InputError, match="neither a SavedModel"):
        resolve_model(tmp_path)


def test_unreadable_savedmodel(tmp_path):
    (tmp_path / "saved_model.pb").write_bytes(b"not a protobuf")
    with pytest.raises(InputError, match="could not load a SavedModel"):
        resolve_model(tmp_path)


def test_local_savedmodel_folder_loads_through_tf_hub(tmp_path):
    path = build_tiny_savedmodel(tmp_path / "tiny", dim=16)
    encoder = resolve_model(path)
    assert isinstance(encoder, TFHubEncoder) and encoder.dim == 16
    vectors = encoder.encode(["nurse", "registered nurse", "welder"] * 50, batch_size=32)
    assert vectors.shape == (150, 16) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_use_m3_resolves_to_the_packaged_savedmodel():
    encoder = resolve_model("use-m3")
    assert isinstance(encoder, TFHubEncoder) and encoder.dim == 512
    a, b, c = encoder.encode(["registered nurse", "nurse", "bricklayer"])
    assert a @ b > a @ c


def test_minilm_encodes_normalised_vectors_and_documents_empty_strings(minilm):
    assert isinstance(minilm, STEncoder) and minilm.dim == 384
    vectors = minilm.encode(["data scientist", "", "data analyst"])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[2] > vectors[0] @ vectors[1]  # "" is a valid, unrelated vector
    # no query prompt: queries and documents encode alike
    np.testing.assert_allclose(minilm.encode(["nurse"], kind="query"),
                               minilm.encode(["nurse"]), atol=1e-6)


def test_known_query_instruction_is_applied_to_queries_only(minilm):
    original = dict(minilm.model.prompts)
    bge_like = STEncoder("BAAI/bge-base-en-v1.5", model=minilm.model)
    try:
        assert bge_like.model.prompts["query"].startswith("Represent this sentence")
        query = bge_like.encode(["nurse"], kind="query")
        document = bge_like.encode(["nurse"])
        assert float((query @ document.T)[0, 0]) < 0.999
        np.testing.assert_allclose(document, minilm.encode(["nurse"]), atol=1e-6)
    finally:
        minilm.model.prompts.clear()
        minilm.model.prompts.update(original)


@pytest.mark.parametrize("texts, message", [([], "the list is empty"),
                                            ("nurse", "got one string"),
                                            (["nurse", None], r"texts\[1\] is NoneType")])
def test_bad_texts(minilm, texts, message):
    with pytest.raises(InputError, match=message):
        minilm.encode(texts)


def test_bad_kind(minilm):
    with pytest.raises(InputError, match="kind='passage'"):
        minilm.encode(["x"], kind="passage")


def test_env_offline_is_the_default():
    assert env.is_offline()
