"""Documents -> QA pairs: training data for fine-tuning an embedding model on your own files.

1. ``read_documents`` reads the .txt, .md and .pdf files of a folder (sorted, recursive).
2. ``chunk_documents`` packs whole sentences into chunks of at most ``chunk_size`` characters.
3. ``generate_qa_pairs`` makes (query, passage) pairs per chunk, offline by inverse cloze or with
   any OpenAI-compatible chat endpoint; a chunk that fails is skipped and counted, never fatal.
``documents_to_qa_pairs`` runs the three steps.
"""
from __future__ import annotations

import http.client
import json
import logging
import os
import random
import re
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path

import pypdf
from tqdm.auto import tqdm

from nbhelpers.errors import InputError

logger = logging.getLogger(__name__)

SUPPORTED_EXTENSIONS = (".md", ".pdf", ".txt")
METHODS = ("inverse-cloze", "llm")


@dataclass(frozen=True)
class Document:
    path: str  # relative to the folder that was read, with "/" separators
    text: str


@dataclass
class Corpus:
    documents: list[Document]
    empty_files: list[str]


@dataclass(frozen=True)
class Chunk:
    id: str  # "<relative file path>#<index>"
    source: str
    sentences: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(self.sentences)


@dataclass
class QAResult:
    pairs: list[dict[str, str]]  # keys: query_id, query, passage_id, passage, source
    skipped: dict[str, int]  # reason -> number of chunks (or files) skipped
    n_chunks: int
    failures: list[dict[str, str]] = field(default_factory=list)  # chunk, reason, message (LLM)


#: Connection failures or timeouts in a row after which the LLM endpoint counts as unreachable.
UNREACHABLE_AFTER = 3


# ---------------------------------------------------------------------------------- reading
def _read_file(path: Path, name: str) -> str:
    if path.suffix.lower() == ".pdf":
        try:
            return "\n".join(page.extract_text() or "" for page in pypdf.PdfReader(path).pages)
        except Exception as err:  # pypdf raises many unrelated types on broken files
            raise InputError(f"{name}: not a readable PDF ({type(err).__name__}: {err})") from err
    try:
        return path.read_bytes().decode("utf-8-sig")
    except OSError as err:
        raise InputError(f"{name}: cannot read the file ({err.strerror})") from err
    except UnicodeDecodeError as err:
        raise InputError(
            f"{name}: not UTF-8 text (invalid byte {err.object[err.start]:#04x} at offset "
            f"{err.start}); re-save the file as UTF-8"
        ) from err


def read_documents(folder: str | Path) -> Corpus:
    """Read every supported file under ``folder`` (hidden files and folders are ignored)."""
    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"{root}: folder not found (expected a folder of documents)")
    found = ((p.relative_to(root), p) for p in root.rglob("*") if p.is_file())
    paths = sorted(
        (rel.as_posix(), p)
        for rel, p in found
        if p.suffix.lower() in SUPPORTED_EXTENSIONS
        and not any(part.startswith(".") for part in rel.parts)
    )
    if not paths:
        raise InputError(f"{root}: no supported files (expected {', '.join(SUPPORTED_EXTENSIONS)})")
    corpus = Corpus(documents=[], empty_files=[])
    for name, path in paths:
        text = _read_file(path, name)
        if text.strip():
            corpus.documents.append(Document(name, text))
        else:
            corpus.empty_files.append(name)
    if not corpus.documents:
        raise InputError(f"{root}: all {len(paths)} supported files are empty")
    return corpus


# --------------------------------------------------------------------------------- chunking
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
# End punctuation, optional closing quotes/brackets, then whitespace: a candidate boundary.
_BOUNDARY = re.compile(r"[.!?]+[\"'”’)\]]*\s+")
_OPENERS = "\"'“‘(["
_ABBREVIATIONS = frozenset({"e.g.", "i.e.", "etc.", "cf.", "vs.", "dr.", "mr.", "mrs.", "ms.",
                            "prof."})


def split_sentences(text: str) -> list[str]:
    """Split at paragraph breaks, and after . ! ? followed by a capital, digit or opening quote.

    Whitespace inside a paragraph is collapsed to single spaces. A boundary right after a common
    abbreviation (e.g., i.e., etc., Dr., Mr., ...) is not a boundary. Initials such as "J. Smith"
    are split: the splitter is deliberately simple.
    """
    sentences = []
    for paragraph in _PARAGRAPH_BREAK.split(text):
        paragraph = " ".join(paragraph.split())
        start = 0
        for match in _BOUNDARY.finditer(paragraph):
            following = paragraph[match.end()]  # safe: a collapsed paragraph never ends in a space
            if not (following.isupper() or following.isdigit() or following in _OPENERS):
                continue
            sentence = paragraph[start : match.end()].strip()
            if sentence.rsplit(" ", 1)[-1].lstrip(_OPENERS).lower() in _ABBREVIATIONS:
                continue
            sentences.append(sentence)
            start = match.end()
        if paragraph[start:]:
            sentences.append(paragraph[start:])
    return sentences


