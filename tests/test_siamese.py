"""Siamese fine-tuning (nbhelpers.siamese): model, angular transform, training, merge, saving.

Everything but the last test uses the tiny SavedModel (16-d, same contract as USE-m3).
"""
from __future__ import annotations

import math

import nbhelpers  # noqa: F401  (selects legacy Keras before TensorFlow is imported)
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
import tensorflow_hub as hub

from nbhelpers import siamese, stsb
from nbhelpers.errors import InputError
from nbhelpers.models import resolve_model
from nbhelpers.use_savedmodel import build_tiny_savedmodel

WORDS = ["nurse", "care", "software", "developer", "truck", "driver", "teacher", "school",
         "welder", "metal", "baker", "bread", "pilot", "aircraft", "farmer", "crops"]
#: A learning rate that moves the tiny model visibly in a few steps (the tutorial's is 1e-5).
TINY_LR = 0.05


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return build_tiny_savedmodel(tmp_path_factory.mktemp("tiny") / "model", dim=16, seed=0)


@pytest.fixture
def tiny_layer(tiny_dir):
    return siamese.load_encoder_layer(tiny_dir)


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


def model_loss(model, pairs: pd.DataFrame):
    inputs = {"text_a": tf.constant(pairs.text1.tolist()),
              "text_b": tf.constant(pairs.text2.tolist())}
    prediction = model(inputs, training=True)
    return model.compute_loss(y=tf.constant(pairs.score_angular.to_numpy(np.float32)),
                              y_pred=prediction), prediction


def test_siamese_model_is_the_tutorials_and_trains_the_encoder(tiny_layer):
    model = siamese.build_siamese_model(tiny_layer)  # the tutorial's optimizer settings
    assert [(i.name, i.dtype, tuple(i.shape)) for i in model.inputs] == [
        ("text_a", tf.string, (None,)), ("text_b", tf.string, (None,))]
    settings = model.optimizer.get_config()
    assert (settings["beta_1"], settings["beta_2"], settings["clipnorm"]) == (0.9, 0.9999, 1.0)
    assert math.isclose(settings["learning_rate"], 1e-5, rel_tol=1e-6)
    assert math.isclose(settings["epsilon"], 1e-7, rel_tol=1e-6)
    with tf.GradientTape() as tape:
        loss, prediction = model_loss(model, tiny_pairs(8))
    grads = tape.gradient(loss, tiny_layer.trainable_weights)
    assert len(grads) == 3
    for weight, grad in zip(tiny_layer.trainable_weights, grads):
        assert grad is not None and np.any(tf.convert_to_tensor(grad).numpy() != 0), weight.name
    values = prediction.numpy()
    assert values.shape == (8, 1) and np.all((values >= 0) & (values <= 1))


def test_fused_adam_matches_keras_adam_on_dense_and_sparse_gradients():
    settings = siamese.SiameseConfig(learning_rate=1e-2).adam()
    rng = np.random.default_rng(0)
    init_table = rng.normal(size=(50, 8)).astype(np.float32)
    init_vector = rng.normal(size=8).astype(np.float32)
    # Rows repeat within a step (as tokens do) and norms exceed clipnorm=1.
    steps = [(rng.integers(0, 50, 6), 3 * rng.normal(size=(6, 8)).astype(np.float32),
              3 * rng.normal(size=8).astype(np.float32)) for _ in range(5)]
    results = []
    for optimizer in (tf.keras.optimizers.Adam(**settings), siamese.FusedAdam(**settings)):
        table, vector = tf.Variable(init_table), tf.Variable(init_vector)
        for rows, values, dense in steps:
            sparse = tf.IndexedSlices(tf.constant(values), tf.constant(rows))
            optimizer.apply_gradients([(sparse, table), (tf.constant(dense), vector)])
        results.append((table.numpy(), vector.numpy()))
    for keras_adam, fused in zip(*results):
        np.testing.assert_allclose(fused, keras_adam, atol=1e-5)
    assert np.abs(results[1][0] - init_table).max() > 0.01
    with pytest.raises(InputError, match="amsgrad"):
        siamese.FusedAdam(amsgrad=True)


