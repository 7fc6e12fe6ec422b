"""`perflint server`: a Language Server Protocol server over stdio, built on pygls.

Diagnostics are computed off the event loop, in one worker thread, after a short debounce; an edit that arrives
meanwhile cancels the pending analysis, and a result whose document version is no longer current is dropped,
so a burst of edits never queues stale work.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from perflint import __version__
from perflint.lsp import documents
from perflint.lsp.documents import ClientSettings, ResolvedSettings, SettingsCache
from perflint.types import FileResult, Violation

DEBOUNCE_SECONDS = 0.03
NOTEBOOK_SYNC = types.NotebookDocumentSyncOptions(
    notebook_selector=[
        types.NotebookDocumentFilterWithCells(
            notebook="jupyter-notebook", cells=[types.NotebookCellLanguage(language="python")]
        )
    ],
    save=True,
)


@dataclass(frozen=True)
class Published:
    """What was last published for one text document or notebook cell: the findings behind each diagnostic."""

    violations: tuple[Violation, ...]
    lines: tuple[str, ...]
    resolved: ResolvedSettings


class PerflintServer(LanguageServer):
    """The server's state: client settings, the pending analysis of each document, what was published."""

    def __init__(self) -> None:
        super().__init__("perflint", __version__, notebook_document_sync=NOTEBOOK_SYNC)
        self.client_settings = ClientSettings()
        self.settings_cache = SettingsCache()
        self.published: dict[str, Published] = {}
        self.pending: dict[str, asyncio.Task] = {}
        self.reported_config_errors: set[str] = set()
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="perflint-analysis")

    def resolve(self, path: Path) -> ResolvedSettings:
        """The document's settings; a configuration error is shown to the user once, and defaults are used."""
        resolved = self.settings_cache.for_path(path, self.client_settings)
        if resolved.error is not None and resolved.error not in self.reported_config_errors:
            self.reported_config_errors.add(resolved.error)
            self.window_show_message(types.ShowMessageParams(types.MessageType.Error, f"perflint: {resolved.error}"))
        return resolved

    def schedule(self, uri: str, delay: float = DEBOUNCE_SECONDS) -> None:
        """Analyse ``uri`` (a text document or a notebook) after ``delay``, replacing any pending analysis of it."""
        previous = self.pending.pop(uri, None)
        if previous is not None:
            previous.cancel()
        self.pending[uri] = asyncio.ensure_future(self._analyse_later(uri, delay))

    async def _analyse_later(self, uri: str, delay: float) -> None:
        await asyncio.sleep(delay)
        try:
            notebook = self.workspace.get_notebook_document(notebook_uri=uri)
            if notebook is not None:
                await self._analyse_notebook(notebook)
            else:
                await self._analyse_text(uri)
        except Exception as error:  # the server must outlive any one document's failure
            self.window_log_message(types.LogMessageParams(types.MessageType.Error, f"perflint: {uri}: {error!r}"))
        finally:
            if self.pending.get(uri) is asyncio.current_task():
                del self.pending[uri]

    async def _analyse_text(self, uri: str) -> None:
        document = self.workspace.get_text_document(uri)
        version, text = document.version, document.source
        path = documents.path_of(uri)
        resolved = self.resolve(path)
        if resolved.settings.is_excluded(path):
            self._publish(uri, version, (), text, resolved)
            return
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(self.worker, documents.analyse, text, path, resolved.settings)
        if self.workspace.get_text_document(uri).version != version:
            return  # superseded by a newer edit, whose analysis is on its way
        self._publish_result(uri, version, result, text, resolved)

    async def _analyse_notebook(self, notebook: types.NotebookDocument) -> None:
        cells = [cell for cell in notebook.cells if cell.kind == types.NotebookCellKind.Code]
        texts = [self.workspace.get_text_document(cell.document).source for cell in cells]
        path = documents.path_of(notebook.uri).with_suffix(".ipynb")
        resolved = self.resolve(path)
        version = notebook.version
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(self.worker, documents.analyse_notebook, texts, path, resolved.settings)
        current = self.workspace.get_notebook_document(notebook_uri=notebook.uri)
        if current is None or current.version != version:
            return
        by_cell: dict[int, list[Violation]] = {}
        for violation in result.violations:
            by_cell.setdefault(violation.cell or 0, []).append(violation)
        for number, (cell, text) in enumerate(zip(cells, texts), start=1):
            self._publish(cell.document, None, tuple(by_cell.get(number, ())), text, resolved)

    def _publish_result(self, uri: str, version: Optional[int], result: FileResult, text: str, resolved: ResolvedSettings) -> None:
        if result.errors:
            # A file perflint cannot read as Python gets one diagnostic naming the problem, never a crash.
            error = result.errors[0]
            self.published[uri] = Published((), tuple(text.splitlines(keepends=True)), resolved)
            self.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri, [documents.error_diagnostic(error.reason, error.kind.value)], version)
            )
            return
        self._publish(uri, version, result.violations, text, resolved)

    def _publish(self, uri: str, version: Optional[int], violations: Sequence[Violation], text: str, resolved: ResolvedSettings) -> None:
        lines = tuple(text.splitlines(keepends=True))
        self.published[uri] = Published(tuple(violations), lines, resolved)
        codec = self.workspace.position_codec
        diagnostics = [documents.diagnostic(v, lines, codec, self.client_settings.docs_url) for v in violations]
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri, diagnostics, version))

    def code_actions(self, uri: str, requested: types.Range) -> list[types.CodeAction]:
        """Quick fixes and noqa actions for the findings that touch ``requested``, then the fix-all action."""
        published = self.published.get(uri)
        if published is None:
            return []
        codec = self.workspace.position_codec
        actions: list[types.CodeAction] = []
        for violation in published.violations:
            diagnostic = documents.diagnostic(violation, published.lines, codec, self.client_settings.docs_url)
            if not _touches(diagnostic.range, requested):
                continue
            if documents.offered(violation):
                assert violation.fix is not None
                edits = documents.text_edits(violation.fix.edits, published.lines, codec)
                actions.append(_action(documents.fix_title(violation), types.CodeActionKind.QuickFix, uri, edits, diagnostic, preferred=True))
            noqa = documents.noqa_edit("".join(published.lines), violation.location.row, violation.code, codec, published.lines)
            if noqa is not None:
                actions.append(_action(f"Disable {violation.code} for this line", types.CodeActionKind.QuickFix, uri, [noqa], diagnostic))
        fix_all = self.fix_all_action(uri)
        if fix_all is not None:
            actions.append(fix_all)
        return actions

    def fix_all_action(self, uri: str) -> Optional[types.CodeAction]:
        """"Fix all safe perflint fixes in this file" (unsafe ones too when unsafe-fixes is on); None if nothing to fix."""
        published = self.published.get(uri)
        if published is None or not any(documents.offered(v) for v in published.violations):
            return None
        if self.workspace.get_notebook_document(cell_uri=uri) is not None:
            return None  # a cell's fixes can span the notebook; fix-all is offered for files only
        text = "".join(published.lines)
        path = documents.path_of(uri)
        fixed = documents.fix_all(text, path, published.resolved.settings)
        if fixed is None:
            return None
        end = types.Position(len(published.lines), 0)
        edit = types.TextEdit(types.Range(types.Position(0, 0), end), fixed)
        title = "Fix all perflint fixes in this file" if published.resolved.settings.unsafe_fixes else "Fix all safe perflint fixes in this file"
        return _action(title, documents.FIX_ALL_KIND, uri, [edit], None)

    def hover(self, uri: str, position: types.Position) -> Optional[types.Hover]:
        """The rule's explanation when ``position`` is inside one of its diagnostics."""
        published = self.published.get(uri)
        if published is None:
            return None
        codec = self.workspace.position_codec
        for violation in published.violations:
            diagnostic = documents.diagnostic(violation, published.lines, codec, None)
            if _contains(diagnostic.range, position):
                text = documents.explanation(violation.code)
                if text is not None:
                    return types.Hover(types.MarkupContent(types.MarkupKind.Markdown, text), diagnostic.range)
        return None


