"""PFL103, PFL104 and PFL105 messages fit a terminal line (at most 100 characters), however long the names in
the code, and every finding with a fix carries a fix title."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.support import lint

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
CODES = ("PFL103", "PFL104", "PFL105")
LONG = "a_really_long_attribute_name_that_someone_might_write_in_a_research_codebase_somewhere"

LONG_NAMES = {
    "PFL103": f"""
        class Trainer:
            def fit(self, loader):
                for x in loader:
                    {LONG} = self.model(x).mean()
                    {LONG}.backward()
                    self.{LONG} += {LONG}
        """,
    "PFL104": f"""
        import torch
        def evaluate(self, loader):
            self.{LONG}.{LONG}.eval()
            for x in loader:
                print(self.{LONG}.{LONG}(x))
        """,
    "PFL105": f"""
        import torch
        def train(model, loader, optimizer):
            for x in loader:
                {LONG} = torch.nn.functional.mse_loss(model(x), x)
                {LONG}.backward()
                optimizer.step()
                print({LONG}.item())
        """,
}


@pytest.mark.parametrize("code", CODES)
def test_fixture_messages_fit_and_fixes_have_titles(code: str) -> None:
    cases = sorted((FIXTURES / code).glob("*.py"))
    checked = 0
    for case in (path for path in cases if not path.name.endswith(".fixed.py")):
        for violation in lint(case.read_text(), select=[code], path=case.name).violations:
            assert len(violation.message) <= 100, violation.message
            assert violation.fix is None or violation.fix.message
            checked += 1
    assert checked


@pytest.mark.parametrize("code", CODES)
def test_long_names_keep_messages_short(code: str) -> None:
    violations = lint(textwrap.dedent(LONG_NAMES[code]), select=[code]).violations
    assert len(violations) == 1
    assert len(violations[0].message) <= 100, violations[0].message
