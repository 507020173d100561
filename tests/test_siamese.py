"""Notebook 03's recipe on a tiny TF Hub SavedModel: the notebook's own graph and compile cells,
the blocks around them (nbhelpers.siamese) and the checks that keep bad input out."""
from __future__ import annotations

import math

import nbhelpers  # noqa: F401  (selects legacy Keras before TensorFlow is imported)
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
import tensorflow_hub as hub

import notebook_cells
from nbhelpers import guard, siamese, stsb
from nbhelpers.errors import InputError
from nbhelpers.models import resolve_model
from nbhelpers.siamese.config import SiameseConfig
from nbhelpers.use_savedmodel import build_tiny_savedmodel

NOTEBOOK = "03_siamese_use.ipynb"
WORDS = ["nurse", "care", "software", "developer", "truck", "driver", "teacher", "school",
         "welder", "metal", "baker", "bread", "pilot", "aircraft", "farmer", "crops"]
#: A learning rate that moves the tiny model visibly in a few steps (the tutorial's is 1e-5).
TINY_LR = 0.05


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return build_tiny_savedmodel(tmp_path_factory.mktemp("tiny") / "model", dim=16, seed=0)


def notebook_model(tiny_dir, frozen=(), learning_rate=TINY_LR):
    """Notebook 03's graph and compile cells, run on the tiny model: (Keras model, encoder)."""
    space = {**SiameseConfig(learning_rate=learning_rate).to_dict(), "math": math, "tf": tf,
             "hub": hub, "siamese": siamese, "model": str(tiny_dir), "frozen": list(frozen)}
    notebook_cells.run(NOTEBOOK, ["tf.keras.Input", ".compile("], space)
    return space["siamese_model"], space["encoder"]