def _action(
    title: str,
    kind: "types.CodeActionKind | str",
    uri: str,
    edits: list[types.TextEdit],
    diagnostic: Optional[types.Diagnostic],
    preferred: bool = False,
) -> types.CodeAction:
    return types.CodeAction(
        title=title,
        kind=kind,
        diagnostics=[diagnostic] if diagnostic is not None else None,
        edit=types.WorkspaceEdit(changes={uri: edits}),
        is_preferred=preferred or None,
    )


def _before(first: types.Position, second: types.Position) -> bool:
    return (first.line, first.character) < (second.line, second.character)


def _touches(found: types.Range, requested: types.Range) -> bool:
    return not _before(found.end, requested.start) and not _before(requested.end, found.start)


def _contains(found: types.Range, position: types.Position) -> bool:
    return not _before(position, found.start) and not _before(found.end, position)


def build() -> PerflintServer:
    """A server with every feature registered."""
    server = PerflintServer()

    @server.feature(types.INITIALIZE)
    def initialize(ls: PerflintServer, params: types.InitializeParams) -> None:
        ls.client_settings = ClientSettings.from_client(params.initialization_options)

    @server.feature(types.INITIALIZED)
    def initialized(ls: PerflintServer, params: types.InitializedParams) -> None:
        watching = ls.client_capabilities.workspace and ls.client_capabilities.workspace.did_change_watched_files
        if watching and watching.dynamic_registration:
            # Ask to hear of configuration files changing, so open documents are checked again at once.
            watchers = [types.FileSystemWatcher(glob_pattern="**/pyproject.toml")]
            options = types.DidChangeWatchedFilesRegistrationOptions(watchers=watchers)
            registration = types.Registration("perflint-config", types.WORKSPACE_DID_CHANGE_WATCHED_FILES, options)
            ls.client_register_capability(types.RegistrationParams([registration]))

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def did_change_configuration(ls: PerflintServer, params: types.DidChangeConfigurationParams) -> None:
        ls.client_settings = ClientSettings.from_client(params.settings)
        ls.reported_config_errors.clear()
        for uri in list(ls.published):
            ls.schedule(_owner(ls, uri), delay=0)

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def did_change_watched_files(ls: PerflintServer, params: types.DidChangeWatchedFilesParams) -> None:
        # A changed pyproject.toml is re-read on the next analysis (by modification time); analyse again now.
        for uri in list(ls.published):
            ls.schedule(_owner(ls, uri), delay=0)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: PerflintServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri, delay=0)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: PerflintServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: PerflintServer, params: types.DidSaveTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri, delay=0)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: PerflintServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        pending = ls.pending.pop(uri, None)
        if pending is not None:
            pending.cancel()
        ls.published.pop(uri, None)
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri, []))

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_OPEN)
    def notebook_did_open(ls: PerflintServer, params: types.DidOpenNotebookDocumentParams) -> None:
        ls.schedule(params.notebook_document.uri, delay=0)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_CHANGE)
    def notebook_did_change(ls: PerflintServer, params: types.DidChangeNotebookDocumentParams) -> None:
        ls.schedule(params.notebook_document.uri)

    @server.feature(types.NOTEBOOK_DOCUMENT_DID_SAVE)
    def notebook_did_save(ls: PerflintServer, params: types.DidSaveNotebookDocumentParams) -> None:
        ls.schedule(params.notebook_document.uri, delay=0)

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix, documents.FIX_ALL_KIND]),
    )
    def code_action(ls: PerflintServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        actions = ls.code_actions(params.text_document.uri, params.range)
        wanted = params.context.only
        if wanted:
            actions = [a for a in actions if any(str(a.kind).startswith(str(kind)) for kind in wanted)]
        return actions

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def hover(ls: PerflintServer, params: types.HoverParams) -> Optional[types.Hover]:
        return ls.hover(params.text_document.uri, params.position)

    return server


def _owner(ls: PerflintServer, uri: str) -> str:
    """The document to analyse again for a published ``uri``: the notebook of a cell, else the document itself."""
    notebook = ls.workspace.get_notebook_document(cell_uri=uri)
    return notebook.uri if notebook is not None else uri


def main() -> None:
    """Serve over stdio until the client exits."""
    build().start_io()
