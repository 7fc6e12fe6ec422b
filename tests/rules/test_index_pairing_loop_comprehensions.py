"""PFL301 in comprehensions and generator expressions: the fixes of `fixtures/PFL301/comprehensions.py`
executed against the original (hypothesis), and the documented differences of the unsafe ones."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support import fix, lint

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "PFL301"
NUMBERS = st.lists(st.integers(-1000, 1000) | st.floats(-1e6, 1e6, allow_nan=False), max_size=12)


@lru_cache(maxsize=None)
def _namespaces(unsafe: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    source = (FIXTURES / "comprehensions.py").read_text()
    fixed = fix(source, select=["PFL301"], unsafe=unsafe, path="comprehensions.py").fixed.decode()
    assert fixed != source
    namespaces = []
    for text in (source, fixed):
        namespace: dict[str, Any] = {}
        exec(compile(text, "<fixture>", "exec"), namespace)
        namespaces.append(namespace)
    return namespaces[0], namespaces[1]


def _outcome(function: Callable[..., Any], *arguments: Any) -> tuple[str, Any]:
    try:
        return ("value", function(*arguments))
    except Exception as error:  # noqa: BLE001 - the same exception must come out of both versions
        return ("raised", type(error))


@given(NUMBERS)
@settings(max_examples=60, deadline=None)
def test_safe_fixes_keep_every_result(values: list[float]) -> None:
    original, fixed = _namespaces(unsafe=False)
    for name, arguments in (
        ("increasing", (values,)),
        ("distinct_steps", (values,)),
        ("ratios", tuple(values[:3]) if len(values) >= 3 else (1, 2, 3)),
    ):
        before, after = _outcome(original[name], *arguments), _outcome(fixed[name], *arguments)
        assert before == after and type(before[1]) is type(after[1]), name


@given(NUMBERS)
@settings(max_examples=40, deadline=None)
def test_unsafe_fixes_agree_on_plain_lists(values: list[float]) -> None:
    original, fixed = _namespaces(unsafe=True)
    for name in ("total_variation", "widest", "lazy"):
        assert _outcome(original[name], values) == _outcome(fixed[name], values), name


def test_only_the_proven_cases_are_safe() -> None:
    result = lint((FIXTURES / "comprehensions.py").read_text(), select=["PFL301"])
    safe = {v.location.row for v in result.violations if v.fix is not None and v.fix.applicability.value == "safe"}
    unsafe = {v.location.row for v in result.violations if v.fix is not None and v.fix.applicability.value == "unsafe"}
    assert safe == {11, 16, 26}
    assert unsafe == {6, 21, 32, 40, 50}


def test_a_list_changed_by_a_nested_function_differs() -> None:
    """Why `closure_changes_it` is unsafe: the body calls out, and a nested function may change the list."""
    original, fixed = _namespaces(unsafe=True)
    visit = lambda function, value: (function(), value)[1]  # noqa: E731 - a callback, as callers pass one
    assert original["closure_changes_it"]([1, 2, 3], visit) == [1, 1]
    assert fixed["closure_changes_it"]([1, 2, 3], visit) == [1, 2]


def test_a_generator_run_after_the_list_changed_differs() -> None:
    """Why a generator not consumed at once is unsafe: `range` and `x[1:]` are taken when it is created."""
    source = (
        "def pairs(marks):\n"
        "    steps = (marks[i + 1] - marks[i] for i in range(len(marks) - 1))\n"
        "    marks.insert(0, 100)\n"
        "    return list(steps)\n"
    )
    fixed = fix(source, select=["PFL301"], unsafe=True).fixed.decode()
    assert "zip(marks, marks[1:])" in fixed
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    exec(source, before)
    exec(fixed, after)
    assert before["pairs"]([1, 2, 3]) == [-99, 1]
    assert after["pairs"]([1, 2, 3]) == [-98, 2]


def test_a_class_level_comprehension_fails_before_and_works_after() -> None:
    """Why a class-level comprehension is unsafe: its body cannot see the class's names."""
    source = "class Levels:\n    values = [1, 2, 4]\n    steps = [values[i + 1] - values[i] for i in range(len(values) - 1)]\n"
    fixed = fix(source, select=["PFL301"], unsafe=True).fixed.decode()
    assert "zip(values, values[1:])" in fixed
    try:
        exec(source, {})
    except NameError:
        pass
    else:  # pragma: no cover - Python semantics
        raise AssertionError("the original should raise NameError")
    namespace: dict[str, Any] = {}
    exec(fixed, namespace)
    assert namespace["Levels"].steps == [1, 2]
