"""``# noqa`` comments: which codes are suppressed on which line, read as ruff reads them.

As in ruff, a ``# noqa: CODE`` names full rule codes: ``# noqa: PFL1`` suppresses nothing (ruff declined
flake8's prefix matching, astral-sh/ruff#2818; prefixes are for ``select`` / ``ignore``), and PFL901
(``unused-noqa``) reports such a code as unknown. Codes are upper-case letters followed by digits,
separated by commas and/or spaces; the word ``noqa`` itself may be in any case. A bare ``# noqa``
suppresses every code on its line.
"""

from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Optional

NOQA_PATTERN = re.compile(
    r"#\s*(?i:noqa)(?P<colon>:\s*(?P<codes>[A-Z]+[0-9]+(?:(?:\s*,\s*|\s+)[A-Z]+[0-9]+)*)?)?",
)
_CODE = re.compile(r"[A-Z]+[0-9]+")
ALL_CODES: frozenset[str] = frozenset({"*"})


@dataclass(frozen=True)
class Directive:
    """A ``# noqa`` directive inside one comment: its span in the comment text and the codes it names."""

    start: int
    end: int
    codes: tuple[str, ...]  # in written order, duplicates kept; empty for a bare ``# noqa``

    @property
    def blanket(self) -> bool:
        return not self.codes


def find_directive(comment: str) -> Optional[Directive]:
    """The first ``# noqa`` directive in the text of a comment token, or None.

    ``# noqa:`` followed by no valid code (``# noqa: pfl101``) is not a directive, as in ruff, rather than
    a bare ``# noqa`` that would silence everything on the line.
    """
    match = NOQA_PATTERN.search(comment)
    if match is None or (match.group("colon") and not match.group("codes")):
        return None
    codes = tuple(_CODE.findall(match.group("codes") or ""))
    return Directive(match.start(), match.end(), codes)


def noqa_lines(source: str) -> Mapping[int, frozenset[str]]:
    """Map each line holding a ``# noqa`` comment to its codes; a bare ``# noqa`` maps to ALL_CODES."""
    suppressions: dict[int, frozenset[str]] = {}
    for row, _column, comment in comments(source):
        directive = find_directive(comment)
        if directive is not None:
            codes = ALL_CODES if directive.blanket else frozenset(directive.codes)
            suppressions[row] = suppressions.get(row, frozenset()) | codes
    return suppressions


def comments(source: str) -> list[tuple[int, int, str]]:
    """(row, column, text) of every comment token; none when the source never says noqa or does not tokenize."""
    if "noqa" not in source.lower():
        return []
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return []
    return [(t.start[0], t.start[1], t.string) for t in tokens if t.type == tokenize.COMMENT]


def is_suppressed(suppressions: Mapping[int, frozenset[str]], row: int, code: str) -> bool:
    """Whether a finding of ``code`` reported on ``row`` is silenced by a ``# noqa`` comment."""
    codes = suppressions.get(row)
    return codes is not None and (codes is ALL_CODES or "*" in codes or code in codes)


def directive_text(codes: Iterable[str]) -> str:
    """``# noqa: A, B`` for ``codes`` (ruff's spelling)."""
    return "# noqa: " + ", ".join(codes)


def without_codes(comment: str, directive: Directive, removed: Iterable[str]) -> Optional[str]:
    """The comment with ``removed`` codes (every occurrence) dropped from its directive; None when nothing is left.

    Other text in the comment is kept: ``# noqa: PFL101  # why`` without PFL101 becomes ``# why``.
    """
    drop = set(removed)
    kept = [code for code in directive.codes if code not in drop]
    before, after = comment[: directive.start], comment[directive.end :]
    if kept:
        return before + directive_text(dict.fromkeys(kept)) + after
    rest = after.strip()
    if not before.strip():
        if not rest:
            return None
        return rest if rest.startswith("#") else "# " + rest
    return before.rstrip() + ("  " + rest if rest else "")


def with_codes(comment: str, directive: Directive, added: Iterable[str]) -> str:
    """The comment with ``added`` codes appended to its directive (a bare ``# noqa`` already covers all)."""
    if directive.blanket:
        return comment
    codes = list(dict.fromkeys([*directive.codes, *added]))
    return comment[: directive.start] + directive_text(codes) + comment[directive.end :]


@dataclass(frozen=True)
class ReportedCodes:
    """What the rules of one visit reported, before ``# noqa`` is applied (what PFL901 compares noqa with).

    ``by_line`` maps a line to the codes reported there (the line a ``# noqa`` must be on to suppress them);
    ``ran`` holds the codes of every selected rule that ran to completion on the file (a rule the prefilter
    skipped ran, in effect, and found nothing; a rule that crashed is not in it).
    """

    by_line: Mapping[int, frozenset[str]] = field(default_factory=dict)
    ran: frozenset[str] = frozenset()
