"""A learner in JupyterLab, driven through a real browser (Debian's Chromium, Playwright).

JupyterLab serves copies of notebooks 01 and 04. The browser opens 01 and runs all its cells,
then opens 04, runs all, changes a parameter the way a learner does (a line added to the
parameters cell) and runs all again. Every run must end with the kernel idle and no error
output, and the second run of 04 must be a new attempt beside the first."""
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    folder, reports = tmp_path_factory.mktemp("lab"), tmp_path_factory.mktemp("lab-reports")
    for name in NOTEBOOKS:
        shutil.copy(project_root() / "notebooks" / name, folder / name)
    port = _free_port()
    env = {**os.environ, "NBHELPERS_REPORTS": str(reports), "HF_HUB_OFFLINE": "1"}
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
    yield url, reports
    server.terminate()
    server.wait(timeout=30)
    log.close()


def _open(page, url: str, name: str):
    page.goto(f"{url}/lab/tree/{name}?token={TOKEN}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=120_000)
    _wait_idle(page, 120)


def _wait_idle(page, seconds: float):
    """Until the kernel is idle and no cell waits or runs ([*]); fails after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = page.evaluate(
            "() => { const i = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) "
            ".jp-Notebook-ExecutionIndicator'); return i ? i.getAttribute('data-status') : null; }")
        running = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-InputPrompt",
                               has_text="[*]").count()
        if status == "idle" and running == 0:
            return
        time.sleep(2)
    pytest.fail(f"the kernel did not reach idle within {seconds:.0f} s")


def _run_all(page, seconds: float):
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    time.sleep(3)
    _wait_idle(page, seconds)
    errors = page.evaluate(
        "() => Array.from(document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) "
        "[data-mime-type=\"application/vnd.jupyter.error\"]')).map(e => e.innerText.slice(0, 500))")
    assert errors == [], errors
    prompts = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt")
    assert all(p.strip() not in ("[ ]:", "") for p in prompts.all_inner_texts()), "a cell did not run"


@pytest.mark.slow
def test_a_learner_runs_01_and_04_then_changes_a_parameter_and_runs_04_again(lab):
    url, reports = lab
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        _open(page, url, NOTEBOOKS[0])
        _run_all(page, 300)
        _open(page, url, NOTEBOOKS[1])
        _run_all(page, 900)
        parameters = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell").first
        parameters.locator(".cm-content").click()
        page.keyboard.press("Control+End")
        page.keyboard.type("\nguard_alphas = None  # the learner's change")
        _run_all(page, 900)
    (run_dir,) = [p.parent.parent for p in Path(reports).glob("*/results/04_matryoshka.json")]
    second = json.loads((run_dir / "results" / "04_matryoshka-2.json").read_text())
    assert second["attempt"]["changed"] == {"guard_alphas": None}
    assert second["forgetting_guard"] is None
    assert (run_dir / "models" / "matryoshka-minilm" / "model").is_dir()
    assert (run_dir / "models" / "matryoshka-minilm-2" / "model").is_dir()
