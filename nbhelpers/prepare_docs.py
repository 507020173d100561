"""Notebook 01 for your own documents (``domain="docs"``): questions about held-out documents.

The files of ``docs_dir`` are read and cut into chunks, and each chunk gets questions (inverse
cloze offline, or an LLM). The split is **by document**: a held-out document gives no chunk
and no question to training, so retrieval is measured on questions about documents the model
never trained on. Every chunk of the collection stays in the evaluation corpus, as a real
search would see it. Near-duplicate chunks across documents (templates, copied paragraphs)
cannot be held out that way; they are counted and reported. With LLM questions, a training
question is kept only if the base model ranks its own passage in the top ``qa_filter_top_k``
(round-trip consistency); held-out questions are never filtered, since a filter by the base
model would tilt the test towards it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from nbhelpers.documents import (Corpus, chunk_documents, generate_qa_pairs, read_documents)
from nbhelpers.errors import InputError
from nbhelpers.paths import project_root
from nbhelpers.runs import sha256
from nbhelpers.splits import SPLITS

#: Cosine similarity (TF-IDF of words and word pairs) above which two chunks count as near-duplicates.
NEAR_DUPLICATE = 0.9


@dataclass
class DocumentSource:
    """A folder of documents, read."""

    folder: Path
    corpus: Corpus

    def summary(self) -> dict:
        return {"documents": len(self.corpus.documents),
                "characters": sum(len(d.text) for d in self.corpus.documents),
                "empty_files": len(self.corpus.empty_files)}

    def preview(self, n: int = 5) -> pd.DataFrame:
        """The first documents: name, size and opening words."""
        return pd.DataFrame([{"document": d.path, "characters": len(d.text),
                              "starts": " ".join(d.text.split()[:12]) + " …"}
                             for d in self.corpus.documents[:n]])

    def inputs(self) -> dict[str, str]:
        return {str(self.folder / d.path): sha256(self.folder / d.path) for d in self.corpus.documents}


def load_documents(docs_dir: str) -> DocumentSource:
    """``docs_dir`` read (``"sample"``: the project's sample documents in data/sample_docs)."""
    folder = project_root() / "data" / "sample_docs" if docs_dir == "sample" else Path(docs_dir)
    return DocumentSource(folder, read_documents(folder))


#: Fewest test documents: the interval of a gain redraws whole test documents.
MIN_TEST_DOCUMENTS = 2


def split_documents(sources: list[str], fractions, seed: int, name: str = "docs_dir") -> dict[str, str]:
    """Each document's split: a seeded shuffle, then test takes its share (at least two
    documents, so the gain's interval can redraw documents), validation its share (at least
    one) and training the rest (at least one)."""
    n = len(sources)
    needed = MIN_TEST_DOCUMENTS + 2
    if n < needed:
        raise InputError(f"{name}: {n} document(s) with text; holding out documents needs at least "
                         f"{needed} ({MIN_TEST_DOCUMENTS} for test, 1 for validation, 1 for training)")
    order = [sources[i] for i in np.random.default_rng(seed).permutation(n)]
    n_test = max(MIN_TEST_DOCUMENTS, round(n * fractions[2]))
    n_val = max(1, round(n * fractions[1]))
    if n - n_test - n_val < 1:
        n_test, n_val = MIN_TEST_DOCUMENTS, 1
    split_of = {s: "test" for s in order[:n_test]}
    split_of.update({s: "validation" for s in order[n_test:n_test + n_val]})
    split_of.update({s: "train" for s in order[n_test + n_val:]})
    return split_of


def near_duplicates(passages: pd.DataFrame, threshold: float = NEAR_DUPLICATE) -> dict:
    """Chunk pairs from different documents whose TF-IDF cosine is at least ``threshold``,
    and the held-out chunks that have such a twin in a training document."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectors = TfidfVectorizer(ngram_range=(1, 2), min_df=1).fit_transform(passages.passage)
    sources, splits = passages.source.to_numpy(), passages.split.to_numpy()
    pairs, leaked = 0, set()
    for start in range(0, vectors.shape[0], 1000):
        block = (vectors[start:start + 1000] @ vectors.T).tocoo()
        rows, cols = block.row + start, block.col
        keep = (block.data >= threshold) & (rows < cols) & (sources[rows] != sources[cols])
        rows, cols = rows[keep], cols[keep]
        pairs += len(rows)
        for a, b in zip(rows, cols):
            for held, other in ((a, b), (b, a)):
                if splits[held] != "train" and splits[other] == "train":
                    leaked.add(int(held))
    return {"threshold": threshold, "pairs_across_documents": int(pairs),
            "held_out_chunks_with_a_training_twin": len(leaked)}


def build_docs_datasets(source: DocumentSource, config):
    """Split by document, generate and filter questions, and assemble :class:`Prepared`."""
    from nbhelpers.prepare import RETRIEVAL_COLUMNS, Prepared, empty_pairs

    split_of = split_documents([d.path for d in source.corpus.documents], config.fractions,
                               config.seed, f"docs_dir={str(config.docs_dir)!r}")
    chunks = chunk_documents(source.corpus.documents, chunk_size=config.qa_chunk_size,
                             overlap=config.qa_overlap)
    generated = generate_qa_pairs(chunks, method=config.qa_method, seed=config.seed,
                                  progress=config.qa_method == "llm",
                                  max_failed_share=config.qa_max_failed_share)
    questions = pd.DataFrame(generated.pairs, columns=[*RETRIEVAL_COLUMNS, "source"])
    questions["split"] = questions.source.map(split_of)
    # The evaluation text of a chunk: the passage its question was asked of (inverse cloze
    # leaves the question's sentence out), else the whole chunk.
    asked = dict(zip(questions.passage_id, questions.passage))
    passages = pd.DataFrame({"passage_id": [c.id for c in chunks],
                             "passage": [asked.get(c.id, c.text) for c in chunks],
                             "source": [c.source for c in chunks]})
    passages["split"] = passages.source.map(split_of)
    report = {"qa": {"method": config.qa_method, "chunks": generated.n_chunks,
                     "skipped": generated.skipped, "failures": generated.failures},
              "near_duplicates": near_duplicates(passages)}
    if config.qa_method == "llm" and config.qa_filter_top_k:
        questions, report["round_trip"] = round_trip_filter(questions, passages, config)
    for split in SPLITS:
        if not (questions.split == split).any():
            raise InputError(f"docs_dir={str(config.docs_dir)!r}: the {split} documents "
                             f"({sorted(s for s, v in split_of.items() if v == split)}) gave no "
                             "question; use more or longer documents, or smaller qa_chunk_size")
    documents = pd.DataFrame({"source": list(split_of), "split": list(split_of.values())})
    documents["chunks"] = documents.source.map(passages.source.value_counts()).fillna(0).astype(int)
    documents["questions"] = documents.source.map(questions.source.value_counts()).fillna(0).astype(int)
    retrieval = {s: questions[questions.split == s].drop(columns="split").reset_index(drop=True)
                 for s in SPLITS}
    return Prepared(None, {s: empty_pairs() for s in SPLITS}, retrieval, domain="docs",
                    documents=documents, passages=passages, report=report)


def round_trip_filter(questions: pd.DataFrame, passages: pd.DataFrame, config):
    """Keep a training question only if ``config.qa_filter_model`` ranks its own passage in
    the top ``config.qa_filter_top_k`` of the whole collection; held-out questions stay."""
    from nbhelpers.models import resolve_model

    train = questions[questions.split == "train"]
    encoder = resolve_model(config.qa_filter_model)
    q = encoder.encode(train["query"].tolist(), kind="query")
    d = encoder.encode(passages.passage.tolist(), kind="document")
    own = pd.Index(passages.passage_id).get_indexer(train.passage_id)
    scores = q @ d.T
    rank = (scores > scores[np.arange(len(own)), own][:, None]).sum(axis=1)
    keep = rank < config.qa_filter_top_k
    counts = {"model": config.qa_filter_model, "top_k": config.qa_filter_top_k,
              "checked": len(train), "kept": int(keep.sum())}
    if len(train) and not keep.any():
        raise InputError(f"round-trip filter: none of the {len(train)} training questions has its "
                         f"passage in {config.qa_filter_model}'s top {config.qa_filter_top_k}; the "
                         "questions do not match their passages. Check the LLM's output, raise "
                         "qa_filter_top_k, or set qa_filter_top_k=None to keep every question")
    dropped = train.index[~keep]
    return questions.drop(index=dropped).reset_index(drop=True), counts
