"""Siamese fine-tuning of a TF Hub sentence encoder, after the original USE tutorial (notebook 03).

One encoder (a ``hub.KerasLayer`` with ``trainable=True``) embeds both texts of a pair; the
cosine of the two vectors (``Dot(normalize=True)``), clipped to ±0.99999, becomes an angular
similarity ``1 - arccos(cos)/pi``, trained with MSE against the pairs' angular targets and
Adam (beta_2 0.9999, clipnorm 1.0), as in the tutorial. What the tutorial got wrong is fixed
here: validation uses the group-disjoint validation split, early stopping watches
``val_loss`` and restores the best weights, training data is reshuffled every epoch and seeds
are fixed. ``SiameseConfig`` raises the learning rate from 1e-5 to 1e-4 (see its docstring).

Fine-tuning can make a model forget general English. The guard: snapshot the base weights,
interpolate ``theta = (1 - alpha) * base + alpha * tuned`` for a few ``alpha``, and keep the
``alpha`` with the best domain score whose STS-B dev Pearson stays within a tolerance of the
base model's (``alpha_sweep``, ``nbhelpers.guard.choose_alpha``). ``save_encoder`` writes the result as a
TF Hub-format SavedModel that ``resolve_model`` and ``hub.KerasLayer`` load.

Speed: ``SiameseConfig`` freezes USE's 128,000 x 512 token table by default, which makes a
step three times faster at the same gain. With ``frozen=()`` (the tutorial's setup) the whole
model trains, the table included. The table's gradient stays sparse (``IndexedSlices``,
clipped as such by ``clipnorm``), but Adam moves every row at every step (its moments decay
everywhere), so the optimizer update dominates a step on CPU. ``FusedAdam`` does that update
in one pass: about 0.35 s per step of 64 pairs on 2 cores instead of 0.6 s.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import nbhelpers  # noqa: F401  (selects legacy Keras before TensorFlow is imported)
import numpy as np
import pandas as pd
import tensorflow as tf
import tensorflow_hub as hub

from nbhelpers import env
from nbhelpers.errors import InputError
from nbhelpers.evaluation import pair_cosines
from nbhelpers.models import OFFLINE_CHOICES, Encoder, folder_name
from nbhelpers.pairs import to_angular

#: Cosines are clipped to this before arccos, whose gradient is infinite at ±1.
COSINE_CLIP = 0.99999
PAIR_COLUMNS = ("text1", "text2")
#: Offline handles a hub.KerasLayer can load (the other offline models are PyTorch).
LAYER_OFFLINE_CHOICES = tuple(c for c in OFFLINE_CHOICES
                              if c in ("use-m3", "a local SavedModel folder"))


@dataclass
class SiameseConfig:
    """Training and forgetting-guard settings; the defaults are the quick, sample-data ones.

    Three departures from the tutorial, each measured on the full ESCO export
    (docs/siamese-experiments.md):

    * learning rate 1e-4, not 1e-5: at 1e-5 USE barely moves in the time a CPU run has;
    * ``frozen``: USE's 128,000 x 512 token table stays fixed. Adam would move every row at
      every step; without that a step is three times faster, at the same domain gain;
    * ``replay``: STS-B train pairs, a quarter as many as the domain pairs, are mixed into
      training (rehearsal), which keeps general English instead of trading it away.

    ``frozen=()`` and ``replay=0`` give the tutorial's setup.
    """

    model: str = "use-m3"
    epochs: int = 3
    batch_size: int = 32
    patience: int = 1
    learning_rate: float = 1e-4
    beta_1: float = 0.9
    beta_2: float = 0.9999
    epsilon: float = 1e-7
    clipnorm: float = 1.0
    frozen: tuple[str, ...] = ("token_table",)
    replay: float = 0.25
    alphas: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
    sts_tolerance: float = 0.01
    seed: int = 42

    @classmethod
    def full(cls, **changes) -> SiameseConfig:
        """Settings for the real ESCO export, with data prepared by ``PrepareConfig.full()``."""
        return cls(**{"epochs": 2, "batch_size": 64, **changes})

    def adam(self) -> dict:
        """The optimizer settings, as ``build_siamese_model`` takes them."""
        return self._pick("learning_rate", "beta_1", "beta_2", "epsilon", "clipnorm")

    def training(self) -> dict:
        """The fit settings, as ``train_siamese`` takes them."""
        return self._pick("epochs", "batch_size", "patience", "seed")

    def _pick(self, *names) -> dict:
        return {name: getattr(self, name) for name in names}


def load_encoder_layer(handle: str | Path = "use-m3", trainable: bool = True) -> hub.KerasLayer:
    """A ``hub.KerasLayer`` for ``"use-m3"``, a SavedModel folder or a TF Hub URL."""
    import tensorflow_text  # noqa: F401  (registers the SentencePiece ops USE needs)

    text = str(handle)
    if text == "use-m3":
        from nbhelpers.use_savedmodel import use_m3_path

        text = str(use_m3_path())
    elif text.startswith(("http://", "https://")):
        if env.is_offline():
            raise InputError(f"model {handle!r} needs internet (it is downloaded from TF Hub), "
                             "but the series is offline (the hub did not answer, or HF_HUB_OFFLINE=1). "
                             f"Offline choices: {', '.join(LAYER_OFFLINE_CHOICES)}. With internet, "
                             "run with HF_HUB_OFFLINE=0 (make run ONLINE=1)")
    elif (Path(text).expanduser() / "saved_model.pb").is_file():
        text = str(Path(text).expanduser())
    else:
        raise InputError(f"model {handle!r}: not a SavedModel folder (no saved_model.pb), "
                         f"nor a TF Hub URL; offline choices: {', '.join(LAYER_OFFLINE_CHOICES)}")
    try:
        layer = hub.KerasLayer(text, trainable=trainable, name="encoder")
    except Exception as err:
        raise InputError(f"model {handle!r}: could not load it as a TF Hub layer "
                         f"({type(err).__name__}: {err})") from err
    if trainable and not layer.trainable_weights:
        raise InputError(f"model {handle!r} has no trainable variables: fine-tuning it would "
                         "silently train nothing. Use a SavedModel that exposes "
                         "`trainable_variables` (TF Hub reusable SavedModel format)")
    return layer


def angular_similarity(cosine: tf.Tensor) -> tf.Tensor:
    """``1 - arccos(cos)/pi`` in [0, 1], the cosine clipped to ±0.99999 (finite gradients)."""
    return 1.0 - tf.acos(tf.clip_by_value(cosine, -COSINE_CLIP, COSINE_CLIP)) / math.pi


def mse_with_ranking(weight: float, scale: float = 20.0):
    """MSE plus ``weight`` times CoSENT, a ranking loss over the pairs of a batch (a trial).

    CoSENT is ``log(1 + sum exp(scale * (cos_j - cos_i)))`` over every two pairs ``i, j`` of
    the batch whose targets say ``i`` is the more similar; the cosines are recovered from the
    model's angular similarities. It asks only for the order the targets give, which is what
    Spearman measures; MSE asks for the values too.
    """
    mse = tf.keras.losses.MeanSquaredError()

    def loss(y_true, y_pred):
        target, angular = tf.reshape(y_true, [-1]), tf.reshape(y_pred, [-1])
        cosine = tf.cos(math.pi * (1.0 - angular))
        gaps = scale * (cosine[None, :] - cosine[:, None])          # [i, j]: cos_j - cos_i
        ordered = tf.boolean_mask(gaps, target[:, None] > target[None, :])
        ranking = tf.reduce_logsumexp(tf.concat([tf.zeros([1], gaps.dtype), ordered], 0))
        return mse(y_true, y_pred) + weight * ranking

    loss.__name__ = f"mse_with_ranking_{weight:g}"
    return loss


class FusedAdam(tf.keras.optimizers.Adam):
    """``tf.keras.optimizers.Adam`` with each update done by TensorFlow's fused Adam kernel.

    The update rule is Keras Adam's (bias-corrected step size, epsilon outside the square
    root); clipping (``clipnorm``) happens before, as in Keras. Keras updates the 128,000 x 512
    token table of USE with about ten full passes over it and its moments per step, even for
    a sparse gradient; the fused kernel makes one pass, which halves a step on CPU. A sparse
    gradient is summed into a dense one first: Adam moves every row at every step anyway.
    """

    def __init__(self, **kwargs):
        if kwargs.get("amsgrad") or kwargs.get("adaptive_epsilon"):
            raise InputError("FusedAdam: amsgrad and adaptive_epsilon are not supported")
        super().__init__(**kwargs)

    def update_step(self, gradient, variable):
        if isinstance(gradient, tf.IndexedSlices):
            gradient = tf.math.unsorted_segment_sum(gradient.values, gradient.indices,
                                                    tf.shape(variable, gradient.indices.dtype)[0])
        index = self._index_dict[self._var_key(variable)]
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle, m=self._momentums[index].handle,
            v=self._velocities[index].handle, beta1_power=tf.pow(beta_1, step),
            beta2_power=tf.pow(beta_2, step), lr=tf.cast(self.learning_rate, dtype),
            beta1=beta_1, beta2=beta_2, epsilon=tf.cast(self.epsilon, dtype),
            grad=gradient)


class SiameseModel(tf.keras.Model):
    """A Keras model whose training step leaves the variables named in ``frozen`` unchanged.

    ``frozen`` holds variable-name prefixes (``"token_table"`` is USE's 128,000 x 512 token
    table). Frozen variables get no gradient, so ``clipnorm`` and Adam see only the others.
    """

    def __init__(self, *args, frozen: tuple[str, ...] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.frozen = tuple(frozen)

    def tuned_variables(self) -> list[tf.Variable]:
        """The trainable variables training may change."""
        return [v for v in self.trainable_variables if not v.name.startswith(self.frozen)]

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            prediction = self(x, training=True)
            loss = self.compute_loss(x, y, prediction)
        self.optimizer.minimize(loss, self.tuned_variables(), tape=tape)
        return self.compute_metrics(x, y, prediction, None)


def build_siamese_model(encoder_layer: hub.KerasLayer, learning_rate: float = 1e-5,
                        beta_1: float = 0.9, beta_2: float = 0.9999, epsilon: float = 1e-7,
                        clipnorm: float = 1.0, frozen: tuple[str, ...] = (),
                        ranking_weight: float = 0.0) -> SiameseModel:
    """The tutorial's siamese network, compiled: two texts, one shared encoder, angular similarity.

    ::

        text_a ─┐                 ┌─ vector_a ─┐
                ├─ encoder_layer ─┤            ├─ cosine ─ angular_similarity
        text_b ─┘   (shared)      └─ vector_b ─┘

    The Adam defaults are the tutorial's. ``frozen``: name prefixes of encoder variables to
    keep fixed (e.g. ``("token_table",)``); every prefix must match a trainable variable.
    ``ranking_weight`` > 0 adds a ranking term to the tutorial's MSE (``mse_with_ranking``).
    """
    if isinstance(ranking_weight, bool) or not isinstance(ranking_weight, (int, float)) \
            or not ranking_weight >= 0:
        raise InputError(f"ranking_weight={ranking_weight!r}: expected a number >= 0")
    if isinstance(frozen, str):
        frozen = (frozen,)
    names = [w.name for w in encoder_layer.trainable_weights]
    if not names:
        raise InputError("the encoder has no trainable variables: was the SavedModel exported "
                         "without them, or the layer built with trainable=False? Nothing would train")
    unknown = [f for f in frozen if not any(n.startswith(f) for n in names)]
    if unknown:
        raise InputError(f"frozen={tuple(frozen)!r}: {unknown} match no trainable variable of the "
                         f"encoder; its variables: {sorted(n.split(':')[0] for n in names)}")
    text_a = tf.keras.Input(shape=(), dtype=tf.string, name="text_a")
    text_b = tf.keras.Input(shape=(), dtype=tf.string, name="text_b")
    cosine = tf.keras.layers.Dot(axes=-1, normalize=True, name="cosine")(
        [encoder_layer(text_a), encoder_layer(text_b)])
    similarity = tf.keras.layers.Lambda(angular_similarity, name="angular_similarity")(cosine)
    model = SiameseModel([text_a, text_b], similarity, name="siamese", frozen=frozen)
    loss = mse_with_ranking(ranking_weight) if ranking_weight else "mse"
    model.compile(loss=loss, optimizer=FusedAdam(
        learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
        clipnorm=clipnorm))
    return model


def mix_replay(train_pairs: pd.DataFrame, general_pairs: pd.DataFrame | None, share: float,
               seed: int = 42) -> pd.DataFrame:
    """``train_pairs`` plus general-English pairs amounting to ``share`` of their number.

    Rehearsal against forgetting: ``general_pairs`` (e.g. ``nbhelpers.stsb.as_graded_pairs(
    load_stsb("train"))``) are drawn with ``seed`` in whole shuffled passes (repeated when more
    are needed than exist). With ``share`` 0 or no general pairs, the training pairs come back
    unchanged.
    """
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not share >= 0:
        raise InputError(f"replay={share!r}: expected a number >= 0 (STS-B train pairs mixed in, "
                         "as a share of the domain training pairs)")
    if not share or general_pairs is None:
        return train_pairs
    columns = [c for c in ("text1", "text2", "score", "level", "score_angular") if c in train_pairs]
    missing = [c for c in columns if c not in general_pairs.columns]
    if missing or general_pairs.empty:
        raise InputError(f"replay pairs: expected rows with the training pairs' columns; "
                         f"missing {missing}, {len(general_pairs)} row(s)")
    wanted, available = round(share * len(train_pairs)), len(general_pairs)
    # Whole shuffled passes over the general pairs, cut at `wanted`: every pair is used equally
    # often (give or take one), and the seed decides which pairs the last pass reaches.
    rng = np.random.default_rng(seed)
    passes = [rng.permutation(available) for _ in range(-(-wanted // available))]
    rows = np.concatenate(passes)[:wanted] if passes else np.array([], dtype=int)
    return pd.concat([train_pairs[columns], general_pairs[columns].iloc[rows]], ignore_index=True)


def soften_targets(pairs: pd.DataFrame, teacher: Encoder, weight: float) -> pd.DataFrame:
    """A copy of graded ``pairs`` whose targets move ``weight`` of the way to the teacher's cosine.

    Self-distillation: with the base model as ``teacher``, pairs of one level keep some of the
    spread the base model gives them instead of all being pulled to one value. ``score`` (cosine
    scale; negative teacher cosines count as 0) and ``score_angular`` are both rewritten.
    """
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight <= 1:
        raise InputError(f"teacher weight={weight!r}: expected a number in [0, 1]")
    missing = {"text1", "text2", "score"} - set(pairs.columns)
    if missing:
        raise InputError(f"training pairs: missing column(s) {sorted(missing)}")
    cosines = np.clip(pair_cosines(teacher, pairs.text1.tolist(), pairs.text2.tolist()), 0.0, 1.0)
    softened = pairs.copy()
    softened["score"] = (1 - weight) * pairs.score.to_numpy() + weight * cosines
    softened["score_angular"] = to_angular(softened.score.to_numpy())
    return softened


def hard_pairs(candidates: pd.DataFrame, teacher: Encoder, per_level: int, share: float,
               seed: int = 42) -> pd.DataFrame:
    """``per_level`` pairs of each level of ``candidates``, ``share`` of them the hardest (a trial).

    Hard-example mining: the hardest pairs are those whose teacher cosine is furthest from
    their target (``score``, cosine scale): for a far level the titles the teacher finds alike,
    for a close level those it finds unlike. The rest are drawn at random from the other
    candidates. A level with fewer candidates than ``per_level`` keeps them all. Shuffled, with
    the teacher's cosine of each pair in a ``teacher_cosine`` column.
    """
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
        raise InputError(f"hard share={share!r}: expected a number in [0, 1]")
    if isinstance(per_level, bool) or not isinstance(per_level, int) or per_level < 1:
        raise InputError(f"per_level={per_level!r}: expected an int >= 1")
    missing = {"text1", "text2", "score", "level"} - set(candidates.columns)
    if missing:
        raise InputError(f"candidate pairs: missing column(s) {sorted(missing)}")
    candidates = candidates.assign(teacher_cosine=pair_cosines(
        teacher, candidates.text1.tolist(), candidates.text2.tolist()))
    error = np.abs(candidates.teacher_cosine.to_numpy() - candidates.score.to_numpy())
    rng = np.random.default_rng(seed)
    keep = []
    for level in candidates.level.unique():
        rows = np.flatnonzero((candidates.level == level).to_numpy())
        hardest = rows[np.argsort(-error[rows], kind="stable")]
        n_hard = min(round(share * per_level), len(rows))
        rest = rng.permutation(hardest[n_hard:])[:per_level - n_hard]
        keep += [*hardest[:n_hard], *rest]
    return candidates.iloc[rng.permutation(keep)].reset_index(drop=True)


def pairs_dataset(pairs: pd.DataFrame, batch_size: int, shuffle: bool = False,
                  seed: int | None = None, target: str = "score_angular",
                  name: str = "pairs") -> tf.data.Dataset:
    """Batches of ``({"text_a", "text_b"}, target)``; reshuffled every epoch when ``shuffle``.

    ``name`` is the parameter or split the frame came from, for error messages.
    """
    missing = [c for c in (*PAIR_COLUMNS, target) if c not in pairs.columns]
    if missing:
        raise InputError(f"{name}: missing column(s) {missing}; found {list(pairs.columns)}")
    if pairs.empty:
        raise InputError(f"{name}: no pairs (an empty split?); training and validation "
                         "each need at least one pair")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InputError(f"batch_size={batch_size!r}: expected a positive int")
    for column in PAIR_COLUMNS:
        bad = ~pairs[column].map(lambda text: isinstance(text, str))
        if bad.any():
            row = int(bad.to_numpy().nonzero()[0][0])
            raise InputError(f"{name}: row {pairs.index[row]!r}: {column} "
                             f"{pairs[column].iloc[row]!r} is not a string")
    values = pd.to_numeric(pairs[target], errors="coerce")
    bad = values.isna() | ~values.between(0.0, 1.0)
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise InputError(f"{name}: row {pairs.index[row]!r} ({pairs.text1.iloc[row]!r} / "
                         f"{pairs.text2.iloc[row]!r}): {target} {pairs[target].iloc[row]!r} "
                         "is not a number in [0, 1]")
    texts = {"text_a": pairs.text1.to_numpy(str), "text_b": pairs.text2.to_numpy(str)}
    data = tf.data.Dataset.from_tensor_slices((texts, values.to_numpy(np.float32)))
    if shuffle:
        data = data.shuffle(len(pairs), seed=seed, reshuffle_each_iteration=True)
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)


class LinearDecay(tf.keras.callbacks.Callback):
    """Learning rate falling linearly from the optimizer's to zero over ``total_steps`` batches.

    The peak is restored when training ends, so the optimizer can be reused.
    """

    def __init__(self, total_steps: int):
        super().__init__()
        self.total_steps = total_steps

    def on_train_begin(self, logs=None):
        self.peak, self.step = float(self.model.optimizer.learning_rate.numpy()), 0

    def on_train_batch_begin(self, batch, logs=None):
        self.model.optimizer.learning_rate.assign(self.peak * (1 - self.step / self.total_steps))
        self.step += 1

    def on_train_end(self, logs=None):
        self.model.optimizer.learning_rate.assign(self.peak)


@dataclass
class TrainResult:
    """What ``train_siamese`` did: per-epoch losses, the restored epoch and the speed."""

    history: pd.DataFrame        # epoch (1-based), loss, val_loss
    best_epoch: float            # epoch whose weights the model now holds (1-based; a fraction
                                 # of a pass with checks_per_epoch > 1)
    seconds: float               # wall time of fit, validation passes included
    samples_per_second: float    # training pairs per second of that wall time


def train_siamese(model: tf.keras.Model, train_pairs: pd.DataFrame, val_pairs: pd.DataFrame, *,
                  epochs: int, batch_size: int, patience: int, log_dir: str | Path,
                  seed: int = 42, lr_decay: bool = False, checks_per_epoch: int = 1,
                  target: str = "score_angular", verbose: int = 1) -> TrainResult:
    """Fit on ``train_pairs``, validate on ``val_pairs``, stop early and keep the best epoch.

    TensorBoard logs go to ``log_dir`` (put it in the run folder). Seeds are fixed with
    ``tf.keras.utils.set_random_seed(seed)``; the training pairs are reshuffled every epoch.
    ``lr_decay``: the learning rate falls linearly to zero over all ``epochs`` (``LinearDecay``).
    ``checks_per_epoch``: validate (and let early stopping decide) this many times per pass
    over the training pairs; ``patience`` then counts checks, and ``history.epoch`` and
    ``best_epoch`` are fractions of passes (0.25, 0.5, ...).
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise InputError(f"epochs={epochs!r}: expected a positive int")
    if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
        raise InputError(f"patience={patience!r}: expected an int >= 0")
    if isinstance(checks_per_epoch, bool) or not isinstance(checks_per_epoch, int) \
            or checks_per_epoch < 1:
        raise InputError(f"checks_per_epoch={checks_per_epoch!r}: expected a positive int")
    tf.keras.utils.set_random_seed(seed)
    train = pairs_dataset(train_pairs, batch_size, shuffle=True, seed=seed, target=target,
                          name="train_pairs")
    check_steps = math.ceil(math.ceil(len(train_pairs) / batch_size) / checks_per_epoch)
    if checks_per_epoch > 1:
        train = train.repeat()   # Keras "epochs" become checks of check_steps batches each
    val = pairs_dataset(val_pairs, batch_size, target=target, name="val_pairs")
    stopper = tf.keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience,
                                               restore_best_weights=True)
    board = tf.keras.callbacks.TensorBoard(log_dir=str(log_dir), write_graph=False,
                                           profile_batch=0)
    callbacks = [stopper, board]
    if lr_decay:
        callbacks.append(LinearDecay(epochs * checks_per_epoch * check_steps))
    start = time.perf_counter()
    fit = model.fit(train, validation_data=val, epochs=epochs * checks_per_epoch,
                    steps_per_epoch=check_steps if checks_per_epoch > 1 else None,
                    callbacks=callbacks, verbose=verbose)
    seconds = time.perf_counter() - start
    checks = np.arange(1, len(fit.history["loss"]) + 1)
    history = pd.DataFrame({"epoch": checks if checks_per_epoch == 1 else checks / checks_per_epoch,
                            "loss": fit.history["loss"], "val_loss": fit.history["val_loss"]})
    best = stopper.best_epoch + 1
    return TrainResult(history=history,
                       best_epoch=best if checks_per_epoch == 1 else best / checks_per_epoch,
                       seconds=seconds,
                       samples_per_second=len(history) * len(train_pairs) / checks_per_epoch / seconds)