def test_angular_similarity_values_and_finite_gradients():
    cosine = tf.constant([1.0, 0.0, -1.0, 0.5])
    with tf.GradientTape() as tape:
        tape.watch(cosine)
        angular = siamese.angular_similarity(cosine)
    np.testing.assert_allclose(angular.numpy()[:3], [1.0, 0.5, 0.0], atol=2e-3)
    assert angular.numpy()[0] < 1.0 and angular.numpy()[2] > 0.0  # clipped, not exact
    np.testing.assert_allclose(angular.numpy()[3], 1 - math.acos(0.5) / math.pi, rtol=1e-6)
    grads = tape.gradient(angular, cosine).numpy()
    assert np.all(np.isfinite(grads)) and grads[1] > 0 and grads[3] > 0


def test_ranking_loss_is_cosent_over_the_batch_added_to_the_mse():
    target = np.array([0.9, 0.6, 0.5], np.float32)
    angular = np.array([0.8, 0.7, 0.75], np.float32)           # pairs 2 and 3 in the wrong order
    cosine = np.cos(np.pi * (1 - angular))
    wrong = [(i, j) for i in range(3) for j in range(3) if target[i] > target[j]]
    cosent = np.log1p(sum(np.exp(20 * (cosine[j] - cosine[i])) for i, j in wrong))
    mse = np.mean((target - angular) ** 2)
    loss = siamese.mse_with_ranking(0.5)(tf.constant(target), tf.constant(angular[:, None]))
    assert float(loss) == pytest.approx(mse + 0.5 * cosent, rel=1e-5)
    right = siamese.mse_with_ranking(0.5)(tf.constant(target), tf.constant(target[:, None]))
    assert float(right) < 0.5 * np.log(2) < float(loss)   # in order: the ranking term shrinks


def test_a_model_with_the_ranking_term_trains_its_encoder(tiny_layer, tmp_path):
    model = siamese.build_siamese_model(tiny_layer, learning_rate=TINY_LR, ranking_weight=0.1)
    before = [w.numpy().copy() for w in tiny_layer.trainable_weights]
    result = siamese.train_siamese(model, tiny_pairs(32), tiny_pairs(8, seed=3), epochs=1,
                                   batch_size=8, patience=1, log_dir=tmp_path / "logs", verbose=0)
    assert np.isfinite(result.history.loss).all() and np.isfinite(result.history.val_loss).all()
    assert all(not np.array_equal(b, w.numpy()) for b, w in zip(before, tiny_layer.trainable_weights))
    with pytest.raises(InputError, match="ranking_weight=-1"):
        siamese.build_siamese_model(tiny_layer, ranking_weight=-1)


def test_training_lowers_the_loss_and_restores_the_best_epoch(tiny_layer, tmp_path):
    model = siamese.build_siamese_model(tiny_layer, learning_rate=TINY_LR)
    train = tiny_pairs(48, seed=1)
    # Validation targets are flipped: learning the training pairs makes validation worse, so
    # epoch 1 is the best and its weights must be back in the model after epoch 2.
    val = train.assign(score_angular=1.5 - train.score_angular)
    result = siamese.train_siamese(model, train, val, epochs=2, batch_size=8, patience=5,
                                   log_dir=tmp_path / "logs", seed=0, verbose=0)
    history = result.history
    assert list(history.columns) == ["epoch", "loss", "val_loss"] and list(history.epoch) == [1, 2]
    assert history.loss[1] < history.loss[0] and history.val_loss[1] > history.val_loss[0]
    assert result.best_epoch == 1
    assert result.seconds > 0 and result.samples_per_second > 0
    assert list((tmp_path / "logs").rglob("events.out.tfevents*")), "no TensorBoard logs"
    restored = model.evaluate(siamese.pairs_dataset(val, 8), verbose=0)
    assert math.isclose(restored, history.val_loss[0], rel_tol=1e-4)


def test_several_checks_per_epoch_validate_within_the_epoch(tiny_layer, tmp_path):
    model = siamese.build_siamese_model(tiny_layer, learning_rate=TINY_LR)
    train = tiny_pairs(48, seed=1)
    val = train.assign(score_angular=1.5 - train.score_angular)  # worse with every step
    result = siamese.train_siamese(model, train, val, epochs=2, batch_size=8, patience=5,
                                   checks_per_epoch=3, log_dir=tmp_path / "logs", seed=0,
                                   verbose=0)
    np.testing.assert_allclose(result.history.epoch, np.arange(1, 7) / 3)
    assert result.best_epoch == pytest.approx(1 / 3)   # after 2 of the 6 steps of an epoch
    restored = model.evaluate(siamese.pairs_dataset(val, 8), verbose=0)
    assert math.isclose(restored, result.history.val_loss[0], rel_tol=1e-4)
    with pytest.raises(InputError, match="checks_per_epoch=0"):
        siamese.train_siamese(model, train, val, epochs=1, batch_size=8, patience=1,
                              checks_per_epoch=0, log_dir=tmp_path / "logs")