def tiny_pairs(n: int = 48, seed: int = 0) -> pd.DataFrame:
    """Two-word texts; a pair sharing a word has angular target 1.0, otherwise 0.5."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        a, b, c = rng.choice(WORDS, 3, replace=False)
        text2 = f"{a} {c}" if i % 2 == 0 else f"{c} {rng.choice(WORDS)}"
        shared = bool({a, b} & set(text2.split()))
        rows.append((f"{a} {b}", text2, 1.0 if shared else 0.5))
    return pd.DataFrame(rows, columns=["text1", "text2", "score_angular"])


def fit(model, train, val, epochs=2, seed=0, patience=5):
    tf.keras.utils.set_random_seed(seed)
    stopper = tf.keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience,
                                               restore_best_weights=True)
    history = model.fit(siamese.data.pairs_dataset(train, 8, shuffle=True, seed=seed),
                        validation_data=siamese.data.pairs_dataset(val, 8), epochs=epochs,
                        callbacks=[stopper], verbose=0)
    return siamese.model.history_frame(history)


def test_the_notebooks_graph_is_the_tutorials_and_trains_the_encoder(tiny_dir):
    model, encoder = notebook_model(tiny_dir, learning_rate=1e-5)
    assert [(i.name, i.dtype, tuple(i.shape)) for i in model.inputs] == [
        ("text_a", tf.string, (None,)), ("text_b", tf.string, (None,))]
    assert [layer.name for layer in model.layers][-3:] == ["cosine", "clip", "angular"]
    settings = model.optimizer.get_config()
    assert (settings["beta_1"], settings["beta_2"], settings["clipnorm"]) == (0.9, 0.9999, 1.0)
    assert math.isclose(settings["learning_rate"], 1e-5, rel_tol=1e-6)
    pairs = tiny_pairs(8)
    with tf.GradientTape() as tape:
        prediction = model({"text_a": tf.constant(pairs.text1.tolist()),
                            "text_b": tf.constant(pairs.text2.tolist())}, training=True)
        loss = model.compute_loss(y=tf.constant(pairs.score_angular.to_numpy(np.float32)),
                                  y_pred=prediction)
    grads = tape.gradient(loss, encoder.trainable_weights)
    assert len(grads) == 3 and all(g is not None for g in grads)
    values = prediction.numpy()
    assert values.shape == (8, 1) and np.all((values >= 0) & (values <= 1))
    # the angular output is 1 - arccos(cos)/pi of the clipped cosine: 1 for a pair of equal texts
    same = model({"text_a": tf.constant(["nurse care"]), "text_b": tf.constant(["nurse care"])})
    assert same.numpy()[0, 0] == pytest.approx(1 - math.acos(0.99999) / math.pi, abs=1e-5)


def test_training_lowers_the_loss_and_restores_the_best_epoch(tiny_dir):
    model, _ = notebook_model(tiny_dir)
    train = tiny_pairs(48, seed=1)
    # Validation targets are flipped: learning the training pairs makes validation worse, so
    # epoch 1 is the best and its weights must be back in the model after epoch 2.
    val = train.assign(score_angular=1.5 - train.score_angular)
    history = fit(model, train, val)
    assert list(history.columns) == ["epoch", "loss", "val_loss"] and list(history.epoch) == [1, 2]
    assert history.loss[1] < history.loss[0] and history.val_loss[1] > history.val_loss[0]
    restored = model.evaluate(siamese.data.pairs_dataset(val, 8), verbose=0)
    assert math.isclose(restored, history.val_loss[0], rel_tol=1e-4)


def test_training_is_reproducible_with_a_seed(tiny_dir):
    losses = [fit(notebook_model(tiny_dir)[0], tiny_pairs(32), tiny_pairs(16, seed=3), seed=7)
              .loss.tolist() for _ in range(2)]
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-6)


def test_frozen_variables_stay_fixed_while_the_others_train(tiny_dir):
    model, encoder = notebook_model(tiny_dir, frozen=["table"])
    assert [v.name for v in model.tuned_variables()] == ["bias:0", "kernel:0"]
    assert siamese.layer.check_trainable(encoder, ["table"]) == ["bias:0", "kernel:0"]
    before = {w.name: w.numpy().copy() for w in encoder.weights}
    fit(model, tiny_pairs(16), tiny_pairs(8, seed=3), epochs=1)
    after = {w.name: w.numpy() for w in encoder.weights}
    assert np.array_equal(before["table:0"], after["table:0"])
    assert not np.array_equal(before["kernel:0"], after["kernel:0"])


def test_frozen_names_and_untrainable_layers_are_checked(tiny_dir):
    encoder = hub.KerasLayer(str(tiny_dir), trainable=True)
    with pytest.raises(InputError, match=r"'tokens'.*match no trainable variable.*kernel"):
        siamese.layer.check_trainable(encoder, ["tokens"])
    with pytest.raises(InputError, match="no trainable variables"):
        siamese.layer.check_trainable(hub.KerasLayer(str(tiny_dir), trainable=False))


def test_output_names_follow_the_model_spec_and_the_attempt():
    assert siamese.layer.output_names("use-m3") == {"base": "use-m3", "tuned": "use-m3-tuned",
                                                    "merged": "use-m3-merged"}
    assert siamese.layer.output_names("/data/our_use", "-2") == {
        "base": "/data/our_use", "tuned": "our-use-tuned-2", "merged": "our-use-merged-2"}


def test_mix_replay_adds_a_share_of_general_pairs():
    domain = tiny_pairs(8)
    general = stsb.as_graded_pairs(pd.DataFrame({"sentence1": ["a", "b"], "sentence2": ["c", "d"],
                                                 "score": [1.0, 0.0]}))
    np.testing.assert_allclose(general.score_angular, [1.0, 0.5])
    mixed = siamese.data.mix_replay(domain, general, 0.5)
    assert len(mixed) == 12 and sorted(mixed.text1.iloc[8:]) == ["a", "a", "b", "b"]
    assert len(siamese.data.mix_replay(domain, general, 2)) == 24   # repeated when more are needed
    assert siamese.data.mix_replay(domain, general, 0) is domain
    assert siamese.data.mix_replay(domain, None, 0.5) is domain
    with pytest.raises(InputError, match="replay=-1"):
        siamese.data.mix_replay(domain, general, -1)
    with pytest.raises(InputError, match="sentence1"):
        stsb.as_graded_pairs(pd.DataFrame({"text": ["a"]}))


def test_mix_replay_draws_its_general_pairs_with_the_seed_and_uses_each_equally_often():
    domain = tiny_pairs(10)
    general = stsb.as_graded_pairs(pd.DataFrame({"sentence1": [f"s{i}" for i in range(20)],
                                                 "sentence2": ["t"] * 20, "score": [2.5] * 20}))
    picked = {seed: set(siamese.data.mix_replay(domain, general, 0.5, seed=seed).text1.iloc[10:])
              for seed in range(4)}
    assert all(len(rows) == 5 for rows in picked.values())   # 5 distinct pairs, none twice
    assert len(set(map(frozenset, picked.values()))) > 1    # the seed decides which ones
    assert picked[0] == set(siamese.data.mix_replay(domain, general, 0.5, seed=0).text1.iloc[10:])
    counts = siamese.data.mix_replay(domain, general, 5, seed=1).text1.iloc[10:].value_counts()
    assert len(counts) == 20 and set(counts) == {2, 3}      # 50 rows: every pair 2 or 3 times


def test_bad_training_data_is_rejected_by_name():
    train = tiny_pairs(8)
    with pytest.raises(InputError, match="validation pairs: no pairs"):
        siamese.data.pairs_dataset(train.iloc[:0], 4, name="validation pairs")
    for bad in (1.5, float("nan"), -0.1, "high"):
        frame = train.astype({"score_angular": object})
        frame.loc[3, "score_angular"] = bad
        with pytest.raises(InputError,
                           match=r"training pairs: row 3 .*score_angular .*not a number in \[0, 1\]"):
            siamese.data.pairs_dataset(frame, 4, name="training pairs")
    with pytest.raises(InputError, match="training pairs: row 2: text2 nan is not a string"):
        siamese.data.pairs_dataset(train.assign(text2=train.text2.where(train.index != 2)), 4,
                                   name="training pairs")
    with pytest.raises(InputError, match=r"missing column\(s\) \['score_angular'\]"):
        siamese.data.pairs_dataset(train.drop(columns="score_angular"), 4)
    with pytest.raises(InputError, match="batch_size"):
        siamese.data.pairs_dataset(train, 0)


def test_pairs_dataset_reshuffles_every_epoch_reproducibly():
    pairs = tiny_pairs(32)

    def epochs(data, n=2):
        return [[t.decode() for batch, _ in data for t in batch["text_a"].numpy()]
                for _ in range(n)]

    first, second = epochs(siamese.data.pairs_dataset(pairs, 8, shuffle=True, seed=1))
    assert first != second and sorted(first) == sorted(second) == sorted(pairs.text1)
    assert epochs(siamese.data.pairs_dataset(pairs, 8, shuffle=True, seed=1), 1)[0] == first
    assert epochs(siamese.data.pairs_dataset(pairs, 8), 1)[0] == pairs.text1.tolist()


def test_the_guard_blends_the_encoder_and_ends_on_the_chosen_weights(tiny_dir):
    encoder = hub.KerasLayer(str(tiny_dir), trainable=True)
    base = siamese.layer.snapshot_weights(encoder)
    tuned = [b * 2.0 + 1.0 for b in base]
    for alpha, expected in ((0.0, base), (1.0, tuned)):
        siamese.layer.interpolate(encoder, base, tuned, alpha)
        assert all(np.array_equal(w.numpy(), e) for w, e in zip(encoder.weights, expected))
    with pytest.raises(InputError, match="alpha"):
        siamese.layer.interpolate(encoder, base, tuned, 1.5)
    bias = next(i for i, w in enumerate(encoder.weights) if w.shape.rank == 1)
    scoring, seen = siamese.layer.LayerEncoder(encoder), []

    def score(alpha):
        seen.append(scoring.encode(["nurse care"])[0])
        value = float(encoder.weights[bias].numpy()[0])
        return {"domain_val_spearman": value, guard.STS_METRIC: 0.8 - alpha / 10}

    sweep, choice = guard.run_guard([0.5, 1], lambda a: siamese.layer.interpolate(encoder, base, tuned, a),
                                    score, tolerance=0.06)
    b = base[bias][0]
    assert list(sweep.alpha) == [0.0, 0.5, 1.0]
    np.testing.assert_allclose(sweep.domain_val_spearman, [b, 1.5 * b + 0.5, 2 * b + 1], rtol=1e-6)
    assert not np.allclose(seen[0], seen[2])        # scoring really used the blended weights
    assert choice.alpha == 0.5 and choice.guarded    # alpha 1 lost 0.1 STS-B, more than 0.06
    np.testing.assert_allclose(encoder.weights[bias].numpy(), (base[bias] + tuned[bias]) / 2, rtol=1e-6)


def test_layer_encoder_matches_the_layer(tiny_dir):
    tiny_layer = hub.KerasLayer(str(tiny_dir), trainable=True)
    encoder = siamese.layer.LayerEncoder(tiny_layer, spec="tiny")
    texts = ["nurse care", "", "software developer"]
    vectors = encoder.encode(texts)
    assert encoder.dim == 16 and vectors.shape == (3, 16) and vectors.dtype == np.float32
    np.testing.assert_allclose(vectors, tiny_layer(tf.constant(texts)).numpy(), atol=1e-6)


def test_saved_encoder_round_trip(tiny_dir, tmp_path):
    model, encoder = notebook_model(tiny_dir)
    before = siamese.layer.snapshot_weights(encoder)
    model.fit(siamese.data.pairs_dataset(tiny_pairs(8), 8), epochs=1, verbose=0)
    assert not all(np.array_equal(b, w.numpy()) for b, w in zip(before, encoder.weights))
    texts = ["nurse care", "truck driver", "", "welder of metal"]
    expected = encoder(tf.constant(texts)).numpy()
    path = siamese.layer.save_encoder(encoder, tmp_path / "tuned")
    assert path == tmp_path / "tuned" and [p.name for p in tmp_path.iterdir()] == ["tuned"]
    reloaded = hub.KerasLayer(str(path), trainable=True)
    assert len(reloaded.trainable_weights) == 3
    np.testing.assert_allclose(reloaded(tf.constant(texts)).numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(resolve_model(path).encode(texts), expected, atol=1e-5)
    with pytest.raises(InputError, match="already exists"):
        siamese.layer.save_encoder(encoder, path)


def test_encoder_handle_errors_name_the_handle(tmp_path, monkeypatch):
    with pytest.raises(InputError, match="nowhere.*not a SavedModel folder"):
        siamese.layer.encoder_handle(tmp_path / "nowhere")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    url = "https://tfhub.dev/google/universal-sentence-encoder-multilingual/3"
    with pytest.raises(InputError, match="multilingual/3.*needs internet.*use-m3.*SavedModel folder"):
        siamese.layer.encoder_handle(url)


def test_config_presets():
    quick, full = SiameseConfig(), SiameseConfig.full()
    assert quick.frozen == ("token_table",) and quick.replay == 0.25 and quick.learning_rate == 1e-4
    assert (full.epochs, full.batch_size) == (2, 64) and SiameseConfig.full(epochs=1).epochs == 1


@pytest.mark.parametrize("change, message", [
    ({"learning_rate": -1e-4}, "learning_rate=-0.0001: expected a finite number > 0"),
    ({"learning_rate": float("nan")}, "learning_rate=nan"),
    ({"learning_rate": 0}, "learning_rate=0"),
    ({"epochs": 0}, "epochs=0: expected a whole number >= 1"),
    ({"epochs": 2.5}, "epochs=2.5"),
    ({"batch_size": True}, "batch_size=True"),
    ({"patience": -1}, "patience=-1"),
    ({"beta_2": 1.0}, r"beta_2=1.0: expected a number in \(0, 1\)"),
    ({"clipnorm": float("inf")}, "clipnorm=inf"),
    ({"replay": -0.5}, "replay=-0.5"),
    ({"alphas": (0.5, 2.0)}, "alphas="),
    ({"alphas": ()}, "alphas="),
    ({"frozen": "token_table"}, "frozen='token_table': expected a list"),
    ({"sts_tolerance": -0.01}, "sts_tolerance=-0.01"),
    ({"seed": None}, "seed=None"),
    ({"model": ""}, "model=''"),
])
def test_every_setting_is_checked_before_a_model_is_loaded(change, message):
    with pytest.raises(InputError, match=message):
        SiameseConfig(**change).validate()


@pytest.mark.slow
def test_one_training_step_changes_use_m3():
    model, encoder = notebook_model("use-m3", frozen=[], learning_rate=1e-5)
    pairs = pd.DataFrame({"text1": ["software developer", "registered nurse", "truck driver", "baker"],
                          "text2": ["programmer", "nurse", "accountant", "pastry cook"],
                          "score_angular": [1.0, 1.0, 0.5, 0.7468]})
    watched = {w.name: w for w in encoder.trainable_weights
               if w.name.split(":")[0] in ("dan_d0", "pool_kernel", "conv1_kernel_3", "token_table")}
    before = {name: w.numpy().copy() for name, w in watched.items()}
    model.fit(siamese.data.pairs_dataset(pairs, 4), epochs=1, verbose=0)
    for name, w in watched.items():
        assert not np.array_equal(before[name], w.numpy()), f"{name} did not change"
