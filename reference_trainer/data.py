"""Synthetic daily panel, listed-info table, code maps and the per-sample table.

Everything is generated from one seed with numpy's ``Generator``; nothing is downloaded.  The panel is held
as ``[stocks, days, features]`` float32 and windows are gathered per batch (see :mod:`reference_trainer.loader`),
never materialised for every sample.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from reference_trainer.config import HORIZONS, ModeConfig

MARKET_CODES: tuple[str, ...] = ("0111", "0112", "0113")
"""TSE Prime, Standard and Growth, as J-Quants writes them."""

SECTOR33_CODES: tuple[str, ...] = (
    "0050", "1050", "2050", "3050", "3100", "3150", "3200", "3250", "3300", "3350", "3400",
    "3450", "3500", "3550", "3600", "3650", "3700", "3750", "3800", "4050", "5050", "5100",
    "5150", "5200", "5250", "6050", "6100", "7050", "7100", "7150", "7200", "8050", "9050",
)  # fmt: skip
"""The 33 TSE sector codes."""

_NEW_CODE_LETTERS = "ACEFGHJKLMNPRSTUWXY"
_N_LATENTS = 4
_LATENT_PERSISTENCE = np.array([0.80, 0.90, 0.95, 0.97])
_SIGNAL_STRENGTH = 0.002
_FEATURE_NOISE = 1.5
_START_DATE = "2015-01-05"


@dataclass(frozen=True)
class Panel:
    """One synthetic market: stocks x business days.

    Attributes:
        dates: the business-day calendar, one entry per day.
        codes: the stocks' 5-character codes; stock ``i`` of every tensor is ``codes[i]``.
        listed_info: one row per code with string columns ``Code``, ``MarketCode``, ``Sector33Code``.
        features: ``[stocks, days, features]`` float32, z-scored across stocks each day.
        returns: ``[stocks, days]`` float32 daily returns (day 0 is zero).
        targets: ``[stocks, days, horizons]`` float32 forward returns, NaN where the horizon runs past the end.
        feature_names: one ``*_cs_z`` name per feature.
    """

    dates: pd.DatetimeIndex
    codes: tuple[str, ...]
    listed_info: pd.DataFrame
    features: torch.Tensor
    returns: torch.Tensor
    targets: torch.Tensor
    feature_names: tuple[str, ...]


@dataclass(frozen=True)
class SampleSplit:
    """The per-sample tables of the training and validation periods.

    Each table has one row per valid (stock, day) sample, ordered by stock then day, with columns
    ``Date`` (datetime64), ``stock_idx`` and ``day_idx``.
    """

    train: pd.DataFrame
    val: pd.DataFrame


def make_codes(n_stocks: int, rng: np.random.Generator) -> tuple[str, ...]:
    """Draw ``n_stocks`` distinct J-Quants-style codes, about 1 % of them new alphanumeric ones (``"130A0"``).

    Args:
        n_stocks: how many codes.
        rng: the generator to draw from.

    Returns:
        The codes, sorted.
    """
    n_new = max(1, round(0.01 * n_stocks))
    numeric = rng.choice(np.arange(1300, 10000), size=n_stocks - n_new, replace=False)
    prefixes = rng.choice(np.arange(130, 1000), size=n_new, replace=False)
    letters = rng.choice(list(_NEW_CODE_LETTERS), size=n_new)
    codes = [f"{number}0" for number in numeric.tolist()]
    codes += [f"{prefix}{letter}0" for prefix, letter in zip(prefixes.tolist(), letters.tolist())]
    return tuple(sorted(codes))


def make_listed_info(codes: tuple[str, ...], rng: np.random.Generator) -> pd.DataFrame:
    """Build the listed-info table: one row per code, every column stored as strings.

    Args:
        codes: the stock codes.
        rng: the generator to draw markets and sectors from.

    Returns:
        A frame with string columns ``Code``, ``MarketCode`` (one of :data:`MARKET_CODES`) and
        ``Sector33Code`` (one of :data:`SECTOR33_CODES`).
    """
    markets = rng.choice(MARKET_CODES, size=len(codes), p=[0.45, 0.40, 0.15])
    sector_weights = rng.dirichlet(np.full(len(SECTOR33_CODES), 2.0))
    sectors = rng.choice(SECTOR33_CODES, size=len(codes), p=sector_weights)
    return pd.DataFrame(
        {"Code": list(codes), "MarketCode": markets.tolist(), "Sector33Code": sectors.tolist()}, dtype=str
    )


def write_listed_info_csv(listed_info: pd.DataFrame, path: Path) -> Path:
    """Write a CSV copy of the listed-info table.

    Reading it back with a bare ``pd.read_csv(path)`` turns ``"0111"`` into ``111`` and ``"0050"`` into ``50``
    (leading zeros lost); :func:`read_listed_info_csv` reads it with ``dtype=str``.
    """
    listed_info.to_csv(path, index=False)
    return path


def read_listed_info_csv(path: Path) -> pd.DataFrame:
    """Read a listed-info CSV keeping every column as strings (leading zeros intact)."""
    return pd.read_csv(path, dtype=str)


def write_listed_info_parquet(listed_info: pd.DataFrame, path: Path) -> Path | None:
    """Write the listed-info table as parquet when pyarrow is importable; return ``None`` otherwise."""
    if importlib.util.find_spec("pyarrow") is None:
        return None
    listed_info.to_parquet(path, index=False)
    return path


def build_code_maps(listed_info: pd.DataFrame) -> tuple[dict[str, str], dict[str, str]]:
    """Map every code to its market code and to its 33-sector code.

    The maps feed the graph's same-market / same-sector edge features.

    Args:
        listed_info: the listed-info table (string columns).

    Returns:
        ``(code2market, code2sector)``.
    """
    code2market = {str(row["Code"]): str(row["MarketCode"]) for _, row in listed_info.iterrows()}
    code2sector = {str(row["Code"]): str(row["Sector33Code"]) for _, row in listed_info.iterrows()}
    return code2market, code2sector


def group_ids(codes: tuple[str, ...], code2group: dict[str, str]) -> np.ndarray:
    """Turn each code's group label into a small integer (labels numbered in sorted order)."""
    labels = np.array([code2group[code] for code in codes])
    return np.unique(labels, return_inverse=True)[1].astype(np.int64)


