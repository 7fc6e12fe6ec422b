"""PFL201: every fix in the fixtures and examples, run against the original on seeded random frames.

Outside the differences the rule documents, the fixed code must give exactly the same dict (keys, values, their
types and order) or raise the same exception. Each documented difference has a test showing it happens under the
installed pandas.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Optional, Union

import numpy as np
import pandas as pd
import pytest

from perflint.rules.iterrows_dict_build import IterrowsDictBuild
from tests.rules.pandas_differential import (
    ALL_KINDS,
    Outcome,
    PANDAS_3,
    call,
    canon,
    changed_functions,
    execute,
    fixture_sources,
    random_frame,
)

TRIALS = 25
SLOW_TRIALS = 1500


@dataclass(frozen=True)
class Column:
    """A key or value of the dict: a column label (None: the row's index label), and whether str() wraps it."""

    label: Optional[str]
    as_str: bool
    numeric: bool = False  # int() / float() / bool() rather than str()


Read = Union[Column, tuple[Column, ...]]


@dataclass(frozen=True)
class Case:
    """How to call one fixed function, which frame it iterates, and what it reads from each row (a tuple for
    ``(R[a], R[b])``; ``as_str`` also stands for ``int()`` / ``float()`` / ``bool()``, which convert alike)."""

    call: Callable[[dict[str, Any], pd.DataFrame], Any]
    columns: tuple[Hashable, ...]
    key: Read
    value: Read
    iterated: Callable[[pd.DataFrame], pd.DataFrame] = lambda frame: frame


def one_frame(name: str) -> Callable[[dict[str, Any], pd.DataFrame], Any]:
    return lambda namespace, frame: namespace[name](frame)


CODE, NAME = ("Code", "Name")
STR_STR = dict(key=Column(CODE, True), value=Column(NAME, True))
RAW_RAW = dict(key=Column(CODE, False), value=Column(NAME, False))

FIXTURE_CASES: dict[tuple[str, str], Case] = {
    ("forms", "comprehension_raw"): Case(one_frame("comprehension_raw"), (CODE, NAME), **RAW_RAW),
    ("forms", "comprehension_mixed"): Case(one_frame("comprehension_mixed"), (CODE, NAME), Column(CODE, True), Column(NAME, False)),
    ("forms", "attribute_access"): Case(one_frame("attribute_access"), (CODE, NAME), Column(CODE, False), Column(NAME, True)),
    ("forms", "index_keys"): Case(one_frame("index_keys"), (CODE, NAME), Column(None, False), Column(NAME, False)),
    ("forms", "str_index_values"): Case(one_frame("str_index_values"), (CODE, NAME), Column(CODE, False), Column(None, True)),
    ("forms", "dict_of_generator"): Case(one_frame("dict_of_generator"), (CODE, NAME), **STR_STR),
    ("forms", "loop_form"): Case(one_frame("loop_form"), (CODE, NAME, "Weight"), **STR_STR),
    ("forms", "loop_form_annotated"): Case(one_frame("loop_form_annotated"), (CODE, NAME), Column(None, True), Column(NAME, False)),
    ("forms", "single_quotes"): Case(one_frame("single_quotes"), (CODE, NAME, "Weight"), **STR_STR),
    ("receivers", "Tables.code2name"): Case(
        lambda namespace, frame: namespace["Tables"](frame).code2name(), (CODE, NAME), **STR_STR
    ),
    ("receivers", "selection_of_the_two_columns"): Case(
        one_frame("selection_of_the_two_columns"), (CODE, NAME, "Weight"), **STR_STR, iterated=lambda f: f[[CODE, NAME]]
    ),
    ("receivers", "selection_with_an_extra_column"): Case(
        one_frame("selection_with_an_extra_column"), (CODE, NAME, "Weight"), **STR_STR,
        iterated=lambda f: f[[CODE, NAME, "Weight"]],
    ),
    ("receivers", "call_receiver"): Case(
        one_frame("call_receiver"), (CODE, NAME, "Weight"), **STR_STR, iterated=lambda f: f.dropna()
    ),
    ("receivers", "call_receiver_annotated"): Case(
        one_frame("call_receiver_annotated"), (CODE, NAME), **RAW_RAW, iterated=lambda f: f.reset_index(drop=True)
    ),
    ("receivers", "call_receiver_loop"): Case(
        one_frame("call_receiver_loop"), (CODE, NAME), **RAW_RAW, iterated=lambda f: f.sort_values(CODE)
    ),
    ("receivers", "frame_named_frame"): Case(
        lambda namespace, frame: namespace["frame_named_frame"](frame, frame.iloc[::-1]), (CODE, NAME), **RAW_RAW,
        iterated=lambda f: pd.concat([f, f.iloc[::-1]]),
    ),
    ("seed_code_maps", "build_code_maps"): Case(
        one_frame("build_code_maps"), (CODE, "MarketCode", "Sector33Code"), Column(CODE, True), Column("MarketCode", True)
    ),
    ("seed_code_maps", "code2market_only"): Case(
        one_frame("code2market_only"), (CODE, "MarketCode"), Column(CODE, True), Column("MarketCode", True)
    ),
    ("real_spellings", "seed_code_maps"): Case(
        lambda namespace, frame: namespace["seed_code_maps"](frame, CODE, NAME), (CODE, NAME, "Weight"), **STR_STR,
        iterated=lambda f: f[[CODE, NAME]],
    ),
    ("real_spellings", "Lookup.table"): Case(
        lambda namespace, frame: namespace["Lookup"](frame, CODE, NAME).table(), (CODE, NAME, "Weight"), **RAW_RAW
    ),
    ("real_spellings", "index_to_name"): Case(one_frame("index_to_name"), (CODE, NAME), Column(None, False), Column(NAME, False)),
    ("real_spellings", "name_to_index"): Case(one_frame("name_to_index"), (CODE, NAME), Column(NAME, False), Column(None, False)),
    ("real_spellings", "same_index"): Case(one_frame("same_index"), (CODE, NAME), Column(None, False), Column(None, True)),
    ("real_spellings", "converted"): Case(
        one_frame("converted"), (CODE, "Weight"), Column(CODE, True, numeric=True), Column("Weight", True, numeric=True)
    ),
    ("real_spellings", "flags"): Case(one_frame("flags"), (CODE, "Listed"), Column(CODE, True), Column("Listed", True, numeric=True)),
    ("real_spellings", "tuple_values"): Case(
        one_frame("tuple_values"), (CODE, NAME, "Weight"), Column(CODE, False), (Column(NAME, False), Column("Weight", False))
    ),
    ("real_spellings", "tuple_keys"): Case(
        one_frame("tuple_keys"), (CODE, NAME, "Weight"), (Column(CODE, False), Column(NAME, False)), Column("Weight", False)
    ),
    ("real_spellings", "filled_later"): Case(one_frame("filled_later"), (CODE, NAME), **RAW_RAW),
    ("real_spellings", "filled_twice"): Case(
        lambda namespace, frame: namespace["filled_twice"](frame.iloc[:0], frame), (CODE, NAME, "Weight"), **STR_STR,
        iterated=lambda f: f[[CODE, NAME]],
    ),
    ("real_spellings", "into_a_defaultdict"): Case(one_frame("into_a_defaultdict"), (CODE, "Weight"), Column(CODE, False), Column("Weight", False)),
}
# build_code_maps also builds code2sector: its tags are those of either map.
SECOND_MAPS = {("seed_code_maps", "build_code_maps"): (Column(CODE, True), Column("Sector33Code", True))}
# Fixtures that build their own (mixed-dtype) tables: the documented differences, shown below.
SELF_CONTAINED = {("mixed_dtypes", "weights_by_code"), ("mixed_dtypes", "float32_table")}
EXAMPLE_CASES: dict[int, Case] = {
    0: Case(one_frame("build"), (CODE, "MarketCode"), Column(CODE, True), Column("MarketCode", True)),
    1: Case(one_frame("build"), ("price",), Column(None, False), Column("price", False)),
    2: Case(one_frame("build"), ("name",), Column(None, True), Column("name", False)),
}


def documented_differences(frame: pd.DataFrame, key: Read, value: Read) -> set[str]:
    """Which documented differences may apply when the dict is built from ``frame`` (see the rule's Fix safety)."""
    flat = [*(key if isinstance(key, tuple) else (key,)), *(value if isinstance(value, tuple) else (value,))]
    return _differences(frame, flat)


def _differences(frame: pd.DataFrame, reads: list[Column]) -> set[str]:
    tags = set()
    common = frame.to_numpy().dtype
    used = [column for column in reads if column.label is not None]
    if common.kind in "iufcb":
        if any(frame[column.label].dtype != common for column in used) or common == np.float32:
            tags.add("numeric row dtype")
        if any(not column.as_str for column in reads) and (used or common.kind in "iufcb"):
            tags.add("numpy scalars")
    if _reinferred_row_with_missing(frame, used, raw=any(not column.as_str for column in used)):
        tags.add("row re-inference")
    if any(column.numeric and frame[column.label].isna().any() for column in used):
        # A row re-inferred as numeric turns None / pd.NA into NaN: int() raises ValueError instead of TypeError,
        # float() / bool() return nan / True instead of raising.
        tags.add("missing value converted")
    return tags


def _reinferred_row_with_missing(frame: pd.DataFrame, used: list[Column], raw: bool) -> bool:
    """A row whose used columns hold a missing value that the row's dtype inference turns into another one.

    iterrows builds each row as a Series from an object array, which infers a dtype: all datetimes (of one
    time zone), all timedeltas or all periods (any pandas) turn None / NaN (and pd.NA, for some) into NaT;
    all strings (pandas >= 3) turn None / pd.NA into NaN, and a float NaN into the one ``np.nan`` object
    (which matters for raw keys).
    """
    for position in range(len(frame)):
        row = [frame.iloc[position, i] for i in range(frame.shape[1])]
        values = [frame[column.label].iloc[position] for column in used]
        present = [v for v in row if not (v is None or v is pd.NA or _is_nan(v))]
        if not present or not any(v is None or v is pd.NA or _is_nan(v) for v in values):
            continue
        if PANDAS_3 and all(isinstance(v, str) for v in present):
            if raw or any(v is None or v is pd.NA for v in values):
                return True
        if any(all(_is_kind(v, kind) for v in present) for kind in ("datetime", "timedelta", "period")):
            if len({str(v.tz) for v in present if isinstance(v, pd.Timestamp) and v is not pd.NaT}) <= 1:
                return True
    return False


def _is_kind(value: Any, kind: str) -> bool:
    if value is pd.NaT:
        return True  # NaT fits any of the three
    if kind == "datetime":
        return isinstance(value, pd.Timestamp)
    if kind == "timedelta":
        return isinstance(value, pd.Timedelta)
    return isinstance(value, pd.Period)


def _is_nan(value: Any) -> bool:
    return isinstance(value, (float, np.floating)) and value != value


def _check(
    case: Case, original: dict[str, Any], fixed: dict[str, Any], frame: pd.DataFrame, second: tuple[Column, Column] | None
) -> bool:
    """Compare one run; True when it was held to strict equality (no documented difference applies)."""
    before, after = call(case.call, original, frame.copy()), call(case.call, fixed, frame.copy())
    try:
        iterated = case.iterated(frame)
    except Exception:  # noqa: BLE001 - the receiver itself raises: both must raise alike
        iterated = None
    tags = set() if iterated is None else documented_differences(iterated, case.key, case.value)
    if second is not None and iterated is not None:
        tags |= documented_differences(iterated, *second)
    if tags:
        return False
    if before.raised or after.raised:
        assert before.raised == after.raised, (before, after, frame)
        return True
    assert canon(after.value) == canon(before.value), frame
    return True


def _run_cases(trials: int) -> None:
    strict = 0
    for (stem, name), case in FIXTURE_CASES.items():
        source, fixed_source = fixture_sources("PFL201", stem)
        original, fixed = execute(source), execute(fixed_source)
        rng = random.Random(f"{stem}.{name}")
        for _ in range(trials):
            frame = random_frame(rng, {label: ALL_KINDS for label in case.columns})
            strict += _check(case, original, fixed, frame, SECOND_MAPS.get((stem, name)))
    for index, case in EXAMPLE_CASES.items():
        example = IterrowsDictBuild.invalid[index]
        original, fixed = execute(example.code), execute(example.fixed)
        rng = random.Random(f"example-{index}")
        for _ in range(trials):
            frame = random_frame(rng, {label: ALL_KINDS for label in case.columns})
            strict += _check(case, original, fixed, frame, None)
    # Most frames mix a str or object column in, so most runs are held to exact equality.
    assert strict > trials * (len(FIXTURE_CASES) + len(EXAMPLE_CASES)) // 2


def test_every_fixed_function_has_a_differential_case() -> None:
    for stem in ("forms", "receivers", "seed_code_maps", "mixed_dtypes", "real_spellings"):
        changed = changed_functions(*fixture_sources("PFL201", stem))
        covered = {name for (case_stem, name) in {*FIXTURE_CASES, *SELF_CONTAINED} if case_stem == stem}
        assert changed == covered, stem
    fixed_examples = {i for i, example in enumerate(IterrowsDictBuild.invalid) if example.fixed is not None}
    assert fixed_examples == set(EXAMPLE_CASES)


def test_fixes_equal_iterrows_outside_documented_differences() -> None:
    _run_cases(TRIALS)


@pytest.mark.slow
def test_fixes_equal_iterrows_outside_documented_differences_many_frames() -> None:
    _run_cases(SLOW_TRIALS)


# ---------------------------------------------------------------------------------------------- documented


def _both(stem: str, name: str, *args: Any) -> tuple[Any, Any]:
    source, fixed_source = fixture_sources("PFL201", stem)
    return execute(source)[name](*args), execute(fixed_source)[name](*args)


def test_int_next_to_float_is_rendered_as_float_by_iterrows() -> None:
    before, after = _both("mixed_dtypes", "weights_by_code")
    assert before == {"1301.0": "0.5", "1332.0": "2.25"}
    assert after == {"1301": "0.5", "1332": "2.25"}


def test_float32_frame_is_rendered_as_numpy_float32_by_iterrows() -> None:
    before, after = _both("mixed_dtypes", "float32_table")
    assert before == {"0.1": "1.5", "0.2": "0.3"}
    assert after == {"0.10000000149011612": "1.5", "0.20000000298023224": "0.30000001192092896"}


def test_missing_value_in_a_string_row() -> None:
    frame = pd.DataFrame({CODE: pd.Series(["1301", None], dtype=object), NAME: ["Fish", "Food"]})
    before, after = _both("forms", "dict_of_generator", frame)
    assert after == {"1301": "Fish", "None": "Food"}
    # pandas 3 re-infers the all-string row as a string row: None becomes NaN. pandas 2 keeps None.
    assert before == ({"1301": "Fish", "nan": "Food"} if PANDAS_3 else after)


def test_without_str_iterrows_yields_numpy_scalars() -> None:
    frame = pd.DataFrame({CODE: [1301, 1332], NAME: [50, 3050]})
    before, after = _both("forms", "comprehension_raw", frame)
    assert before == after
    assert [type(k) for k in before] == [np.int64, np.int64] and [type(k) for k in after] == [int, int]
    with pytest.raises(TypeError):
        json.dumps({"x": next(iter(before.values()))})
    json.dumps({"x": next(iter(after.values()))})


def test_without_str_int_next_to_float_becomes_a_float_key() -> None:
    frame = pd.DataFrame({CODE: [2**53 + 1, 7], NAME: [0.5, 1.5]})
    before, after = _both("forms", "comprehension_raw", frame)
    assert list(before) == [np.float64(2**53), np.float64(7.0)] and list(after) == [2**53 + 1, 7]
    assert before != after


@pytest.mark.skipif(not PANDAS_3, reason="pandas 3 row re-inference")
def test_without_str_nan_keys_collapse_in_string_rows() -> None:
    frame = pd.DataFrame({CODE: [1.5, np.nan, np.nan], NAME: ["x", "y", "z"]})
    before, after = _both("forms", "comprehension_raw", frame)
    assert len(before) == 2 and len(after) == 3


def test_duplicate_column_labels() -> None:
    frame = pd.DataFrame([["1301", "Fish", "x"]], columns=[CODE, NAME, NAME])
    source, fixed_source = fixture_sources("PFL201", "forms")
    before = call(execute(source)["dict_of_generator"], frame)
    after = call(execute(fixed_source)["dict_of_generator"], frame)
    assert before.value == {"1301": str(frame.iloc[0][NAME])} and "\n" in before.value["1301"]
    assert after.raised == "AttributeError"  # frame[NAME] is a DataFrame: no .tolist()


def test_missing_column_on_an_empty_frame() -> None:
    frame = pd.DataFrame({CODE: pd.Series([], dtype=object)})
    source, fixed_source = fixture_sources("PFL201", "forms")
    assert execute(source)["dict_of_generator"](frame) == {}
    assert call(execute(fixed_source)["dict_of_generator"], frame).raised == "KeyError"


def test_the_seeds_astype_form_differs_more() -> None:
    """Why the fix is not the seed's `dict(zip(X[a].astype(str), X[b].astype(str)))`."""

    def iterrows(frame: pd.DataFrame) -> dict:
        return {str(row["a"]): str(row["b"]) for _, row in frame.iterrows()}

    def seed(frame: pd.DataFrame) -> dict:
        return dict(zip(frame["a"].astype(str), frame["b"].astype(str)))

    def fix(frame: pd.DataFrame) -> dict:
        return dict(zip(map(str, frame["a"].tolist()), map(str, frame["b"].tolist())))

    midnight = pd.DataFrame({"a": pd.to_datetime(["2024-01-04"]), "b": ["x"]})
    timedelta = pd.DataFrame({"a": pd.to_timedelta([1], unit="D"), "b": ["x"]})
    float32 = pd.DataFrame({"a": np.array([0.1], "float32"), "b": ["x"]})
    missing = pd.DataFrame({"a": [np.nan], "b": ["x"]})
    for frame, seed_key in ((midnight, "2024-01-04"), (timedelta, "1 days"), (float32, "0.1")):
        assert iterrows(frame) == fix(frame) and list(seed(frame)) == [seed_key] != list(iterrows(frame))
    assert iterrows(missing) == fix(missing) == {"nan": "x"}
    if PANDAS_3:
        assert _is_nan(next(iter(seed(missing))))


def test_missing_value_in_a_datetime_row_becomes_nat() -> None:
    """Not in SEMANTICS: any pandas re-infers an all-datetime row, so None / NaN there become NaT."""
    frame = pd.DataFrame({CODE: pd.Series([None, np.nan], dtype=object), NAME: pd.to_datetime(["2024-01-04", "2024-01-05"])})
    source, fixed_source = fixture_sources("PFL201", "forms")
    before = execute(source)["comprehension_mixed"](frame)
    after = execute(fixed_source)["comprehension_mixed"](frame)
    assert list(before) == ["NaT"] and list(after) == ["None", "nan"]


def test_nullable_columns_iterate_as_numpy_scalars_so_the_fix_uses_tolist() -> None:
    """Not in SEMANTICS: `dict(zip(X[a], X[b]))` is not exact for Int64 / boolean columns; `.tolist()` is."""
    frame = pd.DataFrame({CODE: ["1301", "1332"], NAME: pd.array([50, 3050], "Int64")})
    source, fixed_source = fixture_sources("PFL201", "forms")
    before = execute(source)["comprehension_raw"](frame)
    after = execute(fixed_source)["comprehension_raw"](frame)
    assert [type(v) for v in before.values()] == [int, int]
    assert [type(v) for v in dict(zip(frame[CODE], frame[NAME])).values()] == [np.int64, np.int64]
    assert canon(after) == canon(before)


# ---------------------------------------------------------------------------------------------- labels in names


def _seed_shape(frame: pd.DataFrame, a: Hashable, b: Hashable) -> tuple[Outcome, Outcome]:
    source, fixed_source = fixture_sources("PFL201", "real_spellings")
    return call(execute(source)["seed_code_maps"], frame, a, b), call(execute(fixed_source)["seed_code_maps"], frame, a, b)


def test_names_holding_one_label_without_a_subset_give_the_same_dict() -> None:
    """``{r[a]: r[b] for _, r in X.iterrows()}`` with a == b reads one column twice, as the fix does."""
    source, fixed_source = fixture_sources("PFL201", "real_spellings")
    rng = random.Random("same-label")
    for _ in range(TRIALS):
        frame = random_frame(rng, {CODE: ALL_KINDS, NAME: ALL_KINDS})
        before = call(lambda f: execute(source)["Lookup"](f, CODE, CODE).table(), frame)
        after = call(lambda f: execute(fixed_source)["Lookup"](f, CODE, CODE).table(), frame)
        if not documented_differences(frame, Column(CODE, False), Column(CODE, False)):
            assert canon(before) == canon(after)


def test_names_holding_one_label_with_a_subset_differ() -> None:
    """The documented difference: ``X[[a, a]]`` has two columns named a, so ``r[a]`` is a Series (its repr)."""
    frame = pd.DataFrame({CODE: ["1301", "1332"], NAME: ["Fish", "Food"]})
    before, after = _seed_shape(frame, CODE, CODE)
    assert before.raised is None and all("\n" in key for key in before.value)
    assert after.value == {"1301": "1301", "1332": "1332"}
    distinct_before, distinct_after = _seed_shape(frame, CODE, NAME)
    assert canon(distinct_before) == canon(distinct_after)


def test_converters_are_exact_where_str_is_not() -> None:
    """int() / float() of an upcast row value equal int() / float() of the column's own value."""
    frame = pd.DataFrame({CODE: [1301, 1332], "Weight": [0.5, 2.25]})
    before, after = _both("real_spellings", "converted", frame)
    assert canon(before) == canon(after) == canon({1301: 0.5, 1332: 2.25})


def test_update_keeps_earlier_entries_and_their_order() -> None:
    """``D.update(zip(K, V))`` does the loop's stores in order: an existing key keeps its place, the last row wins."""
    frame = pd.DataFrame({CODE: ["b", "0000", "b"], NAME: ["x", "y", "z"]})
    before, after = _both("real_spellings", "filled_twice", frame.iloc[:0], frame)
    assert list(before.items()) == list(after.items()) == [("0000", "y"), ("b", "z")]
