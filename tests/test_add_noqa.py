"""`perflint check --add-noqa`: a directive on every reported line, existing codes and comments kept, idempotent."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from perflint.add_noqa import add_to_source
from perflint.cli import cli
from tests.ecosystem.notebooks import code_cell, notebook_bytes

SOURCE = (
    "import torch\r\n"
    "with torch.no_grad():\r\n"
    "    kept.append(model(x).cpu())  # noqa: E501\r\n"
    "    kept.append(model(x).cpu())  # why\r\n"
    "    kept.append(model(x).cpu())   \r\n"
    "    kept.append(model(x).cpu())  # noqa: PFL101\r\n"
)
EXPECTED = (
    "import torch\r\n"
    "with torch.no_grad():\r\n"
    "    kept.append(model(x).cpu())  # noqa: E501, PFL101\r\n"
    "    kept.append(model(x).cpu())  # why  # noqa: PFL101\r\n"
    "    kept.append(model(x).cpu())  # noqa: PFL101\r\n"
    "    kept.append(model(x).cpu())  # noqa: PFL101\r\n"
)


def invoke(*args: str):
    return CliRunner().invoke(cli, ["check", "--no-cache", "--select", "PFL101", *args], catch_exceptions=False)


def test_add_noqa_annotates_every_reported_line_once(tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    path.write_bytes(SOURCE.encode())
    first = invoke("--add-noqa", str(path))
    assert first.exit_code == 0, first.output
    assert "Added 3 noqa directives in 1 file." in first.stderr
    assert path.read_bytes() == EXPECTED.encode()
    again = invoke("--add-noqa", str(path))
    assert again.exit_code == 0 and "Added 0 noqa directives" in again.stderr
    assert path.read_bytes() == EXPECTED.encode()
    assert invoke(str(path)).exit_code == 0, "every finding is suppressed now"


def test_encoding_bom_and_cookie_are_kept() -> None:
    latin = "# -*- coding: latin-1 -*-\nx = 'caf\u00e9'\n".encode("latin-1")
    assert add_to_source(latin, {2: ["PFL101"]}).data == "# -*- coding: latin-1 -*-\nx = 'caf\u00e9'  # noqa: PFL101\n".encode("latin-1")
    bom = "x = 1\ry = 2".encode("utf-8-sig")
    assert add_to_source(bom, {1: ["PFL102", "PFL101"], 2: ["PFL101"]}).data == (
        "x = 1  # noqa: PFL101, PFL102\ry = 2  # noqa: PFL101".encode("utf-8-sig")
    )


@pytest.mark.parametrize(
    "source",
    [
        'x = f("""a\nb""")\n',  # line 1 ends inside a string
        "x = a + \\\n    b\n",  # line 1 ends after a backslash
    ],
)
def test_lines_that_cannot_end_in_a_comment_are_refused(source: str) -> None:
    annotated = add_to_source(source.encode(), {1: ["PFL101"], 2: ["PFL102"]})
    lines = source.splitlines(keepends=True)
    assert annotated.refused == (1,)
    assert annotated.data.decode() == lines[0] + lines[1].rstrip("\n") + "  # noqa: PFL102\n"


def test_bracketed_lines_and_bare_noqa() -> None:
    source = "x = f(a,\n      b)\ny = 1  # noqa\n"
    annotated = add_to_source(source.encode(), {1: ["PFL101"], 3: ["PFL101"]})
    assert annotated.data.decode() == "x = f(a,  # noqa: PFL101\n      b)\ny = 1  # noqa\n"
    assert annotated.added == 1


def test_notebooks_are_left_out(tmp_path: Path) -> None:
    path = tmp_path / "a.ipynb"
    data = notebook_bytes([code_cell("import torch\nwith torch.no_grad():\n    kept.append(model(x).cpu())")])
    path.write_bytes(data)
    result = invoke("--add-noqa", str(path))
    assert "notebook left out" in result.stderr and "Added 0 noqa directives" in result.stderr
    assert path.read_bytes() == data


def test_stdin_is_refused_and_no_path_means_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert invoke("--add-noqa", "-").exit_code == 2
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.py").write_bytes(SOURCE.encode())
    result = CliRunner().invoke(cli, ["check", "--no-cache", "--select", "PFL101", "--add-noqa"], catch_exceptions=False)
    assert result.exit_code == 0 and (tmp_path / "a.py").read_bytes() == EXPECTED.encode()
