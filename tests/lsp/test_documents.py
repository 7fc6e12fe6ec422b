"""The server's pure parts: positions in the client's encoding, noqa edits, client settings."""

from __future__ import annotations

import textwrap
from pathlib import Path

from lsprotocol import types
from pygls.workspace import PositionCodec

from perflint.config import Settings
from perflint.lsp import documents

EMOJI_LINE = textwrap.dedent(
    """\
    import torch

    with torch.no_grad():
        kept = []
        for batch in range(3):
            out = torch.ones(2)
            label = "😋"; kept.append(out.cpu())
    """
)


def test_ranges_count_utf16_code_units():
    result = documents.analyse(EMOJI_LINE, Path("emoji.py"), Settings(root=Path(".")))
    lines = EMOJI_LINE.splitlines(keepends=True)
    [violation] = result.violations
    found = documents.diagnostic(violation, lines, PositionCodec(types.PositionEncodingKind.Utf16), None).range
    column = lines[6].index("out.cpu()")
    # The emoji is one code point but two UTF-16 code units: the range moves one unit right.
    assert (found.start.line, found.start.character) == (6, column + 1)
    utf32 = documents.diagnostic(violation, lines, PositionCodec(types.PositionEncodingKind.Utf32), None).range
    assert utf32.start.character == column


def _noqa(line: str, code: str) -> str:
    return documents.noqa_edit(line, 1, code, PositionCodec(), [line]).new_text


def test_no_noqa_edit_where_a_comment_cannot_go():
    text = 'x = """a\nb""".cpu()\n'
    assert documents.noqa_edit(text, 1, "PFL101", PositionCodec(), text.splitlines(keepends=True)) is None


def test_noqa_edit_adds_merges_and_keeps_a_bare_noqa():
    assert _noqa("x.cpu()\n", "PFL101") == "x.cpu()  # noqa: PFL101"
    assert _noqa("x.cpu()  # noqa: PFL105\n", "PFL101") == "x.cpu()  # noqa: PFL105, PFL101"
    assert _noqa("x.cpu()  # noqa: PFL101\n", "PFL101") == "x.cpu()  # noqa: PFL101"
    assert _noqa("x.cpu()  # noqa\n", "PFL101") == "x.cpu()  # noqa"
    assert _noqa("x.cpu()  # keep  # noqa: E501 why\n", "PFL101") == "x.cpu()  # keep  # noqa: E501, PFL101 why"


def test_client_settings_are_read_flat_or_under_perflint():
    nested = documents.ClientSettings.from_client({"perflint": {"select": ["PFL1"], "unsafe-fixes": True}})
    flat = documents.ClientSettings.from_client({"ignore": "PFL101, PFL105"})
    assert nested == documents.ClientSettings(select=("PFL1",), unsafe_fixes=True)
    assert flat == documents.ClientSettings(ignore=("PFL101", "PFL105"))
    assert documents.ClientSettings.from_client(None) == documents.ClientSettings()


def test_unsafe_fixes_are_offered_only_when_asked_for(tmp_path: Path):
    source = textwrap.dedent(
        """\
        def train(model, batches):
            kept = []
            for batch in batches:
                out = model(batch)
                kept.append(out.cpu())
                out.sum().backward()
        """
    )
    [without] = documents.analyse(source, tmp_path / "t.py", Settings(root=tmp_path)).violations
    assert without.fix is not None and without.fix.applicability.value == "unsafe"
    assert not documents.offered(without)
    [with_unsafe] = documents.analyse(source, tmp_path / "t.py", Settings(root=tmp_path, unsafe_fixes=True)).violations
    assert documents.offered(with_unsafe)
    assert documents.fix_title(with_unsafe).endswith("(unsafe: gradients may need to flow through the kept value)")
