"""PFL202: every fix in the fixtures and examples, run against the original loop on seeded random frames.

The fixed grouping must equal the loop's exactly, except for the documented differences, which are checked to be
exactly what the rule's docs say: numeric and bool keys (also numbers in an object column) come back as equal
numpy scalars; every missing key (NaN, None, pd.NA, NaT) is merged into one key at the first missing row (float
NaN under pandas 3, the dtype's own missing value under pandas 2); a categorical column's missing group is
dropped. Each difference also has its own test.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Callable, Hashable, Sequence

import numpy as np
import pandas as pd
import pytest

from perflint.rules.enumerate_append_grouping import EnumerateAppendGrouping
from tests.rules.pandas_differential import (
    ALL_KINDS,
    KINDS_WITHOUT_NA,
    PANDAS_3,
    call,
    canon,
    changed_functions,
    execute,
    fixture_sources,
    is_missing,
    random_frame,
)

TRIALS = 15
SLOW_TRIALS = 1500
# Warnings of the fixtures' own pandas calls on random frames (fillna(0) of datetime / str keys, to_datetime of
# non-date strings): they warn alike before and after the fix.
pytestmark = [
    pytest.mark.filterwarnings("ignore:'int' is not supported as a fill value"),
    pytest.mark.filterwarnings("ignore:Could not infer format"),
]
Groups = dict[Any, list[int]]


@dataclass(frozen=True)
class Case:
    """How to call one fixed function, the key column its loop iterates, and whether it returns the grouping."""

    call: Callable[[dict[str, Any], pd.DataFrame], Any]
    key: Hashable
    keys: Callable[[pd.DataFrame], pd.Series]
    returns_groups: bool = True
    kinds: Sequence[str] = ALL_KINDS


def one_frame(name: str) -> Callable[[dict[str, Any], pd.DataFrame], Any]:
    return lambda namespace, frame: namespace[name](frame)


def loaded(name: str) -> Callable[[dict[str, Any], pd.DataFrame], Any]:
    """For functions that read their frame from a path: the patched readers return the frame."""
    return lambda namespace, frame: namespace[name]("data.file")


def column(label: Hashable) -> Callable[[pd.DataFrame], pd.Series]:
    return lambda frame: frame[label]


FIXTURE_CASES: dict[tuple[str, str], Case] = {
    ("seed_day_batch_sampler", "group_positions_by_date"): Case(
        one_frame("group_positions_by_date"), "Date", column("Date"), returns_groups=False, kinds=KINDS_WITHOUT_NA
    ),
    ("seed_day_batch_sampler", "date_indices_of"): Case(one_frame("date_indices_of"), "Date", column("Date")),
    ("seed_day_batch_sampler", "DayBatchSampler._group_by_date"): Case(
        lambda namespace, frame: namespace["DayBatchSampler"](frame).batches, "Date", column("Date"),
        returns_groups=False, kinds=KINDS_WITHOUT_NA,
    ),
    ("aliases", "aliased_defaultdict"): Case(one_frame("aliased_defaultdict"), "Key", column("Key")),
    ("aliases", "module_attribute"): Case(one_frame("module_attribute"), "Key", column("Key")),
    ("aliases", "from_imported_reader"): Case(loaded("from_imported_reader"), "Key", column("Key")),
    ("aliases", "defaultdict_with_setdefault"): Case(one_frame("defaultdict_with_setdefault"), "Key", column("Key")),
    ("aliases", "label_constant"): Case(one_frame("label_constant"), "Key", column("Key")),
    ("aliases", "integer_label"): Case(one_frame("integer_label"), 0, column(0)),
    ("aliases", "annotated_groups"): Case(one_frame("annotated_groups"), "Key", column("Key")),
    ("evidence", "constructor"): Case(
        lambda namespace, frame: namespace["constructor"](frame.to_dict("records")), "Key",
        lambda frame: pd.DataFrame(frame.to_dict("records"))["Key"],
    ),
    ("evidence", "reader_chain"): Case(
        loaded("reader_chain"), "Key", lambda frame: frame.dropna().reset_index(drop=True)["Key"]
    ),
    ("evidence", "concat_and_merge"): Case(
        lambda namespace, frame: namespace["concat_and_merge"](frame, frame[["Key"]].drop_duplicates(), frame),
        "Key",
        lambda frame: pd.merge(pd.concat([frame, frame]), frame[["Key"]].drop_duplicates(), on="Key")
        .sort_values("Key")["Key"],
    ),
    ("evidence", "groupby_agg"): Case(
        one_frame("groupby_agg"), "Key", lambda frame: frame.groupby("Key").agg({"Close": "last"}).reset_index()["Key"]
    ),
    ("evidence", "selections"): Case(one_frame("selections"), "Key", lambda frame: frame.loc[frame["Close"] > 0, "Key"]),
    ("evidence", "rebound_through_chains"): Case(
        loaded("rebound_through_chains"), "Key", lambda frame: frame.fillna(0)[frame.fillna(0)["Close"] > 0]["Key"]
    ),
    ("evidence", "annotated_variable"): Case(
        lambda namespace, frame: namespace["annotated_variable"](lambda: frame), "Key", column("Key")
    ),
    ("evidence", "isinstance_guard"): Case(one_frame("isinstance_guard"), "Key", column("Key")),
    ("dtype_messages", "to_datetime_column"): Case(
        loaded("to_datetime_column"), "Date", lambda frame: pd.to_datetime(frame["Date"])
    ),
    ("dtype_messages", "parse_dates"): Case(loaded("parse_dates"), "Date", column("Date")),
    ("dtype_messages", "astype_datetime"): Case(
        one_frame("astype_datetime"), "Date", lambda frame: frame.astype({"Date": "datetime64[ns]"})["Date"]
    ),
    ("dtype_messages", "read_as_strings"): Case(loaded("read_as_strings"), "Date", column("Date")),
    ("dtype_messages", "int_codes"): Case(loaded("int_codes"), "Code", column("Code")),
    ("dtype_messages", "numpy_int_astype"): Case(
        one_frame("numpy_int_astype"), "Code", lambda frame: frame["Code"].astype(np.int32)
    ),
    ("dtype_messages", "later_store_wins"): Case(
        loaded("later_store_wins"), "Date", lambda frame: pd.to_datetime(frame["Date"])
    ),
    ("real_spellings", "DayBatchSampler._build_batches"): Case(
        lambda namespace, frame: namespace["DayBatchSampler"](frame, "Key", 2).batches, "Key", column("Key"),
        returns_groups=False, kinds=KINDS_WITHOUT_NA,
    ),
    ("real_spellings", "LabelDataset.label_positions"): Case(
        lambda namespace, frame: namespace["LabelDataset"]("data.csv").label_positions(), "label", column("label")
    ),
    ("real_spellings", "guarded_early"): Case(lambda namespace, frame: namespace["guarded_early"](frame, "Key"), "Key", column("Key")),
    ("real_spellings", "created_earlier"): Case(one_frame("created_earlier"), "Key", column("Key")),
    ("real_spellings", "prefilled"): Case(
        lambda namespace, frame: _without(namespace["prefilled"](frame, []), "seed", [-1]), "Key", column("Key")
    ),
    ("real_spellings", "into_a_parameter"): Case(
        lambda namespace, frame: namespace["into_a_parameter"](frame, defaultdict(list)), "Key", column("Key")
    ),
    ("real_spellings", "aliased"): Case(one_frame("aliased"), "Key", column("Key")),
    ("real_spellings", "into_an_attribute"): Case(
        lambda namespace, frame: namespace["into_an_attribute"](SimpleNamespace(), frame), "Key", column("Key")
    ),
    ("real_spellings", "series_parameter"): Case(lambda namespace, frame: namespace["series_parameter"](frame["Key"]), "Key", column("Key")),
}


def _without(groups: Groups, key: str, positions: list[int]) -> Groups:
    """``groups`` less the entry the function put in before the loop (checked to be there, unchanged, first)."""
    assert next(iter(groups.items())) == (key, positions)
    del groups[key]
    return groups


# Fixtures that build their own frames; run once each (and their differences shown below).
SELF_CONTAINED = {
    ("dtype_messages", "constructed_column"),
    *(("key_dtypes", name) for name in (
        "int_keys", "float_nan_keys", "datetime_nat_keys", "none_keys", "categorical_nan_keys", "categorical_keys",
    )),
}
EXAMPLE_CASES: dict[int, Case] = {
    0: Case(one_frame("group_positions"), "Date", column("Date")),
    1: Case(loaded("group_positions"), "Date", column("Date")),
}


# ---------------------------------------------------------------------------------------------- the oracle


def documented_grouping(loop: Groups, keys: pd.Series) -> list[tuple[Any, list[int]]]:
    """What the fix returns, derived from the loop's result and the documented differences.

    Missing keys (NaN, None, pd.NA, NaT) merge into one group at the first missing row, whose key is
    ``MISSING`` here; a categorical column's missing group is dropped.
    """
    entries: list[Any] = []
    missing: list[int] = []
    for key, positions in loop.items():
        if not is_missing(key):
            entries.append((key, positions))
            continue
        if not missing:
            entries.append(MISSING)
        missing.extend(positions)
    categorical = isinstance(keys.dtype, pd.CategoricalDtype)
    return [
        (entry if entry is not MISSING else (MISSING, sorted(missing)))
        for entry in entries
        if not (entry is MISSING and categorical)
    ]


MISSING = object()


def assert_documented(loop: Groups, fixed: Groups, keys: pd.Series) -> None:
    """``fixed`` is exactly ``loop`` up to the documented differences."""
    assert type(fixed) is type(loop) and getattr(fixed, "default_factory", None) is getattr(loop, "default_factory", None)
    expected = documented_grouping(loop, keys)
    actual = list(fixed.items())
    assert len(actual) == len(expected), (expected, actual)
    numbers = _numeric_keys(keys)
    for (key, positions), (expected_key, expected_positions) in zip(actual, expected):
        assert canon(positions) == canon(expected_positions)
        if expected_key is MISSING:
            # pandas 3: float NaN; pandas 2: the dtype's own missing value (NaT, pd.NA, np.float64 NaN...).
            assert (type(key) is float and math.isnan(key)) if PANDAS_3 else is_missing(key), key
        elif numbers and isinstance(key, np.generic):
            assert key == expected_key and hash(key) == hash(expected_key)
        else:
            assert canon(key) == canon(expected_key)


def _numeric_keys(keys: pd.Series) -> bool:
    """Numeric or bool keys (a numpy dtype, or an object column holding only numbers): numpy scalars allowed."""
    if isinstance(keys.dtype, np.dtype) and keys.dtype.kind in "iufb":
        return True
    present = [value for value in keys.tolist() if not is_missing(value)]
    return keys.dtype == object and all(isinstance(value, (int, float, np.number, np.bool_)) for value in present)


def _check(case: Case, original: dict[str, Any], fixed: dict[str, Any], frame: pd.DataFrame, source: dict[str, Any]) -> bool:
    """Compare one run; True when the results were identical (no documented difference showed)."""
    source["frame"] = frame
    before = call(case.call, original, frame.copy())
    after = call(case.call, fixed, frame.copy())
    if before.raised or after.raised:
        assert before.raised == after.raised, (before, after, frame)
        return True
    if not case.returns_groups or not isinstance(before.value, dict):
        assert canon(after.value) == canon(before.value), frame
        return True
    assert_documented(before.value, after.value, case.keys(frame))
    return canon(after.value) == canon(before.value)


@pytest.fixture
def patched_readers(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """pd.read_csv / pd.read_parquet return a copy of ``source["frame"]`` (set per trial)."""
    source: dict[str, Any] = {}
    for reader in ("read_csv", "read_parquet"):
        monkeypatch.setattr(pd, reader, lambda *args, **kwargs: source["frame"].copy())
    return source


def _frame_for(rng: random.Random, case: Case) -> pd.DataFrame:
    close = {"Close": ("float",)}
    return random_frame(rng, {case.key: case.kinds, **close})


def _run_cases(trials: int, source: dict[str, Any]) -> None:
    identical = total = 0
    for (stem, name), case in FIXTURE_CASES.items():
        original, fixed = (execute(text) for text in fixture_sources("PFL202", stem))
        rng = random.Random(f"{stem}.{name}")
        for _ in range(trials):
            identical += _check(case, original, fixed, _frame_for(rng, case), source)
            total += 1
    for index, case in EXAMPLE_CASES.items():
        example = EnumerateAppendGrouping.invalid[index]
        original, fixed = execute(example.code), execute(example.fixed)
        rng = random.Random(f"example-{index}")
        for _ in range(trials):
            identical += _check(case, original, fixed, _frame_for(rng, case), source)
            total += 1
    # Frames without missing or numeric keys come back identical: a good share of the runs.
    assert identical > total // 3


def test_every_fixed_function_has_a_differential_case() -> None:
    for stem in ("seed_day_batch_sampler", "aliases", "evidence", "dtype_messages", "key_dtypes", "real_spellings"):
        changed = changed_functions(*fixture_sources("PFL202", stem))
        covered = {name for (case_stem, name) in {*FIXTURE_CASES, *SELF_CONTAINED} if case_stem == stem}
        assert changed == covered, stem
    # Examples with the exact-helper option are executed against the loop in test_enumerate_append_grouping_exact_helper.py.
    fixed_examples = {
        i for i, example in enumerate(EnumerateAppendGrouping.invalid) if example.fixed is not None and not example.options
    }
    assert fixed_examples == set(EXAMPLE_CASES)


def test_fixes_equal_the_loop_up_to_documented_differences(patched_readers: dict[str, Any]) -> None:
    _run_cases(TRIALS, patched_readers)


@pytest.mark.slow
def test_fixes_equal_the_loop_up_to_documented_differences_many_frames(patched_readers: dict[str, Any]) -> None:
    _run_cases(SLOW_TRIALS, patched_readers)


# ---------------------------------------------------------------------------------------------- documented


def _both(stem: str, name: str) -> tuple[Groups, Groups]:
    original, fixed = (execute(text) for text in fixture_sources("PFL202", stem))
    return original[name](), fixed[name]()


def test_self_contained_fixtures_match_the_documented_grouping() -> None:
    for stem, name in sorted(SELF_CONTAINED):
        original, fixed = (execute(text) for text in fixture_sources("PFL202", stem))
        assert_documented(original[name](), fixed[name](), _key_column(original[name]))


def _key_column(function: Callable[[], Groups]) -> pd.Series:
    """The key column of a self-contained fixture: the only column of the frame it builds."""
    captured: list[pd.DataFrame] = []
    original_init = pd.DataFrame.__init__

    def spy(self: pd.DataFrame, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        captured.append(self)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pd.DataFrame, "__init__", spy)
        function()
    frame = next(frame for frame in captured if frame.shape[1] >= 1)
    return frame.iloc[:, -1]


def test_numeric_keys_come_back_as_numpy_scalars() -> None:
    before, after = _both("key_dtypes", "int_keys")
    assert before == after == {1301: [0, 2], 1332: [1]}
    assert [type(k) for k in before] == [int, int] and [type(k) for k in after] == [np.int64, np.int64]


def test_float_nan_rows_merge_into_one_key() -> None:
    before, after = _both("key_dtypes", "float_nan_keys")
    assert len(before) == 3 and [v for k, v in before.items() if k != k] == [[1], [3]]
    assert len(after) == 2 and [v for k, v in after.items() if k != k] == [[1, 3]]


def test_nat_key_is_replaced_by_float_nan_under_pandas_3() -> None:
    before, after = _both("key_dtypes", "datetime_nat_keys")
    assert before[pd.NaT] == [1, 3]
    nat_key = list(after)[1]
    if PANDAS_3:
        assert type(nat_key) is float and math.isnan(nat_key)
        assert after[pd.NaT] == [] and pd.NaT in after  # defaultdict: a silent miss, which inserts the key
    else:
        assert nat_key is pd.NaT


def test_none_key_is_replaced_by_float_nan() -> None:
    before, after = _both("key_dtypes", "none_keys")
    assert before[None] == [1, 3]
    assert None not in after and [v for k, v in after.items() if k != k] == [[1, 3]]


def test_categorical_nan_group_is_dropped() -> None:
    before, after = _both("key_dtypes", "categorical_nan_keys")
    assert sorted(sum(before.values(), [])) == [0, 1, 2, 3]
    assert after == {"b": [0], "a": [2]}


def test_categorical_without_missing_values_is_exact() -> None:
    before, after = _both("key_dtypes", "categorical_keys")
    assert canon(before) == canon(after) == canon(defaultdict(list, {"b": [0, 2], "a": [1]}))


def test_grouping_the_column_avoids_the_index_level_ambiguity() -> None:
    data = pd.DataFrame({"Date": ["x", "y", "x"]}, index=pd.Index([0, 1, 2], name="Date"))
    original, fixed = (execute(text) for text in fixture_sources("PFL202", "seed_day_batch_sampler"))
    with pytest.raises(ValueError):
        data.groupby("Date")
    assert canon(fixed["date_indices_of"](data)) == canon(original["date_indices_of"](data))


def test_the_seeds_groupby_form_differs() -> None:
    """Why the fix is not the seed's `{str(k): list(v) for k, v in data.groupby(col).indices.items()}`."""
    data = pd.DataFrame({"Date": pd.to_datetime(["2024-01-05", "2024-01-04", None, "2024-01-05"])})
    loop: Groups = defaultdict(list)
    for position, date in enumerate(data["Date"]):
        loop[date].append(position)
    seed = {str(k): list(v) for k, v in data.groupby("Date").indices.items()}
    assert list(seed) == ["2024-01-04 00:00:00", "2024-01-05 00:00:00"]  # sorted, str, the NaT row dropped
    assert type(seed["2024-01-05 00:00:00"][0]) is np.int64
    assert list(loop) == [pd.Timestamp("2024-01-05"), pd.Timestamp("2024-01-04"), pd.NaT]
    with pytest.raises(KeyError):
        seed["2024-01-06 00:00:00"]  # noqa: B018 - the loop's defaultdict returns []


