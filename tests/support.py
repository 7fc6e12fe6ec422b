"""Helpers shared by the tests: lint or fix a snippet, with the safety net checked on every fix."""

from __future__ import annotations

import ast
import textwrap
from dataclasses import replace
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence

import pytest

from perflint import api, engine
from perflint.config import Settings
from perflint.rule import Rule
from perflint.types import FileResult


def settings_for(select: Sequence[str] = ("ALL",), rule_options: Optional[Mapping[str, Mapping[str, object]]] = None) -> Settings:
    """Settings that select exactly ``select`` (with ``rule_options``), independent of any pyproject.toml."""
    return replace(Settings(root=Path.cwd()), select=tuple(select), rule_options=dict(rule_options or {}))


def lint(
    source: str,
    select: Sequence[str] = ("ALL",),
    path: str = "snippet.py",
    rule_options: Optional[Mapping[str, Mapping[str, object]]] = None,
) -> FileResult:
    """Check ``source`` (dedented) and return the result."""
    return api.check_source(textwrap.dedent(source).encode(), Path(path), settings_for(select, rule_options))


def fix(
    source: str,
    select: Sequence[str] = ("ALL",),
    unsafe: bool = False,
    path: str = "snippet.py",
    rule_options: Optional[Mapping[str, Mapping[str, object]]] = None,
) -> FileResult:
    """Fix ``source`` in memory, asserting the safety net: no errors, output parses, a second fix changes nothing."""
    settings = replace(settings_for(select, rule_options), unsafe_fixes=unsafe)
    options = api.RunOptions(fix=True)
    result = api.check_source(textwrap.dedent(source).encode(), Path(path), settings, options)
    assert not result.errors, result.errors
    fixed = result.fixed or b""
    ast.parse(fixed)
    again = api.check_source(fixed, Path(path), settings, options)
    assert again.fixed == fixed, "fix is not idempotent: a second run changed the output"
    assert again.fixes_applied == 0
    return result


def fixed_text(source: str, select: Sequence[str] = ("ALL",), unsafe: bool = False) -> str:
    """The fixed source as text."""
    return (fix(source, select, unsafe).fixed or b"").decode()


def prefilter_keeps(rule: type[Rule], source: str, reported: bool) -> bool:
    """``rule.could_match`` on ``source`` (dedented), after asserting that the rule alone does (``reported``) or
    does not report in it: a prefilter test is only as good as its knowing what the rule finds."""
    code = textwrap.dedent(source)
    outcome = engine.lint(engine.parse(code.encode()), [rule], "shape.py", {})
    assert outcome.failures == () and bool(outcome.findings) == reported
    return rule.could_match(ast.parse(code))


def prefilter_tests(
    rule: type[Rule], reported: Mapping[str, str], ruled_out: Mapping[str, str]
) -> tuple[Callable[[str], None], Callable[[str], None]]:
    """A rule's two prefilter tests, over named modules: each of ``reported`` (the rule reports in it) passes its
    ``could_match``, each of ``ruled_out`` (the rule reports nothing there) is ruled out. Bind them to names
    starting ``test_`` in the test module."""

    @pytest.mark.parametrize("source", reported.values(), ids=reported.keys())
    def reported_modules_pass(source: str) -> None:
        assert prefilter_keeps(rule, source, reported=True)

    @pytest.mark.parametrize("source", ruled_out.values(), ids=ruled_out.keys())
    def modules_without_findings_are_ruled_out(source: str) -> None:
        assert not prefilter_keeps(rule, source, reported=False)

    return reported_modules_pass, modules_without_findings_are_ruled_out
