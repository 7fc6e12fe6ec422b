"""PFL202: grouping row positions by date with ``enumerate`` + ``defaultdict(list).append`` vs ``groupby().indices``
(built at once, and the extend-per-key form used where the dict was created earlier).

The sample table is built as the reference trainer builds it (3,973 stocks, rows ordered by stock then day, so a
day's rows are scattered), with datetime, str and int keys.  Both forms run interleaved on the same column; the
results are checked equal (same keys in the same order, same positions).

Usage: ``python benchmarks/bench_date_grouping.py [--rows 5000000 10600000] [--keys datetime str int]
[--repeats 3]``
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np
import pandas as pd
from benchutil import interleaved, median, table

N_STOCKS = 3973


def group_loop(data: pd.DataFrame) -> defaultdict:
    """The trainer's DataFrame fallback (before)."""
    date_indices = defaultdict(list)
    for idx, date in enumerate(data["Date"]):
        date_indices[date].append(idx)
    return date_indices


def group_readable(data: pd.DataFrame) -> defaultdict:
    """perflint's PFL202 rewrite (after)."""
    s = data["Date"]
    return defaultdict(
        list, {k: v.tolist() for k, v in s.groupby(s, sort=False, dropna=False, observed=True).indices.items()}
    )


def group_extend(data: pd.DataFrame) -> defaultdict:
    """perflint's PFL202 rewrite where the dict was created earlier (after): one extend per key."""
    date_indices = defaultdict(list)
    s = data["Date"]
    for date, positions in s.groupby(s, sort=False, dropna=False, observed=True).indices.items():
        date_indices[date].extend(positions.tolist())
    return date_indices


def sample_table(n_rows: int, key: str) -> pd.DataFrame:
    """``n_rows`` samples of 3,973 stocks ordered by stock then day, keyed by ``key`` (datetime, str or int)."""
    n_days = -(-n_rows // N_STOCKS)
    day_idx = np.tile(np.arange(n_days), N_STOCKS)[:n_rows]
    dates = pd.bdate_range("2015-01-05", periods=n_days)
    if key == "datetime":
        column = dates[day_idx]
    elif key == "str":
        column = dates.strftime("%Y-%m-%d")[day_idx]
    else:
        column = day_idx
    return pd.DataFrame({"Date": column})


def same_groups(before: dict, after: dict) -> bool:
    """Same keys (by equality) in the same order, with the same positions."""
    return list(before) == list(after) and all(before[k] == after[k] for k in before)


def main() -> None:
    """Time both forms for every size and key type; print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[5_000_000, 10_600_000], help="table sizes")
    parser.add_argument("--keys", nargs="+", default=["datetime", "str", "int"], choices=["datetime", "str", "int"])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each form (default: 3)")
    args = parser.parse_args()

    print(f"pandas {pd.__version__}, numpy {np.__version__}; {args.repeats} interleaved runs of each form")
    rows = []
    for n_rows in args.rows:
        for key in args.keys:
            data = sample_table(n_rows, key)
            loop = group_loop(data)
            identical = same_groups(loop, group_readable(data)) and same_groups(loop, group_extend(data))
            candidates = {
                "loop": lambda: group_loop(data),
                "groupby": lambda: group_readable(data),
                "extend": lambda: group_extend(data),
            }
            seconds = interleaved(candidates, args.repeats)
            before, after, extend = median(seconds["loop"]), median(seconds["groupby"]), median(seconds["extend"])
            label = f"{n_rows:,} {key} ({data['Date'].dtype})"
            rows.append([label, before, after, before / after, extend, before / extend, identical])
            print(
                f"{label}: loop {before:.3f} s, groupby {after:.3f} s ({before / after:.1f}x), "
                f"extend {extend:.3f} s ({before / extend:.1f}x)",
                flush=True,
            )
    headers = ["rows / key", "loop median s", "groupby median s", "speed-up", "extend median s", "speed-up", "identical"]
    print(table(headers, rows))


if __name__ == "__main__":
    main()
