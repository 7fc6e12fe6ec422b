"""Detection and fix rates of the seed patterns on labelled real sites (tests/real_sites/cases_*.py).

Per pattern, over the sites labelled before perflint ran: recall over ``fix`` + ``report`` sites, precision
over every site where perflint reported, and the share of ``fix`` sites that get a fix. ``pytest -s`` prints
the table; the thresholds are the ones issue #15 set.
"""

from __future__ import annotations

import importlib
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.real_sites.site import MARKER, Pattern, RealSite
from tests.support import lint

CASE_MODULES = sorted(path.stem for path in Path(__file__).parent.glob("cases_*.py"))
MIN_RECALL = 0.90
MIN_PRECISION = 0.97
MIN_FIX_RATE = 0.80


def _load() -> list[tuple[Pattern, tuple[RealSite, ...]]]:
    loaded = []
    for name in CASE_MODULES:
        module = importlib.import_module(f"tests.real_sites.{name}")
        loaded.append((module.PATTERN, tuple(module.CASES)))
    return loaded


PATTERNS = _load()


@dataclass(frozen=True)
class Outcome:
    reported: bool
    fixed: bool


def _outcome(pattern: Pattern, site: RealSite) -> Outcome:
    source = textwrap.dedent(site.snippet)
    site_row = next(i for i, line in enumerate(source.splitlines(), 1) if MARKER in line)
    result = lint(source, select=pattern.codes, path="site.py")
    assert not result.errors, (site.reference, result.errors)
    on_site = [v for v in result.violations if v.location.row <= site_row <= v.end_location.row]
    return Outcome(reported=bool(on_site), fixed=any(v.fix is not None for v in on_site))


@dataclass(frozen=True)
class Rates:
    recall: float
    precision: float
    fix_rate: float
    counts: str


def _rates(pattern: Pattern, sites: tuple[RealSite, ...]) -> Rates:
    outcomes = [(site, _outcome(pattern, site)) for site in sites]
    positives = [o for s, o in outcomes if s.label in ("fix", "report")]
    reported = [(s, o) for s, o in outcomes if o.reported]
    to_fix = [o for s, o in outcomes if s.label == "fix"]
    recall = sum(o.reported for o in positives) / len(positives) if positives else 1.0
    precision = sum(s.label != "none" for s, _ in reported) / len(reported) if reported else 1.0
    fix_rate = sum(o.fixed for o in to_fix) / len(to_fix) if to_fix else 1.0
    counts = f"{len(sites)} sites ({len(to_fix)} fix, {len(positives) - len(to_fix)} report, {len(sites) - len(positives)} none)"
    return Rates(recall, precision, fix_rate, counts)


def test_real_sites_exist() -> None:
    assert PATTERNS, "no tests/real_sites/cases_*.py"
    assert sum(len(sites) for _, sites in PATTERNS) >= 60


@pytest.mark.parametrize("pattern, sites", PATTERNS, ids=[p.name for p, _ in PATTERNS])
def test_rates(pattern: Pattern, sites: tuple[RealSite, ...]) -> None:
    rates = _rates(pattern, sites)
    print(
        f"\n{pattern.name}: {rates.counts}; recall {rates.recall:.2f}, precision {rates.precision:.2f}, "
        f"fix rate {rates.fix_rate:.2f}"
    )
    assert rates.recall >= MIN_RECALL
    assert rates.precision >= MIN_PRECISION
    assert rates.fix_rate >= MIN_FIX_RATE


@pytest.mark.parametrize(
    "pattern, site",
    [(p, s) for p, sites in PATTERNS for s in sites],
    ids=[s.reference for _, sites in PATTERNS for s in sites],
)
def test_site(pattern: Pattern, site: RealSite) -> None:
    """One line per site, so a regression names the site; the label is the expectation."""
    outcome = _outcome(pattern, site)
    if site.label == "none":
        assert not outcome.reported, f"{site.reference}: labelled 'none' but reported"