def test_numbers_in_an_object_column_come_back_as_numpy_scalars() -> None:
    """Not in SEMANTICS: groupby infers object columns of numbers; with a missing value an int key turns float."""
    data = pd.DataFrame({"Date": pd.Series([1, None, 1], dtype=object)})
    original, fixed = (execute(text) for text in fixture_sources("PFL202", "seed_day_batch_sampler"))
    before, after = original["date_indices_of"](data), fixed["date_indices_of"](data)
    assert type(list(before)[0]) is int and type(list(after)[0]) is np.float64
    assert list(before.values()) == list(after.values()) == [[0, 2], [1]]


@pytest.mark.skipif(PANDAS_3, reason="pandas 2 keeps the dtype's own missing value as the merged key")
def test_pandas_2_merged_missing_key_is_the_dtypes_own() -> None:
    original, fixed = (execute(text) for text in fixture_sources("PFL202", "seed_day_batch_sampler"))
    for values, missing in (
        (pd.to_datetime(["2024-01-04", None]), pd.NaT),
        (pd.array([1, None], "Int64"), pd.NA),
        (pd.Series(["a", pd.NA], dtype=object), None),  # pd.NA in an object column: a float NaN key
    ):
        after = fixed["date_indices_of"](pd.DataFrame({"Date": values}))
        key = list(after)[1]
        assert key is missing if missing is not None else (type(key) is float and key != key)


