"""PFL202's option exact-helper: the helper fix, its safety label, and its exactness against the loop."""

from __future__ import annotations

import ast
import random
import textwrap
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from perflint import api
from perflint.config import Settings, settings_from_table
from perflint.rules.enumerate_append_grouping import HELPER, EnumerateAppendGrouping
from perflint.types import Applicability
from tests.rules.pandas_differential import ALL_KINDS, call, canon, execute, random_frame
from tests.support import settings_for

TRIALS = 60
SLOW_TRIALS = 3000

SOURCE = '''\
"""Grouping loops."""
from collections import defaultdict as dd

import pandas as pd


def by_date(data: pd.DataFrame):
    date_indices = dd(list)
    for idx, date in enumerate(data["Key"]):
        date_indices[date].append(idx)
    return date_indices


def by_setdefault(data: pd.DataFrame):
    groups = {}
    for i, key in enumerate(data["Key"]):
        groups.setdefault(key, []).append(i)
    return groups
'''


def _settings() -> Settings:
    return replace(settings_for(["PFL202"]), rule_options={"PFL202": {"exact-helper": True}}, unsafe_fixes=True)


def _fixed(source: str) -> str:
    """Fix with unsafe fixes and the option on, asserting the safety net: parses, and a second run is a no-op."""
    options = api.RunOptions(fix=True)
    result = api.check_source(textwrap.dedent(source).encode(), Path("case.py"), _settings(), options)
    assert not result.errors, result.errors
    fixed = (result.fixed or b"").decode()
    ast.parse(fixed)
    again = api.check_source(fixed.encode(), Path("case.py"), _settings(), options)
    assert again.fixes_applied == 0 and (again.fixed or b"").decode() == fixed
    return fixed


def _applicability(source: str) -> Applicability:
    result = api.check_source(textwrap.dedent(source).encode(), Path("case.py"), _settings())
    (violation,) = result.violations
    assert violation.fix is not None
    return violation.fix.applicability


def test_the_option_is_read_from_pyproject() -> None:
    table = {"select": ["PFL202"], "options": {"PFL202": {"exact-helper": True}}}
    settings = settings_from_table(table, Path.cwd(), Path("pyproject.toml"))
    assert settings.rule_options["PFL202"] == {"exact-helper": True}


def test_helper_is_added_once_and_each_loop_becomes_an_update() -> None:
    fixed = _fixed(SOURCE)
    assert fixed.count(f"def {HELPER}(") == 1
    assert fixed.index(f"def {HELPER}(") > fixed.index("import pandas as pd")
    assert f'    date_indices = dd(list)\n    date_indices.update({HELPER}(data["Key"]))\n' in fixed
    assert f'    groups = {{}}\n    groups.update({HELPER}(data["Key"]))\n' in fixed
    assert "in enumerate(" not in fixed


@pytest.mark.parametrize(
    ("frame_setup", "expected"),
    [
        ('data = pd.read_csv(path, parse_dates=["Key"])', Applicability.SAFE),
        ('data = pd.read_csv(path)\ndata["Key"] = pd.to_datetime(data["Key"])', Applicability.SAFE),
        ("data = pd.read_csv(path, dtype=str)", Applicability.SAFE),
        ('data = pd.read_csv(path).astype({"Key": "int64"})', Applicability.SAFE),
        ("data = pd.read_csv(path)", Applicability.UNSAFE),
        ('data = pd.read_csv(path)\ndata["Key"] = pd.to_datetime(data["Key"], errors="ignore")', Applicability.UNSAFE),
        ("data = pd.read_csv(path, dtype=str)\nif path:\n    data = pd.read_parquet(path)", Applicability.UNSAFE),
        ("if path:\n    data = pd.read_csv(path, dtype=str)\nelse:\n    data = pd.read_csv(path)", Applicability.UNSAFE),
    ],
)
def test_safe_only_where_the_key_column_is_not_an_object_column(frame_setup: str, expected: Applicability) -> None:
    body = textwrap.indent(frame_setup, "    ")
    source = (
        "from collections import defaultdict\nimport pandas as pd\n\n\ndef group(path):\n"
        f"{body}\n"
        "    groups = defaultdict(list)\n"
        '    for i, key in enumerate(data["Key"]):\n'
        "        groups[key].append(i)\n"
        "    return groups\n"
    )
    assert _applicability(source) is expected


