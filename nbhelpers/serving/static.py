"""A static-embedding model distilled from the tuned one, and its Matryoshka fine-tuning.

model2vec distillation (through sentence-transformers' ``StaticEmbedding.from_distillation``)
passes every token of the tokenizer's vocabulary, and any extra words given, through the tuned
model once and keeps one vector per token, reduced by PCA. Encoding a text is then a lookup and
a mean: no network runs. Fine-tuning it with the same Matryoshka MNRL recipe as notebook 04
trains in seconds to minutes on a CPU, at a learning rate far above a transformer's (notebook
06's ``static_learning_rate``, 0.05): sentence-transformers' examples train static models from
random vectors at 0.2, which, from distilled vectors, scored below the distilled model itself
on the quick run's validation split.
"""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from nbhelpers.errors import InputError

_WORD = re.compile(r"[^\W\d_][\w'-]*[^\W_]|[^\W\d_]")


def domain_vocabulary(texts: list[str], tokenizer, min_count: int = 3, limit: int = 5000) -> list[str]:
    """Words of the run's training texts, seen at least ``min_count`` times, that the tokenizer
    splits into pieces: distilled as whole tokens, each gets a vector of its own."""
    if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
        raise InputError(f"min_count={min_count!r}: expected a whole number >= 1")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise InputError(f"limit={limit!r}: expected a whole number >= 0 (0: no extra words)")
    lower = bool(getattr(tokenizer, "do_lower_case", False)) or _lowercases(tokenizer)
    counts = Counter(word.lower() if lower else word
                     for text in texts for word in _WORD.findall(text))
    known = tokenizer.get_vocab()
    words = [w for w, n in counts.most_common() if n >= min_count and w not in known]
    return words[:limit]


def _lowercases(tokenizer) -> bool:
    return tokenizer.tokenize("ABC") == tokenizer.tokenize("abc")


def training_arguments(output_dir: str | Path, epochs: float, batch_size: int, learning_rate: float,
                       seed: int):
    """Trainer arguments for a static model: its own learning rate, no checkpoints, no evaluation
    during training (a static model trains in one short pass), the no-duplicates sampler."""
    from sentence_transformers import SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.training_args import BatchSamplers

    from nbhelpers.matryoshka.arguments import device_flags

    if not epochs or epochs <= 0:
        raise InputError(f"static_epochs={epochs!r}: expected a number > 0 (0 skips fine-tuning)")
    return SentenceTransformerTrainingArguments(
        output_dir=str(output_dir), num_train_epochs=float(epochs),
        per_device_train_batch_size=batch_size, learning_rate=learning_rate, warmup_steps=0.1,
        batch_sampler=BatchSamplers.NO_DUPLICATES, save_strategy="no", eval_strategy="no",
        report_to="none", seed=seed, data_seed=seed, disable_tqdm=False, logging_steps=50,
        **device_flags())
