"""Tests for nbhelpers.documents: reading, chunking, inverse cloze and the LLM client.

The LLM tests talk to a small HTTP server on 127.0.0.1 whose answer is chosen by a
``MARK_<NAME>`` marker in the passage; nothing leaves the machine.
"""
from __future__ import annotations

import io
import json
import logging
import re
import socket
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pypdf
import pytest

from nbhelpers.documents import (
    Chunk,
    Document,
    LLMFailure,
    LLMQuestionGenerator,
    chunk_documents,
    documents_to_qa_pairs,
    generate_qa_pairs,
    parse_questions,
    read_documents,
    split_sentences,
)
from nbhelpers.errors import InputError

PAIR_KEYS = {"query_id", "query", "passage_id", "passage", "source"}
KEY = "sk-test-7f3a9c-DO-NOT-LEAK"


def make_pdf(text: str) -> bytes:
    """A minimal one-page PDF 1.4 (Helvetica) whose xref offsets are computed, not guessed."""
    content = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
    ]
    pdf = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(pdf))
        pdf += b"%d 0 obj\n%s\nendobj\n" % (number, obj)
    xref = len(pdf)
    pdf += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    pdf += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    pdf += b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1)
    pdf += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(pdf)


PDF_TEXT = "Nurses care for patients. They give medicine."


# ---------------------------------------------------------------------------------- reading
def test_hand_written_pdf_is_valid():
    reader = pypdf.PdfReader(io.BytesIO(make_pdf(PDF_TEXT)), strict=True)
    assert len(reader.pages) == 1
    assert reader.pages[0].extract_text().strip() == PDF_TEXT


