"""perflint checks its own package clean, with every rule on."""

from __future__ import annotations

from pathlib import Path

from perflint import api
from tests.support import settings_for

PACKAGE = Path(__file__).resolve().parent.parent / "perflint"


def test_perflint_checks_its_own_code_clean() -> None:
    results = list(api.check_paths([PACKAGE], settings_for(["ALL"])))
    assert results
    problems = [(r.path, r.errors) for r in results if r.errors] + [
        (v.path, v.location.row, v.code) for r in results for v in r.violations
    ]
    assert problems == []
