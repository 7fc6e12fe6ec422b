"""What the language server knows about one document: its settings, its findings, and the LSP values built from them.

Nothing here talks to a client; ``perflint.lsp.server`` does. Positions: perflint reports 1-based rows and
1-based columns counted in code points; LSP wants 0-based lines and characters in the client's encoding
(UTF-16 by default), so every conversion goes through the workspace's position codec.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional, Sequence

from lsprotocol import types
from pygls.uris import to_fs_path
from pygls.workspace import PositionCodec

from perflint import add_noqa, api, docs, registry
from perflint.config import ConfigError, Settings, find_config, load_settings
from perflint.types import Applicability, Edit, FileResult, Location, Violation

SOURCE = "perflint"
FIX_ALL_KIND = "source.fixAll.perflint"
DOCS_DIRECTORY = Path(__file__).resolve().parent.parent.parent / "docs" / "rules"


@dataclass(frozen=True)
class ClientSettings:
    """What the editor's settings may change: the rule selection and whether unsafe fixes are offered."""

    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    unsafe_fixes: Optional[bool] = None
    docs_url: Optional[str] = None

    @classmethod
    def from_client(cls, value: object) -> "ClientSettings":
        """Read ``{"select": [...], "ignore": [...], "unsafe-fixes": bool}`` (also nested under "perflint")."""
        if not isinstance(value, dict):
            return cls()
        value = value.get("perflint", value) if isinstance(value.get("perflint"), dict) else value
        unsafe = value.get("unsafe-fixes", value.get("unsafeFixes"))
        return cls(
            select=_codes(value.get("select")),
            ignore=_codes(value.get("ignore")),
            unsafe_fixes=unsafe if isinstance(unsafe, bool) else None,
            docs_url=value.get("docs-url") if isinstance(value.get("docs-url"), str) else None,
        )