def test_read_documents_txt_md_pdf_sorted_recursive(tmp_path):
    (tmp_path / "b.txt").write_text("Plain text file. Second sentence.", encoding="utf-8")
    (tmp_path / "a.md").write_text("# Title\n\nMarkdown body.", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.PDF").write_bytes(make_pdf(PDF_TEXT))
    (tmp_path / "empty.txt").write_text("  \n", encoding="utf-8")
    (tmp_path / "ignored.csv").write_text("a,b\n", encoding="utf-8")
    (tmp_path / ".ipynb_checkpoints").mkdir()
    (tmp_path / ".ipynb_checkpoints" / "a-checkpoint.md").write_text("Copy.", encoding="utf-8")

    corpus = read_documents(tmp_path)

    assert [d.path for d in corpus.documents] == ["a.md", "b.txt", "sub/c.PDF"]
    assert corpus.empty_files == ["empty.txt"]
    assert corpus.documents[1].text == "Plain text file. Second sentence."
    assert PDF_TEXT in corpus.documents[2].text


def test_utf8_bom_is_stripped(tmp_path):
    (tmp_path / "bom.txt").write_bytes("\ufeffHello there.".encode("utf-8"))
    assert read_documents(tmp_path).documents[0].text == "Hello there."


def test_corrupt_pdf_names_the_file(tmp_path):
    (tmp_path / "ok.txt").write_text("Fine.", encoding="utf-8")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not really a pdf\n")
    with pytest.raises(InputError, match=r"broken\.pdf.*PDF"):
        read_documents(tmp_path)


def test_non_utf8_text_names_file_and_offset(tmp_path):
    (tmp_path / "latin.txt").write_bytes("Caf\u00e9 au lait.".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin\.txt.*UTF-8.*offset 3"):
        read_documents(tmp_path)


def test_missing_folder(tmp_path):
    with pytest.raises(InputError, match="folder not found"):
        read_documents(tmp_path / "nope")


def test_folder_without_supported_files_lists_extensions(tmp_path):
    (tmp_path / "notes.docx").write_bytes(b"PK")
    with pytest.raises(InputError, match=r"\.md, \.pdf, \.txt"):
        read_documents(tmp_path)


def test_all_files_empty(tmp_path):
    (tmp_path / "a.txt").write_text("", encoding="utf-8")
    (tmp_path / "b.md").write_text("\n\n", encoding="utf-8")
    with pytest.raises(InputError, match="all 2 supported files are empty"):
        read_documents(tmp_path)


# --------------------------------------------------------------------------------- chunking
def test_split_sentences():
    text = (
        'Nurses use tools, e.g. Excel sheets. Dr. Smith agrees! Do they? "Yes," he said. '
        "It costs 3.5 euros. 2024 was busy etc. and tiring.\n\nNew paragraph without stop\n"
        "that continues on a new line"
    )
    assert split_sentences(text) == [
        "Nurses use tools, e.g. Excel sheets.",
        "Dr. Smith agrees!",
        "Do they?",
        '"Yes," he said.',
        "It costs 3.5 euros.",
        "2024 was busy etc. and tiring.",
        "New paragraph without stop that continues on a new line",
    ]


def _sentences(n: int) -> list[str]:
    return [f"Sentence number {i} is {'quite ' * (i % 5)}short." for i in range(n)]


def test_chunks_respect_size_cover_all_sentences_and_overlap_by_one():
    sentences = _sentences(40)  # every sentence <= 59 chars: two always fit in 120
    chunks = chunk_documents([Document("dir/doc.md", " ".join(sentences))], chunk_size=120)

    assert [c.id for c in chunks] == [f"dir/doc.md#{i}" for i in range(len(chunks))]
    assert {c.source for c in chunks} == {"dir/doc.md"}
    assert all(len(c.text) <= 120 for c in chunks)
    assert {s for c in chunks for s in c.sentences} == set(sentences)
    for previous, current in zip(chunks, chunks[1:]):
        assert current.sentences[0] == previous.sentences[-1]
        assert len(current.sentences) >= 2  # the repeated one plus at least one new sentence


def test_no_overlap_partitions_the_sentences():
    sentences = _sentences(25)
    chunks = chunk_documents([Document("d.txt", " ".join(sentences))], chunk_size=200, overlap=0)
    assert [s for c in chunks for s in c.sentences] == sentences


def test_large_overlap_still_makes_progress():
    sentences = _sentences(30)
    chunks = chunk_documents([Document("d.txt", " ".join(sentences))], chunk_size=150, overlap=50)
    assert {s for c in chunks for s in c.sentences} == set(sentences)
    seen: set[str] = set()
    for chunk in chunks:
        assert set(chunk.sentences) - seen, "every chunk must add a new sentence"
        seen |= set(chunk.sentences)


def test_long_sentence_is_split_at_word_boundaries():
    long = " ".join(f"Word{i}" for i in range(60)) + "."
    document = Document("d.txt", f"Short one. {long} Another short one. {'X' * 95} end.")
    assert all(len(c.text) <= 40 for c in chunk_documents([document], chunk_size=40, overlap=1))
    chunks = chunk_documents([document], chunk_size=40, overlap=0)
    assert all(len(c.text) <= 40 for c in chunks)
    pieces = [s for c in chunks for s in c.sentences]
    assert pieces[0] == "Short one."
    long_pieces = [p for p in pieces if p.startswith("Word")]
    assert len(long_pieces) > 1 and " ".join(long_pieces) == long  # cut between words only
    assert pieces[-4:] == ["Another short one.", "X" * 40, "X" * 40, "X" * 15 + " end."]


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"chunk_size": 0}, "chunk_size"), ({"chunk_size": -5}, "chunk_size"),
     ({"chunk_size": "100"}, "chunk_size"), ({"chunk_size": True}, "chunk_size"),
     ({"overlap": -1}, "overlap"), ({"overlap": 1.5}, "overlap")],
)
def test_bad_chunk_parameters(kwargs, name):
    with pytest.raises(InputError, match=name):
        chunk_documents([Document("d.txt", "One. Two.")], **kwargs)


# ---------------------------------------------------------------------------- inverse cloze
def _chunks(n: int, sentences_per_chunk: int = 4) -> list[Chunk]:
    return [
        Chunk(f"doc.md#{i}", "doc.md",
              tuple(f"Fact {j} of chunk {i} is here." for j in range(sentences_per_chunk)))
        for i in range(n)
    ]


def test_inverse_cloze_is_deterministic_per_seed():
    chunks = _chunks(20)
    first = generate_qa_pairs(chunks, seed=7)
    assert first == generate_qa_pairs(chunks, seed=7)
    assert first.pairs != generate_qa_pairs(chunks, seed=8).pairs
    assert first.n_chunks == 20 and len(first.pairs) == 20


