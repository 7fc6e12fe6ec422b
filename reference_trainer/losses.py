"""The training objective: pinball loss per horizon plus a per-day correlation penalty."""

from __future__ import annotations

import torch
from torch import nn


class QuantileCorrelationLoss(nn.Module):
    """Mean pinball loss over horizons and quantiles, plus ``corr_weight * (1 - mean daily correlation)``.

    A batch is one day, so the correlation term is the day's cross-sectional Pearson correlation between the
    median prediction and the target, averaged over horizons.

    Args:
        quantiles: the quantiles every head predicts (must contain 0.5).
        corr_weight: weight of the correlation penalty.
    """

    quantiles: torch.Tensor  # a buffer, registered in __init__

    def __init__(self, quantiles: tuple[float, ...], corr_weight: float) -> None:
        super().__init__()
        self.register_buffer("quantiles", torch.tensor(quantiles, dtype=torch.float32))
        self.median_index = quantiles.index(0.5)
        self.corr_weight = corr_weight

    def forward(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Loss of ``outputs`` ``[B, horizons, quantiles]`` against ``targets`` ``[B, horizons]``."""
        penalty = 1.0 - _column_correlation(outputs[:, :, self.median_index], targets).mean()
        return pinball_loss(outputs, targets, self.quantiles) + self.corr_weight * penalty


def pinball_loss(outputs: torch.Tensor, targets: torch.Tensor, quantiles: torch.Tensor) -> torch.Tensor:
    """Mean quantile (pinball) loss of ``outputs`` ``[B, H, Q]`` against ``targets`` ``[B, H]``."""
    error = targets.unsqueeze(-1) - outputs
    return torch.maximum(quantiles * error, (quantiles - 1.0) * error).mean()


def _column_correlation(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Pearson correlation of each column of ``x`` with the same column of ``y``, both ``[B, H]``."""
    x_centered = x - x.mean(dim=0, keepdim=True)
    y_centered = y - y.mean(dim=0, keepdim=True)
    covariance = (x_centered * y_centered).sum(dim=0)
    scale = (x_centered.square().sum(dim=0) * y_centered.square().sum(dim=0)).sqrt().clamp_min(1e-12)
    return covariance / scale
