"""PFL301: every fix in the fixtures, executed against the original on random lists and tuples (hypothesis).

For the safe fixes the result must be identical (value and type) for every input, including empty and
one-element sequences; the unsafe cases show the documented difference on a pandas Series with a label index.
"""

from __future__ import annotations

from contextlib import redirect_stdout
from functools import lru_cache
from io import StringIO
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support import fix

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "PFL301"
NUMBERS = st.lists(st.integers(-1000, 1000) | st.floats(-1e6, 1e6, allow_nan=False), max_size=12)
WORDS = st.lists(st.sampled_from(["a", "b", "c"]), max_size=8)


@lru_cache(maxsize=None)
def _namespaces(unsafe: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    source = (FIXTURES / "pairing.py").read_text()
    fixed = fix(source, select=["PFL301"], unsafe=unsafe, path="pairing.py").fixed.decode()
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


def _same(function: str, *arguments: Any, unsafe: bool = False) -> None:
    original, fixed = _namespaces(unsafe)
    before, after = _outcome(original[function], *arguments), _outcome(fixed[function], *arguments)
    assert before == after
    assert type(before[1]) is type(after[1])


def test_literal() -> None:
    _same("literal")


@given(NUMBERS)
@settings(max_examples=60, deadline=None)
def test_safe_fixes_on_numbers(values: list[float]) -> None:
    _same("tuple_parameter", tuple(values))
    _same("typing_list_no_calls", list(values))


@given(WORDS)
@settings(max_examples=60, deadline=None)
def test_safe_fixes_on_words(words: list[str]) -> None:
    _same("with_else", tuple(words))
    original, fixed = _namespaces(False)
    assert _printed(original["names_taken"], tuple(words)) == _printed(fixed["names_taken"], tuple(words))


def _printed(function: Callable[..., Any], *arguments: Any) -> str:
    with redirect_stdout(StringIO()) as output:
        function(*arguments)
    return output.getvalue()


@given(NUMBERS)
@settings(max_examples=60, deadline=None)
def test_unsafe_fixes_agree_on_lists_and_arrays(values: list[float]) -> None:
    _same("list_parameter_with_calls", list(values), unsafe=True)
    _same("shared_list", list(values), unsafe=True)
    _same("list_parameter_with_calls", np.array(values, dtype=float), unsafe=True)


def test_unsafe_fix_differs_on_a_label_indexed_series() -> None:
    """The documented difference: ``series[k]`` reads by label, ``zip`` by position."""
    original, fixed = _namespaces(True)
    series = pd.Series([10, 20, 30], index=[2, 1, 0])
    by_label = _printed(original["unknown_sequence"], series)
    by_position = _printed(fixed["unknown_sequence"], series)
    assert by_label == "30 20\n20 10\n" and by_position == "10 20\n20 30\n"
    dated = pd.Series([1.0, 2.0], index=pd.to_datetime(["2024-01-04", "2024-01-05"]))
    assert _outcome(original["unknown_sequence"], dated)[0] == "raised"
    assert _outcome(fixed["unknown_sequence"], dated)[0] == "value"
