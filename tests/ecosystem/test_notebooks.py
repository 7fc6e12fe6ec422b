"""Notebooks: discovered, checked as one module across cells, fixed cell by cell, written back byte-faithfully."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from perflint import api, notebook
from perflint.cli import cli
from perflint.config import Settings
from perflint.types import Location
from tests.ecosystem.notebooks import code_cell, markdown_cell, notebook_bytes

SETTINGS = replace(Settings(root=Path.cwd()), select=("PFL101",))
OUTPUT = {"name": "stdout", "output_type": "stream", "text": ["tensor([1.])\n"]}
CELLS = [
    markdown_cell("# Validation\nkept = []"),
    code_cell("import torch\n%matplotlib inline\n!pip install foo", execution_count=1),
    code_cell("%%bash\necho model(x).softmax(-1).cpu()"),
    code_cell(
        "with torch.no_grad():\n    for x in loader:\n        %time y = 1\n        files = !ls\n        kept.append(model(x).softmax(-1).cpu())",
        outputs=[OUTPUT],
        execution_count=2,
    ),
    code_cell("def broken(:\n    kept.append(model(x).softmax(-1).cpu())"),
    code_cell("model?"),
]


def check(data: bytes, fix: bool = False, name: str = "analysis.ipynb"):
    options = api.RunOptions(fix=fix, with_edits=True)
    return api.check_source(data, Path(name), SETTINGS, options)


def test_imports_in_one_cell_resolve_names_in_a_later_cell() -> None:
    result = check(notebook_bytes(CELLS))
    assert not result.errors
    (violation,) = result.violations
    assert violation.cell == 4
    assert (violation.location.row, violation.location.column) == (5, 21)
    assert "inside torch.no_grad()" in violation.message, "the no_grad in cell 4 resolves through cell 2's import"


def test_a_cell_that_does_not_parse_is_skipped_with_a_note_not_an_error() -> None:
    result = check(notebook_bytes(CELLS))
    assert result.errors == ()
    assert result.notes == (
        "cell 5 skipped: it does not parse as Python, even with IPython magics set aside",
        "1 cell skipped (cell 3): its cell magic (%%bash) does not run Python in the notebook",
    )


def test_fix_changes_only_the_source_of_the_fixed_cell() -> None:
    original = notebook_bytes(CELLS)
    result = check(original, fix=True)
    assert result.fixes_applied == 1 and not result.errors
    before, after = json.loads(original), json.loads(result.fixed)
    assert after["metadata"] == before["metadata"]
    for number, (old, new) in enumerate(zip(before["cells"], after["cells"]), start=1):
        if number == 4:
            assert {key: value for key, value in new.items() if key != "source"} == {
                key: value for key, value in old.items() if key != "source"
            }
            assert new["source"] == [
                "with torch.no_grad():\n",
                "    for x in loader:\n",
                "        %time y = 1\n",
                "        files = !ls\n",
                "        kept.append(model(x).softmax(-1).detach().cpu())",
            ]
        else:
            assert new == old
    expected = original.replace(b'kept.append(model(x).softmax(-1).cpu())"', b'kept.append(model(x).softmax(-1).detach().cpu())"', 1)
    assert result.fixed == expected, "only the changed line differs, byte for byte"


def test_an_unchanged_notebook_round_trips_byte_for_byte() -> None:
    original = notebook_bytes(CELLS)
    loaded = notebook.load(original)
    assert notebook.write(loaded, original, loaded.source) == original
    clean = notebook_bytes([code_cell("import torch\nx = torch.ones(1)")])
    result = check(clean, fix=True)
    assert result.fixed == clean and not result.changed


def test_string_sources_and_ascii_escapes_are_kept() -> None:
    cells = [code_cell("import torch\nwith torch.no_grad():\n    kept.append(model(x).softmax(-1).cpu())  # caf\u00e9")]
    cells[0]["source"] = "".join(cells[0]["source"])
    original = (json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=2) + "\n").encode()
    assert b"\\u00e9" in original
    result = check(original, fix=True)
    assert result.fixed == original.replace(b"model(x).softmax(-1).cpu()", b"model(x).softmax(-1).detach().cpu()")


def test_magics_move_with_a_fix_that_reindents_them() -> None:
    original = notebook_bytes([code_cell("for x in loader:\n    %time f(x)\n    !echo hi")])
    loaded = notebook.load(original)
    assert "%time" not in loaded.source and "!echo" not in loaded.source
    wrapped = "with ctx:\n" + "".join("    " + line for line in loaded.source.splitlines(keepends=True))
    written = json.loads(notebook.write(loaded, original, wrapped))
    assert written["cells"][0]["source"] == ["with ctx:\n", "    for x in loader:\n", "        %time f(x)\n", "        !echo hi"]


def test_a_fix_that_drops_a_magic_is_refused() -> None:
    original = notebook_bytes([code_cell("%time f(x)\ny = 1")])
    loaded = notebook.load(original)
    with pytest.raises(notebook.NotebookError, match="magic"):
        notebook.write(loaded, original, "y = 1\n")


def test_unreproducible_formatting_is_checked_but_never_rewritten() -> None:
    cells = [code_cell("import torch\nwith torch.no_grad():\n    kept.append(model(x).softmax(-1).cpu())")]
    original = json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1).encode() + b"\n\n"
    result = check(original, fix=True)
    assert result.fixed == original
    assert [error.kind.value for error in result.errors] == ["fix-error"]
    assert "formatting cannot be reproduced" in result.errors[0].reason
    assert len(check(original).violations) == 1


def test_not_a_notebook_and_other_languages() -> None:
    (error,) = check(b"{not json").errors
    assert error.kind.value == "syntax-error" and "not a valid notebook" in error.reason
    r_notebook = check(notebook_bytes([code_cell("x.cpu()")], language="R"))
    assert r_notebook.violations == () and r_notebook.errors == ()
    assert r_notebook.notes == ("the notebook's language is 'r', not Python: not checked",)


def test_noqa_in_a_cell_suppresses() -> None:
    cells = [code_cell("import torch"), code_cell("with torch.no_grad():\n    kept.append(model(x).softmax(-1).cpu())  # noqa: PFL101")]
    assert check(notebook_bytes(cells)).violations == ()


def test_cli_discovers_checks_and_fixes_notebooks(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "analysis.ipynb"
    path.parent.mkdir()
    path.write_bytes(notebook_bytes(CELLS))
    runner = CliRunner()
    checked = runner.invoke(cli, ["check", "--select", "PFL101", str(tmp_path)])
    assert checked.exit_code == 1
    assert f"{path}:cell 4:5:21: PFL101 [*]" in checked.stdout
    assert "note: " in checked.stderr and "cell 5 skipped" in checked.stderr
    fixed = runner.invoke(cli, ["fix", "--apply", "--select", "PFL101", str(tmp_path)])
    assert fixed.exit_code == 0, fixed.output
    assert b"kept.append(model(x).softmax(-1).detach().cpu())" in path.read_bytes()
    assert runner.invoke(cli, ["check", "--select", "PFL101", str(tmp_path)]).exit_code == 0


PIECES = [*"x=1()%!?: \n\t#\"'é\x0c", "\r\n", "pass", "if x:\n    ", ".cpu()"]
CELL_TEXT = st.lists(st.sampled_from(PIECES), max_size=20).map("".join)


@st.composite
def notebooks(draw: st.DrawFn) -> bytes:
    cells = []
    for text in draw(st.lists(CELL_TEXT, max_size=5)):
        cell = code_cell(text) if draw(st.booleans()) else markdown_cell(text)
        if draw(st.booleans()):
            cell["source"] = text
        cells.append(cell)
    document = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    indent, sort_keys, ensure_ascii = draw(st.sampled_from([1, 2])), draw(st.booleans()), draw(st.booleans())
    text = json.dumps(document, indent=indent, sort_keys=sort_keys, ensure_ascii=ensure_ascii)
    return (text + ("\n" if draw(st.booleans()) else "")).encode()


@settings(max_examples=60, deadline=None)
@given(notebooks())
def test_any_notebook_round_trips_and_maps_every_cell(data: bytes) -> None:
    loaded = notebook.load(data)
    if not loaded.cells:
        assert loaded.source == ""
        return
    assert notebook.write(loaded, data, loaded.source) == data
    layout = notebook._layout(loaded.source, loaded.cells)
    assert [span.cell for span in layout] == [cell.number for cell in loaded.cells]
    boundaries = len(layout) - 1
    assert sum(span.rows for span in layout) + boundaries == len(notebook._lines(loaded.source))


def test_masked_magic_keeps_its_crlf_ending() -> None:
    """Found by hypothesis: a magic line ending in \\r\\n came back as \\n in an otherwise unchanged notebook."""
    data = json.dumps(
        {
            "cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": ["%\r\n"]}],
            "metadata": {},
            "nbformat": 4,
            "nbformat_minor": 5,
        },
        indent=1,
    ).encode()
    loaded = notebook.load(data)
    assert notebook.write(loaded, data, loaded.source) == data


PYTHON_MAGIC_BODY = "with torch.no_grad():\n    kept.append(model(x).softmax(-1).cpu())"


@pytest.mark.parametrize(
    "magic",
    ["%%time", "%%timeit -n1 -r1 y = 2", "%%capture captured", "%%prun -s cumulative", "%%debug", "  %%time  "],
)
def test_cells_under_a_python_cell_magic_are_checked_and_fixed(magic: str) -> None:
    original = notebook_bytes([code_cell("import torch"), code_cell(f"{magic}\n{PYTHON_MAGIC_BODY}")])
    (violation,) = check(original).violations
    assert (violation.cell, violation.location.row) == (2, 3)
    result = check(original, fix=True)
    assert not result.errors and result.fixes_applied == 1
    assert json.loads(result.fixed)["cells"][1]["source"] == [
        f"{magic}\n",
        "with torch.no_grad():\n",
        "    kept.append(model(x).softmax(-1).detach().cpu())",
    ]


def test_a_cell_magic_line_with_crlf_is_kept_byte_for_byte() -> None:
    cell = code_cell("")
    cell["source"] = "%%time  -o t\r\nwith torch.no_grad():\r\n    kept.append(model(x).softmax(-1).cpu())\r\n"
    original = notebook_bytes([code_cell("import torch"), cell])
    result = check(original, fix=True)
    assert not result.errors and result.fixes_applied == 1
    assert json.loads(result.fixed)["cells"][1]["source"] == (
        "%%time  -o t\r\nwith torch.no_grad():\r\n    kept.append(model(x).softmax(-1).detach().cpu())\r\n"
    )


@pytest.mark.parametrize("magic", ["%%bash", "%%html", "%%writefile out.py", "%%sql", "%%python3", "%%script python", "%%R"])
def test_cells_in_other_languages_are_skipped_and_counted(magic: str) -> None:
    cells = [code_cell("import torch"), code_cell(f"{magic}\n{PYTHON_MAGIC_BODY}"), code_cell(f"{magic}\nx")]
    result = check(notebook_bytes(cells))
    assert result.violations == () and result.errors == ()
    assert result.notes == (f"2 cells skipped (cells 2, 3): their cell magics ({magic.split()[0]}) do not run Python in the notebook",)


def test_a_fix_that_would_put_code_above_a_cell_magic_is_refused() -> None:
    original = notebook_bytes([code_cell("%%time\ny = 1")])
    loaded = notebook.load(original)
    assert notebook.write(loaded, original, loaded.source) == original
    with pytest.raises(notebook.NotebookError, match="cell magic '%%time' of cell 1"):
        notebook.write(loaded, original, "import torch\n" + loaded.source)


def test_the_list_of_python_cell_magics_is_ipythons_execution_magics() -> None:
    assert notebook.PYTHON_CELL_MAGICS == {"time", "timeit", "capture", "prun", "debug"}


def _character_at(raw: str, offset: int) -> str:
    """The character the JSON string content starting at ``offset`` of ``raw`` encodes first."""
    if raw[offset] != "\\":
        return raw[offset]
    length = 2 if raw[offset + 1] != "u" else 6
    if length == 6 and raw[offset + 6 : offset + 8] == "\\u":
        try:
            pair = json.loads(f'"{raw[offset:offset + 12]}"')
            if len(pair) == 1:
                return pair
        except ValueError:
            pass
    return json.loads(f'"{raw[offset:offset + length]}"')


@settings(max_examples=60, deadline=None)
@given(notebooks())
def test_raw_positions_point_at_each_cell_character_in_the_file(data: bytes) -> None:
    index = notebook.raw_index(data)
    assert index is not None
    raw = data.decode()
    starts = [0] + [i + 1 for i, char in enumerate(raw) if char == "\n"]
    for number, cell in enumerate(json.loads(data)["cells"], start=1):
        text = notebook._cell_text(cell)
        for row, line in enumerate(notebook._lines(text), start=1):
            for column, expected in enumerate(line, start=1):
                found = index.locate(number, Location(row, column))
                assert found is not None
                assert _character_at(raw, starts[found.row - 1] + found.column - 1) == expected, (number, row, column)
