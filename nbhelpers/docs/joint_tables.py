"""Tables and figure of notebook 04's joint option: where the full profile's memory goes and
what each way of saving it costs (``benchmarks/training_memory.py``), and the trade-off between
the two uses (``benchmarks/joint.py``)."""
from __future__ import annotations

from nbhelpers.docs.markdown import number, provenance_line, signed, table
from nbhelpers.matryoshka.evaluators import PAIRS_KEY

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


#: The test-split figures of ``benchmarks/joint.py``, in the table's order.
USES = ("pair Spearman", "nDCG@10", "nDCG@10 at 64", "STS-B test Spearman")


def _runs(payloads: list[dict]) -> list[dict]:
    return [run for p in payloads for run in p["runs"]]


def _smallest_ndcg(blend: dict):
    """A guard blend's validation nDCG@10 at its smallest dimension (``eval_dim_<d>_cosine_ndcg@10``)."""
    dims = [int(k.split("_")[2]) for k in blend
            if k.startswith("eval_dim_") and k.endswith("_cosine_ndcg@10")]
    return blend[f"eval_dim_{min(dims)}_cosine_ndcg@10"] if dims else None


def _pair_blends(run: dict) -> list[dict]:
    """The guard blends of a run that weighed pair Spearman: a joint run's whole sweep, none of
    a retrieval-only run's."""
    return [s for s in run["guard"].get("sweep") or [] if PAIRS_KEY in s]


def _balance(pairs, ndcg):
    """The selection rule's measure: the mean of pair Spearman and nDCG@10 at the smallest
    dimension (None when either is missing)."""
    return None if pairs is None or ndcg is None else (pairs + ndcg) / 2


def _what(run: dict) -> str:
    """A run as the docs name it: the retrieval model, or the joint model and its pairs settings."""
    config = run["config"]
    if not config.get("joint"):
        return "retrieval only (`joint = False`)"
    return f"joint: `pairs_loss = {config['pairs_loss']}`, `pairs_share = {config['pairs_share']:g}`"


def joint(payloads: list[dict]) -> dict[str, str]:
    """The trade-off between the two uses: every run of ``benchmarks/joint.py`` (from one or
    several figure files) on the held-out test split beside the base model."""
    runs = _runs(payloads)
    base = runs[0]["base_figures"]
    def test_balance(figures: dict) -> str:
        return number(_balance(figures["pair Spearman"], figures["nDCG@10 at 64"]))

    rows = [[f"base `{runs[0]['base']}`", *(number(base[u]) for u in USES), test_balance(base), "", "", ""]]
    for run in runs:
        cells = [f"{number(run['tuned'][u])} ({signed(run['tuned'][u] - base[u])})"
                 if run["tuned"][u] is not None else "" for u in USES]
        rows.append([_what(run), *cells, test_balance(run["tuned"]), f"{run['guard']['alpha']:g}",
                     f"{run['seconds'] / 60:,.0f} min", f"{run['peak_memory_mb'] / 1024:.1f} GB"])
    body = table(["model (notebook 04, full profile)", "domain pair Spearman", "nDCG@10",
                  "nDCG@10 at 64 dims", "STS-B test Spearman", "mean of pair Spearman and nDCG@10 at 64",
                  "guard α", "notebook 04 time", "peak memory"], rows)
    lines = "\n\n".join(dict.fromkeys(provenance_line(p["provenance"]) for p in payloads))
    note = ("Held-out test split of the full ESCO export; in brackets the change against the base "
            "model. Peak memory is the notebook kernel's, as the series' runner measures it.")
    blend_rows = [[_what(run), f"{s['alpha']:g}" + (" (kept)" if s["alpha"] == run["guard"]["alpha"] else ""),
                   number(s.get(PAIRS_KEY)), number(_smallest_ndcg(s)),
                   number(_balance(s[PAIRS_KEY], _smallest_ndcg(s))), number(s.get("stsb_dev_spearman"))]
                  for run in runs for s in _pair_blends(run)]
    blends = table(["model", "guard blend α", "pair Spearman", "nDCG@10 at the smallest dimension",
                    "mean of the two", "STS-B dev Spearman"], blend_rows)
    blend_note = ("Validation split; α = 0 is the base model, α = 1 the trained one. The guard keeps the "
                  "blend with the best mean of pair Spearman and nDCG@10 (without the option: the best "
                  "nDCG@10) among those whose STS-B dev Spearman stays within `sts_tolerance` of the base "
                  "model's.")
    return {"tradeoff": f"{body}\n\n{note}\n\n{lines}", "blends": f"{blends}\n\n{blend_note}\n\n{lines}"}


#: The figures of ``benchmarks/joint.py``: file suffix -> what the picture shows (its alt text).
FIGURES = {"tradeoff": "Pair Spearman against nDCG@10: each joint run on the test split, "
                       "and every blend of the forgetting guard on validation"}


def joint_figures(payloads: list[dict]) -> dict:
    """Left: the test split, base and every run; right: validation, every blend of each joint
    run's forgetting guard (α = 0 is the base model, α = 1 the trained one, a square), the kept
    blend ringed and labelled."""
    import matplotlib.pyplot as plt

    runs = _runs(payloads)
    base = runs[0]["base_figures"]
    fig, (test, blends) = plt.subplots(1, 2, figsize=(11, 4.3))
    test.scatter([base["pair Spearman"]], [base["nDCG@10"]], color="grey", s=60)
    test.annotate("base", (base["pair Spearman"], base["nDCG@10"]), textcoords="offset points",
                  xytext=(6, 4))
    for k, run in enumerate(runs):
        test.scatter([run["tuned"]["pair Spearman"]], [run["tuned"]["nDCG@10"]], color=f"C{k}", s=60,
                     label=_what(run).replace("`", ""))
        sweep = _pair_blends(run)
        if sweep:
            blends.plot([s[PAIRS_KEY] for s in sweep], [_smallest_ndcg(s) for s in sweep],
                        marker="o", color=f"C{k}")
            kept = next(s for s in sweep if s["alpha"] == run["guard"]["alpha"])
            blends.scatter([kept[PAIRS_KEY]], [_smallest_ndcg(kept)], s=180,
                           facecolors="none", edgecolors=f"C{k}")
            blends.scatter([sweep[-1][PAIRS_KEY]], [_smallest_ndcg(sweep[-1])], marker="s", s=50,
                           color=f"C{k}")
            blends.annotate(f"α={kept['alpha']:g}", (kept[PAIRS_KEY], _smallest_ndcg(kept)),
                            textcoords="offset points", xytext=(0, 9), ha="center", va="bottom",
                            fontsize=8, color=f"C{k}")
    test.set(xlabel="job-title similarity: pair Spearman (test)",
             ylabel="retrieval: nDCG@10, full size (test)", title="Each model on both uses")
    blends.set(xlabel="pair Spearman (validation)", ylabel="nDCG@10 at the smallest dimension (validation)",
               title="The guard's blends: α = 0 (base) to 1 (square); ringed: kept")
    blends.margins(y=0.12)
    for ax in (test, blends):
        ax.grid(alpha=0.3)
    test.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return {"tradeoff": fig}
