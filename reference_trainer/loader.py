"""Gather one day's windows per batch from the ``[stocks, days, features]`` panel (never every window at once)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from reference_trainer.data import Panel
from reference_trainer.model import DayGraph, build_day_graph
from reference_trainer.sampler import DayBatchSampler


@dataclass(frozen=True)
class PanelTensors:
    """The panel as the loader needs it: inputs on the compute device, targets on the CPU.

    Attributes:
        features: ``[stocks, days, features]`` on the device.
        returns: ``[stocks, days]`` on the device (for the graph's correlations).
        market: ``[stocks]`` market ids on the device.
        sector: ``[stocks]`` sector ids on the device.
        targets: ``[stocks, days, horizons]`` on the CPU: the metrics are computed on the host.
    """

    features: torch.Tensor
    returns: torch.Tensor
    market: torch.Tensor
    sector: torch.Tensor
    targets: torch.Tensor

    @classmethod
    def from_panel(
        cls, panel: Panel, market_ids: np.ndarray, sector_ids: np.ndarray, device: torch.device
    ) -> PanelTensors:
        """Move the model's inputs to ``device``; keep the targets on the CPU."""
        return cls(
            features=panel.features.to(device),
            returns=panel.returns.to(device),
            market=torch.from_numpy(market_ids).to(device),
            sector=torch.from_numpy(sector_ids).to(device),
            targets=panel.targets,
        )


@dataclass(frozen=True)
class DayBatch:
    """One day's samples.

    Attributes:
        x: ``[B, L, F]`` windows on the device.
        graph: the day's stock graph on the device.
        targets: ``[B, horizons]`` forward returns on the CPU.
        day_ids: ``[B]`` day index of every sample (all equal).
    """

    x: torch.Tensor
    graph: DayGraph
    targets: torch.Tensor
    day_ids: np.ndarray


class DayBatchLoader:
    """Turn the sampler's per-day positions into :class:`DayBatch` values.

    Args:
        tensors: the panel's tensors.
        samples: the sample table the sampler was built on (``stock_idx`` and ``day_idx`` columns).
        sampler: yields the positions of one day per batch.
        lookback: window length in days.
        k_neighbors: neighbours per stock in the day's graph.
    """

    def __init__(
        self, tensors: PanelTensors, samples: pd.DataFrame, sampler: DayBatchSampler, lookback: int, k_neighbors: int
    ) -> None:
        self.tensors = tensors
        self.sampler = sampler
        self.lookback = lookback
        self.k_neighbors = k_neighbors
        self._stock_idx = samples["stock_idx"].to_numpy(dtype=np.int64)
        self._day_idx = samples["day_idx"].to_numpy(dtype=np.int64)

    def __len__(self) -> int:
        """Number of batches per epoch."""
        return len(self.sampler)

    def __iter__(self) -> Iterator[DayBatch]:
        """Yield the batches in the sampler's order."""
        for positions in self.sampler:
            yield self._gather(positions)

    def _gather(self, positions: np.ndarray) -> DayBatch:
        """Gather the windows, graph and targets of one day's sample positions."""
        day = int(self._day_idx[positions[0]])
        stock_cpu = torch.from_numpy(self._stock_idx[positions])
        stock = stock_cpu.to(self.tensors.features.device)
        window = slice(day - self.lookback + 1, day + 1)
        graph = build_day_graph(
            self.tensors.returns[stock, window],
            self.tensors.market[stock],
            self.tensors.sector[stock],
            self.k_neighbors,
        )
        return DayBatch(
            x=self.tensors.features[stock, window],
            graph=graph,
            targets=self.tensors.targets[stock_cpu, day],
            day_ids=np.full(len(positions), day, dtype=np.int64),
        )