def test_linear_decay_lowers_the_learning_rate_every_batch_and_restores_it(tiny_layer, tmp_path):
    model = siamese.build_siamese_model(tiny_layer, learning_rate=TINY_LR)
    seen = []
    record = tf.keras.callbacks.LambdaCallback(on_train_batch_begin=lambda batch, logs: seen.append(
        float(model.optimizer.learning_rate.numpy())))
    data = siamese.pairs_dataset(tiny_pairs(16), 8)
    model.fit(data, epochs=2, callbacks=[siamese.LinearDecay(4), record], verbose=0)
    np.testing.assert_allclose(seen, [TINY_LR, 0.75 * TINY_LR, 0.5 * TINY_LR, 0.25 * TINY_LR],
                               rtol=1e-6)
    assert math.isclose(float(model.optimizer.learning_rate.numpy()), TINY_LR, rel_tol=1e-6)
    result = siamese.train_siamese(model, tiny_pairs(16), tiny_pairs(8, seed=3), epochs=1,
                                   batch_size=8, patience=1, lr_decay=True,
                                   log_dir=tmp_path / "logs", verbose=0)
    assert result.best_epoch == 1
    assert math.isclose(float(model.optimizer.learning_rate.numpy()), TINY_LR, rel_tol=1e-6)


def test_frozen_variables_stay_fixed_while_the_others_train(tiny_layer, tmp_path):
    model = siamese.build_siamese_model(tiny_layer, learning_rate=TINY_LR, frozen=("table",))
    assert [v.name for v in model.tuned_variables()] == ["bias:0", "kernel:0"]
    before = {w.name: w.numpy().copy() for w in tiny_layer.weights}
    siamese.train_siamese(model, tiny_pairs(16), tiny_pairs(8, seed=3), epochs=1, batch_size=8,
                          patience=1, log_dir=tmp_path / "logs", verbose=0)
    after = {w.name: w.numpy() for w in tiny_layer.weights}
    assert np.array_equal(before["table:0"], after["table:0"])
    assert not np.array_equal(before["kernel:0"], after["kernel:0"])


def test_frozen_names_and_untrainable_layers_are_checked(tiny_dir):
    with pytest.raises(InputError, match=r"'tokens'.*match no trainable variable.*kernel"):
        siamese.build_siamese_model(siamese.load_encoder_layer(tiny_dir), frozen=("tokens",))
    fixed = hub.KerasLayer(str(tiny_dir), trainable=False)
    with pytest.raises(InputError, match="no trainable variables"):
        siamese.build_siamese_model(fixed)


def test_output_names_follow_the_model_spec():
    assert siamese.output_names("use-m3") == {"base": "use-m3", "tuned": "use-m3-tuned",
                                              "merged": "use-m3-merged"}
    assert siamese.output_names("/data/our_use") == {"base": "/data/our_use", "tuned": "our-use-tuned",
                                                    "merged": "our-use-merged"}


def test_mix_replay_adds_a_share_of_general_pairs():
    domain = tiny_pairs(8)
    general = stsb.as_graded_pairs(pd.DataFrame({"sentence1": ["a", "b"], "sentence2": ["c", "d"],
                                                 "score": [1.0, 0.0]}))
    np.testing.assert_allclose(general.score_angular, [1.0, 0.5])
    mixed = siamese.mix_replay(domain, general, 0.5)
    assert len(mixed) == 12 and sorted(mixed.text1.iloc[8:]) == ["a", "a", "b", "b"]
    assert len(siamese.mix_replay(domain, general, 2)) == 24   # repeated when more are needed
    assert siamese.mix_replay(domain, general, 0) is domain
    assert siamese.mix_replay(domain, None, 0.5) is domain
    with pytest.raises(InputError, match="replay=-1"):
        siamese.mix_replay(domain, general, -1)
    with pytest.raises(InputError, match="sentence1"):
        stsb.as_graded_pairs(pd.DataFrame({"text": ["a"]}))


