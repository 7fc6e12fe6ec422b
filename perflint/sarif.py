"""SARIF 2.1.0 output: one run, every rule with its documentation, results with regions and fixes.

Unlike ruff's SARIF, each fix is carried as a SARIF ``fix`` (``artifactChanges`` / ``replacements``), so a viewer
can offer it. Columns are Unicode code points (``columnKind``), 1-based, as perflint counts them. For a notebook,
a result's region is relative to the cell named by ``properties.cell`` (as ruff's JSON ``cell`` field is), and no
``fix`` is attached, since replacements must address the raw ``.ipynb`` text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Sequence
from urllib.parse import quote

from perflint import __version__, docs
from perflint.rule import Rule
from perflint.types import Edit, FileError, FileResult, Location, Violation

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SOURCE_ROOT = "%SRCROOT%"
LEVEL = "error"


def sarif_log(results: Sequence[FileResult], rules: Sequence[type[Rule]], root: Path) -> dict:
    """The SARIF log of a run over ``results``; relative paths are resolved against ``root`` (%SRCROOT%)."""
    index = {rule.code: position for position, rule in enumerate(rules)}
    violations = sorted((v for result in results for v in result.violations), key=lambda v: v.sort_key)
    errors = [error for result in results for error in result.errors]
    notes = [(result.path, note) for result in results for note in result.notes]
    run = {
        "tool": {"driver": _driver(rules)},
        "originalUriBaseIds": {SOURCE_ROOT: {"uri": root.resolve().as_uri() + "/"}},
        "columnKind": "unicodeCodePoints",
        "invocations": [_invocation(errors, notes)],
        "results": [_result(violation, index) for violation in violations],
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def sarif_document(results: Sequence[FileResult], rules: Sequence[type[Rule]], root: Path) -> str:
    """The SARIF log as indented JSON text."""
    return json.dumps(sarif_log(results, rules, root), indent=2, ensure_ascii=False)


def _driver(rules: Sequence[type[Rule]]) -> dict:
    return {
        "name": "perflint",
        "version": __version__,
        "rules": [_descriptor(rule) for rule in rules],
    }


def _descriptor(rule: type[Rule]) -> dict:
    page = docs.rule_page(rule)
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.message},
        "fullDescription": {"text": rule.doc_section("What it does")},
        "help": {"text": page, "markdown": page},
        "defaultConfiguration": {"enabled": rule.enabled_by_default, "level": LEVEL},
        "properties": {
            "fixSafety": rule.fix_safety.value,
            "metricImpact": rule.metric_impact.value,
            "tags": ["performance", docs.family(rule)],
        },
    }


def _result(violation: Violation, index: dict[str, int]) -> dict:
    result: dict = {
        "ruleId": violation.code,
        "level": LEVEL,
        "message": {"text": violation.message},
        "locations": [{"physicalLocation": _physical(violation.path, violation.location, violation.end_location)}],
    }
    if violation.code in index:
        result["ruleIndex"] = index[violation.code]
    properties: dict = {}
    if violation.cell is not None:
        properties["cell"] = violation.cell
    if violation.fix is not None:
        properties["fixApplicability"] = violation.fix.applicability.value
        if violation.fix.edits and violation.cell is None:
            result["fixes"] = [_fix(violation.path, violation.fix.message, violation.fix.edits)]
    if properties:
        result["properties"] = properties
    return result


def _fix(path: Path, description: str, edits: Iterable[Edit]) -> dict:
    replacements = [
        {"deletedRegion": _region(edit.location, edit.end_location), "insertedContent": {"text": edit.content}}
        for edit in edits
    ]
    return {
        "description": {"text": description},
        "artifactChanges": [{"artifactLocation": _artifact(path), "replacements": replacements}],
    }


def _invocation(errors: Sequence[FileError], notes: Sequence[tuple[Path, str]]) -> dict:
    """File errors as error notifications (the run did not fully succeed), notes as note notifications."""
    notifications = [_notification("error", error.path, error.describe()) for error in errors]
    notifications += [_notification("note", path, f"{path}: {note}") for path, note in notes]
    return {"executionSuccessful": not errors, "toolExecutionNotifications": notifications}


def _notification(level: str, path: Path, text: str) -> dict:
    return {
        "level": level,
        "message": {"text": text},
        "locations": [{"physicalLocation": {"artifactLocation": _artifact(path)}}],
    }


def _physical(path: Path, start: Location, end: Location) -> dict:
    return {"artifactLocation": _artifact(path), "region": _region(start, end)}


def _region(start: Location, end: Location) -> dict:
    # SARIF's endColumn is exclusive, like perflint's: (row, 1)..(row + 1, 1) is a whole line, and an equal
    # start and end is an insertion point.
    return {"startLine": start.row, "startColumn": start.column, "endLine": end.row, "endColumn": end.column}


def _artifact(path: Path) -> dict:
    if path.is_absolute():
        return {"uri": path.as_uri()}
    return {"uri": quote(path.as_posix()), "uriBaseId": SOURCE_ROOT}
