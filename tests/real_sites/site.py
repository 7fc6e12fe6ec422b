"""Labelled real sites: short shapes of code found in public repositories, with what perflint should do there.

Each case is labelled *before* perflint is run on it: ``fix`` (a finding with a fix, safe or unsafe, is what a
user needs), ``report`` (a finding is right, no exact fix exists) or ``none`` (not a finding). The snippet is a
few lines in the site's shape (never a copy of more than a short, referenced excerpt); the site's line carries
the marker comment ``# <- site``.
"""

from __future__ import annotations

from dataclasses import dataclass

MARKER = "# <- site"
LABELS = ("fix", "report", "none")


@dataclass(frozen=True)
class Pattern:
    """One of the seed's four patterns, and the rule codes whose findings count for it."""

    name: str
    codes: tuple[str, ...]


@dataclass(frozen=True)
class RealSite:
    """One labelled real site and where it was found."""

    repo: str
    path: str
    commit: str
    line: int
    label: str
    snippet: str
    note: str = ""

    def __post_init__(self) -> None:
        if self.label not in LABELS:
            raise ValueError(f"{self.repo}:{self.path}: label {self.label!r} is not one of {LABELS}")
        if self.snippet.count(MARKER) != 1:
            raise ValueError(f"{self.repo}:{self.path}:{self.line}: the snippet must mark exactly one line with {MARKER!r}")

    @property
    def reference(self) -> str:
        return f"{self.repo}@{self.commit[:12]}:{self.path}:{self.line}"