def test_mix_replay_draws_its_general_pairs_with_the_seed_and_uses_each_equally_often():
    domain = tiny_pairs(10)
    general = stsb.as_graded_pairs(pd.DataFrame({"sentence1": [f"s{i}" for i in range(20)],
                                                 "sentence2": ["t"] * 20, "score": [2.5] * 20}))
    picked = {seed: set(siamese.mix_replay(domain, general, 0.5, seed=seed).text1.iloc[10:])
              for seed in range(4)}
    assert all(len(rows) == 5 for rows in picked.values())   # 5 distinct pairs, none twice
    assert len(set(map(frozenset, picked.values()))) > 1    # the seed decides which ones
    assert picked[0] == set(siamese.mix_replay(domain, general, 0.5, seed=0).text1.iloc[10:])
    counts = siamese.mix_replay(domain, general, 5, seed=1).text1.iloc[10:].value_counts()
    assert len(counts) == 20 and set(counts) == {2, 3}      # 50 rows: every pair 2 or 3 times


def test_soften_targets_moves_targets_towards_the_teachers_cosine(tiny_dir):
    teacher = resolve_model(str(tiny_dir))
    frame = tiny_pairs(24)
    frame["score"] = np.where(frame.score_angular == 1.0, 0.9, 0.1)
    vectors = teacher.encode(list(frame.text1) + list(frame.text2))
    cosines = np.clip((vectors[:24] * vectors[24:]).sum(axis=1), 0, 1)
    softened = siamese.soften_targets(frame, teacher, 0.25)
    np.testing.assert_allclose(softened.score, 0.75 * frame.score + 0.25 * cosines, atol=1e-6)
    np.testing.assert_allclose(softened.score_angular,
                               1 - np.arccos(softened.score) / math.pi, atol=1e-9)
    assert softened.score.nunique() > 2 and frame.score.nunique() == 2   # the input is unchanged
    assert siamese.soften_targets(frame, teacher, 0.0).score.equals(frame.score)
    with pytest.raises(InputError, match=r"teacher weight=1.5: expected a number in \[0, 1\]"):
        siamese.soften_targets(frame, teacher, 1.5)
    with pytest.raises(InputError, match=r"missing column\(s\) \['score'\]"):
        siamese.soften_targets(frame.drop(columns="score"), teacher, 0.5)


def test_hard_pairs_keeps_the_pairs_the_teacher_gets_most_wrong(tiny_dir):
    teacher = resolve_model(str(tiny_dir))
    frame = tiny_pairs(40)
    frame["level"] = np.where(frame.score_angular == 1.0, "close", "far")
    frame["score"] = np.where(frame.level == "close", 0.9, 0.1)
    vectors = teacher.encode(list(frame.text1) + list(frame.text2))
    error = np.abs((vectors[:40] * vectors[40:]).sum(axis=1) - frame.score)
    mined = siamese.hard_pairs(frame, teacher, per_level=6, share=0.5, seed=1)
    assert mined.level.value_counts().to_dict() == {"close": 6, "far": 6}
    assert not mined.duplicated(["text1", "text2"]).any()
    assert mined.teacher_cosine.between(-1.0001, 1.0001).all()
    frame["error"] = error
    for level, group in frame.groupby("level"):
        hardest = set(group.nlargest(3, "error").index)
        picked = frame.index[frame.set_index(["text1", "text2"]).index.isin(
            mined[mined.level == level].set_index(["text1", "text2"]).index)]
        assert hardest <= set(picked)                 # the three hardest are all kept
    everything = siamese.hard_pairs(frame.drop(columns="error"), teacher, per_level=100, share=1.0)
    assert len(everything) == len(frame)              # a short level keeps every candidate
    for bad, match in ((1.5, r"hard share=1.5: expected a number in \[0, 1\]"),
                       (True, r"hard share=True")):
        with pytest.raises(InputError, match=match):
            siamese.hard_pairs(frame, teacher, per_level=6, share=bad)
    with pytest.raises(InputError, match=r"per_level=0: expected an int >= 1"):
        siamese.hard_pairs(frame, teacher, per_level=0, share=0.5)
    with pytest.raises(InputError, match=r"candidate pairs: missing column\(s\) \['level'\]"):
        siamese.hard_pairs(frame.drop(columns="level"), teacher, per_level=6, share=0.5)