def _codes(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        return ()
    return tuple(str(code).strip() for code in value if str(code).strip())


@dataclass(frozen=True)
class ResolvedSettings:
    """Settings for one document, or the configuration error that made perflint fall back to defaults."""

    settings: Settings
    error: Optional[str] = None


@dataclass
class SettingsCache:
    """The nearest configuration of each document, read again when its file changes (by modification time)."""

    _read: dict[tuple[Optional[Path], int], ResolvedSettings] = field(default_factory=dict)

    def for_path(self, path: Path, client: ClientSettings) -> ResolvedSettings:
        config = find_config(path.parent)
        stamp = _modified(config)
        key = (config, stamp)
        if key not in self._read:
            self._read = {k: v for k, v in self._read.items() if k[0] != config}
            self._read[key] = _load(config, path)
        return _with_client(self._read[key], client)


def _modified(config: Optional[Path]) -> int:
    try:
        return config.stat().st_mtime_ns if config is not None else 0
    except OSError:
        return -1


def _load(config: Optional[Path], path: Path) -> ResolvedSettings:
    default_root = config.parent if config is not None else path.parent
    try:
        settings = load_settings(config)
    except ConfigError as error:
        return ResolvedSettings(Settings(root=default_root), f"{error}; using the default settings")
    if config is None:
        settings = replace(settings, root=default_root)
    return ResolvedSettings(settings)


def _with_client(resolved: ResolvedSettings, client: ClientSettings) -> ResolvedSettings:
    settings = resolved.settings
    if client.select:
        settings = replace(settings, ignore=(), extend_select=())
    try:
        settings = settings.with_overrides(
            select=client.select, ignore=client.ignore, unsafe_fixes=client.unsafe_fixes
        )
    except ConfigError as error:
        return ResolvedSettings(resolved.settings, f"editor settings: {error}; ignoring them")
    return replace(resolved, settings=settings)


def analyse(text: str, path: Path, settings: Settings) -> FileResult:
    """Check ``text`` as the content of ``path``, with the edits of every fix computed."""
    options = api.RunOptions(with_edits=True)
    return api.check_source(text.encode("utf-8"), path, settings, options)


def fix_all(text: str, path: Path, settings: Settings) -> Optional[str]:
    """The text with every fix applied that ``perflint fix --apply`` would apply; None when nothing changes."""
    options = api.RunOptions(fix=True)
    result = api.check_source(text.encode("utf-8"), path, settings, options)
    if result.errors or not result.changed or result.fixed is None:
        return None
    return result.fixed.decode("utf-8")


def notebook_bytes(cells: Sequence[str]) -> bytes:
    """A minimal .ipynb holding ``cells`` as Python code cells, in order (what perflint's notebook reader takes)."""
    document = {
        "cells": [{"cell_type": "code", "metadata": {}, "source": text, "outputs": [], "execution_count": None} for text in cells],
        "metadata": {"language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(document).encode("utf-8")


def analyse_notebook(cells: Sequence[str], path: Path, settings: Settings) -> FileResult:
    """Check a notebook's code cells together, as ``perflint check`` checks the .ipynb; violations carry ``cell``."""
    options = api.RunOptions(with_edits=True)
    return api.check_source(notebook_bytes(cells), path, settings, options)


def diagnostic(violation: Violation, lines: Sequence[str], codec: PositionCodec, docs_url: Optional[str]) -> types.Diagnostic:
    """The LSP diagnostic of a finding; its code links to the rule's documentation."""
    return types.Diagnostic(
        range=_range(violation.location, violation.end_location, lines, codec),
        message=violation.message,
        severity=types.DiagnosticSeverity.Warning,
        code=violation.code,
        code_description=_code_description(violation.code, docs_url),
        source=SOURCE,
    )


def error_diagnostic(reason: str, kind: str) -> types.Diagnostic:
    """One diagnostic on the first line for a document perflint cannot check (syntax error, bad encoding)."""
    return types.Diagnostic(
        range=types.Range(types.Position(0, 0), types.Position(0, 0)),
        message=f"perflint could not check this file: {reason}",
        severity=types.DiagnosticSeverity.Error,
        code=kind,
        source=SOURCE,
    )


def _code_description(code: str, docs_url: Optional[str]) -> Optional[types.CodeDescription]:
    if docs_url:
        return types.CodeDescription(href=docs_url.replace("{code}", code))
    page = DOCS_DIRECTORY / f"{code}.md"
    return types.CodeDescription(href=page.as_uri()) if page.is_file() else None


def _range(start: Location, end: Location, lines: Sequence[str], codec: PositionCodec) -> types.Range:
    return codec.range_to_client_units(
        list(lines),
        types.Range(_position(start, lines), _position(end, lines)),
    )


def _position(location: Location, lines: Sequence[str]) -> types.Position:
    # An exclusive end may sit one row past the last line; LSP takes that as the end of the document.
    line = location.row - 1
    if line >= len(lines):
        return types.Position(len(lines), 0)
    return types.Position(line, location.column - 1)


def text_edits(edits: Sequence[Edit], lines: Sequence[str], codec: PositionCodec) -> list[types.TextEdit]:
    """perflint's edits as LSP text edits on the document whose lines are ``lines``."""
    return [types.TextEdit(_range(edit.location, edit.end_location, lines, codec), edit.content) for edit in edits]


def fix_title(violation: Violation) -> str:
    """The quick fix's title: what it does, and whether it is exact."""
    assert violation.fix is not None
    action = violation.fix.message or "Apply the fix"
    if violation.fix.applicability is Applicability.SAFE:
        return f"{violation.code}: {action} (safe)"
    condition = registry.rule_by_code(violation.code).unsafe_when or f"see `perflint explain {violation.code}`"
    return f"{violation.code}: {action} (unsafe: {condition})"


def offered(violation: Violation) -> bool:
    """Whether the violation's fix is offered: exactly the fixes `perflint fix --apply` would apply with the
    document's settings (safe ones, and unsafe ones only with unsafe-fixes on)."""
    return violation.fixable and violation.fix is not None and bool(violation.fix.edits)


def noqa_edit(text: str, row: int, code: str, codec: PositionCodec, lines: Sequence[str]) -> Optional[types.TextEdit]:
    """The edit that adds ``code`` to line ``row``'s ``# noqa`` (as ``perflint check --add-noqa`` does); None
    where a comment cannot go on that line (it ends inside a string or after a backslash)."""
    try:
        annotated = add_noqa.add_to_source(text.encode("utf-8"), {row: [code]})
    except ValueError:
        return None
    if row in annotated.refused:
        return None
    new_line = annotated.data.decode("utf-8").splitlines(keepends=True)[row - 1]
    body = lines[row - 1].rstrip("\r\n")
    start, end = Location(row, 1), Location(row, len(body) + 1)
    return types.TextEdit(_range(start, end, lines, codec), new_line.rstrip("\r\n"))


def explanation(code: str) -> Optional[str]:
    """``perflint explain CODE``'s text, as Markdown for a hover."""
    try:
        return docs.rule_page(registry.rule_by_code(code))
    except KeyError:
        return None


def path_of(uri: str) -> Path:
    """The path a document is checked as: its file, or an ``untitled.py`` in the working folder."""
    fs_path = to_fs_path(uri)
    if fs_path:
        return Path(fs_path)
    return Path(os.getcwd()) / "untitled.py"
