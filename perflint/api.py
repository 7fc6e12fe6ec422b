"""Check and fix files: the library entry points behind the CLI. Nothing here prints."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator, Sequence

import libcst as cst

from perflint import engine, fixes
from perflint.config import Settings
from perflint.engine import LintOutcome, SourceError
from perflint.files import FileChangedError, decode_source, discover, write_atomically
from perflint.rule import Finding, Rule
from perflint.suppress import is_suppressed, noqa_lines
from perflint.types import Applicability, ErrorKind, FileError, FileResult, Fix, Location, Violation


@dataclass(frozen=True)
class RunOptions:
    """What a run does with each file beyond checking it."""

    fix: bool = False
    apply: bool = False
    unsafe_fixes: bool = False
    with_edits: bool = False


def check_paths(paths: Sequence[Path], settings: Settings, options: RunOptions = RunOptions()) -> Iterator[FileResult]:
    """Check (and with ``options.fix``, fix) every file under ``paths``, one FileResult per file."""
    for discovered in discover(paths, settings):
        if discovered.problem is not None:
            yield FileResult(discovered.path, errors=(FileError(discovered.path, ErrorKind.READ, discovered.problem),))
        else:
            yield check_file(discovered.path, settings, options)


def check_file(path: Path, settings: Settings, options: RunOptions = RunOptions()) -> FileResult:
    """Read, check and possibly fix and write one file."""
    try:
        data = path.read_bytes()
    except OSError as error:
        return FileResult(path, errors=(FileError(path, ErrorKind.READ, error.strerror or str(error)),))
    result = check_source(data, path, settings, options)
    if options.apply and result.changed and not result.errors:
        return _write(result)
    return result


def check_source(data: bytes, path: Path, settings: Settings, options: RunOptions = RunOptions()) -> FileResult:
    """Check (and fix, in memory) source bytes as if read from ``path``."""
    try:
        decode_source(data)
    except ValueError as error:
        return FileResult(path, original=data, errors=(FileError(path, ErrorKind.ENCODING, str(error)),))
    rules = engine.prefilter(data, settings.rules_for(path))
    if not rules:
        return FileResult(path, original=data, fixed=data)
    try:
        module = engine.parse(data)
    except SourceError as error:
        return FileResult(path, original=data, errors=(FileError(path, ErrorKind.SYNTAX, str(error)),))
    return _lint_and_fix(module, data, path, rules, settings, options)


def _lint_and_fix(
    module: cst.Module,
    data: bytes,
    path: Path,
    rules: Sequence[type[Rule]],
    settings: Settings,
    options: RunOptions,
) -> FileResult:
    def run_rules(current: cst.Module) -> LintOutcome:
        return engine.lint(current, rules, str(path), settings.rule_options)

    unsafe = options.unsafe_fixes or settings.unsafe_fixes
    applied, errors = 0, []
    fixed = module
    if options.fix:
        try:
            outcome = fixes.fix_to_fixpoint(module, run_rules, _wanted(unsafe), str(path))
            fixed, applied, remaining = outcome.module, outcome.applied, outcome.remaining
        except fixes.FixError as error:
            errors.append(FileError(path, ErrorKind.FIX, str(error)))
            remaining = run_rules(module)
    else:
        remaining = run_rules(module)
    errors.extend(FileError(path, ErrorKind.RULE, failure.reason, failure.code) for failure in remaining.failures)
    suppressions = noqa_lines(fixed.code)
    kept = [f for f in remaining.findings if not is_suppressed(suppressions, f.range.start.line, f.code)]
    violations = tuple(sorted((_violation(f, path, fixed, options.with_edits) for f in kept), key=lambda v: v.sort_key))
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


def _wanted(unsafe: bool):
    noqa_cache: dict[int, object] = {}

    def wanted(finding: Finding, module: cst.Module) -> bool:
        if not fixes.is_applicable(finding, unsafe):
            return False
        if id(module) not in noqa_cache:
            noqa_cache.clear()
            noqa_cache[id(module)] = noqa_lines(module.code)
        return not is_suppressed(noqa_cache[id(module)], finding.range.start.line, finding.code)

    return wanted


def _violation(finding: Finding, path: Path, module: cst.Module, with_edits: bool) -> Violation:
    fix = None
    if finding.rewrite is not None:
        edits = fixes.edits_for(module, finding) if with_edits else ()
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
