"""Your own data in notebook 01: scored pairs (read, checked, split apart) and documents (split
by document, every chunk in the corpus, near-duplicates counted, LLM questions filtered)."""
import json

import numpy as np
import pandas as pd
import pytest

from nbhelpers import run
from nbhelpers.errors import InputError
from nbhelpers.prepare import (PrepareConfig, build_datasets, load_prepared, load_source,
                               prepare_datasets)
from nbhelpers.prepare_docs import near_duplicates, round_trip_filter, split_documents
from nbhelpers.scored_pairs import levels_of, read_scored_pairs, split_scored_pairs
from nbhelpers.splits import SPLITS


def _csv(tmp_path, rows, header="base,ref,similarity", name="pairs.csv"):
    path = tmp_path / name
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _pairs(n, shared_every=0):
    """``n`` pairs; with ``shared_every`` every k-th pair reuses the previous pair's first text."""
    rows = []
    for i in range(n):
        first = f"text a{i - 1}" if shared_every and i % shared_every == 0 and i else f"text a{i}"
        rows.append(f"{first},text b{i},{(i % 11) / 10:.1f}")
    return rows


# ------------------------------------------------------------------ scored pairs: reading
def test_the_tutorials_header_reads_as_it_is_and_scores_map_to_both_scales(tmp_path):
    frame = read_scored_pairs(_csv(tmp_path, ["nurse,registered nurse,0.9", "chef,welder,0.1"]))
    assert list(frame.text1) == ["nurse", "chef"] and list(frame.score) == [0.9, 0.1]
    assert frame.score_angular.iloc[0] == pytest.approx(1 - np.arccos(0.9) / np.pi)
    assert list(frame.level) == ["0.8-1", "0-0.2"]


def test_other_columns_and_a_stated_scale(tmp_path):
    path = _csv(tmp_path, ["a,b,5", "c,d,0", "e,f,2.5"], header="sentence1,sentence2,score")
    frame = read_scored_pairs(path, ("sentence1", "sentence2", "score"), (0, 5))
    assert list(frame.score) == [1.0, 0.0, 0.5] and list(frame.similarity) == [5, 0, 2.5]
    assert levels_of((0, 5)) == ("4-5", "3-4", "2-3", "1-2", "0-1")


@pytest.mark.parametrize("rows, header, message", [
    (["a,b,0.5"], "base,other,similarity", r"pairs.csv: missing column\(s\) \['ref'\]"),
    (["a,b,0.5", " ,b,0.5"], None, r"row 2 \(line 3\), column 'base': the text is empty"),
    (["a,b,0.5", "a,b,high"], None, r"row 2 \(line 3\), column 'similarity': 'high' is not a number"),
    (["a,b,1.5"], None, r"row 1 \(line 2\), column 'similarity': 1.5 is outside the stated scale "
                        r"\[0, 1\]"),
    (["a,b,0.5,exam"], "base,ref,similarity,split", r"column 'split': 'exam'; expected one of"),
])
def test_a_bad_pairs_file_is_named_with_its_row_and_column(tmp_path, rows, header, message):
    path = _csv(tmp_path, rows, header or "base,ref,similarity")
    with pytest.raises(InputError, match=message):
        read_scored_pairs(path)


def test_bad_pairs_parameters_are_named(tmp_path):
    path = _csv(tmp_path, ["a,b,0.5"])
    with pytest.raises(InputError, match="pairs_columns="):
        read_scored_pairs(path, ("base", "base", "similarity"))
    with pytest.raises(InputError, match=r"pairs_scale=\(5, 0\)"):
        read_scored_pairs(path, scale=(5, 0))
    with pytest.raises(InputError, match="pairs_csv='.*missing.csv': file not found"):
        read_scored_pairs(tmp_path / "missing.csv")


# ------------------------------------------------------------------ scored pairs: the split
def test_no_text_of_a_held_out_pair_is_trained_on(tmp_path):
    frame = read_scored_pairs(_csv(tmp_path, _pairs(300, shared_every=3)))
    splits = split_scored_pairs(frame, (0.8, 0.1, 0.1), seed=1)
    assert sum(len(f) for f in splits.values()) == 300            # nothing dropped
    texts = {s: set(f.text1.str.casefold()) | set(f.text2.str.casefold()) for s, f in splits.items()}
    assert not texts["train"] & (texts["validation"] | texts["test"])
    assert not texts["validation"] & texts["test"]
    assert 20 <= len(splits["test"]) <= 40 and 20 <= len(splits["validation"]) <= 40
    again = split_scored_pairs(frame, (0.8, 0.1, 0.1), seed=1)
    assert all(again[s].equals(splits[s]) for s in SPLITS)


