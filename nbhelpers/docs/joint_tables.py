"""Tables of notebook 04's memory benchmark (``benchmarks/training_memory.py``): where the full
profile's memory goes, and what each way of saving it costs."""
from __future__ import annotations

from nbhelpers.docs.markdown import provenance_line, table

#: What each measured part is, in the table's words.
PARTS = {"loaded": "the packaged MiniLM and notebook 01's full-profile datasets",
         "mining": "mining a hard negative for every training row",
         "evaluation": "one round of the validation evaluator, every dimension"}


def training_memory(payloads: list[dict]) -> dict[str, str]:
    (p,) = payloads
    parts = {row["part"]: row for row in p["parts"]}
    plain = parts["train mnrl"]
    rows = []
    for name, row in parts.items():
        what = PARTS.get(name) or f"{p['steps']} training steps, {name.removeprefix('train ')}"
        added = "" if name == "loaded" else f"+{row['added_mb']:,.0f} MB"
        step = ""
        if "seconds_per_step" in row:
            step = f"{row['seconds_per_step']:.1f} s"
            if row is not plain:
                step += f" ({row['seconds_per_step'] / plain['seconds_per_step']:.2f}×)"
        rows.append([what, f"{row['peak_mb']:,.0f} MB", added, step])
    body = table(["part of notebook 04 (full profile)", "peak memory of its process",
                  "added to the loaded model and data", "time per step (× MNRL)"], rows)
    batch = plain.get("batch_size", 64)
    return {"parts": f"{body}\n\nA training step takes {batch} rows of (question, passage, hard negative), "
                     f"up to 128 tokens each, through the Matryoshka loss at every dimension.\n\n"
                     f"{provenance_line(p['provenance'])}"}