def test_training_is_reproducible_with_a_seed(tiny_dir, tmp_path):
    losses = []
    for run in range(2):
        model = siamese.build_siamese_model(siamese.load_encoder_layer(tiny_dir),
                                            learning_rate=TINY_LR)
        result = siamese.train_siamese(model, tiny_pairs(32), tiny_pairs(16, seed=3), epochs=2,
                                       batch_size=8, patience=1, log_dir=tmp_path / str(run),
                                       seed=7, verbose=0)
        losses.append(result.history.loss.tolist())
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-6)


def test_bad_training_data_is_rejected_by_name(tiny_layer, tmp_path):
    model = siamese.build_siamese_model(tiny_layer)
    train = tiny_pairs(8)
    kwargs = {"epochs": 1, "batch_size": 4, "patience": 1, "log_dir": tmp_path, "verbose": 0}
    with pytest.raises(InputError, match="val_pairs: no pairs"):
        siamese.train_siamese(model, train, train.iloc[:0], **kwargs)
    for bad in (1.5, float("nan"), -0.1, "high"):
        frame = train.astype({"score_angular": object})
        frame.loc[3, "score_angular"] = bad
        with pytest.raises(InputError,
                           match=r"train_pairs: row 3 .*score_angular .*not a number in \[0, 1\]"):
            siamese.train_siamese(model, frame, train, **kwargs)
    with pytest.raises(InputError, match="train_pairs: row 2: text2 nan is not a string"):
        siamese.train_siamese(model, train.assign(text2=train.text2.where(train.index != 2)),
                              train, **kwargs)
    with pytest.raises(InputError, match=r"missing column\(s\) \['score_angular'\]"):
        siamese.pairs_dataset(train.drop(columns="score_angular"), 4)
    with pytest.raises(InputError, match="batch_size"):
        siamese.pairs_dataset(train, 0)


def test_pairs_dataset_reshuffles_every_epoch_reproducibly():
    pairs = tiny_pairs(32)

    def epochs(data, n=2):
        return [[t.decode() for batch, _ in data for t in batch["text_a"].numpy()]
                for _ in range(n)]

    first, second = epochs(siamese.pairs_dataset(pairs, 8, shuffle=True, seed=1))
    assert first != second and sorted(first) == sorted(second) == sorted(pairs.text1)
    assert epochs(siamese.pairs_dataset(pairs, 8, shuffle=True, seed=1), 1)[0] == first
    assert epochs(siamese.pairs_dataset(pairs, 8), 1)[0] == pairs.text1.tolist()


def test_interpolation_endpoints_midpoint_and_sweep(tiny_layer):
    base = siamese.snapshot_weights(tiny_layer)
    tuned = [b * 2.0 + 1.0 for b in base]
    for alpha, expected in ((0.0, base), (1.0, tuned)):
        siamese.interpolate(tiny_layer, base, tuned, alpha)
        assert all(np.array_equal(w.numpy(), e) for w, e in zip(tiny_layer.weights, expected))
    siamese.interpolate(tiny_layer, base, tuned, 0.5)
    for w, b, t in zip(tiny_layer.weights, base, tuned):
        np.testing.assert_allclose(w.numpy(), (b + t) / 2, rtol=1e-6)
    with pytest.raises(InputError, match="alpha"):
        siamese.interpolate(tiny_layer, base, tuned, 1.5)

    seen = []
    bias = next(i for i, w in enumerate(tiny_layer.weights) if w.shape.rank == 1)

    def evaluate(encoder):
        seen.append(encoder.encode(["nurse care"])[0])
        return {"domain_spearman": float(tiny_layer.weights[bias].numpy()[0]),
                "stsb_dev_pearson": float("nan")}

    sweep = siamese.alpha_sweep(tiny_layer, base, tuned, (0, 0.5, 1), evaluate)
    assert list(sweep.columns) == ["alpha", "domain_spearman", "stsb_dev_pearson"]
    bias = base[bias][0]
    np.testing.assert_allclose(sweep.domain_spearman, [bias, 1.5 * bias + 0.5, 2 * bias + 1],
                               rtol=1e-6)
    assert not np.allclose(seen[0], seen[2])  # the encoder really used the interpolated weights
    assert all(np.array_equal(w.numpy(), t) for w, t in zip(tiny_layer.weights, tuned))


