"""The setup check a workshop starts with: ready, or what is missing and what to do."""
from nbhelpers import check


def test_a_ready_machine_says_ready(capsys):
    assert check.main() == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith("Ready.") and "model minilm: 384 dimensions" in out
    assert "model use-m3: 512 dimensions" in out and "STS-B" in out


def test_a_missing_library_is_named_with_what_to_do(monkeypatch, capsys):
    monkeypatch.setitem(check.LIBRARIES, "a_library_that_is_not_installed", "the exercises")
    assert check.main() == 1
    out = capsys.readouterr().out
    assert "MISSING  a_library_that_is_not_installed (the exercises): ModuleNotFoundError" in out
    assert "-> run make install" in out and out.rstrip().endswith("Not ready: 1 problem(s) above.")