def test_too_few_pairs_for_a_split_says_how_many_it_got(tmp_path):
    frame = read_scored_pairs(_csv(tmp_path, _pairs(60)))
    with pytest.raises(InputError, match="60 pairs give the (validation|test) split 6, fewer than the 10"):
        split_scored_pairs(frame, (0.8, 0.1, 0.1))


def test_a_given_split_is_kept_and_refused_when_it_shares_a_text(tmp_path):
    rows = [f"{r},{s}" for r, s in zip(_pairs(60), ["train"] * 40 + ["validation"] * 10 + ["test"] * 10)]
    frame = read_scored_pairs(_csv(tmp_path, rows, "base,ref,similarity,split"))
    splits = split_scored_pairs(frame)
    assert [len(splits[s]) for s in SPLITS] == [40, 10, 10]
    rows[-1] = "TEXT A0,text b59,0.3,test"   # the first training pair's text, in another case
    frame = read_scored_pairs(_csv(tmp_path, rows, "base,ref,similarity,split", "leak.csv"))
    with pytest.raises(InputError, match="the text 'text a0' is in the train and the test split"):
        split_scored_pairs(frame)


# ------------------------------------------------------------------ documents
def test_documents_are_split_whole_and_too_few_are_refused():
    sources = [f"doc{i}.md" for i in range(10)]
    split_of = split_documents(sources, (0.8, 0.1, 0.1), seed=0)
    assert sorted(split_of) == sources
    assert [list(split_of.values()).count(s) for s in SPLITS] == [7, 1, 2]
    assert split_of == split_documents(sources, (0.8, 0.1, 0.1), seed=0)
    with pytest.raises(InputError, match="docs_dir: 3 document.*needs at least 4"):
        split_documents(sources[:3], (0.8, 0.1, 0.1), seed=0)


def _write_docs(folder, n=6):
    folder.mkdir()
    for d in range(n):
        paragraphs = [" ".join(f"Document {d} paragraph {p} sentence {s} talks about topic {d * 10 + p}."
                               for s in range(4)) for p in range(3)]
        (folder / f"doc{d}.md").write_text("\n\n".join(paragraphs), encoding="utf-8")
    return folder


def test_held_out_documents_give_nothing_to_training_and_every_chunk_is_searched(tmp_path):
    config = PrepareConfig(domain="docs", docs_dir=str(_write_docs(tmp_path / "docs")),
                           qa_chunk_size=200, fractions=(0.6, 0.2, 0.2))
    prepared, split = build_datasets(load_source(config), config)
    assert split is None and prepared.tasks == ("retrieval",)
    split_of = dict(zip(prepared.documents.source, prepared.documents.split))
    for name in SPLITS:
        assert {split_of[s] for s in prepared.retrieval[name].source} == {name}
    queries, corpus, relevant = prepared.ir("test")
    assert set(corpus) == set(prepared.passages.passage_id)      # all chunks, every split
    assert all(split_of[pid.split("#")[0]] == "test" for ids in relevant.values() for pid in ids)
    assert prepared.report["near_duplicates"]["pairs_across_documents"] == 0
    clusters = prepared.clusters("retrieval", "test")
    assert clusters.name == "document" and set(clusters) == {s for s, v in split_of.items() if v == "test"}


def test_a_document_copied_across_splits_is_counted_as_a_near_duplicate(tmp_path):
    passages = pd.DataFrame({"passage_id": ["a#0", "b#0", "c#0"],
                             "passage": ["The welder joins steel beams on site every morning.",
                                         "The welder joins steel beams on site every morning.",
                                         "Chefs plan menus and order fresh produce."],
                             "source": ["a", "b", "c"], "split": ["train", "test", "test"]})
    assert near_duplicates(passages) == {"threshold": 0.9, "pairs_across_documents": 1,
                                         "held_out_chunks_with_a_training_twin": 1}


def test_round_trip_filter_keeps_answerable_training_questions_and_refuses_none(tmp_path):
    topics = ["welding steel beams", "baking sourdough bread", "auditing company accounts",
              "teaching primary school pupils", "driving a delivery truck", "repairing water pipes"]
    passages = pd.DataFrame({"passage_id": [f"d{i}#0" for i in range(6)],
                             "passage": [f"This passage is about {t}, and only about {t}." for t in topics],
                             "source": [f"d{i}" for i in range(6)], "split": ["train"] * 6})
    good = [f"What is said about {t}?" for t in topics[:4]]
    questions = pd.DataFrame({"query_id": [f"q{i}" for i in range(6)],
                              "query": good + [f"What is said about {topics[5]}?",
                                               f"What is said about {topics[4]}?"],
                              "passage_id": [f"d{i}#0" for i in range(6)],
                              "passage": passages.passage, "source": passages.source,
                              "split": ["train"] * 6})
    config = PrepareConfig(qa_filter_top_k=1)
    kept, counts = round_trip_filter(questions, passages, config)
    assert counts == {"model": "minilm", "top_k": 1, "checked": 6, "kept": 4}
    assert list(kept["query"]) == good
    swapped = questions.assign(query=[f"What is said about {t}?" for t in topics],
                               passage_id=[f"d{(i + 1) % 6}#0" for i in range(6)])
    with pytest.raises(InputError, match="none of the 6 training questions"):
        round_trip_filter(swapped, passages, config)