def _split_long(sentence: str, chunk_size: int) -> list[str]:
    """Cut a sentence longer than ``chunk_size`` at word boundaries (a longer word is cut too)."""
    pieces: list[str] = []
    current = ""
    for word in sentence.split(" "):
        while len(word) > chunk_size:
            if current:
                pieces.append(current)
                current = ""
            pieces.append(word[:chunk_size])
            word = word[chunk_size:]
        if current and len(current) + 1 + len(word) > chunk_size:
            pieces.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        pieces.append(current)
    return pieces


def _pack(units: list[str], chunk_size: int, overlap: int) -> list[tuple[str, ...]]:
    """Greedily pack units (each <= chunk_size) into chunks, repeating up to ``overlap`` units.

    The overlap is reduced where needed so that every chunk adds at least one new unit:
    the loop always advances.
    """
    chunks = []
    start = 0
    while start < len(units):
        end, size = start + 1, len(units[start])
        while end < len(units) and size + 1 + len(units[end]) <= chunk_size:
            size += 1 + len(units[end])
            end += 1
        chunks.append(tuple(units[start:end]))
        if end == len(units):
            break
        keep = min(overlap, end - start - 1)
        while keep and len(" ".join(units[end - keep : end + 1])) > chunk_size:
            keep -= 1
        start = end - keep
    return chunks


def chunk_documents(documents: Iterable[Document], chunk_size: int = 1000,
                    overlap: int = 1) -> list[Chunk]:
    """Split each document into sentence-aligned chunks of at most ``chunk_size`` characters."""
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size <= 0:
        raise InputError(f"chunk_size must be a positive integer (characters), got {chunk_size!r}")
    if isinstance(overlap, bool) or not isinstance(overlap, int) or overlap < 0:
        raise InputError(f"overlap must be an integer >= 0 (sentences), got {overlap!r}")
    chunks = []
    for doc in documents:
        units = [piece for s in split_sentences(doc.text) for piece in _split_long(s, chunk_size)]
        for index, sentences in enumerate(_pack(units, chunk_size, overlap)):
            chunks.append(Chunk(f"{doc.path}#{index}", doc.path, sentences))
    return chunks


