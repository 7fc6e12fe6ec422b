"""Render results for people (text, diffs) and tools (JSON shaped like ruff's). Returns strings; never prints."""

from __future__ import annotations

import difflib
import json
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Sequence

from perflint.types import Applicability, FileResult, Violation

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
        files=len(results),
        fixes_applied=sum(result.fixes_applied for result in results),
        unsafe_fixes_available=sum(result.unsafe_fixes_available for result in results),
        by_code=tuple(sorted(Counter(violation.code for violation in violations).items())),
    )


def text_line(violation: Violation, unsafe_enabled: bool = False) -> str:
    """``path:line:col: CODE [*] message``; ``[*]`` marks a finding that ``perflint fix --apply`` would fix."""
    applies = violation.fix is not None and (unsafe_enabled or violation.fix.applicability is Applicability.SAFE)
    marker = " [*]" if applies else ""
    cell = f"cell {violation.cell}:" if violation.cell is not None else ""
    return f"{violation.path}:{cell}{violation.location.row}:{violation.location.column}: {violation.code}{marker} {violation.message}"


def check_summary(summary: Summary, unsafe_enabled: bool) -> str:
    """The closing lines of ``perflint check``."""
    if summary.findings == 0 and summary.errors == 0:
        return f"All checks passed ({summary.files} file{'s' if summary.files != 1 else ''} checked)."
    lines = [f"Found {summary.findings} finding{'s' if summary.findings != 1 else ''} in {summary.files} files."]
    safe = summary.fixable - summary.unsafe_fixes_available
    if safe:
        lines.append(f"[*] {safe} fixable with `perflint fix --apply`.")
    if summary.unsafe_fixes_available and not unsafe_enabled:
        lines.append(
            f"{summary.unsafe_fixes_available} more fixable with `perflint fix --apply --unsafe-fixes` "
            "(read each rule's Fix safety first: `perflint explain CODE`)."
        )
    if summary.errors:
        lines.append(f"{summary.errors} file error{'s' if summary.errors != 1 else ''} (see above).")
    return "\n".join(lines)


def fix_summary(summary: Summary, applied: bool) -> str:
    """The closing lines of ``perflint fix``."""
    verb = "Applied" if applied else "Would apply"
    lines = [f"{verb} {summary.fixes_applied} fix{'es' if summary.fixes_applied != 1 else ''}; {summary.findings} finding{'s' if summary.findings != 1 else ''} left."]
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
