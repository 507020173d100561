"""Tables of the two your-own-data benchmarks: documents (``benchmarks/documents.py``) and
scored pairs (``benchmarks/scored_pairs.py``)."""
from __future__ import annotations

from nbhelpers.docs.markdown import number, provenance_line, seconds, signed, table


def _interval(gain: dict) -> str:
    return f"{signed(gain['gain'])} ({signed(gain['low'])} to {signed(gain['high'])})"


def documents(payloads: list[dict]) -> dict[str, str]:
    """``collection``, ``series`` (time per notebook, held-out gain, recommendation) and
    ``variants`` (zero-shot, inverse cloze, TSDAE, both) tables."""
    (p,) = payloads
    line = provenance_line(p["provenance"])
    c, s = p["collection"], p["series"]
    docs, chunks, questions = s["counts"]["documents"], s["counts"]["chunks"], s["counts"]["retrieval_pairs"]
    near = s["report"]["near_duplicates"]
    skipped = {k: v for k, v in s["report"]["qa"]["skipped"].items() if v}
    collection = table(["", "train", "validation", "test"],
                       [[name, *(f"{counts[k]:,}" for k in ("train", "validation", "test"))]
                        for name, counts in (("documents", docs), ("chunks", chunks),
                                             ("questions (inverse cloze)", questions))])
    collection = (f"{c['pages']} pages of the Python documentation ({c['source']}), "
                  f"{c['characters']:,} characters: the pages of {', '.join(c['rule']['folders'])} "
                  f"with {c['rule']['characters'][0]:,} to {c['rule']['characters'][1]:,} characters of "
                  f"text.\n\n{collection}\n\nChunks without a question of their own: "
                  + ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in skipped.items())
                  + f". Near-duplicate chunk pairs across documents (TF-IDF cosine ≥ {near['threshold']}): "
                  f"{near['pairs_across_documents']:,}; held-out chunks with a near-duplicate in "
                  f"training: {near['held_out_chunks_with_a_training_twin']:,}.")
    rows = [[f"`{name}`", seconds(value)] for name, value in s["seconds"].items()]
    rows.append(["**the series**", f"**{seconds(s['total_seconds'])}**"])
    if "06_serving" in s["seconds"]:   # adapting and judging, without making the model fast to serve
        rows.append(["the series up to the recommendation (01-05)",
                     seconds(s["total_seconds"] - s["seconds"]["06_serving"])])
    gain = s["test_gain"]
    series = (table(["notebook", "wall time"], rows)
              + f"\n\nPeak memory {s['peak_memory_mb'] / 1024:.1f} GB. Notebook 04's tuned model against "
              f"`{gain['base']}` on the {gain['clusters']} held-out documents: nDCG@10 "
              f"{number(gain['before'])} → {number(gain['after'])}, gain {_interval(gain)} "
              "(95 % interval, documents redrawn). The run's recommendation:\n\n> "
              + s["recommendation"])
    v = p["variants"]
    rows = []
    for name, r in v["results"].items():
        g = r["gain"]
        rows.append([name, number(r["ndcg@10"]), number(r["ndcg@10_at_64"]),
                     "" if g is None else _interval(g), seconds(r["seconds"]) if r["seconds"] else ""])
    settings = ", ".join(f"{k} {val}" for k, val in v["settings"].items())
    variants = (table(["adaptation of MiniLM", "nDCG@10", "nDCG@10 at 64 dims",
                       "gain over zero-shot (95 % interval)", "training time"], rows)
                + f"\n\nSame data and settings for every variant ({settings}; no forgetting guard); "
                f"TSDAE trains on the {v['sentences']:,} distinct sentences of the training documents.")
    return {name: f"{body}\n\n{line}" for name, body in
            {"collection": collection, "series": series, "variants": variants}.items()}


def scored_pairs(payloads: list[dict]) -> dict[str, str]:
    """``result``: base and tuned test Spearman on the held-out pairs, the gain, the time."""
    (p,) = payloads
    counts, gain = p["pairs"], p["test_gain"]
    rows = [[f"`{m}`", number(v)] for m, v in p["baseline_test_spearman"].items()]
    rows += [[f"`{m}`", number(v)] for m, v in p["test_spearman"].items()
             if m not in p["baseline_test_spearman"]]
    body = (f"The file: {counts['train']:,} training and {counts['validation']:,} validation pairs "
            f"(STS-B train), {counts['test']:,} held-out test pairs (STS-B dev); "
            f"{counts['left_out_sharing_a_dev_sentence']:,} STS-B train pairs that share a sentence "
            "with a dev pair are left out.\n\n"
            + table(["model", "test Spearman"], rows)
            + f"\n\nGain of `{gain['model']}` over `{gain['base']}`: {_interval(gain)} (95 % interval, "
            f"{gain['clusters']:,} groups of pairs sharing a sentence redrawn). Notebook 03 trained "
            f"for {seconds(p['training']['seconds'])}; the series took "
            + ", ".join(f"`{n}` {seconds(s)}" for n, s in p["seconds"].items())
            + f". The run's recommendation:\n\n> {p['recommendation']}")
    return {"result": f"{body}\n\n{provenance_line(p['provenance'])}"}
