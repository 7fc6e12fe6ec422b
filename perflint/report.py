"""Render results for people (text, diffs, statistics) and tools (JSON and JSON lines shaped like ruff's, GitHub
workflow commands; SARIF is in ``perflint.sarif``). Returns strings; never prints."""

from __future__ import annotations

import difflib
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import click

from perflint import registry
from perflint.files import MISSING
from perflint.types import FileError, FileResult, Violation

DOCS_URL = None  # no hosted docs yet: the docs live in docs/rules/<CODE>.md


@dataclass(frozen=True)
class Summary:
    """Totals over a run."""

    findings: int
    fixable: int
    errors: int
    files: int
    fixes_applied: int
    unsafe_fixes_available: int
    by_code: tuple[tuple[str, int], ...]


def summarize(results: Sequence[FileResult]) -> Summary:
    """Add up a run's results."""
    violations = [violation for result in results for violation in result.violations]
    return Summary(
        findings=len(violations),
        fixable=sum(1 for violation in violations if violation.fixable),
        errors=sum(len(result.errors) for result in results),
        # A path that does not exist is an error line, not a checked file.
        files=sum(1 for result in results if not any(error.reason == MISSING for error in result.errors)),
        fixes_applied=sum(result.fixes_applied for result in results),
        unsafe_fixes_available=sum(result.unsafe_fixes_available for result in results),
        by_code=tuple(sorted(Counter(violation.code for violation in violations).items())),
    )


def text_line(violation: Violation, color: bool = False) -> str:
    """``path:line:col: CODE [*] message``; ``[*]`` marks a finding that ``perflint fix --apply`` (with the run's
    unsafe-fixes setting) fixes: the one decision the run recorded on the finding as its ``fix``.

    Notebook findings read ``path:cell N:line:col``, with the line counted within cell N.
    """
    marker = " [*]" if violation.fixable else ""
    cell = f"cell {violation.cell}:" if violation.cell is not None else ""
    where = f"{violation.path}:{cell}{violation.location.row}:{violation.location.column}:"
    code = _paint(violation.code, color, fg="red", bold=True)
    return f"{_paint(where, color, bold=True)} {code}{_paint(marker, color, fg='cyan')} {violation.message}"


def full_text(violation: Violation, source: str | None, color: bool = False) -> str:
    """ruff's full look: the finding's line, the source lines up to its start with a caret under the span,
    and the fix title (``help:``). Without the source (a notebook cell), the finding's line and the title."""
    lines = [text_line(violation, color)]
    source_lines = source.splitlines() if source is not None else []
    row, column = violation.location.row, violation.location.column
    if 1 <= row <= len(source_lines):
        first = max(1, row - 2)
        width = len(str(row + 1))
        gutter = " " * width + " |"
        lines.append(_paint(gutter, color, fg="blue", bold=True))
        for number in range(first, min(row + 1, len(source_lines)) + 1):
            text = source_lines[number - 1]
            lines.append(f"{_paint(f'{number:>{width}} |', color, fg='blue', bold=True)} {text}")
            if number == row:
                end = violation.end_location.column if violation.end_location.row == row else len(text) + 1
                carets = "^" * max(1, end - column)
                lines.append(f"{_paint(gutter, color, fg='blue', bold=True)} {' ' * (column - 1)}{_paint(carets + ' ' + violation.code, color, fg='red', bold=True)}")
        lines.append(_paint(gutter, color, fg="blue", bold=True))
    if violation.fix is not None and violation.fix.message:
        lines.append(f"  = {_paint('help', color, bold=True)}: {violation.fix.message}")
    return "\n".join(lines) + "\n"


def fixes_enumeration(results: Sequence[FileResult], applied: bool) -> str:
    """``--show-fixes`` after fixing: per file, how many findings of each rule the fixes removed (ruff's list)."""
    fixed = [result for result in results if result.fixed_codes and result.fixes_applied]
    total = sum(len(result.fixed_codes) for result in fixed)
    if not total:
        return "No findings fixed.\n" if applied else "No findings would be fixed.\n"
    verb = "Fixed" if applied else "Would fix"
    lines = [f"{verb} {total} finding{'s' if total != 1 else ''}:"]
    for result in fixed:
        lines.append(f"- {result.path}:")
        for code, count in sorted(Counter(result.fixed_codes).items()):
            lines.append(f"    {count} \u00d7 {code} ({_rule_name(code)})")
    return "".join(line + "\n" for line in lines)


def _paint(text: str, color: bool, **style: Any) -> str:
    return click.style(text, **style) if color and text else text


def check_summary(summary: Summary, unsafe_enabled: bool) -> str:
    """The closing lines of ``perflint check``."""
    if summary.findings == 0 and summary.errors == 0:
        return f"All checks passed ({summary.files} file{'s' if summary.files != 1 else ''} checked)."
    lines = [f"Found {summary.findings} finding{'s' if summary.findings != 1 else ''} in {_files(summary.files)}."]
    if summary.fixable:
        command = "perflint fix --apply --unsafe-fixes" if unsafe_enabled else "perflint fix --apply"
        lines.append(f"[*] {summary.fixable} fixable with `{command}`.")
    if summary.unsafe_fixes_available and not unsafe_enabled:
        lines.append(
            f"{summary.unsafe_fixes_available} more with unsafe fixes: `perflint fix --apply --unsafe-fixes` "
            "(read each rule's Fix safety first: `perflint explain CODE`)."
        )
    if summary.errors:
        lines.append(f"{summary.errors} file error{'s' if summary.errors != 1 else ''} (see above).")
    return "\n".join(lines)