# ------------------------------------------------------------------ settings and runs
@pytest.mark.parametrize("changes, message", [
    ({"domain": "web"}, "domain='web': expected one of esco, docs, pairs"),
    ({"domain": "docs", "docs_dir": None}, "domain='docs' needs docs_dir"),
    ({"domain": "pairs"}, "domain='pairs' needs pairs_csv"),
    ({"pairs_csv": "x.csv"}, "pairs_csv='x.csv' is read with domain='pairs' only"),
    ({"qa_filter_top_k": 0}, "qa_filter_top_k=0"),
])
def test_bad_domain_settings_are_named_before_reading(changes, message):
    with pytest.raises(InputError, match=message):
        load_source(PrepareConfig(**changes))


def test_a_pairs_run_reads_back_and_the_runner_skips_what_it_cannot_do(tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    prepared = prepare_datasets(run_dir, PrepareConfig(domain="pairs", pairs_csv="sample"))
    again = load_prepared(run_dir)
    assert again.domain == "pairs" and again.split_table().equals(prepared.split_table())
    assert again.levels() == ("0.8-1", "0.6-0.8", "0.4-0.6", "0.2-0.4", "0-0.2")
    assert again.clusters("pairs").nunique() == len(again.pairs["test"])
    with pytest.raises(InputError, match="notebook 04 needs questions and passages"):
        again.require("retrieval", "notebook 04")
    assert run.run_series(run.select(run.notebooks(), ["04"]), run_dir) == []
    assert "04_matryoshka.ipynb skipped: the run's data (domain 'pairs') have no retrieval" \
        in capsys.readouterr().out
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert "notebook 04 tunes for retrieval" in manifest["steps"]["skip:04_matryoshka"]["reason"]
    assert run.skip_reason("03", "docs").startswith("the run's data (domain 'docs') have no pairs")
    assert run.skip_reason("03", "esco") is None and run.skip_reason("05", "pairs") is None
    assert "skip:04_matryoshka-joint" in manifest["steps"]   # the pass is skipped with its notebook
    assert run.skip_reason("04", "docs", "joint").startswith(
        "the run's data (domain 'docs') have no pairs: the joint model trains on graded pairs")
    assert run.skip_reason("04", "esco", "joint") is None


# ------------------------------------------------------------------ TSDAE
def test_tsdae_damages_sentences_by_deleting_words_and_refuses_too_few():
    from nbhelpers.matryoshka import tsdae

    sentences = [f"Sentence number {i} tells the reader about topic {i} in twelve plain words."
                 for i in range(200)]
    data = tsdae.damaged_dataset(sentences, seed=7)
    assert data.column_names == ["damaged", "original"] and data["original"] == sentences
    assert data["damaged"] == tsdae.damaged_dataset(sentences, seed=7)["damaged"]
    kept = []
    for damaged, original in zip(data["damaged"], sentences):
        words, pool = damaged.split(), iter(original.split())
        assert words and all(w in pool for w in words)   # an ordered subset of the words
        kept.append(len(words) / len(original.split()))
    assert 0.3 < np.mean(kept) < 0.5                      # about 60 % deleted
    with pytest.raises(InputError, match="tsdae=True: 3 training sentences"):
        tsdae.damaged_dataset(sentences[:3], seed=0)


@pytest.mark.parametrize("changes, message", [
    ({"tsdae": True, "lora": True}, "tsdae=True with lora=True"),
    ({"tsdae_epochs": 0}, "tsdae_epochs=0"),
    ({"tsdae": "yes"}, "tsdae='yes': expected true or false"),
])
def test_bad_tsdae_settings_are_named(changes, message):
    from nbhelpers.matryoshka.config import MatryoshkaConfig

    with pytest.raises(InputError, match=message):
        MatryoshkaConfig(**changes).validate()


@pytest.mark.slow
def test_tsdae_trains_the_packaged_model_offline(tmp_path):
    import torch

    from nbhelpers.matryoshka import tsdae
    from nbhelpers.matryoshka.config import MatryoshkaConfig
    from nbhelpers.matryoshka.model import load_base_model

    model, _ = load_base_model("minilm")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    sentences = [f"A welder in workshop {i} joins steel parts for bridge number {i}." for i in range(32)]
    seconds = tsdae.adapt(model, sentences, MatryoshkaConfig(tsdae=True), tmp_path / "tsdae")
    after = model.state_dict()
    assert seconds > 0 and any(not torch.equal(before[k], after[k]) for k in before)
    assert model.encode(["a welder"]).shape == (1, 384)
