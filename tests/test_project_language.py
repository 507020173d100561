"""The project speaks of itself: no tracked text tells how it was built, and none names the
development data folder beside the repository (users never have it).

Provenance is a command, a commit and a machine. A hit names the file and line."""
import re
import subprocess

from nbhelpers.paths import project_root

#: Process language: what a file may not say (case-insensitive unless the pattern says otherwise).
FORBIDDEN = [
    r"\bsessions? \d", r"\bworking sessions?\b", r"\bsession's\b", r"\bissues? #?\d", r"\bissue's\b",
    r"\breviewers?\b", r"\breview mends?\b", r"\bowner'?s?\b", r"\bmy\b", r"\bof mine\b",
    r"\bclosing note\b", r"\bnote was lost\b", r"\blost (?:its|the|a) (?:note|machine)\b",
    r"(?-i:\bI\b)(?!-)", r"\bwe made\b", r"\bwe tried\b",
]
#: The development data folder may be named only where development tooling reads it.
DATA_FOLDER = re.compile(r"shared/data|\.\./shared\b")
DATA_FOLDER_ALLOWED = {".ci/run", "Makefile"}
TEXT_SUFFIXES = (".py", ".md", ".ipynb", ".txt", ".toml", ".yml", ".yaml", ".json", ".cfg", ".sh")


def tracked_text_files():
    root = project_root()
    names = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True,
                           check=True).stdout.split("\n")
    me = "tests/test_project_language.py"
    return [(name, root / name) for name in names
            if name and name != me and (name.endswith(TEXT_SUFFIXES) or "/" not in name or
                                        name.startswith(".ci/"))
            and (root / name).is_file()]


def _hits(pattern, files):
    found = []
    for name, path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if pattern.search(line):
                found.append(f"{name}:{number}: {line.strip()[:120]}")
    return found


def test_no_file_speaks_of_how_the_project_was_built():
    pattern = re.compile("|".join(FORBIDDEN), re.IGNORECASE)
    assert _hits(pattern, tracked_text_files()) == []


def test_the_development_data_folder_is_named_only_by_the_tooling_that_reads_it():
    files = [(n, p) for n, p in tracked_text_files() if n not in DATA_FOLDER_ALLOWED]
    assert _hits(DATA_FOLDER, files) == []


def test_the_checks_catch_what_they_are_for():
    pattern = re.compile("|".join(FORBIDDEN), re.IGNORECASE)
    for text in ("measured in session 11", "my unit tests shared the cores", "issue #4 asks",
                 "the owner's decision", "I reran it", "a few short runs of mine"):
        assert pattern.search(text), text
    for text in ("a JupyterLab session", "ISCO-08 level I-II", "the issues list"):
        assert not pattern.search(text), text
    assert DATA_FOLDER.search("STSB_DIR=../shared/data/stsbenchmark")
