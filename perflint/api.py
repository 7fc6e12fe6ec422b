"""Check and fix files: the library entry points behind the CLI. Nothing here prints."""

from __future__ import annotations

import ast
import difflib
import re
import stat
import warnings
from collections import Counter
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence

import libcst as cst

from perflint import cache, engine, fixes, notebook, parallel
from perflint.config import Settings
from perflint.engine import LintOutcome, SourceError
from perflint.files import Discovered, FileChangedError, decode_source, discover, write_atomically
from perflint.rule import Finding
from perflint.suppress import is_suppressed, noqa_lines
from perflint.types import Applicability, Edit, ErrorKind, FileError, FileResult, Fix, Location, Violation


@dataclass(frozen=True)
class RunOptions:
    """What a run does with each file beyond checking it. Whether unsafe fixes count is ``Settings.unsafe_fixes``
    (the one place it lives: the config file's key, overridden by ``--unsafe-fixes``)."""

    fix: bool = False
    apply: bool = False
    with_edits: bool = False
    # With ``fix``: a further say over each fix that would be applied (``fix --verify`` applies chosen subsets).
    # A function cannot cross to worker processes, and its repr keeps cached results of other runs apart.
    fix_filter: Optional[fixes.IsWanted] = None


@dataclass(frozen=True)
class Execution:
    """How a run is carried out: worker processes and a result cache change its speed, never its results."""

    jobs: int = 1
    cache_dir: Optional[Path] = None


def check_paths(
    paths: Sequence[Path],
    settings: Settings,
    options: RunOptions = RunOptions(),
    execution: Execution = Execution(),
) -> Iterator[FileResult]:
    """Check (and with ``options.fix``, fix) every file under ``paths``, one FileResult per file, in discovery order.

    Files are spread over ``execution.jobs`` processes. With ``execution.cache_dir``, a file is not checked
    again when its bytes, the configuration and perflint are those of a run that cached its result.
    """
    discovered = list(discover(paths, settings))
    store = None
    if execution.cache_dir is not None:
        store = cache.ResultCache.open(execution.cache_dir, _cache_key(settings, options))
    known = [store.get(item.path) if store is not None and item.problem is None else None for item in discovered]
    missing = [item for item, hit in zip(discovered, known) if hit is None]
    checked = parallel.map_in_order(partial(_check_discovered, settings=settings, options=options), missing, execution.jobs)
    try:
        for hit in known:
            result = hit if hit is not None else next(checked)
            if hit is None and store is not None:
                store.put(result)
            yield result
    finally:
        checked.close()
        if store is not None:
            store.save()


def _check_discovered(discovered: Discovered, settings: Settings, options: RunOptions) -> FileResult:
    if discovered.problem is not None:
        return FileResult(discovered.path, errors=(FileError(discovered.path, ErrorKind.READ, discovered.problem),))
    return check_file(discovered.path, settings, options)


def _cache_key(settings: Settings, options: RunOptions) -> str:
    """Everything besides the file's bytes and perflint itself that a cached result depends on."""
    return repr((settings.fingerprint(), settings.unsafe_fixes, str(settings.root.resolve()), options))


def files_to_check(paths: Sequence[Path], settings: Settings) -> list[Path]:
    """Every path ``check_paths`` would visit under ``paths``, in order; missing ones stay in, to be reported."""
    return [discovered.path for discovered in discover(paths, settings)]


def check_file(path: Path, settings: Settings, options: RunOptions = RunOptions()) -> FileResult:
    """Read, check and possibly fix and write one file."""
    try:
        # A FIFO or a device named *.py would block or never end when read.
        if not stat.S_ISREG(path.stat().st_mode):
            return FileResult(path, errors=(FileError(path, ErrorKind.READ, "not a regular file"),))
        data = path.read_bytes()
    except OSError as error:
        return FileResult(path, errors=(FileError(path, ErrorKind.READ, error.strerror or str(error)),))
    result = check_source(data, path, settings, options)
    if options.apply and result.changed and not result.errors:
        return _write(result)
    return result