def test_inverse_cloze_pairs_shape_and_query_not_in_passage():
    chunks = _chunks(10)
    result = generate_qa_pairs(chunks, method="inverse-cloze", seed=1)
    for chunk, pair in zip(chunks, result.pairs):
        assert set(pair) == PAIR_KEYS
        assert pair["passage_id"] == chunk.id and pair["query_id"] == f"{chunk.id}/q0"
        assert pair["source"] == "doc.md"
        assert pair["query"] in chunk.sentences
        assert pair["query"] not in pair["passage"]
        others = [s for s in chunk.sentences if s != pair["query"]]
        assert pair["passage"] == " ".join(others)


def test_inverse_cloze_skips_single_sentence_chunks():
    chunks = _chunks(3) + _chunks(2, sentences_per_chunk=1)
    result = generate_qa_pairs(chunks, seed=0)
    assert len(result.pairs) == 3
    assert result.skipped == {"single_sentence": 2, "query_in_other_chunk": 0, "query_in_passage": 0}
    assert result.n_chunks == 5


def test_unknown_method_and_misplaced_options():
    with pytest.raises(InputError, match="inverse-cloze, llm"):
        generate_qa_pairs(_chunks(1), method="t5")
    with pytest.raises(InputError, match="model.*only apply to method='llm'"):
        generate_qa_pairs(_chunks(1), model="x")


def test_documents_to_qa_pairs_end_to_end(tmp_path):
    (tmp_path / "care.txt").write_text(" ".join(_sentences(12)), encoding="utf-8")
    (tmp_path / "guide.pdf").write_bytes(make_pdf(PDF_TEXT))
    (tmp_path / "blank.md").write_text("", encoding="utf-8")
    result = documents_to_qa_pairs(tmp_path, chunk_size=100, overlap=1, seed=3)
    assert result.skipped["empty_file"] == 1
    assert {p["source"] for p in result.pairs} == {"care.txt", "guide.pdf"}
    assert all(set(p) == PAIR_KEYS for p in result.pairs)
    skipped = result.skipped["single_sentence"] + result.skipped["query_in_other_chunk"]
    assert len(result.pairs) + skipped == result.n_chunks


def test_inverse_cloze_never_asks_a_sentence_another_chunk_holds():
    """With overlapping chunks (or a boilerplate line repeated across documents) a shared
    sentence would make two chunks right answers: the query is drawn among the chunk's own."""
    shared = "This sentence closes every section of the guide."
    chunks = [Chunk(f"doc{k}.md#0", f"doc{k}.md", (f"Section {k} opens here.", shared))
              for k in range(3)]
    chunks.append(Chunk("doc9.md#0", "doc9.md", (shared, "Another copy of it follows here.")))
    result = generate_qa_pairs(chunks, seed=0)
    assert [p["query"] for p in result.pairs] == ["Section 0 opens here.", "Section 1 opens here.",
                                                  "Section 2 opens here.",
                                                  "Another copy of it follows here."]
    only_shared = [Chunk("a#0", "a", (shared, shared + " Again.")), Chunk("b#0", "b", (shared,
                   shared + " Again."))]
    assert generate_qa_pairs(only_shared, seed=0).skipped["query_in_other_chunk"] == 2
    overlapping = chunk_documents([Document("x.md", " ".join(_sentences(20)))], chunk_size=120,
                                  overlap=1)
    held = Counter(s for c in overlapping for s in c.sentences)
    assert all(held[p["query"]] == 1 for p in generate_qa_pairs(overlapping, seed=1).pairs)


def test_documents_to_qa_pairs_rejects_bad_method_before_reading(tmp_path):
    with pytest.raises(InputError, match="method must be one of"):
        documents_to_qa_pairs(tmp_path / "missing", method="nope")


# ------------------------------------------------------------------------------ LLM client
def _completion(content: str) -> bytes:
    message = {"role": "assistant", "content": content}
    return json.dumps({"choices": [{"index": 0, "message": message}]}).encode()


