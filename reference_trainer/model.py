"""ATFT-lite: feature gating -> LSTM -> cross-sectional graph attention -> gated fusion -> quantile heads."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

N_EDGE_FEATURES = 3
"""Edge features: trailing-return correlation, same market, same sector."""


@dataclass(frozen=True)
class DayGraph:
    """The graph over one day's stocks.

    Attributes:
        mask: ``[B, B]`` bool, ``True`` where stock ``i`` may attend to stock ``j`` (its k nearest by
            correlation, itself included).
        edge_features: ``[B, B, 3]`` float32: correlation, same market, same sector.
    """

    mask: torch.Tensor
    edge_features: torch.Tensor


def build_day_graph(
    trailing_returns: torch.Tensor, market: torch.Tensor, sector: torch.Tensor, k_neighbors: int
) -> DayGraph:
    """Build the kNN graph of one day from the stocks' trailing returns and their market / sector ids.

    Args:
        trailing_returns: ``[B, L]`` returns of the lookback window (known at the sample day).
        market: ``[B]`` market id of each stock.
        sector: ``[B]`` sector id of each stock.
        k_neighbors: neighbours per stock, itself included (capped at ``B``).

    Returns:
        The day's graph, on the inputs' device.
    """
    centered = trailing_returns - trailing_returns.mean(dim=1, keepdim=True)
    normalised = centered / centered.norm(dim=1, keepdim=True).clamp_min(1e-8)
    correlation = normalised @ normalised.T
    k = min(k_neighbors, correlation.shape[0])
    kth_largest = correlation.topk(k, dim=1).values[:, -1:]
    eye = torch.eye(correlation.shape[0], dtype=torch.bool, device=correlation.device)
    mask = (correlation >= kth_largest) | eye
    same_market = (market[:, None] == market[None, :]).to(correlation.dtype)
    same_sector = (sector[:, None] == sector[None, :]).to(correlation.dtype)
    return DayGraph(mask=mask, edge_features=torch.stack([correlation, same_market, same_sector], dim=-1))


class FeatureGate(nn.Module):
    """Per-step feature gating: each step's features are scaled by a sigmoid gate computed from that step."""

    def __init__(self, n_features: int) -> None:
        super().__init__()
        self.gate = nn.Linear(n_features, n_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Gate ``x`` of shape ``[B, L, F]``."""
        return x * torch.sigmoid(self.gate(x))


class GraphAttention(nn.Module):
    """Dense masked multi-head attention across one day's stocks, biased by the edge features."""

    def __init__(self, hidden_size: int, heads: int) -> None:
        super().__init__()
        if hidden_size % heads:
            raise ValueError(f"hidden_size {hidden_size} is not a multiple of heads {heads}")
        self.heads = heads
        self.head_size = hidden_size // heads
        self.query = nn.Linear(hidden_size, hidden_size)
        self.key = nn.Linear(hidden_size, hidden_size)
        self.value = nn.Linear(hidden_size, hidden_size)
        self.edge_bias = nn.Linear(N_EDGE_FEATURES, heads)
        self.output = nn.Linear(hidden_size, hidden_size)

    def forward(self, node: torch.Tensor, graph: DayGraph) -> torch.Tensor:
        """Attend from every stock to its neighbours; ``node`` is ``[B, H]``, the result too."""
        n_nodes = node.shape[0]
        query = self._split_heads(self.query(node))
        key = self._split_heads(self.key(node))
        value = self._split_heads(self.value(node))
        scores = query @ key.transpose(1, 2) / math.sqrt(self.head_size)
        scores = scores + self.edge_bias(graph.edge_features).permute(2, 0, 1)
        scores = scores.masked_fill(~graph.mask, float("-inf"))
        attended = torch.softmax(scores, dim=-1) @ value
        return self.output(attended.transpose(0, 1).reshape(n_nodes, -1))

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, H]`` -> ``[heads, B, H / heads]``."""
        return x.view(x.shape[0], self.heads, self.head_size).transpose(0, 1)


class ATFTLite(nn.Module):
    """The temporal-plus-graph model: one quantile head per horizon.

    Args:
        n_features: input features per step.
        hidden_size: width of every hidden layer.
        heads: attention heads of the graph layer.
        n_horizons: number of forecast horizons.
        n_quantiles: quantiles per horizon.
    """

    def __init__(self, n_features: int, hidden_size: int, heads: int, n_horizons: int, n_quantiles: int) -> None:
        super().__init__()
        self.feature_gate = FeatureGate(n_features)
        self.input_projection = nn.Linear(n_features, hidden_size)
        self.lstm = nn.LSTM(hidden_size, hidden_size, batch_first=True)
        self.graph_attention = GraphAttention(hidden_size, heads)
        self.fusion_gate = nn.Linear(2 * hidden_size, hidden_size)
        self.norm = nn.LayerNorm(hidden_size)
        self.heads = nn.ModuleList(nn.Linear(hidden_size, n_quantiles) for _ in range(n_horizons))

    def forward(self, x: torch.Tensor, graph: DayGraph) -> torch.Tensor:
        """Predict ``[B, horizons, quantiles]`` from windows ``x`` of shape ``[B, L, F]`` and the day's graph."""
        sequence, _ = self.lstm(self.input_projection(self.feature_gate(x)))
        temporal = sequence[:, -1]
        relational = self.graph_attention(temporal, graph)
        gate = torch.sigmoid(self.fusion_gate(torch.cat([temporal, relational], dim=-1)))
        fused = self.norm(gate * temporal + (1.0 - gate) * relational)
        return torch.stack([head(fused) for head in self.heads], dim=1)