class LayerEncoder(Encoder):
    """An in-memory ``hub.KerasLayer`` (e.g. while it trains) as an :class:`Encoder`."""

    batch_size = 256

    def __init__(self, layer: hub.KerasLayer, spec: str = "siamese-tuned"):
        self.layer = layer
        self.spec = spec
        self.dim = int(layer(tf.constant(["probe"])).shape[-1])

    def _encode_batch(self, texts, kind):
        return self.layer(tf.constant(texts), training=False).numpy()


def snapshot_weights(layer: hub.KerasLayer) -> list[np.ndarray]:
    """Copies of the layer's variables (take one of the base model before training)."""
    return [np.array(w.numpy(), copy=True) for w in layer.weights]


def interpolate(layer: hub.KerasLayer, base: list[np.ndarray], tuned: list[np.ndarray],
                alpha: float) -> None:
    """Set the layer's weights to ``(1 - alpha) * base + alpha * tuned`` (alpha in [0, 1])."""
    if not 0.0 <= alpha <= 1.0:
        raise InputError(f"alpha={alpha!r}: expected a number in [0, 1]")
    if not len(base) == len(tuned) == len(layer.weights):
        raise InputError(f"interpolate: the layer has {len(layer.weights)} variables, base "
                         f"{len(base)} and tuned {len(tuned)}; snapshot the same layer")
    for var, b, t in zip(layer.weights, base, tuned):
        if b.shape != var.shape or t.shape != var.shape:
            raise InputError(f"interpolate: {var.name} has shape {tuple(var.shape)}, base "
                             f"{b.shape}, tuned {t.shape}; snapshot the same layer")
        var.assign((1.0 - alpha) * b + alpha * t)