def test_layer_encoder_matches_the_layer(tiny_layer):
    encoder = siamese.LayerEncoder(tiny_layer, spec="tiny")
    texts = ["nurse care", "", "software developer"]
    vectors = encoder.encode(texts)
    assert encoder.dim == 16 and vectors.shape == (3, 16) and vectors.dtype == np.float32
    np.testing.assert_allclose(vectors, tiny_layer(tf.constant(texts)).numpy(), atol=1e-6)


def test_saved_encoder_round_trip(tiny_layer, tmp_path):
    model = siamese.build_siamese_model(tiny_layer, learning_rate=TINY_LR)
    before = siamese.snapshot_weights(tiny_layer)
    model.fit(siamese.pairs_dataset(tiny_pairs(8), 8), epochs=1, verbose=0)
    assert not all(np.array_equal(b, w.numpy()) for b, w in zip(before, tiny_layer.weights))
    texts = ["nurse care", "truck driver", "", "welder of metal"]
    expected = tiny_layer(tf.constant(texts)).numpy()

    path = siamese.save_encoder(tiny_layer, tmp_path / "tuned")
    assert path == tmp_path / "tuned" and [p.name for p in tmp_path.iterdir()] == ["tuned"]
    reloaded = hub.KerasLayer(str(path), trainable=True)
    assert len(reloaded.trainable_weights) == 3
    np.testing.assert_allclose(reloaded(tf.constant(texts)).numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(resolve_model(path).encode(texts), expected, atol=1e-5)
    with pytest.raises(InputError, match="already exists"):
        siamese.save_encoder(tiny_layer, path)


def test_load_encoder_layer_errors_name_the_handle(tmp_path, monkeypatch):
    class Constant(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def __call__(self, texts):
            return tf.ones([tf.shape(texts)[0], 4]) * 0.5

    tf.saved_model.save(Constant(), str(tmp_path / "frozen"))
    with pytest.raises(InputError, match="frozen.*no trainable variables.*train nothing"):
        siamese.load_encoder_layer(tmp_path / "frozen")
    assert siamese.load_encoder_layer(tmp_path / "frozen", trainable=False) is not None

    with pytest.raises(InputError, match="nowhere.*not a SavedModel folder"):
        siamese.load_encoder_layer(tmp_path / "nowhere")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "saved_model.pb").write_bytes(b"not a model")
    with pytest.raises(InputError, match="broken.*could not load"):
        siamese.load_encoder_layer(tmp_path / "broken")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    url = "https://tfhub.dev/google/universal-sentence-encoder-multilingual/3"
    with pytest.raises(InputError,
                       match="multilingual/3.*needs internet.*use-m3.*SavedModel folder"):
        siamese.load_encoder_layer(url)


def test_config_presets_and_their_settings():
    quick, full = siamese.SiameseConfig(), siamese.SiameseConfig.full()
    assert quick.adam() == full.adam() == {"learning_rate": 1e-4, "beta_1": 0.9, "beta_2": 0.9999,
                                           "epsilon": 1e-7, "clipnorm": 1.0}
    assert quick.frozen == ("token_table",) and quick.replay == 0.25
    assert set(quick.training()) == {"epochs", "batch_size", "patience", "seed"}
    assert full != quick
    assert siamese.SiameseConfig.full(epochs=1).epochs == 1


@pytest.mark.slow
def test_one_training_step_changes_use_m3():
    layer = siamese.load_encoder_layer("use-m3")
    model = siamese.build_siamese_model(layer)
    pairs = pd.DataFrame({"text1": ["software developer", "registered nurse", "truck driver",
                                    "baker"],
                          "text2": ["programmer", "nurse", "accountant", "pastry cook"],
                          "score_angular": [1.0, 1.0, 0.5, 0.7468]})
    watched = {w.name: w for w in layer.trainable_weights
               if w.name.split(":")[0] in ("dan_d0", "pool_kernel", "conv1_kernel_3",
                                           "token_table")}
    before = {name: w.numpy().copy() for name, w in watched.items()}
    model.fit(siamese.pairs_dataset(pairs, 4), epochs=1, verbose=0)
    for name, w in watched.items():
        assert not np.array_equal(before[name], w.numpy()), f"{name} did not change"
