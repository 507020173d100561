"""Your documents, end to end, on a real public collection: the Python documentation.

Debian's ``python3-doc`` package (``apt-get install python3-doc``) ships the Python
documentation as Sphinx HTML. The collection is every page of the guides, the library and the
C API whose article holds 1,200 to 6,000 characters of text, turned into plain text files
(``sphinx_text.py``). Then:

1. **The series at its quick settings** on that folder, as a practitioner runs it:
   ``python -m nbhelpers.run -p domain docs -p docs_dir <folder>``. Notebook 01 splits by
   document; 02 measures the base models on questions about held-out documents, 04 tunes MiniLM
   (inverse-cloze questions, Matryoshka MNRL, the forgetting guard), 05 recommends. Recorded:
   time per notebook, the held-out gain with its interval, the recommendation.
2. **Offline adaptation compared**, from the same run's data and the same training settings
   (no guard, so each variant shows what its training did): the base model (zero-shot),
   inverse cloze, TSDAE alone, and TSDAE then inverse cloze. Each is scored on the held-out
   documents' questions (nDCG@10 at full size and at 64 dimensions), with the gain over the base
   and its 95 % interval over held-out documents.

    .venv/bin/python benchmarks/documents.py [--html-dir /usr/share/doc/python3/html] \\
        [--stsb-dir DIR] [--run-dir DIR] [--json docs/data/documents.json --replace]

``--run-dir`` reads step 1 from a run this script made earlier (its folder, with the provenance
of that run recorded beside the figures) and measures step 2 now.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import nbhelpers  # noqa: F401  (the hub mode before any hub library is imported)
from common import add_data_option, add_figure_options, data_dir, write
from sphinx_text import html_to_text, read_html

NAME = "documents"
FOLDERS = ("c-api", "distributing", "extending", "faq", "howto", "installing", "library",
           "reference", "tutorial", "using")
CHARACTERS = (1200, 6000)


def collection(html_dir: Path, folder: Path) -> dict:
    """Write the selected pages as .txt files under ``folder``; returns what was selected."""
    chosen = {}
    for page in sorted(html_dir.rglob("*.html")):
        relative = page.relative_to(html_dir)
        if len(relative.parts) < 2 or relative.parts[0] not in FOLDERS:
            continue
        text = html_to_text(read_html(page))
        if CHARACTERS[0] <= len(text) <= CHARACTERS[1]:
            target = folder / relative.with_suffix(".txt")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text + "\n", encoding="utf-8")
            chosen[str(relative)] = len(text)
    return {"pages": len(chosen), "characters": sum(chosen.values()),
            "folders": sorted({p.split("/")[0] for p in chosen}), "rule": {
                "folders": list(FOLDERS), "characters": list(CHARACTERS)}}


def run_series(docs: Path, reports: Path) -> Path:
    env = {**os.environ, "NBHELPERS_REPORTS": str(reports)}
    command = [sys.executable, "-m", "nbhelpers.run", "--run-id", "documents", "-p", "domain", "docs",
               "-p", "docs_dir", str(docs)]
    if subprocess.run(command, env=env, check=False).returncode != 0:
        raise SystemExit(f"the series failed; see {reports / 'documents'}")
    return reports / "documents"


def series_figures(run_dir: Path) -> dict:
    manifest = json.loads((run_dir / "manifest.json").read_text())
    steps = manifest["steps"]
    seconds = {name.removeprefix("run:"): step["seconds"] for name, step in steps.items()
               if name.startswith("run:")}
    tuned = json.loads((run_dir / "results" / "04_matryoshka.json").read_text())
    comparison = json.loads((run_dir / "results" / "05_comparison.json").read_text())
    return {"seconds": seconds, "total_seconds": round(sum(seconds.values()), 1),
            "peak_memory_mb": max(s.get("peak_memory_mb", 0) for n, s in steps.items()
                                  if n.startswith("run:")),
            "counts": steps["01_data_preparation"]["counts"],
            "report": steps["01_data_preparation"].get("report"),
            "test_gain": tuned["test_gain"], "guard": tuned["forgetting_guard"],
            "training_seconds": tuned["training"]["seconds"],
            "recommendation": comparison["recommendation"]}


def variants(run_dir: Path) -> dict:
    """Base, inverse cloze, TSDAE, TSDAE + inverse cloze, scored on the held-out questions."""
    from nbhelpers import evaluation
    from nbhelpers.matryoshka import tsdae
    from nbhelpers.matryoshka.config import MatryoshkaConfig
    from nbhelpers.matryoshka.model import load_base_model
    from nbhelpers.matryoshka.train import train_matryoshka
    from nbhelpers.models import STEncoder, resolve_model
    from nbhelpers.prepare import load_prepared

    prepared = load_prepared(run_dir)
    ir, clusters = prepared.ir("test"), prepared.clusters("retrieval", "test")
    base_config = MatryoshkaConfig(max_train_samples=None, guard_alphas=None)
    base_model, source = load_base_model(base_config.model)
    base = STEncoder(source, spec="minilm", model=base_model)
    found = {}

    def score(name, encoder, seconds):
        per_dim = evaluation.retrieval_scores(encoder, *ir, dims=[384, 64])
        gain = (None if encoder is base else
                evaluation.retrieval_gain_interval(base, encoder, ir, clusters, seed=42))
        found[name] = {"ndcg@10": per_dim[384]["ndcg@10"], "ndcg@10_at_64": per_dim[64]["ndcg@10"],
                       "gain": gain, "seconds": round(seconds, 1)}
        print(f"{name}: nDCG@10 {per_dim[384]['ndcg@10']:.4f} (64 dims {per_dim[64]['ndcg@10']:.4f})"
              + ("" if gain is None else f", gain {gain['gain']:+.4f} [{gain['low']:+.4f}, "
                 f"{gain['high']:+.4f}]") + f", {seconds:.0f} s", flush=True)

    score("base (zero-shot)", base, 0.0)
    out = run_dir / "benchmark-models"
    for name, config in (("inverse cloze", base_config),
                         ("TSDAE then inverse cloze", replace(base_config, tsdae=True))):
        start = time.perf_counter()
        result = train_matryoshka(config, prepared, run_dir=out / name.replace(" ", "-"))
        score(name, resolve_model(str(result.model_path)), time.perf_counter() - start)
    model, _ = load_base_model(base_config.model)
    start = time.perf_counter()
    tsdae.adapt(model, prepared.sentences("train"), base_config, out / "tsdae-alone")
    score("TSDAE alone", STEncoder(source, spec="TSDAE alone", model=model), time.perf_counter() - start)
    return {"settings": {k: v for k, v in base_config.to_dict().items()
                         if k in ("loss", "epochs", "batch_size", "max_train_samples", "hard_negatives",
                                  "stsb_replay", "tsdae_epochs", "seed")},
            "sentences": len(prepared.sentences("train")), "results": found}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html-dir", type=Path, default=Path("/usr/share/doc/python3/html"),
                        help="the Python documentation's HTML folder (Debian package python3-doc)")
    add_data_option(parser, "stsb")
    parser.add_argument("--run-dir", type=Path, metavar="DIR",
                        help="the series' run folder of an earlier run of this script (step 1)")
    add_figure_options(parser, NAME)
    args = parser.parse_args()
    if not (args.html_dir / "library").is_dir():
        raise SystemExit(f"--html-dir {args.html_dir}: no library/ pages; install the Python "
                         "documentation (apt-get install python3-doc) or point --html-dir at it")
    os.environ["STSB_DIR"] = str(data_dir(args.stsb_dir, "stsb"))
    work = Path(tempfile.mkdtemp(prefix="documents-"))
    start = time.perf_counter()
    selected = collection(args.html_dir, work / "python-docs")
    print(f"collection: {selected['pages']} pages, {selected['characters']:,} characters", flush=True)
    run_dir = args.run_dir or run_series(work / "python-docs", work / "reports")
    series = series_figures(run_dir)
    if args.run_dir:
        from common import run_provenance

        series["run"] = run_provenance(run_dir)
    print(f"series: {series['total_seconds']:.0f} s; test gain {series['test_gain']['gain']:+.4f} "
          f"[{series['test_gain']['low']:+.4f}, {series['test_gain']['high']:+.4f}]", flush=True)
    compared = variants(run_dir)
    write(args, NAME, {"collection": {**selected, "source": "Debian python3-doc, "
                                      f"{args.html_dir.name} pages"},
                       "series": series, "variants": compared,
                       "seconds": round(time.perf_counter() - start, 1)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