def _run(trials: int) -> None:
    fixed = _fixed(SOURCE)
    original, rewritten = execute(SOURCE), execute(fixed)
    rng = random.Random("exact-helper")
    for _ in range(trials):
        frame = random_frame(rng, {"Key": ALL_KINDS})
        for name in ("by_date", "by_setdefault"):
            before, after = call(original[name], frame), call(rewritten[name], frame)
            assert before.raised == after.raised
            assert canon(after.value) == canon(before.value), frame


def test_helper_equals_the_loop_exactly_on_random_frames() -> None:
    _run(TRIALS)


@pytest.mark.slow
def test_helper_equals_the_loop_exactly_on_many_random_frames() -> None:
    _run(SLOW_TRIALS)


def test_helper_merges_tuple_keys_holding_distinct_nans() -> None:
    """The one documented difference: pandas' object hashtable treats NaN inside tuples as equal."""
    keys = pd.Series([(1, float("nan")), (1, float("nan"))], dtype=object)
    frame = pd.DataFrame({"Key": keys})
    original, rewritten = execute(SOURCE), execute(_fixed(SOURCE))
    assert len(original["by_date"](frame)) == 2
    assert rewritten["by_date"](frame) == defaultdict(list, {keys[0]: [0, 1]})


def test_helper_keeps_the_loops_missing_keys() -> None:
    keys = pd.Series([np.nan, None, "a", pd.NA, np.nan, None], dtype=object)
    frame = pd.DataFrame({"Key": keys})
    original, rewritten = execute(SOURCE), execute(_fixed(SOURCE))
    before, after = original["by_date"](frame), rewritten["by_date"](frame)
    assert canon(before) == canon(after)
    assert after[None] == [1, 5] and after[pd.NA] == [3] and after["a"] == [2]


PREFILLED = '''\
from collections import defaultdict

import pandas as pd


def prefilled(data: pd.DataFrame, known):
    groups = defaultdict(list)
    for key in known:
        groups[key].append(-1)
    for i, key in enumerate(data["Key"]):
        groups[key].append(i)
    return groups
'''


def test_helper_extends_a_dict_created_earlier_exactly() -> None:
    """Where the dict may hold entries, the helper's groups are extended in, key by key: the loop's result."""
    fixed = _fixed(PREFILLED)
    assert f'for key, positions in {HELPER}(data["Key"]).items():\n        groups[key].extend(positions)' in fixed
    original, rewritten = execute(PREFILLED), execute(fixed)
    rng = random.Random("exact-helper-extend")
    for _ in range(TRIALS):
        frame = random_frame(rng, {"Key": ALL_KINDS})
        known = rng.sample(frame["Key"].tolist() + ["other"], k=min(2, len(frame) + 1))
        before, after = call(original["prefilled"], frame, known), call(rewritten["prefilled"], frame, known)
        assert before.raised == after.raised
        assert canon(after.value) == canon(before.value), frame


def test_examples_with_the_option_equal_the_loop_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rule's own examples that turn exact-helper on: original and fixed code on datetime-like columns."""
    examples = [example for example in EnumerateAppendGrouping.invalid if example.options.get("exact-helper")]
    assert examples
    rng = random.Random("exact-helper-examples")
    for example in examples:
        original, rewritten = execute(textwrap.dedent(example.code)), execute(textwrap.dedent(example.fixed))
        for _ in range(TRIALS):
            dates = pd.Series(pd.to_datetime(["2024-01-04", "2024-01-05", None, "2024-01-04"])).sample(frac=1, random_state=rng.randrange(10**6))
            frame = pd.DataFrame({"date": dates.astype(str).reset_index(drop=True)})
            monkeypatch.setattr(pd, "read_csv", lambda _path, frame=frame: frame.copy())
            before, after = call(original["by_date"], "prices.csv"), call(rewritten["by_date"], "prices.csv")
            assert before.raised == after.raised
            assert canon(after.value) == canon(before.value), frame
