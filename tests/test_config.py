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
        ("selct = ['PFL1']\n", "[tool.perflint] unknown key 'selct' (did you mean 'select'? expected one of: select,"),
        ("select = ['PFL999']\n", "[tool.perflint] select: unknown rule code or prefix: 'PFL999'"),
        ("select = 'PFL101'\n", "[tool.perflint] select: expected a list of strings, got a string"),
        ("unsafe-fixes = 'yes'\n", "[tool.perflint] unsafe-fixes: expected true or false, got a string"),
        ("[tool.perflint.per-file-ignores]\n'tests/*' = ['XYZ1']\n", "per-file-ignores 'tests/*': unknown rule code or prefix: 'XYZ1'"),
        ("[tool.perflint.options.PFL999]\nx = 1\n", "options: unknown rule 'PFL999' (rules with options: PFL202)"),
        ("[tool.perflint.options.PFL202]\nexact-helper = 1\n", "options.PFL202.exact-helper: expected a boolean, got an integer"),
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


def _vendor_project(tmp_path: Path, extra: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(f'[tool.perflint]\nexclude = ["vendor"]\n{extra}')
    (tmp_path / "vendor").mkdir()
    (tmp_path / "vendor" / "v.py").write_text(SITE)
    return tmp_path / "vendor" / "v.py"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("unknwon-key = 1\n", "[tool.perflint] unknown key 'unknwon-key'"),
        ("select = ['PFL10X']\n", "[tool.perflint] select: unknown rule code or prefix: 'PFL10X'"),
        ("respect-gitignore = 'no'\n", "[tool.perflint] respect-gitignore: expected true or false, got a string"),
    ],
)
def test_config_error_stops_the_run_before_anything_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: str, expected: str) -> None:
    """The issue's scenario: `exclude = ["vendor"]` plus a typo, then `perflint fix --apply .`: exit 2, one line
    naming the file, the key and what was expected, and vendor/v.py (which the user excluded) untouched."""
    vendored = _vendor_project(tmp_path, extra)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["fix", "--apply", "--no-cache", "."])
    assert result.exit_code == 2
    assert len(result.output.splitlines()) == 1
    assert result.output.startswith(f"error: {tmp_path / 'pyproject.toml'}: ") and expected in result.output
    assert vendored.read_text() == SITE
    assert not (tmp_path / ".perflint_cache").exists()


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(SITE)
    result = CliRunner().invoke(cli, ["fix", "--apply", "--config", str(tmp_path / "nope.toml"), str(tmp_path)])
    assert result.exit_code == 2
    assert result.output == f"error: {tmp_path / 'nope.toml'}: no such configuration file\n"
    assert (tmp_path / "a.py").read_text() == SITE


def test_config_file_without_a_perflint_table_is_an_error(tmp_path: Path) -> None:
    other = tmp_path / "other.toml"
    other.write_text("[tool.ruff]\nline-length = 100\n")
    result = CliRunner().invoke(cli, ["check", "--config", str(other), str(tmp_path)])
    assert result.exit_code == 2 and "no [tool.perflint] table" in result.output


def test_perflint_toml_holds_the_keys_at_its_top_level(tmp_path: Path) -> None:
    """Like ruff.toml: a perflint.toml (or .perflint.toml) is found in each folder before pyproject.toml."""
    (tmp_path / "perflint.toml").write_text("ignore = ['PFL101']\n")
    (tmp_path / "pyproject.toml").write_text("[tool.perflint]\nselect = ['PFL101']\n")
    (tmp_path / "a.py").write_text(SITE)
    assert find_config(tmp_path) == tmp_path / "perflint.toml"
    assert CliRunner().invoke(cli, ["check", "--no-cache", str(tmp_path)]).exit_code == 0
    assert CliRunner().invoke(cli, ["check", "--no-cache", "--config", str(tmp_path / "pyproject.toml"), str(tmp_path)]).exit_code == 1
    (tmp_path / "perflint.toml").write_text("[tool.perflint]\nignore = ['PFL101']\n")
    result = CliRunner().invoke(cli, ["check", str(tmp_path)])
    assert result.exit_code == 2 and "perflint.toml: unknown key 'tool'" in result.output


def test_force_exclude_skips_named_excluded_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    vendored = _vendor_project(tmp_path, "")
    (tmp_path / "pyproject.toml").write_text('[tool.perflint]\nextend-exclude = ["vendor"]\n')  # .venv stays excluded
    (tmp_path / ".venv" / "lib").mkdir(parents=True)
    (tmp_path / ".venv" / "lib" / "x.py").write_text(SITE)
    monkeypatch.chdir(tmp_path)
    named = ["vendor/v.py", ".venv/lib/x.py"]
    assert "Found 2 findings in 2 files." in CliRunner().invoke(cli, ["check", "--no-cache", *named]).output  # named: checked
    forced = CliRunner().invoke(cli, ["check", "--no-cache", "--force-exclude", *named])
    assert forced.exit_code == 0 and "vendor" not in forced.output
    assert CliRunner().invoke(cli, ["fix", "--apply", "--no-cache", "--force-exclude", "vendor"]).exit_code == 0
    assert vendored.read_text() == SITE
    (tmp_path / "pyproject.toml").write_text('[tool.perflint]\nextend-exclude = ["vendor"]\nforce-exclude = true\n')
    assert CliRunner().invoke(cli, ["check", "--no-cache", "vendor/v.py"]).exit_code == 0


def test_cli_exclude_adds_to_the_configured_extend_exclude(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.perflint]\nextend-exclude = ["generated"]\n')
    for folder in ("generated", "other"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "a.py").write_text(SITE)
    assert CliRunner().invoke(cli, ["check", "--no-cache", "--exclude", "other", str(tmp_path)]).exit_code == 0
