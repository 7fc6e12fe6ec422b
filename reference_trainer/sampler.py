"""One batch per trading day: the DayBatchSampler.

The graph layer attends across the stocks of one day, so a batch is exactly one day's samples.  Shuffling is
deterministic: the day order is drawn from ``(seed, epoch)`` and the order within a day from
``(seed, epoch, day position)``, with numpy's ``Generator`` (never ``hash(date)``, which changes between
processes for string keys).  Days are numbered by order of first appearance in the sample table, so nothing
depends on the Python type of the date keys.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

import numpy as np
import pandas as pd


class DayBatchSampler:
    """Yield the sample positions of one day per batch.

    Args:
        data: the sample table; positions are row positions (0 … ``len(data) - 1``), grouped by ``data["Date"]``.
        shuffle: shuffle the day order and the positions within each day (training); otherwise days come in
            order of first appearance and positions ascending (validation).
        seed: base seed of the shuffle.
        sequence_dates: the fast path: the samples' dates as an array aligned with ``data``; when given, the
            grouping is vectorised instead of reading ``data["Date"]`` row by row.  Off by default.
    """

    def __init__(
        self,
        data: pd.DataFrame,
        *,
        shuffle: bool,
        seed: int = 0,
        sequence_dates: np.ndarray | None = None,
    ) -> None:
        if sequence_dates is not None:
            self._day_groups = group_positions_fast(sequence_dates)
        else:
            self._day_groups = group_positions_by_date(data)
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose shuffle the next iteration draws."""
        self.epoch = epoch

    def __len__(self) -> int:
        """Number of batches (days) per epoch."""
        return len(self._day_groups)

    def __iter__(self) -> Iterator[np.ndarray]:
        """Yield one int64 array of sample positions per day."""
        if not self.shuffle:
            yield from self._day_groups
            return
        day_order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self._day_groups))
        for day_position in day_order.tolist():
            positions = self._day_groups[day_position]
            within_day = np.random.default_rng([self.seed, self.epoch, day_position]).permutation(len(positions))
            yield positions[within_day]


def group_positions_by_date(data: pd.DataFrame) -> list[np.ndarray]:
    """Group the row positions of ``data`` by its ``Date`` column, days in order of first appearance.

    Args:
        data: a frame with a ``Date`` column.

    Returns:
        One ascending int64 array of row positions per date.
    """
    date_indices = defaultdict(list)
    for idx, date in enumerate(data["Date"]):
        date_indices[date].append(idx)
    return [np.asarray(positions, dtype=np.int64) for positions in date_indices.values()]


def group_positions_fast(sequence_dates: np.ndarray) -> list[np.ndarray]:
    """Vectorised :func:`group_positions_by_date` over an array of dates (same groups, same order).

    Args:
        sequence_dates: one date per sample.

    Returns:
        One ascending int64 array of positions per date, dates in order of first appearance.
    """
    day_codes, _ = pd.factorize(sequence_dates, sort=False)
    order = np.argsort(day_codes, kind="stable")
    boundaries = np.cumsum(np.bincount(day_codes))[:-1]
    return [group.astype(np.int64) for group in np.split(order, boundaries)]
