import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from nbhelpers import notebook_hygiene, run


@pytest.mark.parametrize("path", run.notebooks(), ids=lambda p: p.name)
def test_notebooks_in_git_are_clean(path):
    assert notebook_hygiene.problems(path) == []


def _executed_notebook(path):
    nb = new_notebook()
    parameters = new_code_cell("seed = 42", execution_count=1)
    parameters.metadata.update(tags=["parameters"], papermill={"duration": 0.1})
    work = new_code_cell("print(seed)", execution_count=2,
                         outputs=[new_output("stream", name="stdout", text="42\n")])
    nb.cells = [new_markdown_cell("# What and why"), parameters, work, new_markdown_cell("Next")]
    nb.metadata["papermill"] = {"parameters": {"seed": 42}}
    nbformat.write(nb, path)
    return path


def test_strip_removes_what_running_added_and_keeps_the_source(tmp_path):
    path = _executed_notebook(tmp_path / "01_x.ipynb")
    assert notebook_hygiene.problems(path) == [
        f"{path}: cell 1: execution_count 1, expected null",
        f"{path}: cell 2: has outputs (strip them: make strip)",
        f"{path}: cell 2: execution_count 2, expected null",
        f"{path}: cell 1: run metadata ['papermill'] (strip it: make strip)",
        f"{path}: notebook metadata 'papermill' from an executed copy (strip it: make strip)"]
    assert notebook_hygiene.strip(path) is True
    assert notebook_hygiene.problems(path) == []
    nb = nbformat.read(path, as_version=4)
    assert [c.source for c in nb.cells] == ["# What and why", "seed = 42", "print(seed)", "Next"]
    assert nb.cells[1].metadata == {"tags": ["parameters"]} and "papermill" not in nb.metadata
    assert notebook_hygiene.strip(path) is False          # already clean: file left alone
    assert list(tmp_path.iterdir()) == [path]             # no temporary file left behind


def test_problems_names_a_missing_parameters_cell_and_missing_markdown(tmp_path, capsys):
    path = tmp_path / "02_y.ipynb"
    nb = new_notebook()
    nb.cells = [new_code_cell("x = 1"), new_code_cell("x")]
    nbformat.write(nb, path)
    assert notebook_hygiene.problems(path) == [
        f"{path}: expected one code cell tagged 'parameters', found cells []",
        f"{path}: the first cell should be markdown (what the notebook does and needs)",
        f"{path}: the last cell should be markdown (what the notebook produced and what comes "
        "next)"]
    assert notebook_hygiene.main([str(path)]) == 1
    assert "02_y.ipynb: expected one code cell" in capsys.readouterr().out
