"""Files as users have them: encodings, line endings, odd whitespace, extreme sizes and nesting.

Each case goes through ``api.check_file`` with ``--apply`` semantics, so the bytes on disk are what is checked:
a fix changes only the fixed line and keeps the file's encoding, BOM and line endings; a file perflint cannot
analyse gets one error naming it and stays byte-identical.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from perflint import api
from perflint.types import ErrorKind, FileResult
from tests.safety.samples import CLEAN, FIXABLE, FIXED
from tests.support import settings_for

APPLY = api.RunOptions(fix=True, apply=True)


def fix_file(path: Path, data: bytes) -> FileResult:
    """Write ``data`` to ``path``, run ``fix --apply`` on it with every rule, and return the result."""
    path.write_bytes(data)
    return api.check_file(path, settings_for(["ALL"]), APPLY)


def assert_fixed(path: Path, result: FileResult, expected: bytes) -> None:
    assert not result.errors, result.errors
    assert result.written and result.fixes_applied == 1
    assert path.read_bytes() == expected


@pytest.mark.parametrize("newline", ["\r\n", "\r"], ids=["crlf", "cr"])
def test_fix_keeps_line_endings(tmp_path: Path, newline: str) -> None:
    path = tmp_path / "ends.py"
    result = fix_file(path, FIXABLE.replace("\n", newline).encode())
    assert_fixed(path, result, FIXED.replace("\n", newline).encode())


def test_fix_keeps_mixed_line_endings_line_by_line(tmp_path: Path) -> None:
    lines = FIXABLE.splitlines(keepends=True)
    mixed = "".join(line.replace("\n", "\r\n") if index % 2 else line for index, line in enumerate(lines))
    path = tmp_path / "mixed.py"
    result = fix_file(path, mixed.encode())
    assert_fixed(path, result, mixed.replace("softmax(dim=-1).cpu()", "softmax(dim=-1).detach().cpu()").encode())


def test_fix_keeps_latin1_encoding(tmp_path: Path) -> None:
    source = "# -*- coding: latin-1 -*-\n" + FIXABLE + "GREETING = 'caf\xe9 \xfcber'\n"
    path = tmp_path / "latin.py"
    result = fix_file(path, source.encode("latin-1"))
    expected = ("# -*- coding: latin-1 -*-\n" + FIXED + "GREETING = 'caf\xe9 \xfcber'\n").encode("latin-1")
    assert_fixed(path, result, expected)


def test_fix_keeps_utf8_bom(tmp_path: Path) -> None:
    path = tmp_path / "bom.py"
    result = fix_file(path, b"\xef\xbb\xbf" + FIXABLE.encode())
    assert_fixed(path, result, b"\xef\xbb\xbf" + FIXED.encode())


def test_fix_keeps_missing_trailing_newline(tmp_path: Path) -> None:
    path = tmp_path / "no_newline.py"
    result = fix_file(path, FIXABLE.rstrip("\n").encode())
    assert_fixed(path, result, FIXED.rstrip("\n").encode())


def test_fix_keeps_tabs_and_form_feeds(tmp_path: Path) -> None:
    source = "\x0c\n" + FIXABLE.replace("    ", "\t") + "\x0c\n\ndef later():\n\treturn 1\n"
    path = tmp_path / "tabs.py"
    result = fix_file(path, source.encode())
    assert_fixed(path, result, source.replace("softmax(dim=-1).cpu()", "softmax(dim=-1).detach().cpu()").encode())


def test_very_long_lines(tmp_path: Path) -> None:
    """A 1 MB line and a 300-element line (LibCST takes ~0.5 ms per list element, hence the size)."""
    long_lines = "BLOB = '" + "x" * 1_000_000 + "'\nTABLE = [" + ", ".join(map(str, range(300))) + "]\n"
    path = tmp_path / "long.py"
    result = fix_file(path, (FIXABLE + long_lines).encode())
    assert_fixed(path, result, (FIXED + long_lines).encode())


def test_huge_file(tmp_path: Path) -> None:
    """4 MB (mostly a data literal, which LibCST parses quickly): the one finding at the very end is fixed."""
    data_block = 'DATA = """\n' + ("y" * 99 + "\n") * 40_000 + '"""\n'
    path = tmp_path / "huge.py"
    result = fix_file(path, (data_block + FIXABLE).encode())
    assert_fixed(path, result, (data_block + FIXED).encode())


@pytest.mark.parametrize("data", [b"", b"\n", b"\xef\xbb\xbf", b"# only a comment", b"\r\n\r\n"], ids=repr)
def test_trivial_files_are_clean_and_untouched(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "trivial.py"
    result = fix_file(path, data)
    assert not result.errors and not result.violations and not result.written
    assert path.read_bytes() == data


def test_file_without_findings_is_byte_identical(tmp_path: Path) -> None:
    data = ("# -*- coding: latin-1 -*-\r\n" + CLEAN.replace("\n", "\r\n") + "X = '\xe9'").encode("latin-1")
    path = tmp_path / "clean.py"
    result = fix_file(path, data)
    assert not result.errors and not result.violations and not result.written
    assert result.fixed == data and path.read_bytes() == data


DEEP_SOURCES = {
    "parentheses": "x = " + "(" * 5_000 + "1" + ")" * 5_000 + "\n",
    "lists": "x = " + "[" * 5_000 + "]" * 5_000 + "\n",
    "binary operators": "x = " + " + ".join(["a"] * 20_000) + "\n",
    "boolean operators": "x = " + " and ".join(["a"] * 5_000) + "\n",
    "attributes": "x = a" + ".b" * 20_000 + "\n",
    "method chain": "x = t" + ".cpu()" * 5_000 + "\n",
    "unary operators": "x = " + "-" * 50_000 + "1\n",
    "lambdas": "x = " + "lambda: " * 5_000 + "1\n",
    "conditional expressions": "x = " + "a if b else " * 5_000 + "c\n",
    "medium binary operators": "x = " + " + ".join(["a"] * 600) + "\n",
    "indentation": "".join("    " * level + "if x:\n" for level in range(150)) + "    " * 150 + "pass\n",
}


@pytest.mark.parametrize("body", DEEP_SOURCES.values(), ids=DEEP_SOURCES.keys())
def test_deep_nesting_is_one_error_not_a_crash(tmp_path: Path, body: str) -> None:
    """Too deep for CPython or LibCST: one error naming the file (LibCST's parser would overflow the C stack)."""
    data = (FIXABLE + body).encode()
    path = tmp_path / "deep.py"
    result = fix_file(path, data)
    assert [error.kind for error in result.errors] == [ErrorKind.SYNTAX]
    assert "nest" in result.errors[0].reason or "indentation" in result.errors[0].reason
    assert result.errors[0].describe().startswith(str(path))
    assert path.read_bytes() == data


def test_nesting_python_accepts_is_analysed(tmp_path: Path) -> None:
    body = "x = " + "(" * 60 + "1" + ")" * 60 + "\ny = " + " + ".join(["a"] * 150) + "\n"
    path = tmp_path / "nested.py"
    result = fix_file(path, (FIXABLE + body).encode())
    assert_fixed(path, result, (FIXED + body).encode())


def test_code_python_rejects_is_not_fixed(tmp_path: Path) -> None:
    """LibCST parses `return` at module level, Python refuses it: report, but never write such a file."""
    data = (FIXABLE + "return 1\n").encode()
    path = tmp_path / "rejected.py"
    result = fix_file(path, data)
    assert [error.kind for error in result.errors] == [ErrorKind.FIX]
    assert "does not compile" in result.errors[0].reason
    assert path.read_bytes() == data