def check_source(data: bytes, path: Path, settings: Settings, options: RunOptions = RunOptions()) -> FileResult:
    """Check (and fix, in memory) source bytes as if read from ``path``; a ``.ipynb`` path is read as a notebook."""
    if notebook.is_notebook(path):
        return notebook.check(data, path, lambda source: _check_python(source, path, settings, options))
    return _check_python(data, path, settings, options)


def _check_python(data: bytes, path: Path, settings: Settings, options: RunOptions) -> FileResult:
    try:
        text = decode_source(data)
    except ValueError as error:
        return FileResult(path, original=data, errors=(FileError(path, ErrorKind.ENCODING, str(error)),))
    prefiltered = engine.prefilter(data, settings.rules_for(path))
    if not prefiltered.rules:
        return FileResult(path, original=data, fixed=data)
    try:
        module = engine.parse(data, prefiltered.tree)
    except SourceError as error:
        return FileResult(path, original=data, errors=(FileError(path, ErrorKind.SYNTAX, _syntax_reason(data, str(error))),))
    try:
        return _lint_and_fix(module, data, text, path, prefiltered, settings, options)
    except (SourceError, RecursionError) as error:
        # Nesting that parses can still exhaust the stack in metadata, the visit or code generation.
        reason = str(error) if isinstance(error, SourceError) else "too deeply nested to analyse (recursion limit reached)"
        return FileResult(path, original=data, errors=(FileError(path, ErrorKind.SYNTAX, reason),))


