"""Jupyter notebooks: the code cells are checked and fixed as ONE module, and findings are mapped back to cells.

Why one module: a notebook runs top to bottom in one namespace, so ``import torch`` in cell 1 is what makes
``torch.no_grad()`` in cell 3 resolve (qualified names need the import). The module is the code cells in order,
each after a boundary line (a bare string statement, so that a fix inserting statements before a cell's first
statement keeps them in that cell, and imports added at the top land in the first cell). Cell numbers are the
1-based position among *all* cells, as Jupyter shows them and as ruff's ``cell`` field counts.

IPython syntax is left alone. A cell whose first line is a cell magic with a Python body run in the
notebook's namespace (PYTHON_CELL_MAGICS: ``%%time``, ``%%timeit``, ``%%capture``, ``%%prun``, ``%%debug``)
is checked and fixed like any cell, its magic line masked like a line magic and written back byte for byte;
a fix that would put code above it is refused. Other cell magics (``%%bash``, ``%%html``, ``%%writefile``,
``%%sql``, ``%%python`` which runs in another process, ...) skip their cell, counted in one note. Line magics,
shell escapes and help lines (``%time f()``, ``!pip install x``, ``obj?``) are replaced by a placeholder
statement with a marker comment before parsing, and put back (re-indented if a fix re-indented them) after
fixing. ``x = !ls`` keeps its binding as ``x = ...``. A cell that still does not parse is skipped with a note.
A fixed notebook is written back with the formatting it had (indent, key order, escapes, final newline):
only the ``source`` of changed cells differs. A notebook whose formatting cannot be reproduced is not rewritten.

Known limits: code inside a magic (``%time y = f(x)``) is invisible to the rules; and since every fix is compiled
as one module before it is kept, a notebook using top-level ``await`` or a late ``from __future__`` import is
checked but not fixed (the fix is refused with an error, the notebook left as it was).
"""

from __future__ import annotations

import bisect
import io
import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Optional

import libcst as cst

from perflint.types import Edit, ErrorKind, FileError, FileResult, Location, Violation

NOTEBOOK_SUFFIX = ".ipynb"
BOUNDARY = '"__perflint_cell_boundary__"\n'
MAGIC_MARKER = re.compile(r"  # __perflint_magic_(\d+)__$")
# A cell already holding these texts could not be told apart from perflint's own markers: it is skipped.
RESERVED = ("__perflint_cell_boundary__", "__perflint_magic_")
_ASSIGNED_MAGIC = re.compile(r"^(?P<target>[A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*)\s*=\s*[!%]")
_HELP = re.compile(r"^\?|\?\s*$")
# IPython's built-in cell magics whose body is Python run in the notebook's own namespace (IPython's
# ExecutionMagics: %%time, %%timeit, %%capture, %%prun, %%debug). The script magics %%python, %%python3 and
# %%pypy have Python bodies too but run them in a separate process, where the notebook's imports and names
# do not exist: checking them as part of the notebook's module would resolve names wrongly, so they are
# skipped with the other languages (ruff lints them; precision first here).
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug"})
_CELL_MAGIC = re.compile(r"%%([A-Za-z_][\w.]*)")


class NotebookError(ValueError):
    """A file that is not a notebook perflint can read, or a fixed notebook it cannot write back faithfully."""


def is_notebook(path: Path) -> bool:
    """Whether ``path`` is checked as a Jupyter notebook."""
    return path.suffix == NOTEBOOK_SUFFIX


@dataclass(frozen=True)
class CodeCell:
    """One code cell taking part in the module: its number, where its text came from, and what was masked."""

    number: int
    ends_with_newline: bool
    masked: tuple[str, ...]
    # The cell-magic line (``%%time``, without its line ending) the cell must still start with when fixed.
    cell_magic: Optional[str] = None


@dataclass(frozen=True)
class _JsonStyle:
    indent: Optional[int]
    ensure_ascii: bool
    final_newline: bool


@dataclass(frozen=True)
class Notebook:
    """A parsed notebook and the Python module built from its code cells."""

    document: dict
    cells: tuple[CodeCell, ...]
    source: str
    notes: tuple[str, ...]