class _Handler(BaseHTTPRequestHandler):
    """Answers POST /v1/chat/completions according to the MARK_<NAME> in the passage."""

    def do_POST(self):  # noqa: N802 (http.server naming)
        server = self.server
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        server.requests.append({"path": self.path, "auth": self.headers.get("Authorization"),
                                "body": body})
        marker = re.search(r"MARK_(\w+)", body["messages"][-1]["content"]).group(1)
        server.hits[marker] += 1
        if marker == "SLOW":
            server.release.wait(10)  # the client gives up first; the fixture releases us
        if marker == "ERROR500" or (marker == "FLAKY" and server.hits[marker] == 1):
            # A careless server that echoes the credentials: the client must mask them.
            self._send(500, f"internal error for {self.headers.get('Authorization')}".encode())
            return
        answers = {
            "GOOD": _completion('["What do nurses do?", "Who gives medicine?"]'),
            "FENCED": _completion('Here you go:\n```json\n["Q one?", "Q two?", "Q three?"]\n```'),
            "NOTJSON": _completion("Sure! What do nurses do?"),
            "NOTLIST": _completion('{"question": "What?"}'),
            "EMPTYSTR": _completion('["What?", "  "]'),
            "NOCHOICES": b'{"error": {"message": "model overloaded"}}',
            "BODYNOTJSON": b"<html>gateway</html>",
        }
        self._send(200, answers.get(marker, _completion('["A question?"]')))

    def _send(self, status: int, payload: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client already timed out

    def log_message(self, *args):
        pass


@pytest.fixture
def llm_server(monkeypatch):
    """(base_url, server) of a chat-completions stub on 127.0.0.1; no proxy, no OPENAI_* env."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
                "OPENAI_BASE_URL", "OPENAI_MODEL", "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.requests, server.hits, server.release = [], Counter(), threading.Event()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", server
    server.release.set()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _marked(*markers: str) -> list[Chunk]:
    return [Chunk(f"notes.md#{i}", "notes.md", (f"Nurses care for patients MARK_{m}.", "Yes."))
            for i, m in enumerate(markers)]


def test_llm_counts_every_failure_mode_and_never_leaks_the_key(llm_server, caplog):
    base_url, server = llm_server
    markers = ("GOOD", "FENCED", "SLOW", "NOTJSON", "NOTLIST", "EMPTYSTR", "NOCHOICES",
               "BODYNOTJSON", "ERROR500")
    caplog.set_level(logging.WARNING, logger="nbhelpers.documents")

    result = generate_qa_pairs(_marked(*markers), method="llm", base_url=base_url + "/",
                               model="tiny", api_key=KEY, n_questions=2, timeout=0.5,
                               progress=False, max_failed_share=1.0)

    assert result.skipped == {"timeout": 1, "http_error": 1, "connection_error": 0, "malformed": 5}
    assert result.n_chunks == len(markers)
    assert [(p["query_id"], p["query"]) for p in result.pairs] == [
        ("notes.md#0/q0", "What do nurses do?"), ("notes.md#0/q1", "Who gives medicine?"),
        ("notes.md#1/q0", "Q one?"), ("notes.md#1/q1", "Q two?"),
    ]
    for pair in result.pairs:
        assert set(pair) == PAIR_KEYS and pair["source"] == "notes.md"
        assert pair["passage"].startswith("Nurses care for patients MARK_")
    # The request: right path, model, temperature, and the key only in the Authorization header.
    assert len(server.requests) == len(markers)
    for request in server.requests:
        assert request["path"] == "/v1/chat/completions"
        assert request["auth"] == f"Bearer {KEY}"
        assert request["body"]["model"] == "tiny" and request["body"]["temperature"] == 0
        assert "2 questions" in request["body"]["messages"][-1]["content"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 7 and any("HTTP 500" in w and "***" in w for w in warnings)
    assert any("notes.md#2" in w and "0.5 s" in w for w in warnings)
    assert KEY not in caplog.text
    assert KEY not in repr(result)
    assert [(f["chunk"], f["reason"]) for f in result.failures][:3] == [
        ("notes.md#2", "timeout"), ("notes.md#3", "malformed"), ("notes.md#4", "malformed")]
    with pytest.raises(InputError, match=r"failed for 7 of 9 chunks, more than qa_max_failed_share=0.5"):
        generate_qa_pairs(_marked(*markers), method="llm", base_url=base_url, model="tiny",
                          timeout=0.5, progress=False)


def test_generator_repr_and_errors_hide_the_key(llm_server):
    base_url, _ = llm_server
    generator = LLMQuestionGenerator(base_url=base_url, model="tiny", api_key=KEY, timeout=0.5)
    assert KEY not in repr(generator) and "tiny" in repr(generator)
    with pytest.raises(LLMFailure) as failure:
        generator.questions("Passage MARK_ERROR500.")
    assert failure.value.reason == "http_error"
    assert KEY not in str(failure.value) and "***" in str(failure.value)


def test_an_endpoint_that_never_answers_stops_the_run_early_and_says_so(llm_server, caplog):
    with socket.socket() as sock:  # a port that was free a moment ago and now has no listener
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(InputError, match=r"did not answer 3 chunks in a row .*cannot reach.* stopped "
                                         r"after 3 of 5 chunks. Check OPENAI_BASE_URL"):
        generate_qa_pairs(_marked(*["GOOD"] * 5), method="llm", model="tiny",
                          base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY,
                          retries=1, retry_delay=0, progress=False)
    assert "notes.md#0" in caplog.text and "notes.md#3" not in caplog.text
    assert KEY not in caplog.text


def test_every_chunk_failing_is_an_error(llm_server):
    base_url, _ = llm_server
    with pytest.raises(InputError, match=r"failed for every chunk \(2; first: HTTP 500"):
        generate_qa_pairs(_marked("ERROR500", "ERROR500"), method="llm", base_url=base_url,
                          model="tiny", progress=False)


def test_retry_recovers_from_a_transient_error(llm_server):
    base_url, server = llm_server
    result = generate_qa_pairs(_marked("FLAKY"), method="llm", base_url=base_url, model="tiny",
                               retries=1, retry_delay=0, progress=False)
    assert [p["query"] for p in result.pairs] == ["A question?"]
    assert sum(result.skipped.values()) == 0
    assert server.hits["FLAKY"] == 2
    assert server.requests[0]["auth"] is None  # no key configured: no Authorization header


def test_llm_settings_from_environment(llm_server, monkeypatch):
    base_url, server = llm_server
    monkeypatch.setenv("OPENAI_BASE_URL", base_url)
    monkeypatch.setenv("OPENAI_MODEL", "env-model")
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    result = generate_qa_pairs(_marked("GOOD"), method="llm", progress=False)
    assert len(result.pairs) == 1  # n_questions defaults to 1
    assert server.requests[0]["auth"] == f"Bearer {KEY}"
    assert server.requests[0]["body"]["model"] == "env-model"
    assert "1 question " in server.requests[0]["body"]["messages"][-1]["content"]


def test_missing_llm_settings_name_parameter_and_variable(llm_server):
    base_url, _ = llm_server
    with pytest.raises(InputError, match="base_url.*OPENAI_BASE_URL") as error:
        generate_qa_pairs(_marked("GOOD"), method="llm", model="tiny", api_key=KEY)
    assert KEY not in str(error.value)
    with pytest.raises(InputError, match="model.*OPENAI_MODEL") as error:
        generate_qa_pairs(_marked("GOOD"), method="llm", base_url=base_url, api_key=KEY)
    assert KEY not in str(error.value)
    with pytest.raises(InputError, match="unknown LLM options.*temperature"):
        generate_qa_pairs(_marked("GOOD"), method="llm", base_url=base_url, model="m",
                          temperature=1)
    with pytest.raises(InputError, match="n_questions"):
        LLMQuestionGenerator(base_url=base_url, model="m", n_questions=0)


def test_parse_questions_truncates_to_n():
    assert parse_questions(_completion('["a?", " b? ", "c?"]'), 2) == ["a?", "b?"]
    with pytest.raises(LLMFailure, match="non-empty strings"):
        parse_questions(_completion("[]"), 1)


def test_the_manifest_records_which_chunks_the_llm_skipped_and_why(llm_server, tmp_path, monkeypatch):
    from nbhelpers.prepare import PrepareConfig, prepare_datasets

    base_url, _ = llm_server
    monkeypatch.setenv("OPENAI_BASE_URL", base_url)
    monkeypatch.setenv("OPENAI_MODEL", "tiny")
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, marker in (("a", "GOOD"), ("b", "GOOD"), ("c", "GOOD"), ("d", "ERROR500")):
        (docs / f"{name}.md").write_text(f"Nurses care for patients MARK_{marker}. They work shifts.\n")
    prepare_datasets(tmp_path / "run", PrepareConfig(docs_dir=str(docs), qa_method="llm",
                                                     pairs_per_level=5))
    step = json.loads((tmp_path / "run" / "manifest.json").read_text())["steps"]["01_data_preparation"]
    report = step["qa_report"]
    assert report["chunks"] == 4 and report["skipped"]["http_error"] == 1
    assert [(f["chunk"].split("#")[0], f["reason"]) for f in report["failures"]] == [("d.md", "http_error")]
    assert step["counts"]["qa_pairs"] == 3
