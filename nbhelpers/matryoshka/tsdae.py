"""TSDAE: unsupervised adaptation on unlabelled sentences of the domain (``tsdae=True``).

A transformer-based denoising auto-encoder (Wang et al., 2021): each sentence is damaged by
deleting most of its words, the encoder embeds the damaged text, and a decoder tied to the
encoder must rebuild the original sentence from that one vector alone. sentence-transformers'
``DenoisingAutoEncoderLoss`` carries it; its dataset helper needs nltk's tokenizer data, which
an offline machine lacks, so the damage here is plain word deletion with a seeded generator.
The series runs it before pair training, on the training split's sentences only.
"""
from __future__ import annotations

import contextlib
import random
from pathlib import Path

from nbhelpers.errors import InputError

#: Share of words deleted from each sentence (the TSDAE paper's best setting).
DELETION = 0.6
#: Fewest sentences TSDAE is run on.
MIN_SENTENCES = 16


def damage(sentence: str, rng: random.Random, deletion: float = DELETION) -> str:
    """The sentence with each word deleted with probability ``deletion`` (one word always kept)."""
    words = sentence.split()
    kept = [w for w in words if rng.random() >= deletion]
    return " ".join(kept or [words[rng.randrange(len(words))]])


def damaged_dataset(sentences: list[str], seed: int):
    """A ``datasets.Dataset`` of (damaged, original) sentences, in the order the loss reads them:
    the first column is encoded, the second rebuilt."""
    from datasets import Dataset

    if len(sentences) < MIN_SENTENCES:
        raise InputError(f"tsdae=True: {len(sentences)} training sentences of four words or more; "
                         f"TSDAE needs at least {MIN_SENTENCES}")
    rng = random.Random(seed)
    return Dataset.from_dict({"damaged": [damage(s, rng) for s in sentences], "original": sentences})


def arguments(config, output_dir: Path) -> dict:
    """Training arguments of the TSDAE step: one pass, the paper's learning rate, no checkpoints."""
    from nbhelpers.matryoshka.arguments import device_flags

    return {"output_dir": str(output_dir), "num_train_epochs": config.tsdae_epochs,
            "per_device_train_batch_size": 16, "learning_rate": 3e-5, "save_strategy": "no",
            "report_to": "none", "seed": config.seed, "disable_tqdm": True,
            **device_flags()}


@contextlib.contextmanager
def quiet():
    """Hide transformers' load report while the tied decoder is built: it lists the decoder's
    cross-attention weights as newly created, which is what TSDAE expects."""
    from transformers.utils import logging

    before = logging.get_verbosity()
    logging.set_verbosity_error()
    try:
        yield
    finally:
        logging.set_verbosity(before)


def adapt(model, sentences: list[str], config, output_dir: Path) -> float:
    """Train ``model`` in place with TSDAE on ``sentences``; returns the training seconds."""
    import time

    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.sentence_transformer.losses import DenoisingAutoEncoderLoss

    from transformers import PrinterCallback

    dataset = damaged_dataset(sentences, config.seed)
    with quiet():
        loss = DenoisingAutoEncoderLoss(model, tie_encoder_decoder=True)
    trainer = SentenceTransformerTrainer(
        model=model, train_dataset=dataset, loss=loss,
        args=SentenceTransformerTrainingArguments(**arguments(config, output_dir)))
    trainer.remove_callback(PrinterCallback)
    start = time.perf_counter()
    trainer.train()
    return time.perf_counter() - start