def load(data: bytes) -> Notebook:
    """Parse notebook bytes and build the module of its code cells; raises NotebookError."""
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as error:
        raise NotebookError(f"not a valid notebook (JSON): {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("cells"), list):
        raise NotebookError("not a valid notebook: no list of cells")
    language = _language(document)
    if language not in (None, "python"):
        return Notebook(document, (), "", (f"the notebook's language is {language!r}, not Python: not checked",))
    cells: list[CodeCell] = []
    texts: list[str] = []
    notes: list[str] = []
    other_languages: list[tuple[int, str]] = []
    for number, cell in enumerate(document["cells"], start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        text = _cell_text(cell)
        magic_line = _cell_magic_line(text)
        if magic_line is not None:
            name = _CELL_MAGIC.match(magic_line.strip())
            if name is None or name.group(1) not in PYTHON_CELL_MAGICS:
                other_languages.append((number, magic_line.split()[0] if magic_line.split() else "%%"))
                continue
        prepared = _prepare(text, first_magic=sum(len(c.masked) for c in cells))
        if prepared is None:
            notes.append(f"cell {number} skipped: it does not parse as Python, even with IPython magics set aside")
            continue
        python, masked = prepared
        cells.append(CodeCell(number, text.endswith("\n") or not text, masked, magic_line))
        texts.append(python)
    if other_languages:
        notes.append(_other_languages_note(other_languages))
    source = "".join(text if index == 0 else BOUNDARY + text for index, text in enumerate(texts))
    return Notebook(document, tuple(cells), source, tuple(notes))


def _cell_magic_line(text: str) -> Optional[str]:
    """The cell's ``%%`` line (IPython reads one only as the first non-blank line), without its ending."""
    for line in _lines(text):
        if line.strip():
            return line.rstrip("\r\n") if line.lstrip().startswith("%%") else None
    return None


def _other_languages_note(skipped: list[tuple[int, str]]) -> str:
    """One note for every cell skipped because its cell magic does not run Python in the notebook."""
    numbers = ", ".join(str(number) for number, _magic in skipped)
    magics = ", ".join(dict.fromkeys(magic for _number, magic in skipped))
    if len(skipped) == 1:
        return f"1 cell skipped (cell {numbers}): its cell magic ({magics}) does not run Python in the notebook"
    return f"{len(skipped)} cells skipped (cells {numbers}): their cell magics ({magics}) do not run Python in the notebook"


def _language(document: dict) -> Optional[str]:
    metadata = document.get("metadata")
    if not isinstance(metadata, dict):
        return None
    for key in ("language_info", "kernelspec"):
        section = metadata.get(key)
        if isinstance(section, dict):
            name = section.get("name" if key == "language_info" else "language")
            if isinstance(name, str):
                return name.lower()
    return None


def _cell_text(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _prepare(text: str, first_magic: int) -> Optional[tuple[str, tuple[str, ...]]]:
    """The cell as parseable Python (magics masked only if it needs it) and the masked lines, or None."""
    python = text if text.endswith("\n") or not text else text + "\n"
    if any(reserved in python for reserved in RESERVED):
        return None
    if _parses(python):
        return python, ()
    lines = _lines(python)
    masked: list[str] = []
    for index, line in enumerate(lines):
        if _is_magic(line):
            lines[index] = _placeholder(line, first_magic + len(masked))
            masked.append(line.rstrip("\r\n"))
    python = "".join(lines)
    return (python, tuple(masked)) if masked and _parses(python) else None


def _lines(text: str) -> list[str]:
    """Lines with their endings, split where Python splits them (not at form feeds, as str.splitlines does)."""
    return io.StringIO(text, newline="").readlines()


def _parses(text: str) -> bool:
    try:
        cst.parse_module(text)
    except (cst.ParserSyntaxError, RecursionError, ValueError):
        return False
    return True


def _is_magic(line: str) -> bool:
    stripped = line.strip()
    return stripped.startswith(("%", "!")) or bool(_HELP.search(stripped)) or bool(_ASSIGNED_MAGIC.match(stripped))


def _placeholder(line: str, number: int) -> str:
    # A cell magic may be indented (IPython strips the cell's leading indent), a statement at the top may not.
    indent = "" if line.lstrip().startswith("%%") else line[: len(line) - len(line.lstrip())]
    assigned = _ASSIGNED_MAGIC.match(line.strip())
    statement = f"{assigned.group('target')} = ..." if assigned else "pass"
    ending = line[len(line.rstrip("\r\n")) :] or "\n"  # keep `\r\n` so an unchanged cell round-trips
    return f"{indent}{statement}  # __perflint_magic_{number}__{ending}"


def check(data: bytes, path: Path, check_python: Callable[[bytes], FileResult]) -> FileResult:
    """Check (and fix) a notebook through ``check_python``, which checks module source as if read from ``path``."""
    try:
        notebook = load(data)
    except NotebookError as error:
        return FileResult(path, original=data, errors=(FileError(path, ErrorKind.SYNTAX, str(error)),))
    if not notebook.cells:
        return FileResult(path, original=data, fixed=data, notes=notebook.notes)
    module = notebook.source.encode("utf-8")
    result = check_python(module)
    layout = _layout((result.fixed or module).decode("utf-8"), notebook.cells)
    violations = tuple(sorted((_to_cell(v, layout) for v in result.violations), key=lambda v: v.sort_key))
    errors, fixed = result.errors, data
    if result.fixed is not None and result.fixed != module:
        try:
            fixed = write(notebook, data, result.fixed.decode("utf-8"))
        except NotebookError as error:
            errors = (*errors, FileError(path, ErrorKind.FIX, f"{error}; notebook left unchanged"))
    return replace(
        result,
        violations=violations,
        errors=errors,
        original=data,
        fixed=fixed,
        fixes_applied=result.fixes_applied if fixed != data else 0,
        notes=(*notebook.notes, *result.notes),
    )


@dataclass(frozen=True)
class _Span:
    cell: int
    first_row: int
    rows: int
    # Jupyter stores a cell without its final newline; the module line has one, which edits must not add.
    open_end: Optional[int] = None


def _layout(source: str, cells: tuple[CodeCell, ...]) -> tuple[_Span, ...]:
    """Where each cell's lines sit in ``source`` (1-based module rows), found from the boundary lines."""
    spans: list[_Span] = []
    for cell, text in zip(cells, source.split(BOUNDARY)):
        lines = _lines(text)
        first_row = spans[-1].first_row + spans[-1].rows + 1 if spans else 1
        open_end = None if cell.ends_with_newline or not lines else len(lines[-1].rstrip("\r\n"))
        spans.append(_Span(cell.number, first_row, len(lines), open_end))
    return tuple(spans)


def _span_of(row: int, layout: tuple[_Span, ...]) -> _Span:
    return next((span for span in reversed(layout) if span.first_row <= row), layout[0])


def _to_cell(violation: Violation, layout: tuple[_Span, ...]) -> Violation:
    span = _span_of(violation.location.row, layout)
    fix = violation.fix
    if fix is not None and fix.edits:
        edits = tuple(_edit_in_cell(edit, span) for edit in fix.edits)
        fix = replace(fix, edits=edits if all(edits) else ())  # type: ignore[arg-type]
    return replace(
        violation,
        location=_in_cell(violation.location, span),
        end_location=_in_cell(violation.end_location, span),
        cell=span.cell,
        fix=fix,
    )


def _in_cell(location: Location, span: _Span) -> Location:
    # An end position can sit one past the cell's last row (an exclusive end); clamp anything further.
    row = min(max(location.row - span.first_row + 1, 1), span.rows + 1)
    return Location(row, location.column)


def _edit_in_cell(edit: Edit, span: _Span) -> Optional[Edit]:
    last_exclusive = span.first_row + span.rows
    if not (span.first_row <= edit.location.row and edit.end_location.row <= last_exclusive):
        return None
    end = _in_cell(edit.end_location, span)
    content = edit.content
    if span.open_end is not None and end.row == span.rows + 1:
        # The edit runs to the end of a cell stored without a final newline: end it on the last line instead.
        end = Location(span.rows, span.open_end + 1)
        content = content[:-1] if content.endswith("\n") else content
    return replace(edit, content=content, location=_in_cell(edit.location, span), end_location=end)


def write(notebook: Notebook, original: bytes, fixed_source: str) -> bytes:
    """The notebook with each code cell's source taken from ``fixed_source``, formatted as ``original`` was."""
    style = _style_of(notebook.document, original)
    magics = [line for cell in notebook.cells for line in cell.masked]
    pieces = _restore_magics(fixed_source, magics).split(BOUNDARY)
    if len(pieces) != len(notebook.cells):
        raise NotebookError("a fix moved a cell boundary")
    document = json.loads(original)
    for cell, text in zip(notebook.cells, pieces):
        if not cell.ends_with_newline and text.endswith("\n"):
            text = text[:-1]
        if cell.cell_magic is not None and _cell_magic_line(text) != cell.cell_magic:
            raise NotebookError(f"a fix would move the cell magic {cell.cell_magic.strip()!r} of cell {cell.number}")
        entry = document["cells"][cell.number - 1]
        if text != _cell_text(entry):
            entry["source"] = _lines(text) if isinstance(entry.get("source"), list) else text
    return _render(document, style)


def _restore_magics(source: str, magics: list[str]) -> str:
    """Put each masked line back where its placeholder is now, with the placeholder's (maybe new) indentation."""
    lines = _lines(source)
    restored: list[int] = []
    for index, line in enumerate(lines):
        match = MAGIC_MARKER.search(line.rstrip("\r\n"))
        if match is not None:
            number = int(match.group(1))
            indent = line[: len(line) - len(line.lstrip())]
            magic = magics[number] if magics[number].lstrip().startswith("%%") else indent + magics[number].lstrip()
            lines[index] = magic + line[len(line.rstrip("\r\n")) :]
            restored.append(number)
    if sorted(restored) != list(range(len(magics))):
        raise NotebookError("a fix removed or duplicated an IPython magic line")
    return "".join(lines)


def _style_of(document: dict, original: bytes) -> _JsonStyle:
    """The json.dumps settings that reproduce ``original`` exactly; NotebookError if none does."""
    text = original.decode("utf-8")
    second_line = text.split("\n", 2)[1] if text.count("\n") >= 2 else ""
    indent = len(second_line) - len(second_line.lstrip(" ")) if "\n" in text.rstrip("\n") else None
    for ensure_ascii in (False, True):
        style = _JsonStyle(indent, ensure_ascii, text.endswith("\n"))
        if _render(document, style) == original:
            return style
    raise NotebookError("its JSON formatting cannot be reproduced, so it is not rewritten")


def _render(document: dict, style: _JsonStyle) -> bytes:
    text = json.dumps(document, indent=style.indent, ensure_ascii=style.ensure_ascii)
    return (text + ("\n" if style.final_newline else "")).encode("utf-8")


# Raw positions: where a cell's text sits in the .ipynb file itself (for SARIF, whose regions address the file).
_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+')
_RAW_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class _RawPiece:
    """One JSON string of a cell's ``source``: where its content starts in the raw text, raw and decoded."""

    offset: int
    raw: str
    length: int  # decoded length in code points


class RawIndex:
    """Maps a position inside a code cell (1-based row and column, as findings carry them) to the raw file."""

    def __init__(self, text: str, pieces: dict[int, list[_RawPiece]]) -> None:
        self._pieces = pieces
        self._line_starts = [0] + [match.end() for match in _RAW_LINE_BREAK.finditer(text)]

    def locate(self, cell: int, location: Location, end: bool = False) -> Optional[Location]:
        """The raw (line, column) of ``location`` in cell ``cell``, or None if the cell is not in the index.

        An ``end`` position that falls between two strings of a cell's source list is placed at the end of
        the first one (before its closing quote), a start position at the beginning of the next one.
        """
        pieces = self._pieces.get(cell)
        if not pieces:
            return None
        text = "".join(json.loads(f'"{piece.raw}"') for piece in pieces)
        lines = _lines(text)
        if location.row - 1 > len(lines):
            return None
        offset = sum(len(line) for line in lines[: location.row - 1]) + location.column - 1
        for index, piece in enumerate(pieces):
            last = index == len(pieces) - 1
            if offset < piece.length or (offset == piece.length and (end or last)):
                return self._line_column(piece.offset + _raw_offset(piece.raw, offset))
            offset -= piece.length
        return None

    def _line_column(self, offset: int) -> Location:
        line = bisect.bisect_right(self._line_starts, offset)
        return Location(line, offset - self._line_starts[line - 1] + 1)


def raw_index(data: bytes) -> Optional[RawIndex]:
    """Where each code cell's ``source`` strings are in the raw notebook ``data``; None if it cannot be read."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    pieces: dict[int, list[_RawPiece]] = {}
    # One frame per open container: [is_object, current key or index, expecting a key].
    stack: list[list] = []
    try:
        for match in _JSON_TOKEN.finditer(text):
            token = match.group()
            top = stack[-1] if stack else None
            if token in "{[":
                stack.append([token == "{", None if token == "{" else 0, token == "{"])
            elif token in "}]":
                stack.pop()
            elif token == ":":
                top[2] = False
            elif token == ",":
                if top[0]:
                    top[2] = True
                else:
                    top[1] += 1
            elif token.startswith('"') and top is not None and top[0] and top[2]:
                top[1] = json.loads(token)
            elif token.startswith('"') and _is_source_string(stack):
                raw = token[1:-1]
                pieces.setdefault(stack[1][1] + 1, []).append(_RawPiece(match.start() + 1, raw, len(json.loads(token))))
    except (ValueError, TypeError, IndexError):
        return None
    return RawIndex(text, pieces)


def _is_source_string(stack: list[list]) -> bool:
    """Whether a string value at this nesting is (an element of) ``cells[i]["source"]``."""
    if len(stack) not in (3, 4) or stack[0][1] != "cells" or stack[1][0] or stack[2][1] != "source":
        return False
    return len(stack) == 3 or not stack[3][0]


def _raw_offset(raw: str, decoded: int) -> int:
    """How many characters of the JSON string content ``raw`` encode its first ``decoded`` characters."""
    position = 0
    for _ in range(decoded):
        if raw[position] != "\\":
            position += 1
        elif raw[position + 1] != "u":
            position += 2
        elif _is_surrogate_pair(raw, position):
            position += 12  # \ud83d\ude00: one code point once decoded
        else:
            position += 6
    return position


def _is_surrogate_pair(raw: str, position: int) -> bool:
    high = raw[position + 2 : position + 6]
    low = raw[position + 6 : position + 12]
    return (
        0xD800 <= int(high, 16) < 0xDC00
        and low.startswith("\\u")
        and len(low) == 6
        and 0xDC00 <= int(low[2:], 16) < 0xE000
    )
