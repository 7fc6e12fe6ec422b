"""PFL201: code maps built with an ``iterrows()`` dict comprehension vs ``dict(zip(map(str, ...tolist()), ...))``.

Builds the reference trainer's listed-info table (string columns, one row per code) and times both forms,
interleaved, checking that they give equal dicts with the same key order.

Usage: ``python benchmarks/bench_code_maps.py [--rows 3973] [--repeats 15]``
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from benchutil import interleaved, median, summary_row, table

from reference_trainer.data import make_codes, make_listed_info


def maps_iterrows(listed_info: pd.DataFrame) -> tuple[dict[str, str], dict[str, str]]:
    """The trainer's form (before)."""
    code2market = {str(row["Code"]): str(row["MarketCode"]) for _, row in listed_info.iterrows()}
    code2sector = {str(row["Code"]): str(row["Sector33Code"]) for _, row in listed_info.iterrows()}
    return code2market, code2sector


def maps_zip(listed_info: pd.DataFrame) -> tuple[dict[str, str], dict[str, str]]:
    """perflint's PFL201 rewrite (after)."""
    code2market = dict(zip(map(str, listed_info["Code"].tolist()), map(str, listed_info["MarketCode"].tolist())))
    code2sector = dict(zip(map(str, listed_info["Code"].tolist()), map(str, listed_info["Sector33Code"].tolist())))
    return code2market, code2sector


def main() -> None:
    """Time both forms and print medians and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3973, help="listed codes (default: 3973, the seed's universe)")
    parser.add_argument("--repeats", type=int, default=15, help="timed runs of each form (default: 15)")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    listed_info = make_listed_info(make_codes(args.rows, rng), rng)
    before, after = maps_iterrows(listed_info), maps_zip(listed_info)
    identical = all(list(b.items()) == list(a.items()) for b, a in zip(before, after))
    seconds = interleaved(
        {"iterrows": lambda: maps_iterrows(listed_info), "zip": lambda: maps_zip(listed_info)}, args.repeats
    )
    before_s, after_s = median(seconds["iterrows"]), median(seconds["zip"])
    print(f"pandas {pd.__version__}, {args.rows} rows, dtypes {dict(listed_info.dtypes.astype(str))}")
    print(f"{args.repeats} interleaved runs each; both maps per run; identical result: {identical}")
    rows = [
        summary_row("iterrows dict comprehension", seconds["iterrows"]),
        summary_row("dict(zip(map(str, .tolist())))", seconds["zip"]),
    ]
    print(table(["form", "median ms", "min ms", "max ms"], rows))
    print(f"speed-up (median before / median after): {before_s / after_s:.1f}x")


if __name__ == "__main__":
    main()