def _syntax_reason(data: bytes, reason: str) -> str:
    """One position per syntax error: Python's own message where Python rejects the file too, else LibCST's
    without the second, 0-based position it embeds ("line 3, column 1: parser error: error at 4:0: ...")."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(data)
    except SyntaxError as error:
        if error.lineno is not None:
            return f"line {error.lineno}, column {error.offset or 1}: {error.msg}"
    except (ValueError, RecursionError, MemoryError):
        pass
    return re.sub(r"(parser error: )?error at \d+:\d+: ", "", reason)


def _lint_and_fix(
    module: cst.Module,
    data: bytes,
    text: str,
    path: Path,
    prefiltered: engine.Prefiltered,
    settings: Settings,
    options: RunOptions,
) -> FileResult:
    """Lint, and decide once which findings' fixes apply: the fixpoint that ``fix --apply`` runs is run for
    ``check`` too (in memory), so the findings ``check`` marks fixable are exactly those ``fix --apply`` removes.

    A finding is fixed when it is gone after the fixpoint (matched by code and message, the positions having
    moved). Each fixed finding carries one Fix: the hunks of the whole file's diff that its own rewrite
    touches; findings whose hunks meet (two findings of one shared rewrite, or a second that waited for the
    first) carry one and the same Fix, so no two different fixes overlap.
    """

    def run_rules(current: cst.Module) -> LintOutcome:
        # The ast describes the source as read; fixed modules get theirs parsed when a rule needs it.
        tree = prefiltered.tree if current is module else None
        return engine.lint(current, prefiltered.rules, str(path), settings.rule_options, tree=tree, selected=prefiltered.selected)

    def source_of(current: cst.Module) -> str:
        # The file as read (``text``) is its module's code: no code generation (a whole-module pass) to read
        # its comments.
        return text if current is module else current.code

    first = run_rules(module)
    errors = [FileError(path, ErrorKind.RULE, failure.reason, failure.code) for failure in first.failures]
    wanted = _wanted(settings.unsafe_fixes, source_of, options.fix_filter)
    kept = _unsuppressed(first.findings, source_of(module))
    fixed, remaining = module, first
    if any(wanted(finding, module) for finding in kept):
        try:
            outcome = fixes.fix_to_fixpoint(module, lambda m: first if m is module else run_rules(m), wanted, str(path), data)
            fixed, remaining = outcome.module, outcome.remaining
        except fixes.RewriteError as error:
            errors.append(FileError(path, ErrorKind.RULE, error.reason, error.code))
        except fixes.FixError as error:
            if options.fix:  # `check` only learns that nothing here can be fixed
                errors.append(FileError(path, ErrorKind.FIX, str(error)))
    left = kept
    if fixed is not module:
        for failure in remaining.failures:
            error = FileError(path, ErrorKind.RULE, failure.reason, failure.code)
            if error not in errors:
                errors.append(error)
        left = _unsuppressed(remaining.findings, source_of(fixed))
    resolved = _resolved(kept, Counter((f.code, f.message) for f in left), [wanted(f, module) for f in kept]) if fixed is not module else []
    if options.fix:
        violations = [_violation(f, path, _unapplied(f)) for f in left]
        fixed_codes = tuple(sorted(kept[i].code for i in resolved))
        unfixed = left
    else:
        decided = _fixes_for(module, fixed, kept, resolved, settings.unsafe_fixes, options.with_edits)
        violations = [_violation(f, path, decided.get(i, _unapplied(f))) for i, f in enumerate(kept)]
        fixed_codes = ()
        unfixed = [f for i, f in enumerate(kept) if i not in decided]
    unsafe_left = 0 if settings.unsafe_fixes else sum(
        1 for f in unfixed if f.rewrite is not None and f.rewrite.applicability is Applicability.UNSAFE
    )
    return FileResult(
        path,
        violations=tuple(sorted(violations, key=lambda v: v.sort_key)),
        errors=tuple(errors),
        original=data,
        fixed=fixed.bytes if options.fix and fixed is not module else data,
        fixes_applied=len(fixed_codes),
        unsafe_fixes_available=unsafe_left,
        fixed_codes=fixed_codes,
    )


def _unsuppressed(findings: Sequence[Finding], source: str) -> list[Finding]:
    if not findings:
        return []
    suppressions = noqa_lines(source)
    return [f for f in findings if not is_suppressed(suppressions, f.range.start.line, f.code)]


def _resolved(kept: Sequence[Finding], left: Counter, wanted_first: Sequence[bool]) -> list[int]:
    """Indices of the findings gone after fixing. Where a code and message stay k times, the findings whose fix
    was wanted on the original count as fixed first (their rewrite went in), then the earliest ones."""
    total = Counter((f.code, f.message) for f in kept)
    order = sorted(range(len(kept)), key=lambda index: (not wanted_first[index], index))
    taken: Counter = Counter()
    resolved = []
    for index in order:
        key = (kept[index].code, kept[index].message)
        if taken[key] < total[key] - left[key]:
            taken[key] += 1
            resolved.append(index)
    return sorted(resolved)


def _fixes_for(
    module: cst.Module,
    fixed: cst.Module,
    kept: Sequence[Finding],
    resolved: Sequence[int],
    unsafe: bool,
    with_edits: bool,
) -> dict[int, Fix]:
    """The Fix of each resolved finding (by index in ``kept``), hunks shared as the docstring of _lint_and_fix says.

    A fix applied in a run without unsafe fixes was safe when applied (a finding whose own rewrite is unsafe
    can become safe once a first fix is in), so it is reported safe; with unsafe fixes, a group is unsafe
    when any of its findings' own rewrites is.
    """
    if not resolved:
        return {}
    if not with_edits:
        return {
            index: Fix(_applicability(kept, [index], unsafe), kept[index].fix_title or "", (), applies=True)
            for index in resolved
        }
    parent = {index: index for index in resolved}

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    hunks = _hunks(module.code, fixed.code)
    owners: dict[int, list[int]] = {}
    regions: dict[int, list[tuple[int, int]]] = {}
    for index in resolved:
        regions[index] = []
        if kept[index].rewrite is not None:
            try:
                regions[index] = [(edit.location.row, edit.end_location.row) for edit in fixes.edits_for(module, kept[index])]
            except fixes.RewriteError:
                regions[index] = []  # its rewrite fails alone on the original: it was fixed as a consequence
        for number, hunk in enumerate(hunks):
            if any(_rows_meet(region, (hunk.location.row, hunk.end_location.row)) for region in regions[index]):
                owners.setdefault(number, []).append(index)
    for members in owners.values():
        for other in members[1:]:
            parent[root(other)] = root(members[0])
    groups: dict[int, list[int]] = {}
    for index in resolved:
        groups.setdefault(root(index), []).append(index)
    result: dict[int, Fix] = {}
    for members in groups.values():
        edits = tuple(hunk for number, hunk in enumerate(hunks) if any(root(o) == root(members[0]) for o in owners.get(number, ())))
        applicability = _applicability(kept, members, unsafe)
        for index in members:
            title = kept[index].fix_title or next((kept[i].fix_title for i in members if kept[i].fix_title), "")
            result[index] = Fix(applicability, title or "", edits, applies=True)
    return result


def _unapplied(finding: Finding) -> Optional[Fix]:
    """A rewrite this run does not apply (unsafe without unsafe fixes, or one that cannot go in): its kind and
    title are reported, without edits and without the `[*]`."""
    if finding.rewrite is None:
        return None
    return Fix(finding.rewrite.applicability, finding.fix_title or "", ())


def _applicability(kept: Sequence[Finding], members: Sequence[int], unsafe: bool) -> Applicability:
    unsafe_member = any(kept[i].rewrite is not None and kept[i].rewrite.applicability is Applicability.UNSAFE for i in members)
    return Applicability.UNSAFE if unsafe and unsafe_member else Applicability.SAFE


def _rows_meet(first: tuple[int, int], second: tuple[int, int]) -> bool:
    """Whether two line ranges [start, end) touch; an insertion (start == end) meets a range that contains it."""
    (a, b), (c, d) = first, second
    if a == b or c == d:
        return c <= a <= d if a == b else a <= c <= b
    return a < d and c < b


def _hunks(before_text: str, after_text: str) -> list[Edit]:
    """The line-granular edits that turn ``before_text`` into ``after_text``; a block of lines replaced one for
    one is split into one edit per line, so fixes of neighbouring lines stay apart."""
    before, after = before_text.splitlines(keepends=True), after_text.splitlines(keepends=True)
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    edits = []
    for tag, old_start, old_end, new_start, new_end in matcher.get_opcodes():
        if tag == "equal":
            continue
        if tag == "replace" and old_end - old_start == new_end - new_start:
            edits += [Edit(after[new_start + k], Location(old_start + k + 1, 1), Location(old_start + k + 2, 1)) for k in range(old_end - old_start)]
        else:
            edits.append(Edit("".join(after[new_start:new_end]), Location(old_start + 1, 1), Location(old_end + 1, 1)))
    return edits


def _wanted(unsafe: bool, source_of: Callable[[cst.Module], str], fix_filter: Optional[fixes.IsWanted] = None):
    noqa_cache: dict[int, object] = {}

    def wanted(finding: Finding, module: cst.Module) -> bool:
        if not fixes.is_applicable(finding, unsafe):
            return False
        if id(module) not in noqa_cache:
            noqa_cache.clear()
            noqa_cache[id(module)] = noqa_lines(source_of(module))
        if is_suppressed(noqa_cache[id(module)], finding.range.start.line, finding.code):
            return False
        return fix_filter is None or fix_filter(finding, module)

    return wanted


def _violation(finding: Finding, path: Path, fix: Optional[Fix]) -> Violation:
    """The finding as reported, with the Fix decided for it (None: ``fix --apply`` would not fix it)."""
    start, end = finding.range.start, finding.range.end
    return Violation(
        code=finding.code,
        message=finding.message,
        path=path,
        location=Location(start.line, start.column + 1),
        end_location=Location(end.line, end.column + 1),
        fix=fix,
    )


def _write(result: FileResult) -> FileResult:
    assert result.fixed is not None and result.original is not None
    try:
        write_atomically(result.path, result.fixed, result.original)
    except FileChangedError as error:
        return _with_error(result, FileError(result.path, ErrorKind.WRITE, str(error)))
    except OSError as error:
        return _with_error(result, FileError(result.path, ErrorKind.WRITE, error.strerror or str(error)))
    return replace(result, written=True)


def _with_error(result: FileResult, error: FileError) -> FileResult:
    return replace(result, errors=(*result.errors, error), fixes_applied=0)
