"""End to end: the real `perflint server` process driven by a real LSP client (pytest-lsp)."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from tests.support import fixed_text

ROOT = Path(__file__).resolve().parents[2]
SERVER = ClientServerConfig(
    server_command=[sys.executable, "-m", "perflint", "server"],
    server_env={"PYTHONPATH": str(ROOT)},
)
KEPT_UNDER_NO_GRAD = textwrap.dedent(
    """\
    import torch


    def validate(model, batches):
        kept = []
        with torch.no_grad():
            for batch in batches:
                out = model(batch).softmax(-1)
                kept.append(out.cpu())
        return kept
    """
)
SITE = types.Position(line=8, character=24)  # inside `out.cpu()`
pytestmark = pytest.mark.asyncio


@pytest_lsp.fixture(config=SERVER)
async def client(lsp_client: LanguageClient, tmp_path: Path):
    lsp_client.registrations = []

    @lsp_client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register(params: types.RegistrationParams) -> None:
        lsp_client.registrations.extend(params.registrations)

    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            root_uri=tmp_path.as_uri(),
            initialization_options={"perflint": {"select": [], "ignore": []}},
        )
    )
    yield
    await lsp_client.shutdown_session()


async def _diagnostics(client: LanguageClient, uri: str, send) -> list[types.Diagnostic]:
    """Send a notification and wait for the diagnostics it causes for ``uri``."""
    client.diagnostics.pop(uri, None)
    send()
    async def published():
        while uri not in client.diagnostics:
            await asyncio.sleep(0.01)
        return list(client.diagnostics[uri])
    return await asyncio.wait_for(published(), timeout=30)


async def _open(client: LanguageClient, path: Path, text: str, language: str = "python") -> list[types.Diagnostic]:
    path.write_text(text)
    item = types.TextDocumentItem(uri=path.as_uri(), language_id=language, version=1, text=text)
    return await _diagnostics(client, item.uri, lambda: client.text_document_did_open(types.DidOpenTextDocumentParams(item)))


def _apply(text: str, edits: list[types.TextEdit]) -> str:
    """Apply LSP edits (UTF-16 positions are code points here: the samples are ASCII)."""
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))

    def offset(position: types.Position) -> int:
        return offsets[min(position.line, len(lines))] + position.character

    for edit in sorted(edits, key=lambda e: offset(e.range.start), reverse=True):
        text = text[: offset(edit.range.start)] + edit.new_text + text[offset(edit.range.end) :]
    return text


async def _actions(client: LanguageClient, uri: str, at: types.Position) -> list[types.CodeAction]:
    params = types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri),
        range=types.Range(at, at),
        context=types.CodeActionContext(diagnostics=[]),
    )
    return list(await client.text_document_code_action_async(params) or [])


async def test_kept_cpu_under_no_grad_is_a_diagnostic_with_its_range_and_code(client: LanguageClient, tmp_path: Path):
    diagnostics = await _open(client, tmp_path / "validate.py", KEPT_UNDER_NO_GRAD)
    assert [d.code for d in diagnostics] == ["PFL101"]
    found = diagnostics[0]
    assert (found.range.start.line, found.range.start.character) == (8, 24)
    assert (found.range.end.line, found.range.end.character) == (8, 33)
    assert found.source == "perflint"
    assert found.code_description is None or found.code_description.href.endswith("PFL101.md")


async def test_safe_quick_fix_writes_what_fix_apply_writes(client: LanguageClient, tmp_path: Path):
    path = tmp_path / "validate.py"
    await _open(client, path, KEPT_UNDER_NO_GRAD)
    actions = await _actions(client, path.as_uri(), SITE)
    quick = [a for a in actions if a.kind == types.CodeActionKind.QuickFix and a.title.startswith("PFL101")]
    assert len(quick) == 1 and quick[0].title.endswith("(safe)")
    edited = _apply(KEPT_UNDER_NO_GRAD, quick[0].edit.changes[path.as_uri()])
    assert edited == fixed_text(KEPT_UNDER_NO_GRAD)
    assert ".detach().cpu()" in edited


async def test_fix_all_and_noqa_actions(client: LanguageClient, tmp_path: Path):
    path = tmp_path / "validate.py"
    await _open(client, path, KEPT_UNDER_NO_GRAD)
    actions = await _actions(client, path.as_uri(), SITE)
    fix_all = [a for a in actions if a.kind == "source.fixAll.perflint"]
    assert len(fix_all) == 1
    assert _apply(KEPT_UNDER_NO_GRAD, fix_all[0].edit.changes[path.as_uri()]) == fixed_text(KEPT_UNDER_NO_GRAD)
    noqa = [a for a in actions if a.title == "Disable PFL101 for this line"]
    assert len(noqa) == 1
    silenced = _apply(KEPT_UNDER_NO_GRAD, noqa[0].edit.changes[path.as_uri()])
    assert "kept.append(out.cpu())  # noqa: PFL101\n" in silenced
    params = types.DidChangeTextDocumentParams(
        types.VersionedTextDocumentIdentifier(version=2, uri=path.as_uri()),
        [types.TextDocumentContentChangeWholeDocument(silenced)],
    )
    assert await _diagnostics(client, path.as_uri(), lambda: client.text_document_did_change(params)) == []


async def test_hover_on_a_diagnostic_explains_the_rule(client: LanguageClient, tmp_path: Path):
    path = tmp_path / "validate.py"
    await _open(client, path, KEPT_UNDER_NO_GRAD)
    hover = await client.text_document_hover_async(types.HoverParams(types.TextDocumentIdentifier(path.as_uri()), SITE))
    assert hover is not None and "cpu-without-detach" in hover.contents.value and "Fix safety" in hover.contents.value
    away = await client.text_document_hover_async(
        types.HoverParams(types.TextDocumentIdentifier(path.as_uri()), types.Position(0, 0))
    )
    assert away is None


async def test_configuration_changes_are_picked_up(client: LanguageClient, tmp_path: Path):
    path = tmp_path / "validate.py"
    assert len(await _open(client, path, KEPT_UNDER_NO_GRAD)) == 1
    watched = [r for r in client.registrations if r.method == types.WORKSPACE_DID_CHANGE_WATCHED_FILES]
    assert len(watched) == 1
    config = tmp_path / "pyproject.toml"
    config.write_text('[tool.perflint]\nignore = ["PFL101"]\n')
    changed = types.DidChangeWatchedFilesParams([types.FileEvent(config.as_uri(), types.FileChangeType.Created)])
    assert await _diagnostics(client, path.as_uri(), lambda: client.workspace_did_change_watched_files(changed)) == []
    # The editor's own setting wins over the file's selection.
    settings = types.DidChangeConfigurationParams(settings={"perflint": {"select": ["PFL101"]}})
    again = await _diagnostics(client, path.as_uri(), lambda: client.workspace_did_change_configuration(settings))
    assert [d.code for d in again] == ["PFL101"]


async def test_configuration_error_is_shown_once_and_the_server_keeps_running(client: LanguageClient, tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text('[tool.perflint]\nunknwon-key = 1\n')
    first = await _open(client, tmp_path / "a.py", KEPT_UNDER_NO_GRAD)
    second = await _open(client, tmp_path / "b.py", KEPT_UNDER_NO_GRAD)
    assert [d.code for d in first] == [d.code for d in second] == ["PFL101"]
    shown = [m.message for m in client.messages if "unknwon-key" in m.message]
    assert len(shown) == 1


async def test_syntax_error_and_binary_text_do_not_crash_the_server(client: LanguageClient, tmp_path: Path):
    broken = await _open(client, tmp_path / "broken.py", "import torch\nkept.append(out.cpu()\ndef f(:\n")
    assert len(broken) == 1 and broken[0].severity == types.DiagnosticSeverity.Error
    assert "syntax" in broken[0].code
    binary = await _open(client, tmp_path / "binary.py", "PK\x03\x04\x00\x00.cpu(\x00\xff\n")
    assert len(binary) <= 1
    assert [d.code for d in await _open(client, tmp_path / "ok.py", KEPT_UNDER_NO_GRAD)] == ["PFL101"]


async def test_notebook_document_cells_get_their_diagnostics(client: LanguageClient, tmp_path: Path):
    notebook_uri = (tmp_path / "eval.ipynb").as_uri()
    first, second = f"{notebook_uri}#cell1", f"{notebook_uri}#cell2"
    cells = [
        "%%time\nimport torch\nkept = []\n",
        "with torch.no_grad():\n    for batch in range(3):\n        out = torch.ones(2) * batch\n        kept.append(out.cpu())\n",
    ]
    params = types.DidOpenNotebookDocumentParams(
        notebook_document=types.NotebookDocument(
            uri=notebook_uri,
            notebook_type="jupyter-notebook",
            version=1,
            cells=[types.NotebookCell(types.NotebookCellKind.Code, document=uri) for uri in (first, second)],
        ),
        cell_text_documents=[
            types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text) for uri, text in zip((first, second), cells)
        ],
    )
    diagnostics = await _diagnostics(client, second, lambda: client.notebook_document_did_open(params))
    assert [d.code for d in diagnostics] == ["PFL101"]
    assert diagnostics[0].range.start.line == 3
    assert list(client.diagnostics.get(first, [None])) == []


async def test_a_burst_of_edits_is_analysed_once_for_the_latest_version(client: LanguageClient, tmp_path: Path):
    path = tmp_path / "validate.py"
    await _open(client, path, KEPT_UNDER_NO_GRAD)
    versions: list[int | None] = []
    features = client.protocol.fm.features
    record = features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS]

    def counting(params: types.PublishDiagnosticsParams):
        versions.append(params.version)
        return record(params)

    features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = counting
    uri = path.as_uri()

    def burst():
        for version in range(2, 22):
            text = KEPT_UNDER_NO_GRAD + f"\n# edit {version}\n"
            client.text_document_did_change(
                types.DidChangeTextDocumentParams(
                    types.VersionedTextDocumentIdentifier(version=version, uri=uri),
                    [types.TextDocumentContentChangeWholeDocument(text)],
                )
            )

    assert [d.code for d in await _diagnostics(client, uri, burst)] == ["PFL101"]
    await asyncio.sleep(0.3)
    assert versions[-1] == 21
    assert len(versions) <= 3, versions