def simulate_panel(config: ModeConfig, seed: int) -> Panel:
    """Simulate the whole panel from one seed.

    Returns are ``beta * market + sector factor + signal + noise``, where the signal is a fixed mixture of
    AR(1) latents observed the day before; features are noisy mixtures of the same latents plus pure-noise
    columns, z-scored across stocks each day.

    Args:
        config: the run's sizes.
        seed: the only source of randomness.

    Returns:
        The panel.
    """
    rng = np.random.default_rng(seed)
    codes = make_codes(config.n_stocks, rng)
    listed_info = make_listed_info(codes, rng)
    sector = np.unique(listed_info["Sector33Code"].to_numpy(), return_inverse=True)[1]
    latents = _simulate_latents(config.n_stocks, config.n_days, rng)
    returns = _simulate_returns(latents, sector, rng)
    features = _simulate_features(latents, config.n_features, rng)
    dates = pd.bdate_range(_START_DATE, periods=config.n_days)
    return Panel(
        dates=dates,
        codes=codes,
        listed_info=listed_info,
        features=torch.from_numpy(features),
        returns=torch.from_numpy(returns),
        targets=torch.from_numpy(_forward_returns(returns, HORIZONS)),
        feature_names=tuple(f"feat{j:02d}_cs_z" for j in range(config.n_features)),
    )


def _simulate_latents(n_stocks: int, n_days: int, rng: np.random.Generator) -> np.ndarray:
    """AR(1) latents with unit stationary variance, ``[stocks, days, latents]`` float32."""
    phi = _LATENT_PERSISTENCE.astype(np.float32)
    innovation_scale = np.sqrt(1.0 - phi**2).astype(np.float32)
    latents = np.empty((n_stocks, n_days, _N_LATENTS), dtype=np.float32)
    latents[:, 0] = rng.standard_normal((n_stocks, _N_LATENTS), dtype=np.float32)
    for day in range(1, n_days):
        shock = rng.standard_normal((n_stocks, _N_LATENTS), dtype=np.float32)
        latents[:, day] = phi * latents[:, day - 1] + innovation_scale * shock
    return latents


