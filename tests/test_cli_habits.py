"""The habits of ruff users (issue 12): default path `.`, `check --fix`, `--exit-zero`, `--exit-non-zero-on-fix`,
`--show-fixes`, `--output-format concise|full`, and the small things: plurals, missing paths, syntax error
positions, `-` only alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from perflint.cli import cli

SAFE_SITE = """\
import torch


def validate(model, loader):
    kept = []
    with torch.no_grad():
        for x in loader:
            kept.append(model(x).softmax(-1).cpu())
    return kept
"""
UNSAFE_SITE = """\
import torch


def train(model, loader):
    log = []
    for x in loader:
        log.append(model(x).softmax(-1).cpu())
    return log
"""


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "safe.py").write_text(SAFE_SITE)
    (tmp_path / "unsafe.py").write_text(UNSAFE_SITE)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_check_and_fix_default_to_the_current_folder(project: Path) -> None:
    checked = run("check", "--no-cache", "--output-format", "concise")
    assert checked.exit_code == 1
    assert "safe.py:8:25: PFL101 [*]" in checked.stdout and "unsafe.py:7:20: PFL101" in checked.stdout
    assert "in 2 files." in checked.stdout
    diff = run("fix", "--no-cache")
    assert diff.exit_code == 1 and "+            kept.append(model(x).softmax(-1).detach().cpu())" in diff.stdout


def test_check_fix_is_fix_apply(project: Path) -> None:
    result = run("check", "--fix", "--no-cache", "--select", "PFL101")
    assert result.exit_code == 1  # the unsafe site is left
    assert "model(x).softmax(-1).detach().cpu()" in (project / "safe.py").read_text()
    assert (project / "unsafe.py").read_text() == UNSAFE_SITE
    assert run("check", "--fix", "--unsafe-fixes", "--no-cache").exit_code == 0
    assert "model(x).softmax(-1).detach().cpu()" in (project / "unsafe.py").read_text()


def test_exit_zero(project: Path) -> None:
    assert run("check", "--no-cache", "--exit-zero").exit_code == 0
    assert run("fix", "--no-cache", "--exit-zero").exit_code == 0  # a pending diff too
    assert run("check", "--no-cache", "--exit-zero", "--select", "PFL999").exit_code == 2  # usage errors stay 2


def test_exit_non_zero_on_fix(project: Path) -> None:
    (project / "unsafe.py").unlink()
    # Everything is fixed, so the run is clean: 0, unless asked to fail when files changed.
    assert run("check", "--fix", "--no-cache", "--exit-non-zero-on-fix").exit_code == 1
    assert run("check", "--fix", "--no-cache", "--exit-non-zero-on-fix").exit_code == 0  # nothing left to fix
    (project / "safe.py").write_text(SAFE_SITE)
    assert run("check", "--fix", "--no-cache").exit_code == 0


def test_show_fixes_lists_the_fixes_applied_and_the_fix_titles(project: Path) -> None:
    fixed = run("check", "--fix", "--no-cache", "--show-fixes", "--unsafe-fixes")
    assert "Fixed 2 findings:" in fixed.stderr
    assert "- safe.py:\n    1 \u00d7 PFL101 (cpu-without-detach)" in fixed.stderr
    (project / "safe.py").write_text(SAFE_SITE)
    titled = run("check", "--no-cache", "--show-fixes", "--output-format", "concise", "safe.py")
    assert titled.stdout.splitlines()[1] == "    = help: Insert `.detach()` before `.cpu()`"


def test_output_format_full_is_the_default_and_concise_one_line(project: Path) -> None:
    full = run("check", "--no-cache", "safe.py")
    assert full.stdout.splitlines()[:7] == [
        "safe.py:8:25: PFL101 [*] `.cpu()` result kept inside torch.no_grad(): no graph is kept; detach is defensive",
        "  |",
        "6 |     with torch.no_grad():",
        "7 |         for x in loader:",
        "8 |             kept.append(model(x).softmax(-1).cpu())",
        "  |                         ^^^^^^^^^^^^^^^^^^^^^^^^^^ PFL101",
        "9 |     return kept",
    ]
    assert "  = help: Insert `.detach()` before `.cpu()`" in full.stdout
    concise = run("check", "--no-cache", "--output-format", "concise", "safe.py")
    assert concise.stdout.splitlines()[0] == full.stdout.splitlines()[0]
    assert concise.stdout.splitlines()[1].startswith("Found 1 finding in 1 file.")
    # `text`, the older name, is `concise`.
    assert run("check", "--no-cache", "--output-format", "text", "safe.py").stdout == concise.stdout


def test_plurals(project: Path) -> None:
    assert "Found 1 finding in 1 file.\n" in run("check", "--no-cache", "safe.py").stdout
    assert "Found 2 findings in 2 files.\n" in run("check", "--no-cache").stdout


def test_missing_path_is_an_error_line_not_a_checked_file(project: Path) -> None:
    result = run("check", "--no-cache", "--output-format", "concise", "safe.py", "missing.py")
    assert result.exit_code == 1
    assert "error: missing.py: read-error: no such file or directory" in result.stderr
    assert "Found 1 finding in 1 file." in result.stdout


def test_syntax_error_has_one_position(project: Path) -> None:
    (project / "broken.py").write_text("import torch\ndef f(:\n    kept.append(x.cpu())\n")
    result = run("check", "--no-cache", "broken.py")
    assert result.stderr.strip() == "error: broken.py: syntax-error: line 2, column 7: invalid syntax"


def test_stdin_dash_only_alone(project: Path) -> None:
    mixed = run("check", "-", "safe.py", input=SAFE_SITE)
    assert mixed.exit_code == 2 and "`-` (read from stdin) cannot be combined with other paths" in mixed.output
    alone = run("check", "--output-format", "concise", "-", input=SAFE_SITE)
    assert alone.exit_code == 1 and "<stdin>:8:25: PFL101" in alone.stdout
