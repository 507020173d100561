"""Tables of notebook 06's benchmark (``benchmarks/serving.py``): every way of serving the tuned
model, and every way of storing its vectors."""
from __future__ import annotations

from nbhelpers.docs.markdown import provenance_line, table


def _share(value) -> str:
    return f"{100 * value:.1f} %"


def serving(payloads: list[dict]) -> dict[str, str]:
    (payload,) = payloads
    reference = payload["served_model"]
    rows = []
    for row in payload["variants"]:
        rows.append([f"`{row['variant']}`", row["runtime"],
                     f"{row['ndcg@10']:.4f} ({_share(row['kept'])})",
                     f"{row['ndcg@10 at 64']:.4f} ({_share(row['kept at 64'])})",
                     f"{row['texts_per_second']:,.0f} ({row['speedup']:.1f}×)", f"{row['disk_mb']:,.0f}"])
    variants = table(["variant", "runtime", "nDCG@10 (share of PyTorch)", "nDCG@10 at 64 dims (share)",
                      "texts/s (× PyTorch)", "MB on disk"], rows)
    store = table(["dims", "search", "bytes per vector in memory", "nDCG@10", "share of float32"],
                  [[str(r["dim"]), r["search"], f"{r['bytes_per_vector']:g}", f"{r['ndcg@10']:.4f}",
                    _share(r["kept"])] for r in payload["vector_store"]])
    line = provenance_line(payload["provenance"])
    note = (f"Served model: `{reference}`; speed on the test passages at a batch of 32, best of two "
            f"passes; notebook 06 took {payload['seconds']:,.0f} s.")
    return {"variants": f"{variants}\n\n{note}\n\n{line}", "vectors": f"{store}\n\n{line}",
            "recommendation": f"> {payload['recommendation']}\n\n{line}"}