def _simulate_returns(latents: np.ndarray, sector: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Daily returns ``[stocks, days]`` float32; the signal of day ``t - 1`` drives the return of day ``t``."""
    n_stocks, n_days, n_latents = latents.shape
    beta = rng.uniform(0.5, 1.5, size=(n_stocks, 1))
    market = rng.normal(0.0003, 0.010, size=(1, n_days))
    sector_factor = rng.normal(0.0, 0.006, size=(len(SECTOR33_CODES), n_days))
    volatility = rng.uniform(0.015, 0.030, size=(n_stocks, 1))
    mixing = rng.dirichlet(np.ones(n_latents))
    signal = (latents @ mixing.astype(np.float32)) / np.sqrt(np.sum(mixing**2))
    idiosyncratic = volatility * rng.standard_normal((n_stocks, n_days))
    returns = beta * market + sector_factor[sector] + idiosyncratic
    returns[:, 1:] += _SIGNAL_STRENGTH * signal[:, :-1]
    returns[:, 0] = 0.0
    return returns.astype(np.float32)


def _simulate_features(latents: np.ndarray, n_features: int, rng: np.random.Generator) -> np.ndarray:
    """Features ``[stocks, days, features]`` float32, z-scored across stocks each day."""
    n_stocks, n_days, n_latents = latents.shape
    n_informative = n_features // 2
    mixing = rng.standard_normal((n_latents, n_informative)).astype(np.float32)
    mixing /= np.linalg.norm(mixing, axis=0, keepdims=True)
    features = np.empty((n_stocks, n_days, n_features), dtype=np.float32)
    noise = rng.standard_normal((n_stocks, n_days, n_informative), dtype=np.float32)
    features[:, :, :n_informative] = latents @ mixing + _FEATURE_NOISE * noise
    pure_noise_shape = (n_stocks, n_days, n_features - n_informative)
    features[:, :, n_informative:] = rng.standard_normal(pure_noise_shape, dtype=np.float32)
    return _cross_sectional_z(features)


def _cross_sectional_z(features: np.ndarray) -> np.ndarray:
    """Z-score every (day, feature) across stocks, in place; returns the same array."""
    features -= features.mean(axis=0, keepdims=True)
    features /= features.std(axis=0, keepdims=True)
    return features


def _forward_returns(returns: np.ndarray, horizons: tuple[int, ...]) -> np.ndarray:
    """Forward returns ``sum(r[t+1 : t+h+1])`` per horizon, ``[stocks, days, horizons]`` float32, NaN past the end."""
    n_stocks, n_days = returns.shape
    cumulative = np.cumsum(returns.astype(np.float64), axis=1)
    targets = np.full((n_stocks, n_days, len(horizons)), np.nan, dtype=np.float32)
    for column, horizon in enumerate(horizons):
        targets[:, : n_days - horizon, column] = cumulative[:, horizon:] - cumulative[:, :-horizon]
    return targets


def make_samples(panel: Panel, config: ModeConfig) -> SampleSplit:
    """Build the per-sample tables of the training and validation periods.

    A day is a sample day when it has a full lookback window and every horizon's target.  The first
    ``train_fraction`` of the sample days train; validation starts ``embargo`` days after the last
    training day, so no training target overlaps a validation day.
    """
    first_day = config.lookback - 1
    last_day = len(panel.dates) - 1 - max(HORIZONS)
    sample_days = np.arange(first_day, last_day + 1)
    n_train_days = int(config.train_fraction * len(sample_days))
    train_days = sample_days[:n_train_days]
    val_days = sample_days[n_train_days + config.embargo :]
    n_stocks = len(panel.codes)
    return SampleSplit(
        train=_sample_table(panel.dates, n_stocks, train_days), val=_sample_table(panel.dates, n_stocks, val_days)
    )


def _sample_table(dates: pd.DatetimeIndex, n_stocks: int, days: np.ndarray) -> pd.DataFrame:
    """One row per (stock, day), ordered by stock then day, as a sequence dataset lists its windows."""
    stock_idx = np.repeat(np.arange(n_stocks, dtype=np.int32), len(days))
    day_idx = np.tile(days.astype(np.int32), n_stocks)
    return pd.DataFrame({"Date": dates[day_idx], "stock_idx": stock_idx, "day_idx": day_idx})
