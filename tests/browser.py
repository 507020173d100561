"""A real browser for the tests: Debian's Chromium driven by Playwright's Python package.

``check_page`` opens a local HTML page as a reader would and lists what is broken: an image
that did not load, a link to a file that does not exist, an error in the console. Run as a
script it also saves a screenshot (the README's picture of a run report):

    .venv/bin/python tests/browser.py reports/<run-id>/index.html docs/images/report.png
"""
from __future__ import annotations

import os
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
#: Flags for a headless Chromium as root on a machine without a display or outside network.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]


@contextmanager
def chromium():
    """A Playwright browser on Debian's Chromium (Playwright's own download is not needed)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).is_file():
        raise RuntimeError(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium "
                           "(.ci/run installs it), or set CHROMIUM to its path")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def check_page(page_path: Path, screenshot: Path | None = None) -> list[str]:
    """What a reader of ``page_path`` would find broken (empty list: nothing)."""
    problems = []
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
        page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
        page.goto(Path(page_path).resolve().as_uri(), wait_until="load")
        images = page.eval_on_selector_all(
            "img", "els => els.map(e => [e.getAttribute('src'), e.complete && e.naturalWidth > 0])")
        problems += [f"image {src} did not load" for src, loaded in images if not loaded]
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
            url = urlsplit(href)
            if url.scheme == "file" and not Path(unquote(url.path)).exists():
                problems.append(f"link {href} points to a missing file")
            elif url.scheme not in ("file", "http", "https", "mailto"):
                problems.append(f"link {href}: unexpected scheme")
        if screenshot is not None:
            page.screenshot(path=str(screenshot), full_page=False)
    return problems


if __name__ == "__main__":
    page_path, picture = map(Path, sys.argv[1:3])
    found = check_page(page_path, picture)
    print("\n".join(found) or f"no problems; screenshot: {picture}")
    sys.exit(1 if found else 0)
