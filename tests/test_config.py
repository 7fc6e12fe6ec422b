"""[tool.perflint] loading, validation and the CLI's precedence over it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from perflint.cli import cli
from perflint.config import ConfigError, find_config, load_settings

SITE = "import torch\nwith torch.no_grad():\n    kept.append(model(x).cpu())\n"


def write_config(directory: Path, body: str) -> Path:
    path = directory / "pyproject.toml"
    path.write_text("[project]\nname = 'x'\n\n[tool.perflint]\n" + body)
    return path


def test_nearest_config_above_the_path(tmp_path: Path) -> None:
    config = write_config(tmp_path, "ignore = ['PFL101']\n")
    nested = tmp_path / "src" / "pkg"
    nested.mkdir(parents=True)
    (nested / "pyproject.toml").write_text("[project]\nname = 'inner'\n")  # no [tool.perflint]: skipped
    assert find_config(nested) == config


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("selct = ['PFL1']\n", "unknown key(s) in [tool.perflint]: selct"),
        ("select = ['PFL999']\n", "unknown rule code or prefix: 'PFL999'"),
        ("select = 'PFL101'\n", "select must be a list of strings"),
        ("unsafe-fixes = 'yes'\n", "unsafe-fixes must be true or false"),
        ("[tool.perflint.per-file-ignores]\n'tests/*' = ['XYZ1']\n", "unknown rule code or prefix: 'XYZ1'"),
        ("[tool.perflint.options.PFL999]\nx = 1\n", "unknown rule 'PFL999'"),
        ("select = [\n", "cannot read configuration"),
    ],
)
def test_bad_config_is_a_clear_error_naming_the_file(tmp_path: Path, body: str, message: str) -> None:
    config = write_config(tmp_path, body)
    with pytest.raises(ConfigError) as raised:
        load_settings(config)
    assert str(config) in str(raised.value) and message in str(raised.value)


def test_config_ignore_and_cli_select_wins(tmp_path: Path) -> None:
    write_config(tmp_path, "ignore = ['PFL101']\n")
    (tmp_path / "a.py").write_text(SITE)
    assert CliRunner().invoke(cli, ["check", str(tmp_path)]).exit_code == 0
    # A selection typed on the command line replaces the file's select and ignore lists.
    assert CliRunner().invoke(cli, ["check", str(tmp_path), "--select", "PFL101"]).exit_code == 1


def test_per_file_ignores(tmp_path: Path) -> None:
    write_config(tmp_path, "[tool.perflint.per-file-ignores]\n'tests/*' = ['PFL1']\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "a.py").write_text(SITE)
    (tmp_path / "b.py").write_text(SITE)
    result = CliRunner().invoke(cli, ["check", str(tmp_path)])
    assert "b.py:3" in result.output and "a.py" not in result.output


def test_config_unsafe_fixes(tmp_path: Path) -> None:
    write_config(tmp_path, "unsafe-fixes = true\n")
    (tmp_path / "a.py").write_text("import torch\nfor x in xs:\n    kept.append(model(x).cpu())\n")
    CliRunner().invoke(cli, ["fix", "--apply", str(tmp_path)])
    assert "model(x).detach().cpu()" in (tmp_path / "a.py").read_text()


def test_config_exclude(tmp_path: Path) -> None:
    write_config(tmp_path, "extend-exclude = ['generated']\n")
    (tmp_path / "generated").mkdir()
    (tmp_path / "generated" / "a.py").write_text(SITE)
    assert CliRunner().invoke(cli, ["check", str(tmp_path)]).exit_code == 0
    # A file named on the command line is always checked.
    assert CliRunner().invoke(cli, ["check", str(tmp_path / "generated" / "a.py")]).exit_code == 1
