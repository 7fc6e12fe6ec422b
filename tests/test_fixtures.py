"""Tests generated from fixtures/<CODE>/<case>.py files and their goldens.

For each input ``case.py`` the goldens are ``case.diagnostics.txt`` (the findings), ``case.fixed.py`` (safe fixes
applied; absent = no change) and ``case.unsafe.fixed.py`` (safe and unsafe fixes; absent = same as the safe result).
A folder named after a rule code selects that rule alone; any other folder selects every rule. Run pytest with
``--update-fixtures`` to rewrite the goldens after a deliberate change, then review the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from perflint.registry import all_rules
from tests.support import fix, lint

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
GOLDEN_SUFFIXES = (".diagnostics.txt", ".fixed.py", ".unsafe.fixed.py")
CASES = sorted(
    path for path in FIXTURES.glob("*/*.py") if not path.name.endswith((".fixed.py",))
)
RULE_CODES = {rule.code for rule in all_rules()}


def _select(case: Path) -> list[str]:
    return [case.parent.name] if case.parent.name in RULE_CODES else ["ALL"]


def _diagnostics(case: Path) -> str:
    result = lint(case.read_text(), select=_select(case), path=case.name)
    assert not result.errors, result.errors
    lines = []
    for violation in result.violations:
        fix_kind = violation.fix.applicability.value if violation.fix else "no-fix"
        lines.append(f"{violation.location.row}:{violation.location.column}: {violation.code} [{fix_kind}] {violation.message}")
    return "\n".join(lines) + "\n" if lines else ""


def _check_golden(path: Path, actual: str | None, update: bool) -> None:
    if update:
        if actual is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(actual)
        return
    if actual is None:
        assert not path.exists(), f"{path.name} exists, but perflint no longer produces it (run --update-fixtures)"
    else:
        assert path.exists(), f"{path.name} is missing (run pytest --update-fixtures and review)"
        assert actual == path.read_text()


def test_fixtures_exist() -> None:
    assert CASES, "no fixtures found"


@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_fixture(case: Path, update_fixtures: bool) -> None:
    source = case.read_text()
    stem = case.with_suffix("")
    _check_golden(stem.with_name(stem.name + ".diagnostics.txt"), _diagnostics(case) or None, update_fixtures)
    safe = fix(source, select=_select(case), unsafe=False, path=case.name).fixed.decode()
    unsafe = fix(source, select=_select(case), unsafe=True, path=case.name).fixed.decode()
    _check_golden(stem.with_name(stem.name + ".fixed.py"), safe if safe != source else None, update_fixtures)
    _check_golden(stem.with_name(stem.name + ".unsafe.fixed.py"), unsafe if unsafe != safe else None, update_fixtures)
