"""Check and fix files: the library entry points behind the CLI. Nothing here prints."""

from __future__ import annotations

import stat
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Iterator, Optional, Sequence

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
    """What a run does with each file beyond checking it."""

    fix: bool = False
    apply: bool = False
    unsafe_fixes: bool = False
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
        decode_source(data)
    except ValueError as error:
        return FileResult(path, original=data, errors=(FileError(path, ErrorKind.ENCODING, str(error)),))
    prefiltered = engine.prefilter(data, settings.rules_for(path))
    if not prefiltered.rules:
        return FileResult(path, original=data, fixed=data)
    try:
        module = engine.parse(data, prefiltered.tree)
    except SourceError as error:
        return FileResult(path, original=data, errors=(FileError(path, ErrorKind.SYNTAX, str(error)),))
    try:
        return _lint_and_fix(module, data, path, prefiltered, settings, options)
    except (SourceError, RecursionError) as error:
        # Nesting that parses can still exhaust the stack in metadata, the visit or code generation.
        reason = str(error) if isinstance(error, SourceError) else "too deeply nested to analyse (recursion limit reached)"
        return FileResult(path, original=data, errors=(FileError(path, ErrorKind.SYNTAX, reason),))


def _lint_and_fix(
    module: cst.Module,
    data: bytes,
    path: Path,
    prefiltered: engine.Prefiltered,
    settings: Settings,
    options: RunOptions,
) -> FileResult:
    def run_rules(current: cst.Module) -> LintOutcome:
        # The ast describes the source as read; fixed modules get theirs parsed when a rule needs it.
        tree = prefiltered.tree if current is module else None
        return engine.lint(current, prefiltered.rules, str(path), settings.rule_options, tree=tree, selected=prefiltered.selected)

    unsafe = options.unsafe_fixes or settings.unsafe_fixes
    applied, errors = 0, []
    fixed = module
    if options.fix:
        try:
            outcome = fixes.fix_to_fixpoint(module, run_rules, _wanted(unsafe, options.fix_filter), str(path), data)
            fixed, applied, remaining = outcome.module, outcome.applied, outcome.remaining
        except fixes.RewriteError as error:
            errors.append(FileError(path, ErrorKind.RULE, error.reason, error.code))
            remaining = run_rules(module)
        except fixes.FixError as error:
            errors.append(FileError(path, ErrorKind.FIX, str(error)))
            remaining = run_rules(module)
    else:
        remaining = run_rules(module)
    errors.extend(FileError(path, ErrorKind.RULE, failure.reason, failure.code) for failure in remaining.failures)
    suppressions = noqa_lines(fixed.code)
    kept = [f for f in remaining.findings if not is_suppressed(suppressions, f.range.start.line, f.code)]
    violations = tuple(sorted((_violation(f, path, fixed, options.with_edits, errors) for f in kept), key=lambda v: v.sort_key))
    unsafe_left = sum(1 for f in kept if f.rewrite is not None and f.rewrite.applicability is Applicability.UNSAFE and not unsafe)
    return FileResult(
        path,
        violations=violations,
        errors=tuple(errors),
        original=data,
        fixed=fixed.bytes if applied else data,
        fixes_applied=applied,
        unsafe_fixes_available=unsafe_left,
    )


def _wanted(unsafe: bool, fix_filter: Optional[fixes.IsWanted] = None):
    noqa_cache: dict[int, object] = {}

    def wanted(finding: Finding, module: cst.Module) -> bool:
        if not fixes.is_applicable(finding, unsafe):
            return False
        if id(module) not in noqa_cache:
            noqa_cache.clear()
            noqa_cache[id(module)] = noqa_lines(module.code)
        if is_suppressed(noqa_cache[id(module)], finding.range.start.line, finding.code):
            return False
        return fix_filter is None or fix_filter(finding, module)

    return wanted


def _violation(finding: Finding, path: Path, module: cst.Module, with_edits: bool, errors: list[FileError]) -> Violation:
    """The finding as reported; a rule whose fix crashes while its edits are computed goes into ``errors``."""
    fix = None
    if finding.rewrite is not None:
        edits: tuple[Edit, ...] = ()
        if with_edits:
            try:
                edits = fixes.edits_for(module, finding)
            except fixes.RewriteError as error:
                failure = FileError(path, ErrorKind.RULE, error.reason, error.code)
                if failure not in errors:
                    errors.append(failure)
        fix = Fix(finding.rewrite.applicability, finding.fix_title or "", edits)
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
