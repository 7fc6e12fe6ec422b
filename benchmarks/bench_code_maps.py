"""PFL201 / PFL205: code maps and code lists built with ``iterrows()`` comprehensions vs whole-column reads.

Builds the reference trainer's listed-info table (string columns, one row per code) and times, interleaved:
the dict comprehension vs ``dict(zip(map(str, ...tolist()), ...))`` (PFL201), the seed pipeline's spelling
(labels in variables, a column subset) vs its fix, and a list of ``(code, market)`` tuples vs
``list(zip(X[a].tolist(), X[b].tolist()))`` (PFL205), checking that each pair gives equal results.

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


def seed_spelling(listed_info: pd.DataFrame, code_col: str = "Code", m_use: str = "MarketCode") -> dict[str, str]:
    """The seed pipeline's own spelling (before)."""
    return {str(r[code_col]): str(r[m_use]) for _, r in listed_info[[code_col, m_use]].iterrows()}


def seed_spelling_fixed(listed_info: pd.DataFrame, code_col: str = "Code", m_use: str = "MarketCode") -> dict[str, str]:
    """perflint's fix of it (after): the subset is dropped, the labels stay in their variables."""
    return dict(zip(map(str, listed_info[code_col].tolist()), map(str, listed_info[m_use].tolist())))


def pairs_iterrows(listed_info: pd.DataFrame) -> list[tuple[str, str]]:
    """A list of tuples read row by row (PFL205's before)."""
    return [(row["Code"], row["MarketCode"]) for _, row in listed_info.iterrows()]


def pairs_zip(listed_info: pd.DataFrame) -> list[tuple[str, str]]:
    """PFL205's rewrite (after)."""
    return list(zip(listed_info["Code"].tolist(), listed_info["MarketCode"].tolist()))


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
    identical = identical and seed_spelling(listed_info) == seed_spelling_fixed(listed_info)
    identical = identical and pairs_iterrows(listed_info) == pairs_zip(listed_info)
    seconds = interleaved(
        {
            "iterrows": lambda: maps_iterrows(listed_info),
            "zip": lambda: maps_zip(listed_info),
            "seed": lambda: seed_spelling(listed_info),
            "seed_fixed": lambda: seed_spelling_fixed(listed_info),
            "pairs": lambda: pairs_iterrows(listed_info),
            "pairs_zip": lambda: pairs_zip(listed_info),
        },
        args.repeats,
    )
    before_s, after_s = median(seconds["iterrows"]), median(seconds["zip"])
    print(f"pandas {pd.__version__}, {args.rows} rows, dtypes {dict(listed_info.dtypes.astype(str))}")
    print(f"{args.repeats} interleaved runs each; both maps per run; identical result: {identical}")
    rows = [
        summary_row("iterrows dict comprehension", seconds["iterrows"]),
        summary_row("dict(zip(map(str, .tolist())))", seconds["zip"]),
        summary_row("seed spelling: X[[a, b]].iterrows()", seconds["seed"]),
        summary_row("seed spelling fixed", seconds["seed_fixed"]),
        summary_row("list of tuples, iterrows (PFL205)", seconds["pairs"]),
        summary_row("list(zip(.tolist(), .tolist()))", seconds["pairs_zip"]),
    ]
    print(table(["form", "median ms", "min ms", "max ms"], rows))
    print(f"speed-up (median before / median after): {before_s / after_s:.1f}x")
    print(f"seed spelling speed-up: {median(seconds['seed']) / median(seconds['seed_fixed']):.1f}x")
    print(f"PFL205 list speed-up: {median(seconds['pairs']) / median(seconds['pairs_zip']):.1f}x")


if __name__ == "__main__":
    main()
