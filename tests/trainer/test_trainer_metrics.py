"""Metrics against independent computations (pandas' correlations) on a small example."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from reference_trainer.metrics import compute_metrics

N_DAYS, N_STOCKS, N_HORIZONS, N_QUANTILES, MEDIAN = 6, 40, 4, 5, 2


@pytest.fixture(scope="module")
def example() -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Predictions correlated with targets, days interleaved (the metrics must group by day id)."""
    rng = np.random.default_rng(0)
    targets = rng.standard_normal((N_DAYS * N_STOCKS, N_HORIZONS)).astype(np.float32)
    noise = rng.standard_normal((N_DAYS * N_STOCKS, N_HORIZONS, N_QUANTILES)).astype(np.float32)
    predictions = 0.3 * targets[:, :, None] + noise
    day_ids = rng.permutation(np.repeat(np.arange(N_DAYS), N_STOCKS))
    return torch.from_numpy(predictions), torch.from_numpy(targets), day_ids


def _frame(example: tuple[torch.Tensor, torch.Tensor, np.ndarray], column: int) -> pd.DataFrame:
    predictions, targets, day_ids = example
    return pd.DataFrame(
        {"pred": predictions[:, column, MEDIAN].numpy(), "target": targets[:, column].numpy(), "day": day_ids}
    )


@pytest.mark.parametrize("column", range(N_HORIZONS))
def test_daily_and_pooled_correlations(example: tuple[torch.Tensor, torch.Tensor, np.ndarray], column: int) -> None:
    metrics = compute_metrics(*example, median_index=MEDIAN).by_horizon[(1, 5, 10, 20)[column]]
    frame = _frame(example, column)
    daily_ic = frame.groupby("day").apply(lambda day: day["pred"].corr(day["target"]))
    daily_rank_ic = frame.groupby("day").apply(lambda day: day["pred"].corr(day["target"], method="spearman"))
    assert metrics.ic == pytest.approx(daily_ic.mean(), abs=1e-12)
    assert metrics.rank_ic == pytest.approx(daily_rank_ic.mean(), abs=1e-12)
    assert metrics.icir == pytest.approx(daily_ic.mean() / daily_ic.std(), abs=1e-12)
    assert metrics.pooled_ic == pytest.approx(frame["pred"].corr(frame["target"]), abs=1e-12)
    assert metrics.pooled_rank_ic == pytest.approx(frame["pred"].corr(frame["target"], method="spearman"), abs=1e-12)


def test_sharpe_of_the_top_minus_bottom_quintile(example: tuple[torch.Tensor, torch.Tensor, np.ndarray]) -> None:
    frame = _frame(example, 0)

    def long_short(day: pd.DataFrame) -> float:
        ordered = day.sort_values("pred", kind="stable")["target"]
        n_leg = int(len(day) * 0.2)
        return ordered.iloc[-n_leg:].mean() - ordered.iloc[:n_leg].mean()

    daily = frame.groupby("day").apply(long_short)
    expected = daily.mean() / daily.std() * math.sqrt(252)
    assert compute_metrics(*example, median_index=MEDIAN).sharpe == pytest.approx(expected, rel=1e-9)


def test_ranks_average_ties() -> None:
    targets = torch.tensor([[1.0], [2.0], [2.0], [3.0]] * 2)
    predictions = torch.tensor([[[0.0]], [[1.0]], [[1.0]], [[5.0]]] * 2)
    metrics = compute_metrics(predictions, targets, np.repeat([0, 1], 4), median_index=0, horizons=(1,))
    assert metrics.by_horizon[1].rank_ic == pytest.approx(1.0)
    assert metrics.n_days == 2


def test_metric_helpers_accept_arrays_like_the_rewrite_passes(
    example: tuple[torch.Tensor, torch.Tensor, np.ndarray],
) -> None:
    """perflint's PFL102 fix hands the helpers arrays; a helper's ``np.asarray`` must then see equal values."""
    predictions, targets, _ = example
    point = predictions[:, :, MEDIAN]
    assert np.array_equal(np.asarray(point.numpy()), point.numpy())
    assert np.shares_memory(np.asarray(targets), targets.numpy())
