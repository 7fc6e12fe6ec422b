"""``# noqa`` comments: which codes are suppressed on which line, read as flake8 and ruff read them."""

from __future__ import annotations

import io
import re
import tokenize
from typing import Mapping, Optional

NOQA_PATTERN = re.compile(
    r"#\s*noqa(?::[\s]?(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?",
    re.IGNORECASE,
)
ALL_CODES: frozenset[str] = frozenset({"*"})


def noqa_lines(source: str) -> Mapping[int, frozenset[str]]:
    """Map each line holding a ``# noqa`` comment to its codes; a bare ``# noqa`` maps to ALL_CODES."""
    suppressions: dict[int, frozenset[str]] = {}
    if "noqa" not in source.lower():
        return suppressions
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return suppressions
    for token in tokens:
        if token.type != tokenize.COMMENT:
            continue
        codes = _codes_in_comment(token.string)
        if codes is not None:
            suppressions[token.start[0]] = suppressions.get(token.start[0], frozenset()) | codes
    return suppressions


def _codes_in_comment(comment: str) -> Optional[frozenset[str]]:
    match = NOQA_PATTERN.search(comment)
    if match is None:
        return None
    if match.group("codes") is None:
        return ALL_CODES
    return frozenset(code.upper() for code in re.split(r"[,\s]+", match.group("codes")) if code)


def is_suppressed(suppressions: Mapping[int, frozenset[str]], row: int, code: str) -> bool:
    """Whether a finding of ``code`` reported on ``row`` is silenced by a ``# noqa`` comment."""
    codes = suppressions.get(row)
    return codes is not None and (codes is ALL_CODES or "*" in codes or code in codes)