def _files(count: int) -> str:
    return f"{count} file{'s' if count != 1 else ''}"


def fix_summary(summary: Summary, applied: bool) -> str:
    """The closing lines of ``perflint fix``."""
    verb = "Fixed" if applied else "Would fix"
    # Counted in findings, as `check` counts "[*] N fixable": a rewrite shared by two findings fixes two.
    lines = [f"{verb} {summary.fixes_applied} finding{'s' if summary.fixes_applied != 1 else ''}; {summary.findings} left."]
    if summary.unsafe_fixes_available:
        lines.append(f"{summary.unsafe_fixes_available} unsafe fix{'es' if summary.unsafe_fixes_available != 1 else ''} available but not applied (add --unsafe-fixes).")
    if summary.errors:
        lines.append(f"{summary.errors} file error{'s' if summary.errors != 1 else ''} (see above).")
    return "\n".join(lines)


def unified_diff(result: FileResult) -> str:
    """The diff between a file's original and fixed text."""
    if not result.changed:
        return ""
    assert result.original is not None and result.fixed is not None
    before = result.original.decode("utf-8", "surrogateescape").splitlines(keepends=True)
    after = result.fixed.decode("utf-8", "surrogateescape").splitlines(keepends=True)
    name = result.path.as_posix()
    old, new = (name, name) if result.path.is_absolute() else (f"a/{name}", f"b/{name}")
    return "".join(difflib.unified_diff(before, after, fromfile=old, tofile=new))


def violation_json(violation: Violation) -> dict:
    """One finding as a ruff-shaped JSON object."""
    fix = None
    if violation.fix is not None:
        fix = {
            "applicability": violation.fix.applicability.value,
            "message": violation.fix.message,
            "edits": [
                {
                    "content": edit.content,
                    "location": {"row": edit.location.row, "column": edit.location.column},
                    "end_location": {"row": edit.end_location.row, "column": edit.end_location.column},
                }
                for edit in violation.fix.edits
            ],
        }
    return {
        "code": violation.code,
        "message": violation.message,
        "filename": str(violation.path),
        "location": {"row": violation.location.row, "column": violation.location.column},
        "end_location": {"row": violation.end_location.row, "column": violation.end_location.column},
        "fix": fix,
        "noqa_row": violation.location.row,
        "url": DOCS_URL,
        "cell": violation.cell,
    }


def json_document(violations: Iterable[Violation]) -> str:
    """All findings as a JSON list."""
    return json.dumps([violation_json(violation) for violation in violations], indent=2)


def json_lines(violations: Iterable[Violation]) -> str:
    """One compact JSON object per finding and line (ruff's ``json-lines``); empty when there is none."""
    return "".join(json.dumps(violation_json(violation)) + "\n" for violation in violations)


def github_annotations(violations: Iterable[Violation], errors: Iterable[FileError] = ()) -> str:
    """GitHub Actions workflow commands (``::error file=...::message``), one per finding and file error.

    A notebook finding carries no line: its row and column count within a cell, which GitHub cannot place in
    the ``.ipynb`` file, so the cell and position go into the message instead.
    """
    lines = [_annotation(violation) for violation in violations]
    lines += [f"::error file={_property(str(error.path))},title=perflint::{_data(error.describe())}" for error in errors]
    return "".join(line + "\n" for line in lines)


def _annotation(violation: Violation) -> str:
    start, end = violation.location, violation.end_location
    if violation.cell is None:
        position = f",line={start.row},col={start.column},endLine={end.row},endColumn={end.column}"
        message = violation.message
    else:
        position = ""
        message = f"cell {violation.cell}, line {start.row}, column {start.column}: {violation.message}"
    return f"::error file={_property(str(violation.path))}{position},title={_property(violation.code)}::{_data(message)}"


def _data(text: str) -> str:
    # The escapes of GitHub's workflow-command parser (toolkit/core's escapeData and escapeProperty).
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


@dataclass(frozen=True)
class RuleStatistics:
    """How often one rule fired in a run, and how many of its findings ``perflint fix --apply`` would fix."""

    code: str
    name: str
    count: int
    fixable: int


def statistics(violations: Iterable[Violation]) -> tuple[RuleStatistics, ...]:
    """Per-rule counts, most frequent first (ties by code)."""
    counts: Counter[str] = Counter()
    fixable: Counter[str] = Counter()
    for violation in violations:
        counts[violation.code] += 1
        fixable[violation.code] += violation.fixable
    ordered = sorted(counts, key=lambda code: (-counts[code], code))
    return tuple(RuleStatistics(code, _rule_name(code), counts[code], fixable[code]) for code in ordered)


def _rule_name(code: str) -> str:
    try:
        return registry.rule_by_code(code).name
    except KeyError:
        return ""


def statistics_text(rows: Sequence[RuleStatistics], color: bool = False) -> str:
    """``count  code  [*] name`` per rule; ``[*]`` when some of its findings are fixable."""
    width = max((len(str(row.count)) for row in rows), default=1)
    lines = []
    for row in rows:
        marker = _paint("[*]", color, fg="cyan") if row.fixable else "[ ]"
        lines.append(f"{row.count:>{width}}  {_paint(row.code, color, fg='red', bold=True)}  {marker} {row.name}")
    return "".join(line + "\n" for line in lines)


def statistics_json(rows: Sequence[RuleStatistics]) -> str:
    """The statistics as a JSON list of ``{code, name, count, fixable}``."""
    return json.dumps([{"code": r.code, "name": r.name, "count": r.count, "fixable": r.fixable} for r in rows], indent=2)
