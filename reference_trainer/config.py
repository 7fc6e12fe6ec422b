"""Run sizes and hyper-parameters for the three modes (``test``, ``smoke``, ``bench``)."""

from __future__ import annotations

from dataclasses import dataclass, replace

HORIZONS: tuple[int, ...] = (1, 5, 10, 20)
"""Forward-return horizons, in trading days, predicted by one head each."""

QUANTILES: tuple[float, ...] = (0.1, 0.25, 0.5, 0.75, 0.9)
"""Quantiles predicted by every head; the median is the point prediction used by the metrics."""


@dataclass(frozen=True)
class ModeConfig:
    """Everything that sizes one run: the synthetic panel, the model and the optimiser.

    Attributes:
        name: the mode's name, written into ``metrics.json``.
        n_stocks: number of listed codes in the panel.
        n_days: number of business days simulated (lookback and horizons eat into the sample days).
        n_features: number of features (half are noisy mixtures of the latent signal, half pure noise).
        epochs: training epochs.
        hidden_size: width of the LSTM, the graph attention and the fusion layer.
        lookback: window length, in days, of every sample.
        heads: attention heads of the graph layer.
        k_neighbors: each stock attends to its k most correlated stocks of the day (itself included).
        learning_rate: AdamW learning rate.
        weight_decay: AdamW weight decay.
        grad_clip: maximum gradient norm.
        corr_weight: weight of the per-day correlation penalty added to the pinball loss.
        train_fraction: share of the sample days used for training (before the embargo).
        embargo: days left out between the last training day and the first validation day.
        default_threads: CPU threads used when ``--threads`` is not given (``None``: torch's default).
    """

    name: str
    n_stocks: int
    n_days: int
    n_features: int
    epochs: int
    hidden_size: int
    lookback: int = 20
    heads: int = 4
    k_neighbors: int = 16
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    grad_clip: float = 1.0
    corr_weight: float = 0.05
    train_fraction: float = 0.7
    embargo: int = max(HORIZONS)
    default_threads: int | None = None

    def __post_init__(self) -> None:
        """Reject sizes that leave no validation days or an embargo shorter than the longest horizon."""
        if self.embargo < max(HORIZONS):
            raise ValueError(f"embargo {self.embargo} is shorter than the longest horizon {max(HORIZONS)}")
        if self.n_days <= self.lookback + max(HORIZONS) + self.embargo + 1:
            raise ValueError(f"{self.n_days} days leave no room for lookback, horizons and embargo")

    def with_epochs(self, epochs: int | None) -> ModeConfig:
        """Return a copy with ``epochs`` replaced (unchanged when ``epochs`` is ``None``)."""
        return self if epochs is None else replace(self, epochs=epochs)


MODES: dict[str, ModeConfig] = {
    # CPU, seconds: the mode the tests and the before/after comparisons use.
    "test": ModeConfig(
        name="test", n_stocks=128, n_days=200, n_features=16, epochs=2, hidden_size=32, default_threads=1
    ),
    # ~1,000 stocks x 500 days (~0.46 M samples): a realistic cross-section, minutes on a CPU.
    "smoke": ModeConfig(name="smoke", n_stocks=1000, n_days=500, n_features=32, epochs=3, hidden_size=64),
    # The seed's scale: 3,973 stocks, 2,707 days -> 3,973 x 2,668 = 10.6 M samples.
    "bench": ModeConfig(name="bench", n_stocks=3973, n_days=2707, n_features=32, epochs=2, hidden_size=64),
}