def alpha_sweep(layer: hub.KerasLayer, base: list[np.ndarray], tuned: list[np.ndarray],
                alphas, evaluate) -> pd.DataFrame:
    """Scores at each ``alpha``: one row ``{alpha, **evaluate(encoder)}`` per alpha.

    ``evaluate`` takes an :class:`Encoder` and returns a dict such as ``{"domain_spearman":
    ..., "stsb_dev_pearson": ...}`` (NaN or None when STS-B is unavailable). The layer ends
    at the tuned weights (alpha = 1); apply a chosen alpha with :func:`interpolate`.
    """
    alphas = [float(a) for a in alphas]
    if not alphas:
        raise InputError("alphas: expected at least one value in [0, 1]")
    rows = []
    try:
        for alpha in alphas:
            interpolate(layer, base, tuned, alpha)
            rows.append({"alpha": alpha, **evaluate(LayerEncoder(layer))})
    finally:
        interpolate(layer, base, tuned, 1.0)
    return pd.DataFrame(rows)


def output_names(model: str) -> dict[str, str]:
    """Notebook 03's names for the base, tuned and chosen (merged) encoder of ``model``.

    The base keeps its spec, so notebook 02's records of it are reused and notebook 05 can
    reload it; the two tuned models are named (and saved under ``models/``) after it.
    """
    stem = folder_name(model)
    return {"base": str(model), "tuned": f"{stem}-tuned", "merged": f"{stem}-merged"}


def save_encoder(layer: hub.KerasLayer, path: str | Path) -> Path:
    """Write the layer's current weights as a TF Hub-format SavedModel at a new folder ``path``.

    The folder loads with ``hub.KerasLayer(path, trainable=True)`` and
    ``nbhelpers.models.resolve_model(path)``. It is written under a temporary sibling name and
    renamed; an existing folder is never overwritten.
    """
    from nbhelpers.use_savedmodel import save_atomically

    try:
        # The layer's loaded object keeps the TF Hub contract (__call__, variables,
        # trainable_variables, regularization_losses) and holds the trained variables.
        return save_atomically(layer.resolved_object, Path(path))
    except FileExistsError as err:
        raise InputError(f"{path} already exists; save the encoder to a new folder "
                         "(an earlier model is never overwritten)") from err
