"""Tests generated from every rule's Valid / Invalid examples."""

from __future__ import annotations

import textwrap

import pytest

from perflint.registry import all_rules
from perflint.rule import Invalid, Valid
from perflint.types import Applicability, FixSafety
from tests.support import fix, lint

VALID = [pytest.param(rule, example, id=f"{rule.code}-valid-{i}") for rule in all_rules() for i, example in enumerate(rule.valid)]
INVALID = [
    pytest.param(rule, example, id=f"{rule.code}-invalid-{i}") for rule in all_rules() for i, example in enumerate(rule.invalid)
]


@pytest.mark.parametrize(("rule", "example"), VALID)
def test_valid_example_reports_nothing(rule, example: Valid) -> None:
    result = lint(example.code, select=[rule.code], rule_options={rule.code: example.options})
    assert not result.errors
    assert [v for v in result.violations if v.code == rule.code] == []


@pytest.mark.parametrize(("rule", "example"), INVALID)
def test_invalid_example_reports(rule, example: Invalid) -> None:
    result = lint(example.code, select=[rule.code], rule_options={rule.code: example.options})
    assert not result.errors
    found = [v for v in result.violations if v.code == rule.code]
    assert len(found) == example.count, found
    if example.message_contains:
        assert any(example.message_contains in v.message for v in found), [v.message for v in found]


@pytest.mark.parametrize(("rule", "example"), INVALID)
def test_invalid_example_fix(rule, example: Invalid) -> None:
    options = {rule.code: example.options}
    result = lint(example.code, select=[rule.code], rule_options=options)
    fixes = [v.fix for v in result.violations if v.code == rule.code and v.fix is not None]
    if example.fixed is None:
        assert fixes == [], "example declares no fix, but the rule offers one"
        return
    assert fixes, "example declares a fix, but the rule offers none"
    assert all(f.applicability is example.applicability for f in fixes)
    safe_only = fix(example.code, select=[rule.code], unsafe=False, rule_options=options)
    with_unsafe = fix(example.code, select=[rule.code], unsafe=True, rule_options=options)
    expected = textwrap.dedent(example.fixed)
    assert with_unsafe.fixed.decode() == expected
    if example.applicability is Applicability.SAFE:
        assert safe_only.fixed.decode() == expected
    else:
        assert safe_only.fixed.decode() == textwrap.dedent(example.code), "an unsafe fix was applied without --unsafe-fixes"


@pytest.mark.parametrize("rule", all_rules(), ids=lambda rule: rule.code)
def test_declared_fix_safety_matches_examples(rule) -> None:
    """A rule's examples show every kind of fix its declared safety promises, and no other kind."""
    emitted = {example.applicability for example in rule.invalid if example.fixed is not None}
    expected = {
        FixSafety.NONE: set(),
        FixSafety.SAFE: {Applicability.SAFE},
        FixSafety.UNSAFE: {Applicability.UNSAFE},
        FixSafety.SOMETIMES_SAFE: {Applicability.SAFE, Applicability.UNSAFE},
    }[rule.fix_safety]
    assert emitted == expected, f"{rule.code} declares {rule.fix_safety.value}; its examples show {sorted(a.value for a in emitted)}"
