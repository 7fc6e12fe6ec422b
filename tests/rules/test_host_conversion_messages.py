"""PFL102 and PFL106 messages fit a terminal line (at most 100 characters) on every fixture and however long the
names in the code, with no exception: why a finding has no fix is in the rules' Fix safety docs, not the
message; every finding with a fix carries a fix title."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.support import lint

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
CODES = ("PFL102", "PFL106")
LONG = "a_really_long_attribute_name_that_someone_might_write_in_a_research_codebase_somewhere"

LONG_NAMES = {
    "PFL102": f"""
        def {LONG}({LONG}):
            total = {LONG}.detach().cpu().view(-1).numpy().sum()
            return total / {LONG}.detach().cpu().view(-1).numpy().size
        """,
    "PFL102-loop": f"""
        def {LONG}({LONG}, batches):
            return [float(({LONG}.detach().cpu().view(-1).numpy() * b).sum()) for b in batches]
        """,
    "PFL106": f"""
        def _{LONG}_one(p):
            return p.numpy().sum()

        def _{LONG}_two(p):
            return p.numpy().max()

        def _{LONG}_three(p):
            return p.numpy().min()

        def evaluate({LONG}):
            return _{LONG}_one({LONG}), _{LONG}_two({LONG}), _{LONG}_three({LONG})
        """,
}


@pytest.mark.parametrize("code", CODES)
def test_fixture_messages_fit_and_fixes_have_titles(code: str) -> None:
    checked = 0
    for case in sorted((FIXTURES / code).glob("*.py")):
        if case.name.endswith(".fixed.py"):
            continue
        for violation in lint(case.read_text(), select=[code], path=case.name).violations:
            assert len(violation.message) <= 100, violation.message
            assert "no fix" not in violation.message, violation.message
            assert violation.fix is None or violation.fix.message
            checked += 1
    assert checked


@pytest.mark.parametrize("case", sorted(LONG_NAMES))
def test_long_names_keep_messages_short(case: str) -> None:
    violations = lint(textwrap.dedent(LONG_NAMES[case]), select=[case[:6]]).violations
    assert len(violations) == 1
    assert len(violations[0].message) <= 100, violations[0].message
