"""A learner in JupyterLab, driven through a real browser (Debian's Chromium, Playwright).

JupyterLab serves copies of notebooks 01 and 04. The browser opens 01 and runs all its cells,
then opens 04, runs all, changes a parameter the way a learner does (a line added to the
parameters cell) and runs all again. Every run must end with the kernel idle and no error
output, and the second run of 04 must be a new attempt beside the first.

The copy of 04 tunes the suite's tiny model (its ``model`` parameter names it, as a workshop
could name a smaller model): what is checked is the notebook in the browser, not what MiniLM
learns, which nbval's execution of 04 at its defaults and tests/test_notebooks.py assert."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from browser import chromium
from nbhelpers.paths import project_root

TOKEN = "nbhelpers-test"
NOTEBOOKS = ("01_data_preparation.ipynb", "04_matryoshka.ipynb")
#: The notebook in front (JupyterLab keeps the others open, hidden).
VISIBLE = ".jp-NotebookPanel:not(.lm-mod-hidden)"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _with_parameters(source: Path, target: Path, **values) -> None:
    """Copy a notebook with lines of its parameters cell set to ``name = value``."""
    notebook = json.loads(source.read_text())
    (cell,) = [c for c in notebook["cells"] if "parameters" in c["metadata"].get("tags", [])]
    lines = "".join(cell["source"]).splitlines(keepends=True)
    for name, value in values.items():
        (index,) = [i for i, line in enumerate(lines) if line.startswith(f"{name} = ")]
        lines[index] = f"{name} = {value!r}\n"
    cell["source"] = lines
    target.write_text(json.dumps(notebook, indent=1))


@pytest.fixture(scope="module")
def lab(tmp_path_factory, tiny_bert):
    folder, reports = tmp_path_factory.mktemp("lab"), tmp_path_factory.mktemp("lab-reports")
    shutil.copy(project_root() / "notebooks" / NOTEBOOKS[0], folder / NOTEBOOKS[0])
    # random weights rank no passage as a hard negative: mining is left to nbval's run of 04
    _with_parameters(project_root() / "notebooks" / NOTEBOOKS[1], folder / NOTEBOOKS[1],
                     model=str(tiny_bert), hard_negatives=False)
    port = _free_port()
    settings = folder.parent / "lab-settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)   # render every cell, so the page shows every prompt and output
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    env = {**os.environ, "NBHELPERS_REPORTS": str(reports), "HF_HUB_OFFLINE": "1",
           "JUPYTERLAB_SETTINGS_DIR": str(folder.parent / "lab-settings")}
    log = open(folder.parent / "jupyterlab.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={folder}",
         "--ServerApp.allow_root=True", "--LabApp.news_url=", "--LabApp.check_for_updates_class="
         "jupyterlab.NeverCheckForUpdate"], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2).close()
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"JupyterLab did not start; see {log.name}")
            time.sleep(1)
    yield url, folder, reports
    server.terminate()
    server.wait(timeout=30)
    log.close()


def _open(browser, url: str, name: str):
    """A new page with the notebook open and its kernel connected and idle."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{url}/lab/tree/{name}?token={TOKEN}")
    page.wait_for_selector(".jp-NotebookPanel .jp-CodeCell", timeout=120_000)
    page.wait_for_selector("text=Python 3 (nbhelpers) | Idle", timeout=120_000)
    time.sleep(3)
    return page


def _saved(page, path: Path) -> dict:
    """Save the notebook (Ctrl+S) and read it back from disk."""
    before = path.stat().st_mtime_ns
    page.locator(f"{VISIBLE} .jp-Notebook").click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + 30
    while path.stat().st_mtime_ns == before and time.monotonic() < deadline:
        time.sleep(0.5)
    return json.loads(path.read_text())


def _busy(page) -> bool:
    running = page.locator(f"{VISIBLE} .jp-CodeCell .jp-InputPrompt", has_text="[*]").count()
    return running > 0 or page.locator("text=Python 3 (nbhelpers) | Idle").count() == 0


def _run_all(page, path: Path, seconds: float) -> list:
    """Run → Run All Cells, wait until no cell is queued or running and
    the kernel is idle; every code cell must have run, none with an error. Returns the counts."""
    page.locator(".lm-MenuBar-item:has(.lm-MenuBar-itemLabel:text-is('Run'))").click()
    page.locator(".lm-Menu-item:has(.lm-Menu-itemLabel:text-is('Run All Cells'))").click()
    page.wait_for_selector(f"{VISIBLE} .jp-CodeCell .jp-InputPrompt:has-text('[*]')", timeout=60_000)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(3)
        errors = page.locator(f"{VISIBLE} [data-mime-type='application/vnd.jupyter.error']").all_inner_texts()
        assert errors == [], errors[0][:2000]
        if _busy(page):
            continue
        time.sleep(3)
        if _busy(page):
            continue
        cells = [c for c in _saved(page, path)["cells"] if c["cell_type"] == "code"]
        assert [o for c in cells for o in c["outputs"] if o["output_type"] == "error"] == []
        counts = [c["execution_count"] for c in cells]
        assert None not in counts, f"{path.name}: cells without a run: {counts}"
        return counts
    pytest.fail(f"{path.name}: still running after {seconds:.0f} s")


@pytest.mark.slow
def test_a_learner_runs_01_and_04_then_changes_a_parameter_and_runs_04_again(lab):
    url, folder, reports = lab
    with chromium() as browser:
        page = _open(browser, url, NOTEBOOKS[0])
        _run_all(page, folder / NOTEBOOKS[0], 300)
        page.close()   # one JupyterLab page at a time: two would both save the notebook
        page = _open(browser, url, NOTEBOOKS[1])
        first = _run_all(page, folder / NOTEBOOKS[1], 600)
        page.locator(f"{VISIBLE} .jp-CodeCell .cm-content").first.click()
        page.keyboard.press("Control+End")
        page.keyboard.type("\nguard_alphas = None  # the learner's change")
        page.keyboard.press("Escape")
        second = _run_all(page, folder / NOTEBOOKS[1], 600)
        assert min(second) > max(first)   # every cell ran again, in the same kernel
    (run_dir,) = [p.parent.parent for p in Path(reports).glob("*/results/04_matryoshka.json")]
    second = json.loads((run_dir / "results" / "04_matryoshka-2.json").read_text())
    assert second["attempt"]["changed"] == {"guard_alphas": None}
    assert second["forgetting_guard"] is None
    assert second["attempt"]["label"] == "attempt 2: guard_alphas=None"
    assert (run_dir / "models" / "matryoshka-tiny-bert" / "model").is_dir()
    assert (run_dir / "models" / "matryoshka-tiny-bert-2" / "model").is_dir()