# ---------------------------------------------------------------------------------------------- extend form


def _loop(groups: Any, keys: pd.Series) -> Any:
    for i, key in enumerate(keys):
        groups[key].append(i)
    return groups


def _extend(groups: Any, keys: pd.Series) -> Any:
    for key, positions in keys.groupby(keys, sort=False, dropna=False, observed=True).indices.items():
        groups[key].extend(positions.tolist())
    return groups


def test_extend_form_is_exact_whatever_the_dict_held() -> None:
    """The fix for a dict created earlier: one extend per key equals the appends for any prior content (keys
    present or not, in any order, lists shared with the caller), first-appearance order, increasing positions.
    Strict equality on key kinds without missing or numeric values; the documented differences otherwise."""
    exact_kinds = ("str", "object-str", "string+na", "datetime", "datetime-midnight", "datetime-tz", "timedelta", "category", "Int64")
    rng = random.Random("extend-form")
    strict = 0
    for trial in range(300):
        kinds = exact_kinds if trial % 2 else ALL_KINDS
        frame = random_frame(rng, {"Key": kinds})
        keys = frame["Key"]
        prior = defaultdict(list)
        pool = keys.tolist() + ["other", 7]
        for key in rng.sample(pool, k=min(len(pool), rng.randint(0, 4))):
            if is_missing(key):
                continue
            prior[key] = [-rng.randint(1, 9)]
        before = _loop(defaultdict(list, {k: list(v) for k, v in prior.items()}), keys)
        after = _extend(defaultdict(list, {k: list(v) for k, v in prior.items()}), keys)
        if not keys.isna().any() and not _numeric_keys(keys):
            assert canon(after) == canon(before), frame
            strict += 1
        else:
            fresh_before = _loop(defaultdict(list), keys)
            fresh_after = _extend(defaultdict(list), keys)
            assert_documented(fresh_before, fresh_after, keys)
    assert strict > 100


def test_extend_form_keeps_prior_lists_and_order() -> None:
    keys = pd.Series(["b", "a", "b", "c", "a"])
    shared = [-1]
    before = _loop(defaultdict(list, {"c": shared}), keys)
    assert shared == [-1, 3]
    shared_after = [-1]
    after = _extend(defaultdict(list, {"c": shared_after}), keys)
    assert shared_after == [-1, 3]
    assert list(before.items()) == list(after.items()) == [("c", [-1, 3]), ("b", [0, 2]), ("a", [1, 4])]
