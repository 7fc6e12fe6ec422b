"""PFL205: every fix in the fixtures and examples, run against the original on seeded random frames.

Outside the differences the rule documents (PFL201's, checked by the same tags), the fixed code must give
exactly the same list, set or tuple (values, their types and order) or raise the same exception.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Callable, Hashable

import numpy as np
import pandas as pd

from perflint.rules.iterrows_list_build import IterrowsListBuild
from tests.rules.pandas_differential import ALL_KINDS, call, canon, changed_functions, execute, fixture_sources, random_frame
from tests.rules.test_iterrows_dict_build_differential import Column, _differences

TRIALS = 25
CODE, NAME, WEIGHT = ("Code", "Name", "Weight")


@dataclass(frozen=True)
class Case:
    call: Callable[[dict[str, Any], pd.DataFrame], Any]
    columns: tuple[Hashable, ...]
    reads: tuple[Column, ...]
    iterated: Callable[[pd.DataFrame], pd.DataFrame] = lambda frame: frame


def one_frame(name: str, *args: Any) -> Callable[[dict[str, Any], pd.DataFrame], Any]:
    return lambda namespace, frame: namespace[name](frame, *args)


FIXTURE_CASES = {
    "codes": Case(one_frame("codes"), (CODE, NAME), (Column(CODE, True),)),
    "names": Case(one_frame("names"), (CODE, NAME), (Column(NAME, False),)),
    "pairs": Case(one_frame("pairs"), (CODE, NAME, WEIGHT), (Column(CODE, False), Column(NAME, False))),
    "labelled": Case(one_frame("labelled", CODE, WEIGHT), (CODE, WEIGHT), (Column(CODE, False), Column(WEIGHT, True, numeric=True))),
    "distinct_codes": Case(one_frame("distinct_codes"), (CODE, NAME), (Column(CODE, False),)),
    "index_labels": Case(one_frame("index_labels"), (CODE, NAME), (Column(None, False),)),
    "as_tuple": Case(one_frame("as_tuple"), (CODE, WEIGHT), (Column(WEIGHT, True, numeric=True),)),
    "Dataset.__init__": Case(lambda namespace, frame: namespace["Dataset"](frame, CODE).paths, (CODE, NAME), (Column(CODE, False),)),
    "subset_then_one_column": Case(
        one_frame("subset_then_one_column", CODE, NAME), (CODE, NAME, WEIGHT), (Column(CODE, True),),
        iterated=lambda f: f[[CODE, NAME]].dropna(),
    ),
}
EXAMPLE_CASES = {
    0: Case(one_frame("codes"), ("Code", "x"), (Column("Code", True),)),
    1: Case(one_frame("pairs"), ("a", "b"), (Column("a", False), Column("b", False))),
    2: Case(one_frame("labels"), ("a",), (Column(None, False),)),
}


def _canon(value: Any) -> Any:
    if isinstance(value, set):
        return ("set", sorted(repr(canon(item)) for item in value))
    return canon(value)


def _check(case: Case, original: dict[str, Any], fixed: dict[str, Any], frame: pd.DataFrame) -> bool:
    before, after = call(case.call, original, frame.copy()), call(case.call, fixed, frame.copy())
    try:
        iterated = case.iterated(frame)
    except Exception:  # noqa: BLE001 - the receiver itself raises: both must raise alike
        iterated = None
    if iterated is not None and _differences(iterated, list(case.reads)):
        return False
    assert before.raised == after.raised, (before, after, frame)
    if before.raised is None:
        assert _canon(after.value) == _canon(before.value), frame
    return True


def test_every_fixed_function_has_a_differential_case() -> None:
    assert changed_functions(*fixture_sources("PFL205", "real_spellings")) == set(FIXTURE_CASES)
    assert {i for i, example in enumerate(IterrowsListBuild.invalid) if example.fixed} == set(EXAMPLE_CASES)


def test_fixes_equal_iterrows_outside_documented_differences() -> None:
    original, fixed = (execute(source) for source in fixture_sources("PFL205", "real_spellings"))
    strict = 0
    for name, case in FIXTURE_CASES.items():
        rng = random.Random(f"pfl205.{name}")
        for _ in range(TRIALS):
            strict += _check(case, original, fixed, random_frame(rng, {label: ALL_KINDS for label in case.columns}))
    for index, case in EXAMPLE_CASES.items():
        example = IterrowsListBuild.invalid[index]
        rng = random.Random(f"pfl205-example-{index}")
        for _ in range(TRIALS):
            frame = random_frame(rng, {label: ALL_KINDS for label in case.columns})
            strict += _check(case, execute(example.code), execute(example.fixed), frame)
    assert strict > TRIALS * (len(FIXTURE_CASES) + len(EXAMPLE_CASES)) // 2


def test_int_next_to_float_is_a_float_in_iterrows() -> None:
    frame = pd.DataFrame({CODE: [1301, 1332], WEIGHT: [0.5, 2.25]})
    original, fixed = (execute(source) for source in fixture_sources("PFL205", "real_spellings"))
    assert original["codes"](frame) == ["1301.0", "1332.0"] and fixed["codes"](frame) == ["1301", "1332"]
    # int() of the upcast value is exact.
    assert canon(original["as_tuple"](frame)) == canon(fixed["as_tuple"](frame))


def test_all_numeric_frame_gives_numpy_scalars_in_iterrows() -> None:
    frame = pd.DataFrame({CODE: [1301, 1332], NAME: [5, 6]})
    original, fixed = (execute(source) for source in fixture_sources("PFL205", "real_spellings"))
    before, after = original["names"](frame), fixed["names"](frame)
    assert before == after and type(before[0]) is np.int64 and type(after[0]) is int