# ------------------------------------------------------------------------------ generation
class LLMFailure(Exception):
    """One chunk could not be turned into questions; ``reason`` is the key counted in skipped."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


_FENCE = re.compile(r"```(?:json)?\s*(.*?)\s*```", re.DOTALL)


def parse_questions(body: bytes, n_questions: int) -> list[str]:
    """Questions from a chat-completion body whose content is a JSON list (maybe ```json fenced)."""
    try:
        content = json.loads(body)["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as err:
        raise LLMFailure("malformed", "body has no JSON choices[0].message.content") from err
    if not isinstance(content, str):
        raise LLMFailure("malformed", "choices[0].message.content is not a string")
    fenced = _FENCE.search(content)
    try:
        questions = json.loads(fenced.group(1) if fenced else content)
    except ValueError as err:
        raise LLMFailure("malformed", "message content is not JSON") from err
    if not (isinstance(questions, list) and questions
            and all(isinstance(q, str) and q.strip() for q in questions)):
        raise LLMFailure("malformed", "message content is not a JSON list of non-empty strings")
    return [q.strip() for q in questions[:n_questions]]


@dataclass
class LLMQuestionGenerator:
    """Client for ``POST {base_url}/chat/completions`` of any OpenAI-compatible server.

    ``base_url``, ``model`` and ``api_key`` default to ``OPENAI_BASE_URL``, ``OPENAI_MODEL`` and
    ``OPENAI_API_KEY``. The key is only ever sent in the Authorization header: it is not in the
    repr and is masked in error messages. ``timeout`` is per socket operation, in seconds;
    timeouts, connection and HTTP errors are retried ``retries`` times, malformed answers are not.
    """

    base_url: str | None = None
    model: str | None = None
    api_key: str | None = field(default=None, repr=False)
    n_questions: int = 1
    timeout: float = 30.0
    retries: int = 0
    retry_delay: float = 1.0

    def __post_init__(self) -> None:
        self.base_url = (self.base_url or os.environ.get("OPENAI_BASE_URL") or "").rstrip("/")
        self.model = self.model or os.environ.get("OPENAI_MODEL")
        self.api_key = self.api_key or os.environ.get("OPENAI_API_KEY")
        if not self.base_url.startswith(("http://", "https://")):
            raise InputError(f"base_url must be an http(s) URL such as http://localhost:11434/v1, "
                             f"got {self.base_url!r}: pass base_url=... or set OPENAI_BASE_URL")
        if not self.model:
            raise InputError("model is required for method='llm': "
                             "pass model=... or set OPENAI_MODEL")
        if not isinstance(self.n_questions, int) or self.n_questions < 1:
            raise InputError(f"n_questions must be an integer >= 1, got {self.n_questions!r}")
        if not isinstance(self.timeout, (int, float)) or self.timeout <= 0:
            raise InputError(f"timeout must be > 0 seconds, got {self.timeout!r}")
        if not isinstance(self.retries, int) or self.retries < 0:
            raise InputError(f"retries must be an integer >= 0, got {self.retries!r}")

    def questions(self, passage: str) -> list[str]:
        """Up to ``n_questions`` questions answered by ``passage``; raises LLMFailure."""
        attempt = 0
        while True:
            try:
                return parse_questions(self._post(passage), self.n_questions)
            except LLMFailure as failure:
                if failure.reason == "malformed" or attempt >= self.retries:
                    raise
            attempt += 1
            time.sleep(self.retry_delay)

    def _post(self, passage: str) -> bytes:
        n, plural = self.n_questions, "s" if self.n_questions > 1 else ""
        prompt = (f"Write {n} question{plural} that the passage below answers. Reply with only "
                  f"a JSON list of {n} string{plural}.\n\nPassage:\n{passage}")
        body = {"model": self.model, "temperature": 0, "messages": [
            {"role": "system", "content": "You write search queries for a retrieval training set."},
            {"role": "user", "content": prompt},
        ]}
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        url = f"{self.base_url}/chat/completions"
        request = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
        try:
            with urllib.request.build_opener().open(request, timeout=self.timeout) as response:
                return response.read()
        except urllib.error.HTTPError as err:
            detail = self._mask(" ".join(err.read(200).decode("utf-8", "replace").split()))
            err.close()
            raise LLMFailure("http_error", f"HTTP {err.code} from {url}: {detail}") from None
        except (OSError, http.client.HTTPException) as err:  # URLError and TimeoutError included
            reason = getattr(err, "reason", err)  # URLError wraps the socket error
            if isinstance(reason, TimeoutError):
                message = f"no answer from {url} within {self.timeout} s"
                raise LLMFailure("timeout", message) from None
            raise LLMFailure("connection_error", f"cannot reach {url}: {reason!r}") from None

    def _mask(self, text: str) -> str:
        return text.replace(self.api_key, "***") if self.api_key else text


def _inverse_cloze(chunks: list[Chunk], seed: int,
                   skipped: dict[str, int]) -> list[dict[str, str]]:
    """One (sentence, rest of the chunk) pair per chunk. The query is drawn among the chunk's
    sentences that no other chunk holds (an overlap or a repeated boilerplate line would make
    another chunk an equally right answer); a chunk without such a sentence is skipped."""
    rng = random.Random(seed)
    holders = Counter(s for chunk in chunks for s in set(chunk.sentences))
    pairs = []
    for chunk in chunks:
        if len(chunk.sentences) < 2:
            skipped["single_sentence"] += 1
            continue
        own = [i for i, s in enumerate(chunk.sentences) if holders[s] == 1]
        if not own:
            skipped["query_in_other_chunk"] += 1
            continue
        i = own[rng.randrange(len(own))]
        query = chunk.sentences[i]
        passage = " ".join(chunk.sentences[:i] + chunk.sentences[i + 1 :])
        if query in passage:
            skipped["query_in_passage"] += 1
            continue
        pairs.append({"query_id": f"{chunk.id}/q0", "query": query, "passage_id": chunk.id,
                      "passage": passage, "source": chunk.source})
    return pairs


def _llm(chunks: list[Chunk], generator: LLMQuestionGenerator, skipped: dict[str, int],
         failures: list[dict[str, str]], progress: bool, max_failed_share: float) -> list[dict[str, str]]:
    """Questions for every chunk. A chunk that fails is skipped and recorded; the endpoint not
    answering ``UNREACHABLE_AFTER`` times in a row, every chunk failing, or more than
    ``max_failed_share`` of them failing stops with an error: no run succeeds on a silent
    fraction of its data."""
    pairs, in_a_row = [], 0
    for index, chunk in enumerate(tqdm(chunks, desc="LLM questions", unit="chunk", disable=not progress)):
        try:
            questions = generator.questions(chunk.text)
        except LLMFailure as failure:
            skipped[failure.reason] += 1
            failures.append({"chunk": chunk.id, "reason": failure.reason, "message": str(failure)})
            logger.warning("skipping chunk %s: %s", chunk.id, failure)
            in_a_row = in_a_row + 1 if failure.reason in ("timeout", "connection_error") else 0
            if in_a_row >= UNREACHABLE_AFTER:
                raise InputError(f"the LLM endpoint {generator.base_url} did not answer {in_a_row} chunks "
                                 f"in a row (last: {failure}); stopped after {index + 1} of "
                                 f"{len(chunks)} chunks. Check OPENAI_BASE_URL and that the server "
                                 "runs, or use qa_method='inverse-cloze'") from None
            continue
        in_a_row = 0
        pairs.extend({"query_id": f"{chunk.id}/q{k}", "query": q, "passage_id": chunk.id,
                      "passage": chunk.text, "source": chunk.source}
                     for k, q in enumerate(questions))
    if chunks and len(failures) == len(chunks):
        raise InputError(f"the LLM endpoint {generator.base_url} failed for every chunk "
                         f"({len(chunks)}; first: {failures[0]['message']})")
    if chunks and len(failures) / len(chunks) > max_failed_share:
        raise InputError(f"the LLM endpoint {generator.base_url} failed for {len(failures)} of "
                         f"{len(chunks)} chunks, more than qa_max_failed_share={max_failed_share}; "
                         f"reasons: { {k: v for k, v in skipped.items() if v} }")
    return pairs


def _generator_for(method: str, llm_options: dict) -> LLMQuestionGenerator | None:
    """Validate ``method`` and its options; the LLM client for method='llm', else None."""
    if method not in METHODS:
        raise InputError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    if method == "inverse-cloze":
        if llm_options:
            raise InputError(f"options {sorted(llm_options)} only apply to method='llm'")
        return None
    valid = [f.name for f in fields(LLMQuestionGenerator)]
    unknown = sorted(set(llm_options) - set(valid))
    if unknown:
        raise InputError(f"unknown LLM options {unknown}; valid: {valid}")
    return LLMQuestionGenerator(**llm_options)


def generate_qa_pairs(chunks: Iterable[Chunk], method: str = "inverse-cloze", seed: int = 0,
                      progress: bool = True, max_failed_share: float = 0.5, **llm_options) -> QAResult:
    """(query, passage) pairs per chunk; ``llm_options`` go to LLMQuestionGenerator.

    ``seed`` drives the inverse-cloze sentence choice; ``progress`` shows a bar for the LLM;
    ``max_failed_share`` is the share of chunks the LLM may fail on before the run stops.
    """
    chunks = list(chunks)
    generator = _generator_for(method, llm_options)
    if generator is None:
        skipped = {"single_sentence": 0, "query_in_other_chunk": 0, "query_in_passage": 0}
        return QAResult(_inverse_cloze(chunks, seed, skipped), skipped, len(chunks))
    skipped = {"timeout": 0, "http_error": 0, "connection_error": 0, "malformed": 0}
    failures: list[dict[str, str]] = []
    pairs = _llm(chunks, generator, skipped, failures, progress, max_failed_share)
    return QAResult(pairs, skipped, len(chunks), failures)


def documents_to_qa_pairs(folder: str | Path, chunk_size: int = 1000, overlap: int = 1,
                          method: str = "inverse-cloze", seed: int = 0, progress: bool = True,
                          max_failed_share: float = 0.5, **llm_options) -> QAResult:
    """Read ``folder``, chunk it and generate QA pairs; empty files are counted in ``skipped``."""
    _generator_for(method, llm_options)  # fail on a bad method or option before reading files
    corpus = read_documents(folder)
    chunks = chunk_documents(corpus.documents, chunk_size=chunk_size, overlap=overlap)
    result = generate_qa_pairs(chunks, method=method, seed=seed, progress=progress,
                               max_failed_share=max_failed_share, **llm_options)
    result.skipped["empty_file"] = len(corpus.empty_files)
    return result
