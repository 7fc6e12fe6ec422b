"""``perflint check --add-noqa`` (ruff's flag): a ``# noqa: CODE`` on every line with a finding. Nothing here prints.

A line's existing directive gets the new codes appended (``# noqa: E501`` becomes ``# noqa: E501, PFL101``); a
comment without one keeps its text and gets the directive after it; a bare ``# noqa`` already covers
everything. The directive goes on the line the finding starts on, the only line whose ``# noqa`` suppresses it;
a line that cannot end in a comment (it ends inside a string, or after a backslash) is left alone and
reported. Encoding, BOM and line endings are kept, and a file is only written when Python's ast of the result
equals that of the original (only comments changed). Running it twice changes nothing the second time: the
findings it annotated are suppressed. Notebooks are left out (``.ipynb`` sources are JSON strings; ruff's
``--add-noqa`` edits them, perflint's does not yet).
"""

from __future__ import annotations

import ast
import io
import tokenize
import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Optional, Sequence

from perflint import api, notebook
from perflint.config import Settings
from perflint.files import write_atomically
from perflint.suppress import directive_text, find_directive, with_codes
from perflint.types import FileResult

EXIT_CLEAN, EXIT_LEFT = 0, 1


@dataclass(frozen=True)
class Annotated:
    """One source with directives added: the new bytes, how many lines changed, the lines that could not."""

    data: bytes
    added: int
    refused: tuple[int, ...]


def add_to_source(data: bytes, codes_by_line: Mapping[int, Iterable[str]]) -> Annotated:
    """``data`` with ``# noqa`` directives for ``codes_by_line`` (1-based line -> codes); ValueError if unsafe."""
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    text = data.decode(encoding)
    lines = io.StringIO(text, newline="").readlines()
    comments: dict[int, tuple[int, str]] = {}
    line_ends: set[int] = set()
    try:
        # tokenize takes a lone `\r` (old Mac line endings) for an error: it reads lines ending in `\n`.
        for token in tokenize.generate_tokens(io.StringIO(_with_newlines(lines)).readline):
            if token.type == tokenize.COMMENT:
                comments[token.start[0]] = (token.start[1], token.string)
            elif token.type in (tokenize.NEWLINE, tokenize.NL):
                line_ends.add(token.start[0])
    except (tokenize.TokenError, SyntaxError) as error:
        raise ValueError(f"does not tokenize: {error}") from None
    added, refused = 0, []
    for row, codes in sorted(codes_by_line.items()):
        wanted = sorted(set(codes))
        if row > len(lines) or not wanted:
            continue
        line = lines[row - 1]
        body, ending = line.rstrip("\r\n"), line[len(line.rstrip("\r\n")) :]
        if row in comments:
            column, comment = comments[row]
            directive = find_directive(comment)
            new = with_codes(comment, directive, wanted) if directive else f"{comment}  {directive_text(wanted)}"
            changed = body[:column] + new + body[column + len(comment) :]
        elif row in line_ends:
            # `x = f(a,` inside brackets or `x = f()`: the line ends in code, so a comment may follow.
            changed = body.rstrip(" \t") + "  " + directive_text(wanted)
        else:
            refused.append(row)  # `x = f("""...` or `x = a + \`: a comment would end up in the string or break it
            continue
        if changed != body:
            lines[row - 1] = changed + ending
            added += 1
    result = "".join(lines)
    if added:
        before = _syntax_tree(_with_newlines(io.StringIO(text, newline="").readlines()))
        if before is None or _syntax_tree(_with_newlines(lines)) != before:
            raise ValueError("adding the comments could not be shown to leave the code unchanged; not written")
    return Annotated(result.encode(encoding), added, tuple(refused))


def _with_newlines(lines: Sequence[str]) -> str:
    """The text of ``lines`` with every line ending written ``\n`` (same rows and columns)."""
    return "".join(line.rstrip("\r\n") + "\n" if line.endswith(("\r", "\n")) else line for line in lines)


def _syntax_tree(text: str) -> Optional[str]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.dump(ast.parse(text))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


@dataclass(frozen=True)
class AddNoqaOutcome:
    """What ``--add-noqa`` did over a run; ``report()`` is the text for stderr."""

    results: tuple[FileResult, ...]
    added: int
    written: tuple[Path, ...]
    refused: tuple[tuple[Path, int], ...]
    problems: tuple[tuple[Path, str], ...]
    notebooks: tuple[Path, ...]

    @property
    def exit_code(self) -> int:
        """0 when every finding now has its directive, 1 when some line or file was left as it was."""
        return EXIT_LEFT if self.refused or self.problems else EXIT_CLEAN

    def report(self) -> str:
        lines = [f"error: {path}: {problem}" for path, problem in self.problems]
        lines += [f"{path}:{row}: cannot take a `# noqa` comment (the line ends inside a string or after `\\`)" for path, row in self.refused]
        lines += [f"{path}: notebook left out (--add-noqa does not edit notebooks)" for path in self.notebooks]
        lines.append(f"Added {self.added} noqa directive{'s' if self.added != 1 else ''} in {len(self.written)} file{'s' if len(self.written) != 1 else ''}.")
        return "".join(line + "\n" for line in lines)


def add_noqa(paths: Sequence[Path], settings: Settings, execution: api.Execution = api.Execution()) -> AddNoqaOutcome:
    """Check ``paths`` (default ``.``) and add a ``# noqa`` directive for every finding, writing files atomically."""
    results = tuple(api.check_paths(list(paths) or [Path(".")], settings, api.RunOptions(), execution))
    added, written, refused, problems, notebooks = 0, [], [], [], []
    for result in results:
        if not result.violations or result.original is None:
            continue
        if notebook.is_notebook(result.path):
            notebooks.append(result.path)
            continue
        codes: dict[int, set[str]] = defaultdict(set)
        for violation in result.violations:
            codes[violation.location.row].add(violation.code)
        try:
            annotated = add_to_source(result.original, codes)
            if annotated.added:
                write_atomically(result.path, annotated.data, result.original)
        except (ValueError, LookupError, UnicodeError, SyntaxError) as error:
            problems.append((result.path, str(error)))
            continue
        except OSError as error:  # FileChangedError, ReadOnlyError, or the write itself
            problems.append((result.path, error.strerror or str(error)))
            continue
        added += annotated.added
        refused += [(result.path, row) for row in annotated.refused]
        if annotated.added:
            written.append(result.path)
    return AddNoqaOutcome(results, added, tuple(written), tuple(refused), tuple(problems), tuple(notebooks))
