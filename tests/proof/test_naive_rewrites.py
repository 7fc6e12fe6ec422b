"""Where the seed report's own rewrites change results, and perflint's rewrites do not (or perflint declines).

Each test executes three versions of a snippet: the original, the seed report's hand rewrite, and the code
``perflint fix --unsafe-fixes`` produces, on an input chosen to expose the difference.
"""

from __future__ import annotations

import textwrap
from collections import defaultdict

import numpy as np
import pandas as pd
import torch

from tests.support import fixed_text, lint

CODE_MAPS = """
import pandas as pd

def build(listed_info: pd.DataFrame):
    return {str(row["Code"]): str(row["ListedDate"]) for _, row in listed_info.iterrows()}
"""
SEED_CODE_MAPS = """
import pandas as pd

def build(listed_info: pd.DataFrame):
    return dict(zip(listed_info["Code"].astype(str), listed_info["ListedDate"].astype(str)))
"""
GROUPING = """
from collections import defaultdict
import pandas as pd

def group(data: pd.DataFrame):
    date_indices = defaultdict(list)
    for idx, date in enumerate(data["Date"]):
        date_indices[date].append(idx)
    return date_indices
"""
SEED_GROUPING = """
import pandas as pd

def group(data: pd.DataFrame):
    return {str(k): list(v) for k, v in data.groupby("Date").indices.items()}
"""


def _run(source: str, name: str, *args):
    namespace: dict = {}
    exec(compile(textwrap.dedent(source), "<snippet>", "exec"), namespace)
    return namespace[name](*args)


def _perflint(source: str, code: str) -> str:
    fixed = fixed_text(source, select=[code], unsafe=True)
    assert fixed != textwrap.dedent(source), "perflint did not fix the snippet"
    return fixed


def test_code_maps_with_midnight_dates() -> None:
    listed_info = pd.DataFrame(
        {"Code": ["13010", "72030", "130A0"], "ListedDate": pd.to_datetime(["2024-01-04", "2001-05-01", "1999-12-31"])}
    )
    original = _run(CODE_MAPS, "build", listed_info)
    assert original["13010"] == "2024-01-04 00:00:00"
    assert _run(SEED_CODE_MAPS, "build", listed_info)["13010"] == "2024-01-04"  # the seed's astype(str) drops the time
    assert _run(_perflint(CODE_MAPS, "PFL201"), "build", listed_info) == original


def test_code_maps_with_a_missing_value_next_to_a_datetime() -> None:
    """A difference RULES.md does not list: pandas 3 re-infers an iterrows row of [missing, Timestamp] as
    datetime, so the missing code renders as 'NaT'; the column-wise forms see the str column's NaN."""
    listed_info = pd.DataFrame({"Code": ["13010", None], "ListedDate": pd.to_datetime(["2024-01-04 09:00", "2024-01-05 09:00"])})
    original = _run(CODE_MAPS, "build", listed_info)
    seed = _run(SEED_CODE_MAPS, "build", listed_info)
    rewritten = _run(_perflint(CODE_MAPS, "PFL201"), "build", listed_info)
    assert original["13010"] == rewritten["13010"] == "2024-01-04 09:00:00"
    if pd.__version__ >= "3":
        assert "NaT" in original and "nan" in rewritten
        assert not any(isinstance(key, str) and key in ("NaT", "nan") for key in seed)  # a float NaN key
    else:
        assert original == rewritten


def _dates_with_missing() -> pd.DataFrame:
    dates = pd.to_datetime(["2024-01-05", "2024-01-04", "2024-01-05", None, "2024-01-04"])
    return pd.DataFrame({"Date": dates, "x": range(5)})


def test_grouping_seed_form_changes_keys_order_and_drops_missing_dates() -> None:
    data = _dates_with_missing()
    original = _run(GROUPING, "group", data)
    seed = _run(SEED_GROUPING, "group", data)
    assert list(original)[:2] == [pd.Timestamp("2024-01-05"), pd.Timestamp("2024-01-04")]
    assert list(seed) == ["2024-01-04 00:00:00", "2024-01-05 00:00:00"]  # sorted str keys: lookups by Timestamp fail
    assert sum(map(len, seed.values())) == 4  # the NaT row is gone
    assert sum(map(len, original.values())) == 5


