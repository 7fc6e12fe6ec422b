"""PFL301: ``for i in range(len(x) - 1)`` reading ``x[i]``, ``x[i + 1]`` vs ``zip(x, x[1:])`` vs ``pairwise(x)``.

Each loop sums ``|x[i + 1] - x[i]|`` over a list of floats, a numpy array and a pandas Series (default
RangeIndex, where the rewrite is exact). Interleaved timing, median; results are checked equal.

Usage: ``python benchmarks/bench_index_pairing.py [--size 100000]``
"""

from __future__ import annotations

import argparse
from itertools import pairwise

from benchutil import interleaved, median, table


def loops(x) -> dict[str, object]:
    """The three spellings of the same loop over ``x``."""

    def indexed() -> float:
        total = 0.0
        for i in range(len(x) - 1):  # noqa: PFL301 - the pattern under measurement
            total += abs(x[i + 1] - x[i])
        return total

    def zipped() -> float:
        total = 0.0
        for value, next_value in zip(x, x[1:]):
            total += abs(next_value - value)
        return total

    def paired() -> float:
        total = 0.0
        for value, next_value in pairwise(x):
            total += abs(next_value - value)
        return total

    return {"index": indexed, "zip": zipped, "pairwise": paired}


def main() -> None:
    """Print one row per container."""
    import numpy as np
    import pandas as pd

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    values = np.random.default_rng(0).random(args.size)
    containers = {"list": values.tolist(), "ndarray": values, "Series": pd.Series(values)}
    rows = []
    for label, container in containers.items():
        candidates = loops(container)
        results = {name: loop() for name, loop in candidates.items()}
        assert len(set(results.values())) == 1, results
        seconds = interleaved(candidates, args.repeats)
        base = median(seconds["index"])
        rows.append([label, base * 1e3, base / median(seconds["zip"]), base / median(seconds["pairwise"])])
    print(table(["container", "index loop ms", "zip speed-up", "pairwise speed-up"], rows))


if __name__ == "__main__":
    main()
