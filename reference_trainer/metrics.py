"""Cross-sectional validation metrics: daily IC / RankIC averaged over days, ICIR, long-short Sharpe, pooled IC.

Computed with numpy only.  The point prediction (the median quantile) is picked in torch by
:func:`compute_metrics`; the helpers only convert and compute, so no reduction crosses the torch / numpy boundary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from reference_trainer.config import HORIZONS

TRADING_DAYS_PER_YEAR = 252
LONG_SHORT_FRACTION = 0.2
"""The Sharpe portfolio is long the top 20 % and short the bottom 20 % of each day's predictions."""


@dataclass(frozen=True)
class HorizonMetrics:
    """Metrics of one horizon.

    Attributes:
        ic: mean over days of the daily cross-sectional Pearson correlation.
        rank_ic: mean over days of the daily cross-sectional Spearman correlation.
        icir: ``mean / std`` (ddof 1) of the daily IC, not annualised.
        rank_icir: the same for the daily RankIC.
        pooled_ic: one Pearson correlation over all samples of all days (what the original pipeline reported;
            it mixes the time-series and cross-sectional dimensions).
        pooled_rank_ic: one Spearman correlation over all samples of all days.
    """

    ic: float
    rank_ic: float
    icir: float
    rank_icir: float
    pooled_ic: float
    pooled_rank_ic: float


@dataclass(frozen=True)
class CrossSectionalMetrics:
    """All metrics of one evaluation.

    Attributes:
        by_horizon: metrics per horizon (in days).
        sharpe: annualised Sharpe ratio of the daily top-minus-bottom-20 % portfolio at horizon 1.
        n_days: number of days evaluated.
    """

    by_horizon: dict[int, HorizonMetrics]
    sharpe: float
    n_days: int


def compute_metrics(
    predictions: torch.Tensor,
    targets: torch.Tensor,
    day_ids: np.ndarray,
    *,
    median_index: int,
    horizons: tuple[int, ...] = HORIZONS,
) -> CrossSectionalMetrics:
    """Evaluate quantile predictions against forward returns, day by day.

    Args:
        predictions: ``[N, horizons, quantiles]`` CPU tensor.
        targets: ``[N, horizons]`` CPU tensor of forward returns.
        day_ids: ``[N]`` day of every sample.
        median_index: index of the 0.5 quantile (the point prediction).
        horizons: the horizon, in days, of each column.

    Returns:
        The metrics.
    """
    point = predictions[:, :, median_index]
    daily_ic, pooled_ic = _compute_ic(point, targets, day_ids)
    daily_rank_ic, pooled_rank_ic = _compute_rank_ic(point, targets, day_ids)
    sharpe = _compute_sharpe(point, targets, day_ids)
    by_horizon = {
        horizon: HorizonMetrics(
            ic=_mean(daily_ic[:, column]),
            rank_ic=_mean(daily_rank_ic[:, column]),
            icir=_information_ratio(daily_ic[:, column]),
            rank_icir=_information_ratio(daily_rank_ic[:, column]),
            pooled_ic=float(pooled_ic[column]),
            pooled_rank_ic=float(pooled_rank_ic[column]),
        )
        for column, horizon in enumerate(horizons)
    }
    return CrossSectionalMetrics(by_horizon=by_horizon, sharpe=sharpe, n_days=len(daily_ic))


def _compute_ic(
    predictions: torch.Tensor, targets: torch.Tensor, day_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Daily Pearson IC ``[days, horizons]`` and the pooled Pearson IC ``[horizons]``."""
    pred = predictions.numpy()
    targ = targets.numpy()
    daily = np.stack([_pearson(pred[rows], targ[rows]) for rows in _day_rows(day_ids)])
    return daily, _pearson(pred, targ)


def _compute_rank_ic(
    predictions: torch.Tensor, targets: torch.Tensor, day_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Daily Spearman RankIC ``[days, horizons]`` and the pooled Spearman RankIC ``[horizons]``."""
    pred = predictions.numpy()
    targ = targets.numpy()
    daily = np.stack([_pearson(_rank(pred[rows]), _rank(targ[rows])) for rows in _day_rows(day_ids)])
    return daily, _pearson(_rank(pred), _rank(targ))


def _compute_sharpe(predictions: torch.Tensor, targets: torch.Tensor, day_ids: np.ndarray) -> float:
    """Annualised Sharpe ratio of the daily top-minus-bottom portfolio on the first (1-day) horizon."""
    pred = predictions.numpy()
    targ = targets.numpy()
    daily_returns = np.array(
        [_long_short_return(pred[rows, 0], targ[rows, 0]) for rows in _day_rows(day_ids)], dtype=np.float64
    )
    if len(daily_returns) < 2:
        return math.nan
    volatility = daily_returns.std(ddof=1)
    if volatility == 0.0:
        return math.nan
    return float(daily_returns.mean() / volatility * math.sqrt(TRADING_DAYS_PER_YEAR))


def _day_rows(day_ids: np.ndarray) -> list[np.ndarray]:
    """Row positions of every day, days ascending, rows in their original order within a day."""
    order = np.argsort(day_ids, kind="stable")
    _, starts = np.unique(day_ids[order], return_index=True)
    return np.split(order, starts[1:])


def _pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson correlation of each column of ``x`` with the same column of ``y`` (NaN for a constant column)."""
    x_centered = x.astype(np.float64) - x.mean(axis=0, dtype=np.float64)
    y_centered = y.astype(np.float64) - y.mean(axis=0, dtype=np.float64)
    covariance = (x_centered * y_centered).sum(axis=0)
    scale = np.sqrt((x_centered**2).sum(axis=0) * (y_centered**2).sum(axis=0))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(scale > 0.0, covariance / scale, np.nan)


def _rank(values: np.ndarray) -> np.ndarray:
    """Average ranks (1-based, ties share their mean rank) of each column, as float64."""
    ranks = np.empty(values.shape, dtype=np.float64)
    for column in range(values.shape[1]):
        _, inverse, counts = np.unique(values[:, column], return_inverse=True, return_counts=True)
        ends = np.cumsum(counts)
        ranks[:, column] = ((ends - counts + 1 + ends) / 2.0)[inverse]
    return ranks


def _long_short_return(pred: np.ndarray, target: np.ndarray) -> float:
    """Equal-weight return of the top fraction minus the bottom fraction of one day's predictions."""
    n_leg = max(1, int(len(pred) * LONG_SHORT_FRACTION))
    order = np.argsort(pred, kind="stable")
    return float(target[order[-n_leg:]].mean() - target[order[:n_leg]].mean())


def _mean(daily: np.ndarray) -> float:
    """Mean over the days with a defined value (NaN when none)."""
    valid = daily[~np.isnan(daily)]
    return float(valid.mean()) if len(valid) else math.nan


def _information_ratio(daily: np.ndarray) -> float:
    """``mean / std`` (ddof 1) over the days with a defined value (NaN when fewer than two or no spread)."""
    valid = daily[~np.isnan(daily)]
    if len(valid) < 2 or valid.std(ddof=1) == 0.0:
        return math.nan
    return float(valid.mean() / valid.std(ddof=1))
