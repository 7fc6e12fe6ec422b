"""One decision per fix: the findings `check` marks fixable are exactly those `fix --apply` removes, with and
without unsafe fixes, on the reference trainer and every fixture; no two different fixes' edits overlap."""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import pytest

from perflint import api
from perflint.types import FileResult, Violation
from tests.support import settings_for

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = sorted(path for path in (ROOT / "fixtures").glob("*/*.py") if not path.name.endswith(".fixed.py"))
TRAINER = sorted((ROOT / "reference_trainer").rglob("*.py"))
CODES = {path.parent.name for path in FIXTURES if path.parent.name.startswith("PFL")}


def _settings(path: Path, unsafe: bool):
    select = [path.parent.name] if path.parent.name in CODES else ["ALL"]
    if path.is_relative_to(ROOT / "reference_trainer"):
        select = []  # the default selection, as `perflint check reference_trainer/` runs it
    settings = settings_for(select) if select else replace(settings_for(["ALL"]), select=(), extend_select=())
    return replace(settings, unsafe_fixes=unsafe)


def _overlapping(violations: tuple[Violation, ...]) -> list[tuple[str, str]]:
    """Pairs of different fixes (edit lists; findings sharing one rewrite carry the same list) touching the same lines."""
    fixes = []
    for violation in violations:
        if violation.fix is not None and violation.fix.edits and violation.fix.edits not in fixes:
            fixes.append(violation.fix.edits)
    clashes = []
    for index, first in enumerate(fixes):
        for second in fixes[index + 1 :]:
            for a in first:
                for b in second:
                    (a0, a1), (b0, b1) = (a.location.row, a.end_location.row), (b.location.row, b.end_location.row)
                    if (a0 < b1 and b0 < a1) or a0 == b0:
                        clashes.append((a, b))
    return clashes


@lru_cache(maxsize=None)
def _check_and_fix(path: Path, unsafe: bool) -> tuple[FileResult, FileResult]:
    data, settings = path.read_bytes(), _settings(path, unsafe)
    checked = api.check_source(data, path, settings, api.RunOptions(with_edits=True))
    fixed = api.check_source(data, path, settings, api.RunOptions(fix=True))
    return checked, fixed


def _assert_agree(path: Path, unsafe: bool) -> None:
    checked, fixed = _check_and_fix(path, unsafe)
    fixable = sum(violation.fixable for violation in checked.violations)
    assert fixable == fixed.fixes_applied
    assert sorted(v.code for v in checked.violations if v.fixable) == list(fixed.fixed_codes)
    assert _overlapping(checked.violations) == []
    # Only fixes that apply carry edits: the JSON / SARIF edits are what `fix --apply` writes.
    assert all(v.fixable for v in checked.violations if v.fix is not None and v.fix.edits)


@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
@pytest.mark.parametrize("path", TRAINER, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_trainer_check_counts_what_fix_applies_and_fixes_do_not_overlap(path: Path, unsafe: bool) -> None:
    _assert_agree(path, unsafe)


@pytest.mark.slow  # about 50 CPU seconds: every fixture checked and fixed twice; .ci/run runs it
@pytest.mark.parametrize("unsafe", [False, True], ids=["safe", "unsafe"])
@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_fixture_check_counts_what_fix_applies_and_fixes_do_not_overlap(path: Path, unsafe: bool) -> None:
    _assert_agree(path, unsafe)


def test_reference_trainer_check_and_fix_agree_on_three_safe_fixes() -> None:
    metrics = ROOT / "reference_trainer" / "metrics.py"
    checked, fixed = _check_and_fix(metrics, unsafe=False)
    shared = [v.fix for v in checked.violations if v.code == "PFL106"]
    # The two PFL106 findings there are one rewrite (convert `point` and `targets` once): one Fix, both carry it.
    assert len(shared) == 2 and shared[0].edits == shared[1].edits and shared[0].applies and shared[0].edits
    assert fixed.fixes_applied == 2
    totals = {unsafe: sum(sum(v.fixable for v in _check_and_fix(p, unsafe)[0].violations) for p in TRAINER) for unsafe in (False, True)}
    # PFL106's two findings and PFL103's; PFL101 in validate() is unsafe (a model output may be its input).
    assert totals[False] == sum(_check_and_fix(p, False)[1].fixes_applied for p in TRAINER) == 3
    assert totals[True] == sum(_check_and_fix(p, True)[1].fixes_applied for p in TRAINER)
