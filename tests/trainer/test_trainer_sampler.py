"""DayBatchSampler: every sample once per epoch, one day per batch, deterministic given (seed, epoch)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reference_trainer.sampler import DayBatchSampler, group_positions_by_date, group_positions_fast


@pytest.fixture(scope="module")
def samples() -> pd.DataFrame:
    """A small sample table ordered by stock then day, as the trainer builds it (days of unequal size)."""
    dates = pd.bdate_range("2024-01-04", periods=12)
    rng = np.random.default_rng(7)
    rows = [(stock, day) for stock in range(9) for day in range(12) if rng.random() > 0.2]
    stock_idx, day_idx = map(np.array, zip(*rows))
    return pd.DataFrame({"Date": dates[day_idx], "stock_idx": stock_idx, "day_idx": day_idx})


def _epoch(sampler: DayBatchSampler, epoch: int) -> list[list[int]]:
    sampler.set_epoch(epoch)
    return [batch.tolist() for batch in sampler]


def test_each_sample_exactly_once_per_epoch(samples: pd.DataFrame) -> None:
    sampler = DayBatchSampler(samples, shuffle=True, seed=3)
    for epoch in (1, 2):
        positions = [position for batch in _epoch(sampler, epoch) for position in batch]
        assert sorted(positions) == list(range(len(samples)))


def test_one_day_per_batch_and_one_batch_per_day(samples: pd.DataFrame) -> None:
    sampler = DayBatchSampler(samples, shuffle=True, seed=3)
    batches = _epoch(sampler, 1)
    days = [samples["Date"].iloc[batch].unique() for batch in batches]
    assert all(len(batch_days) == 1 for batch_days in days)
    assert len(batches) == len(sampler) == samples["Date"].nunique()
    assert len({batch_days[0] for batch_days in days}) == len(batches)


def test_deterministic_given_seed_and_epoch(samples: pd.DataFrame) -> None:
    first = DayBatchSampler(samples, shuffle=True, seed=3)
    second = DayBatchSampler(samples, shuffle=True, seed=3)
    assert _epoch(first, 1) == _epoch(second, 1)
    assert _epoch(first, 1) != _epoch(first, 2)
    assert _epoch(first, 1) != _epoch(DayBatchSampler(samples, shuffle=True, seed=4), 1)


def test_unshuffled_days_in_order_of_first_appearance(samples: pd.DataFrame) -> None:
    batches = list(DayBatchSampler(samples, shuffle=False))
    first_dates = [samples["Date"].iloc[batch[0]] for batch in batches]
    assert first_dates == list(pd.unique(samples["Date"]))
    assert all(np.all(np.diff(batch) > 0) for batch in batches)


def test_fast_path_groups_like_the_fallback(samples: pd.DataFrame) -> None:
    fallback = group_positions_by_date(samples)
    fast = group_positions_fast(samples["Date"].to_numpy())
    assert [group.tolist() for group in fast] == [group.tolist() for group in fallback]
    sampler = DayBatchSampler(samples, shuffle=True, seed=3, sequence_dates=samples["Date"].to_numpy())
    assert _epoch(sampler, 1) == _epoch(DayBatchSampler(samples, shuffle=True, seed=3), 1)


KEY_TYPES = {
    "str": lambda dates: dates.astype(str),
    "python-datetime": lambda dates: pd.Series(dates.to_numpy().astype(object), dtype=object),
    "int": lambda dates: dates.dt.day_of_year,
}


@pytest.mark.parametrize("key_type", sorted(KEY_TYPES))
def test_shuffle_does_not_depend_on_the_key_type(samples: pd.DataFrame, key_type: str) -> None:
    """The readable groupby rewrite may box keys differently: only equality and first appearance may matter."""
    relabelled = samples.assign(Date=KEY_TYPES[key_type](samples["Date"]))
    expected = _epoch(DayBatchSampler(samples, shuffle=True, seed=3), 2)
    assert _epoch(DayBatchSampler(relabelled, shuffle=True, seed=3), 2) == expected


def test_groupby_rewrite_matches_the_loop(samples: pd.DataFrame) -> None:
    """The exact form perflint's PFL202 fix writes gives the same groups in the same order."""
    s = samples["Date"]
    rewritten = {k: v.tolist() for k, v in s.groupby(s, sort=False, dropna=False, observed=True).indices.items()}
    assert [list(group) for group in rewritten.values()] == [g.tolist() for g in group_positions_by_date(samples)]