def test_grouping_perflint_form_is_exact_for_dates_without_missing_values() -> None:
    data = _dates_with_missing().dropna().reset_index(drop=True)
    original = _run(GROUPING, "group", data)
    rewritten = _run(_perflint(GROUPING, "PFL202"), "group", data)
    assert isinstance(rewritten, defaultdict)
    assert list(rewritten.items()) == list(original.items())
    assert all(type(k) is type(o) for k, o in zip(rewritten, original))


def test_hash_seeded_shuffle_breaks_under_the_seed_rewrite() -> None:
    """A shuffle seeded by ``hash(date)`` follows the key's type: the seed's str keys change every batch order."""
    dates = pd.to_datetime(["2024-01-05", "2024-01-04"] * 50)
    data = pd.DataFrame({"Date": dates, "x": range(100)})

    def shuffled(groups) -> list[list[int]]:
        return [list(np.random.default_rng(abs(hash(date)) % 2**32).permutation(positions)) for date, positions in groups.items()]

    original = shuffled(_run(GROUPING, "group", data))
    assert shuffled(_run(_perflint(GROUPING, "PFL202"), "group", data)) == original
    # 50 positions per day: two different seeds giving the same permutation is a 1-in-50! event.
    assert shuffled(_run(SEED_GROUPING, "group", data)) != original


METRIC_HELPERS = """
import numpy as np
import torch

def _compute_sharpe(predictions, returns):
    point = predictions.mean(dim=1).numpy()
    ret = returns.numpy()
    order = np.argsort(point)
    k = max(1, len(order) // 5)
    spread = ret[order[-k:]].mean() - ret[order[:k]].mean()
    return float(spread)

def _compute_ic(predictions, returns):
    point = predictions.mean(dim=1).numpy()
    return float(np.corrcoef(point, returns.numpy())[0, 1])

def compute_metrics(predictions, returns):
    return _compute_sharpe(predictions, returns), _compute_ic(predictions, returns)
"""


def test_reduction_moved_to_numpy_changes_the_metric_and_perflint_declines() -> None:
    generator = torch.Generator().manual_seed(0)
    predictions = torch.randn(4000, 9, generator=generator, dtype=torch.float32)
    torch_mean = predictions.mean(dim=1).numpy()
    numpy_mean = np.mean(predictions.numpy(), axis=1)  # what the seed's rewrite computed instead
    assert not np.array_equal(torch_mean, numpy_mean)
    fixed = fixed_text(METRIC_HELPERS, select=["PFL102", "PFL106"], unsafe=True)
    # `returns` may be converted once by the caller; `predictions` is reduced in torch first, so it stays.
    assert fixed.count("predictions.mean(dim=1).numpy()") == 2 and "np.mean" not in fixed
    returns = torch.randn(4000, generator=generator)
    assert _run(fixed, "compute_metrics", predictions, returns) == _run(METRIC_HELPERS, "compute_metrics", predictions, returns)


def test_mixed_dtype_code_table_perflint_fix_is_unsafe() -> None:
    """An int code next to a float column: iterrows upcasts the row, so '1301' becomes '1301.0' before the fix."""
    table = pd.DataFrame({"Code": [1301, 7203], "Weight": [0.5, 1.5]})
    source = 'import pandas as pd\n\ndef build(t: pd.DataFrame):\n    return {str(r["Code"]): str(r["Weight"]) for _, r in t.iterrows()}\n'
    original = _run(source, "build", table)
    assert "1301.0" in original
    [finding] = lint(source, select=["PFL201"]).violations
    assert finding.fix is not None and finding.fix.applicability.value == "unsafe"
    assert "1301" in _run(_perflint(source, "PFL201"), "build", table)
