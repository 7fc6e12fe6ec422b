"""Synthetic data: codes, the listed-info table, code maps, the CSV edge case, the split and the panel."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reference_trainer.config import HORIZONS, MODES
from reference_trainer.data import (
    MARKET_CODES,
    SECTOR33_CODES,
    Panel,
    build_code_maps,
    make_codes,
    make_listed_info,
    make_samples,
    read_listed_info_csv,
    simulate_panel,
    write_listed_info_csv,
    write_listed_info_parquet,
)

CONFIG = MODES["test"]


@pytest.fixture(scope="module")
def panel() -> Panel:
    """The test-mode panel of seed 0."""
    return simulate_panel(CONFIG, seed=0)


def test_codes_look_like_j_quants_codes() -> None:
    codes = make_codes(3973, np.random.default_rng(0))
    assert len(set(codes)) == len(codes) == 3973
    assert all(re.fullmatch(r"\d{4}0|\d{3}[A-Z]0", code) for code in codes)
    alphanumeric = [code for code in codes if not code.isdigit()]
    assert 0.005 * len(codes) <= len(alphanumeric) <= 0.02 * len(codes)


def test_listed_info_is_one_string_row_per_code(panel: Panel) -> None:
    info = panel.listed_info
    assert list(info.columns) == ["Code", "MarketCode", "Sector33Code"]
    assert info["Code"].tolist() == list(panel.codes)
    assert all(pd.api.types.is_string_dtype(dtype) for dtype in info.dtypes)
    assert set(info["MarketCode"]) <= set(MARKET_CODES)
    assert set(info["Sector33Code"]) <= set(SECTOR33_CODES)
    assert len(SECTOR33_CODES) == len(set(SECTOR33_CODES)) == 33


def test_code_maps_are_correct(panel: Panel) -> None:
    code2market, code2sector = build_code_maps(panel.listed_info)
    info = panel.listed_info
    assert code2market == dict(zip(info["Code"].tolist(), info["MarketCode"].tolist()))
    assert code2sector == dict(zip(info["Code"].tolist(), info["Sector33Code"].tolist()))
    assert all(type(key) is str and type(value) is str for key, value in code2market.items())
    assert all(len(value) == 4 for value in code2sector.values())


def test_code_maps_rewrite_is_identical_on_the_string_table(panel: Panel) -> None:
    """The exact form perflint's PFL201 fix writes."""
    info = panel.listed_info
    rewritten = dict(zip(map(str, info["Code"].tolist()), map(str, info["MarketCode"].tolist())))
    assert list(rewritten.items()) == list(build_code_maps(info)[0].items())


def test_csv_copy_loses_leading_zeros_without_dtype_str(panel: Panel, tmp_path: Path) -> None:
    path = write_listed_info_csv(panel.listed_info, tmp_path / "listed_info.csv")
    lossy = pd.read_csv(path)
    assert pd.api.types.is_integer_dtype(lossy["MarketCode"])
    assert set(lossy["MarketCode"]) <= {111, 112, 113}
    assert "0050" not in set(lossy["Sector33Code"].astype(str))
    lossy_market, _ = build_code_maps(lossy)
    assert lossy_market != build_code_maps(panel.listed_info)[0]
    exact = read_listed_info_csv(path)
    assert build_code_maps(exact) == build_code_maps(panel.listed_info)


def test_csv_copy_of_all_numeric_codes_loses_the_code_strings(tmp_path: Path) -> None:
    info = make_listed_info(("13010", "72030", "99840"), np.random.default_rng(0))
    lossy = pd.read_csv(write_listed_info_csv(info, tmp_path / "numeric.csv"))
    assert pd.api.types.is_integer_dtype(lossy["Code"])


def test_panel_is_a_function_of_the_seed(panel: Panel) -> None:
    again = simulate_panel(CONFIG, seed=0)
    assert again.features.equal(panel.features)
    assert np.array_equal(again.targets.numpy(), panel.targets.numpy(), equal_nan=True)
    assert not simulate_panel(CONFIG, seed=1).features.equal(panel.features)


def test_panel_shapes_and_cross_sectional_z_scores(panel: Panel) -> None:
    shape = (CONFIG.n_stocks, CONFIG.n_days)
    assert tuple(panel.features.shape) == (*shape, CONFIG.n_features)
    assert tuple(panel.targets.shape) == (*shape, len(HORIZONS))
    assert all(name.endswith("_cs_z") for name in panel.feature_names)
    features = panel.features.numpy().astype(np.float64)
    np.testing.assert_allclose(features.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(features.std(axis=0), 1.0, atol=1e-4)


def test_targets_are_forward_returns(panel: Panel) -> None:
    returns = panel.returns.numpy().astype(np.float64)
    targets = panel.targets.numpy()
    for column, horizon in enumerate(HORIZONS):
        np.testing.assert_allclose(targets[:, 50, column], returns[:, 51 : 51 + horizon].sum(axis=1), atol=1e-6)
        assert np.isnan(targets[:, -horizon:, column]).all()
        assert not np.isnan(targets[:, : CONFIG.n_days - horizon, column]).any()


def test_split_has_an_embargo_and_complete_samples(panel: Panel) -> None:
    split = make_samples(panel, CONFIG)
    assert split.train["day_idx"].max() + CONFIG.embargo < split.val["day_idx"].min()
    assert CONFIG.embargo >= max(HORIZONS)
    for table in (split.train, split.val):
        assert list(table.columns) == ["Date", "stock_idx", "day_idx"]
        assert pd.api.types.is_datetime64_dtype(table["Date"])
        assert table["day_idx"].min() >= CONFIG.lookback - 1
        assert table["day_idx"].max() + max(HORIZONS) < CONFIG.n_days
        assert (table["Date"] == panel.dates[table["day_idx"].to_numpy()]).all()


def test_parquet_copy_is_optional(panel: Panel, tmp_path: Path) -> None:
    written = write_listed_info_parquet(panel.listed_info, tmp_path / "listed_info.parquet")
    if importlib.util.find_spec("pyarrow") is None:
        assert written is None
    else:
        assert written is not None
        assert pd.read_parquet(written).equals(panel.listed_info)
