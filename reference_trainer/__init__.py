"""A small, deterministic model of a Japanese-equities training pipeline.

The package generates a synthetic daily panel (no downloads), trains "ATFT-lite" (feature gating, LSTM,
a cross-sectional graph attention over each day's stocks, quantile heads) with one batch per trading day,
and validates it by IC / RankIC / ICIR / Sharpe.  It deliberately carries the seed report's four mistakes
(plus a loss accumulation) so that perflint's fixes can be applied to a copy and the metrics compared bit
for bit; see ``TRAINER.md``.  It imports nothing from ``perflint``.
"""

from reference_trainer.config import MODES, ModeConfig

__all__ = ["MODES", "ModeConfig"]
