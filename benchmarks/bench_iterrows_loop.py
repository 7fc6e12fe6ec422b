"""PFL203: a loop reading two columns through ``iterrows()`` vs ``itertuples()`` vs zipped ``.tolist()`` columns.

The frame has five columns (int code, float close, float factor, str market, int volume); the loop sums
``close * factor``. Interleaved timing, median of the repeats.

Usage: ``python benchmarks/bench_iterrows_loop.py [--rows 10000 100000]``
"""

from __future__ import annotations

import argparse

from benchutil import interleaved, median, table


def frame(rows: int):
    """A deterministic frame of ``rows`` rows."""
    import numpy as np
    import pandas as pd

    generator = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "Code": generator.integers(1000, 9999, rows),
            "Close": generator.random(rows) * 1000,
            "Factor": generator.random(rows) + 0.5,
            "Market": generator.choice(["0111", "0112", "0113"], rows),
            "Volume": generator.integers(0, 10**6, rows),
        }
    )


def candidates(prices) -> dict[str, object]:
    """The three loops, each returning the same sum (up to float rounding order, which is the same)."""

    def with_iterrows() -> float:
        total = 0.0
        for _, row in prices.iterrows():  # noqa: PFL203 - the pattern under measurement
            total += row["Close"] * row["Factor"]
        return total

    def with_itertuples() -> float:
        total = 0.0
        for row in prices.itertuples(index=False):
            total += row.Close * row.Factor
        return total

    def with_zip() -> float:
        total = 0.0
        for close, factor in zip(prices["Close"].tolist(), prices["Factor"].tolist()):
            total += close * factor
        return total

    return {"iterrows": with_iterrows, "itertuples": with_itertuples, "zip(.tolist())": with_zip}


def main() -> None:
    """Print one row per frame size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10000, 100000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for size in args.rows:
        loops = candidates(frame(size))
        results = {name: loop() for name, loop in loops.items()}
        assert len(set(results.values())) == 1, results
        seconds = interleaved(loops, args.repeats)
        base = median(seconds["iterrows"])
        rows.append([size, base * 1e3, *(base / median(seconds[name]) for name in ("itertuples", "zip(.tolist())"))])
    print(table(["rows", "iterrows ms", "itertuples speed-up", "zip(.tolist()) speed-up"], rows))


if __name__ == "__main__":
    main()
