"""SARIF 2.1.0 output: one run, every rule with its documentation, results with regions and fixes.

Unlike ruff's SARIF, each fix is carried as a SARIF ``fix`` (``artifactChanges`` / ``replacements``), so a viewer
can offer it. Columns are Unicode code points (``columnKind``), 1-based, as perflint counts them.

Notebooks: a SARIF region addresses the artifact, the raw ``.ipynb`` text, so that is what a notebook result's
region gives: the line and column in the JSON file where the reported code's characters are (inside the
``source`` strings; escapes such as ``\n`` or ``\u00e9`` count as the characters they are in the file).
``properties.cell`` names the cell (1-based among all cells, as ruff's JSON ``cell`` field) and
``properties.cellRegion`` gives the region within the cell's source, as perflint's JSON output and ruff's do.
ruff's own SARIF output (``message/sarif.rs``) ignores its notebook index and writes rows of the code cells
concatenated, which address neither the file nor a cell. No ``fix`` is attached to notebook results.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Optional, Sequence
from urllib.parse import quote

from perflint import __version__, docs, notebook
from perflint.rule import Rule
from perflint.types import Edit, FileError, FileResult, Location, Violation

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SOURCE_ROOT = "%SRCROOT%"
LEVEL = "error"


def sarif_log(results: Sequence[FileResult], rules: Sequence[type[Rule]], root: Path) -> dict:
    """The SARIF log of a run over ``results``; relative paths are resolved against ``root`` (%SRCROOT%)."""
    index = {rule.code: position for position, rule in enumerate(rules)}
    raw_indexes = {
        result.path: notebook.raw_index(result.original)
        for result in results
        if result.violations and result.original is not None and notebook.is_notebook(result.path)
    }
    violations = sorted((v for result in results for v in result.violations), key=lambda v: v.sort_key)
    errors = [error for result in results for error in result.errors]
    notes = [(result.path, note) for result in results for note in result.notes]
    run = {
        "tool": {"driver": _driver(rules)},
        "originalUriBaseIds": {SOURCE_ROOT: {"uri": root.resolve().as_uri() + "/"}},
        "columnKind": "unicodeCodePoints",
        "invocations": [_invocation(errors, notes)],
        "results": [_result(violation, index, raw_indexes.get(violation.path)) for violation in violations],
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


def _result(violation: Violation, index: dict[str, int], raw: Optional[notebook.RawIndex] = None) -> dict:
    physical = {"artifactLocation": _artifact(violation.path)}
    region = _file_region(violation, raw)
    if region is not None:
        physical["region"] = region
    result: dict = {
        "ruleId": violation.code,
        "level": LEVEL,
        "message": {"text": violation.message},
        "locations": [{"physicalLocation": physical}],
    }
    if violation.code in index:
        result["ruleIndex"] = index[violation.code]
    properties: dict = {}
    if violation.cell is not None:
        properties["cell"] = violation.cell
        properties["cellRegion"] = _region(violation.location, violation.end_location)
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


def _file_region(violation: Violation, raw: Optional[notebook.RawIndex]) -> Optional[dict]:
    """The region in the file itself; for a notebook, in the raw ``.ipynb`` text (None if it cannot be mapped)."""
    if violation.cell is None:
        return _region(violation.location, violation.end_location)
    if raw is None:
        return None
    start = raw.locate(violation.cell, violation.location)
    end = raw.locate(violation.cell, violation.end_location, end=True)
    return None if start is None or end is None else _region(start, end)


def _region(start: Location, end: Location) -> dict:
    # SARIF's endColumn is exclusive, like perflint's: (row, 1)..(row + 1, 1) is a whole line, and an equal
    # start and end is an insertion point.
    return {"startLine": start.row, "startColumn": start.column, "endLine": end.row, "endColumn": end.column}


def _artifact(path: Path) -> dict:
    if path.is_absolute():
        return {"uri": path.as_uri()}
    return {"uri": quote(path.as_posix()), "uriBaseId": SOURCE_ROOT}
