"""Bad input through the command line: one line naming the file and the reason, the run goes on, the exit code says so.

Exit codes: 1 when a file could not be checked (like a finding), 2 for a malformed configuration or a rule's
internal error (perflint's fault, not the user's).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import libcst as cst
import pytest
from click.testing import CliRunner, Result

from perflint import registry
from perflint.cli import cli
from perflint.rule import Invalid, Rewrite, Rule, Valid
from perflint.types import Applicability, FixSafety, MetricImpact
from tests.safety.samples import FIXABLE, FIXED

FINDING = "good.py:8:25: PFL101"


def perflint(*args: str) -> Result:
    """Run the CLI in this process, on one job and without the cache, so monkeypatches apply."""
    return CliRunner().invoke(cli, [*args, "--jobs", "1", "--no-cache"], catch_exceptions=False)


def error_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def error_kinds(result: Result) -> list[str]:
    """The kind of each error line: ``error: PATH: KIND: reason``."""
    return [line.split(": ")[2] for line in error_lines(result)]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with one good file (one PFL101 finding) and no configuration above it that matters."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[tool.perflint]\n")
    (tmp_path / "good.py").write_text(FIXABLE)
    return tmp_path


def assert_one_error_and_good_file_checked(result: Result, expected: Sequence[str], exit_code: int = 1) -> None:
    lines = error_lines(result)
    assert len(lines) == len(expected), result.stderr
    for line, fragment in zip(sorted(lines), sorted(expected)):
        assert fragment in line, (fragment, line)
    assert FINDING in result.stdout
    assert result.exit_code == exit_code


def test_syntax_error_among_good_files(project: Path) -> None:
    (project / "broken.py").write_text("def f(:\n    kept.append(x.cpu())\n")
    result = perflint("check", str(project))
    assert_one_error_and_good_file_checked(result, [f"{project / 'broken.py'}: syntax-error: line "])


def test_non_utf8_file_without_cookie(project: Path) -> None:
    (project / "latin.py").write_bytes("kept.append(x.cpu())  # caf\xe9\n".encode("latin-1"))
    result = perflint("check", str(project))
    assert_one_error_and_good_file_checked(result, [f"{project / 'latin.py'}: encoding-error: "])


def test_wrong_cookie(project: Path) -> None:
    (project / "cookie.py").write_bytes(b"# -*- coding: no-such-codec -*-\nkept.append(x.cpu())\n")
    result = perflint("check", str(project))
    assert_one_error_and_good_file_checked(result, [f"{project / 'cookie.py'}: encoding-error: unknown encoding"])


def test_missing_path(project: Path) -> None:
    result = perflint("check", str(project), str(project / "missing.py"))
    assert_one_error_and_good_file_checked(result, [f"{project / 'missing.py'}: read-error: no such file or directory"])


def test_unreadable_file(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """chmod 000 where it works; as root (who reads anyway) the read itself is made to fail."""
    secret = project / "secret.py"
    secret.write_text(FIXABLE)
    secret.chmod(0)
    if os.access(secret, os.R_OK):
        real_read_bytes = Path.read_bytes

        def read_bytes(path: Path) -> bytes:
            if path.name == "secret.py":
                raise PermissionError(13, "Permission denied", str(path))
            return real_read_bytes(path)

        monkeypatch.setattr(Path, "read_bytes", read_bytes)
    result = perflint("check", str(project))
    assert_one_error_and_good_file_checked(result, [f"{secret}: read-error: Permission denied"])


def test_directory_named_like_a_source_file(project: Path) -> None:
    """A folder called x.py is a folder: walked (its files checked), never read as a file."""
    folder = project / "x.py"
    (folder / "inner").mkdir(parents=True)
    (folder / "inner" / "broken.py").write_text("def f(:\n    kept.append(x.cpu())\n")
    for named in (str(project), str(folder)):
        result = perflint("check", named)
        assert error_kinds(result) == ["syntax-error"], result.stderr
        assert result.exit_code == 1


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_named_pipe_is_not_read(project: Path) -> None:
    """Reading a FIFO named *.py would block forever."""
    os.mkfifo(project / "pipe.py")
    result = perflint("check", str(project))
    assert_one_error_and_good_file_checked(result, [f"{project / 'pipe.py'}: read-error: not a regular file"])


@pytest.mark.parametrize(
    "config, reason",
    [
        ("[tool.perflint\nselect = 1\n", "cannot read configuration"),
        ("[tool.perflint]\nselect = 'PFL101'\n", "[tool.perflint] select: expected a list of strings, got a string"),
        ("[tool.perflint]\nunsafe-fixes = 'yes'\n", "[tool.perflint] unsafe-fixes: expected true or false, got a string"),
    ],
    ids=["not-toml", "wrong-type", "wrong-boolean"],
)
def test_malformed_config_is_one_line_and_stops_the_run(project: Path, config: str, reason: str) -> None:
    """As ruff does: a configuration that cannot be used stops the run before any file is read or written."""
    (project / "pyproject.toml").write_text(config)
    result = perflint("check", str(project))
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: {project / 'pyproject.toml'}: ") and reason in line
    assert result.stdout == ""


def test_fix_apply_writes_the_good_files_and_reports_the_bad(project: Path) -> None:
    broken = project / "broken.py"
    broken.write_text("def f(:\n    kept.append(x.cpu())\n")
    result = perflint("fix", "--apply", str(project))
    assert (project / "good.py").read_text() == FIXED
    assert broken.read_text() == "def f(:\n    kept.append(x.cpu())\n"
    assert error_kinds(result) == ["syntax-error"]
    assert result.exit_code == 1


class CrashingRule(Rule):
    """
    A rule that crashes on every call in a file named boom.py.

    ## What it does
    Crashes.
    ## Why is this bad?
    It stands for a bug in a real rule.
    ## Example
    `f()`
    ## Use instead
    Nothing.
    ## Fix safety
    No fix.
    ## Metric impact
    None.
    ## Known problems
    Always fails.
    ## Options
    None.
    ## References
    None.
    """

    code = "PFL999"
    name = "crashing-rule"
    message = "never reported"
    fix_safety = FixSafety.NONE
    metric_impact = MetricImpact.IDENTICAL
    required_tokens = ("(",)
    valid = (Valid("x = 1"),)
    invalid = (Invalid("f()"),)

    def visit_Call(self, node: cst.Call) -> None:
        if self.context.path.endswith("boom.py"):
            raise ZeroDivisionError("deliberate crash")


class CrashingFixRule(CrashingRule):
    """
    A rule whose fix crashes when applied to a call in boom.py (the visit itself works).

    ## What it does
    Offers a fix that raises.
    ## Why is this bad?
    It stands for a bug in a real rule's rewrite.
    ## Example
    `f()`
    ## Use instead
    Nothing.
    ## Fix safety
    Safe, in name only.
    ## Metric impact
    None.
    ## Known problems
    Always fails.
    ## Options
    None.
    ## References
    None.
    """

    code = "PFL998"
    name = "crashing-fix"
    fix_title = "Crash"
    fix_safety = FixSafety.SAFE

    def visit_Call(self, node: cst.Call) -> None:
        if self.context.path.endswith("boom.py"):
            self.report(node, rewrite=Rewrite(Applicability.SAFE, ((node, self.crash),)))

    @staticmethod
    def crash(updated: cst.CSTNode) -> cst.CSTNode:
        raise KeyError("deliberate crash in a fix")


@pytest.fixture
def crashing_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    rules = registry.all_rules()
    monkeypatch.setattr(registry, "all_rules", lambda: (*rules, CrashingRule))


@pytest.fixture
def crashing_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    rules = registry.all_rules()
    monkeypatch.setattr(registry, "all_rules", lambda: (*rules, CrashingFixRule))


@pytest.mark.usefixtures("crashing_rule")
def test_crashing_rule_is_reported_with_its_code_and_the_run_goes_on(project: Path) -> None:
    boom = project / "boom.py"
    boom.write_text(FIXABLE)
    result = perflint("check", str(project), "--select", "ALL")
    lines = error_lines(result)
    assert lines == [f"error: {boom}: rule-error in rule PFL999: ZeroDivisionError: deliberate crash"], result.stderr
    # The other rules still ran on the same file, and on the other files.
    assert "boom.py:8:25: PFL101" in result.stdout and FINDING in result.stdout
    assert result.exit_code == 2


@pytest.mark.usefixtures("crashing_rule")
def test_crashing_rule_blocks_writing_that_file_only(project: Path) -> None:
    boom = project / "boom.py"
    boom.write_text(FIXABLE)
    result = perflint("fix", "--apply", str(project), "--select", "ALL")
    assert boom.read_text() == FIXABLE
    assert (project / "good.py").read_text() == FIXED
    assert result.exit_code == 2


@pytest.mark.usefixtures("crashing_fix")
@pytest.mark.parametrize("command", [("fix", "--apply"), ("check", "--output-format", "json")], ids=["fix", "check-json"])
def test_crashing_fix_is_the_rules_error_and_the_run_goes_on(project: Path, command: tuple[str, ...]) -> None:
    """A rewrite that raises (applied by `fix`, or to compute the edits of JSON output) is its rule's error."""
    boom = project / "boom.py"
    boom.write_text(FIXABLE)
    result = perflint(*command, str(project), "--select", "PFL101,PFL998")
    assert error_lines(result) == [f"error: {boom}: rule-error in rule PFL998: KeyError in its fix: 'deliberate crash in a fix'"]
    assert boom.read_text() == FIXABLE
    if command[0] == "fix":
        assert (project / "good.py").read_text() == FIXED
    else:
        assert '"code": "PFL101"' in result.stdout
    assert result.exit_code == 2
