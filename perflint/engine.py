"""Parse a module once, resolve the metadata the selected rules need, and run every rule in one batched visit."""

from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass
from typing import Iterable, Mapping, Optional, Sequence, Union

import libcst as cst
from libcst.metadata import MetadataWrapper

from perflint.import_table import NO_IMPORTED_NAMES, ImportedNames, imported_names
from perflint.metadata import ModuleMetadata, NeedsEagerResolution, visit_lazily
from perflint.rule import Finding, Rule, RuleContext
from perflint.suppress import ReportedCodes
from perflint.traversal import ast_children


# Deeper than this, LibCST's native parser risks overflowing the C stack; its Python visitors give up
# (RecursionError) well before, so no file that perflint could analyse is refused by this limit.
MAX_NESTING = 1000


class SourceError(ValueError):
    """Source that LibCST cannot parse, with a one-line reason."""


@dataclass(frozen=True)
class RuleFailure:
    """A rule that crashed on a file: its code and the exception text."""

    code: str
    reason: str


@dataclass(frozen=True)
class LintOutcome:
    """The findings of one visit, and the rules that crashed during it."""

    findings: tuple[Finding, ...]
    failures: tuple[RuleFailure, ...]


def parse(source: bytes, tree: Optional[ast.Module] = None) -> cst.Module:
    """Parse source bytes (encoding from BOM or cookie, kept for code generation); raises SourceError.

    ``tree``, Python's ast of ``source`` if the caller has one, spares parsing it again for the nesting check.
    """
    problem = _nesting_problem(source) if tree is None else _depth_problem(tree)
    if problem is not None:
        raise SourceError(problem)
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as error:
        raise SourceError(f"line {error.raw_line}, column {error.raw_column + 1}: {error.message}") from None
    except cst.CSTValidationError as error:
        # The native parser accepts a name that LibCST's nodes then refuse: a letter of a Unicode version newer
        # than this Python's (U+31350 on CPython 3.11), which CPython refuses too.
        raise SourceError(str(error)) from None
    except (RecursionError, MemoryError) as error:
        raise SourceError(f"too deeply nested to parse ({type(error).__name__})") from None
    except (ValueError, TypeError, UnicodeError) as error:
        raise SourceError(str(error)) from None
    if source.endswith(b"\r") and not module.has_trailing_newline:
        # LibCST drops the last newline of a file with old-Mac (CR-only) line endings; put it back.
        restored = module.with_changes(has_trailing_newline=True)
        if restored.bytes == source:
            return restored
    return module


def _nesting_problem(source: bytes) -> Optional[str]:
    """Why ``source`` is too deeply nested to hand to LibCST, or None.

    LibCST's native parser overflows the C stack (a segfault that ends the whole run) on nesting that
    CPython's parser refuses with an exception, so CPython's parser vets the nesting first.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(source)
    except SyntaxError as error:
        if "too many nested" in (error.msg or ""):
            return f"line {error.lineno}: {error.msg}"
        return None  # other syntax errors (or syntax newer than this Python): LibCST decides, as before
    except (RecursionError, MemoryError) as error:
        return f"too deeply nested to parse ({type(error).__name__})"
    except ValueError:
        return None  # e.g. null bytes: LibCST reports them
    return _depth_problem(tree)


def _depth_problem(tree: ast.Module) -> Optional[str]:
    depth = _tree_depth(tree)
    if depth > MAX_NESTING:
        return f"too deeply nested to analyse (nesting depth {depth}, at most {MAX_NESTING})"
    return None


def _tree_depth(tree: ast.AST) -> int:
    """The depth of ``tree`` as LibCST will build it (iteratively: the tree may be deeper than the stack)."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        # ast keeps `a and b and c` as one node; LibCST nests one BooleanOperation per operator.
        if type(node) is ast.BoolOp:
            depth += len(node.values) - 2
        if depth > deepest:
            deepest = depth
        for child in ast_children(node):
            stack.append((child, depth + 1))
    return deepest


@dataclass(frozen=True)
class Prefiltered:
    """The rules that may match a source, and Python's ast of it if the check built one."""

    rules: tuple[type[Rule], ...]
    tree: Optional[ast.Module] = None
    # Every rule selected for the file, skipped or not (what PFL901 counts as having run).
    selected: tuple[str, ...] = ()


def prefilter(source: bytes, rules: Sequence[type[Rule]]) -> Prefiltered:
    """The rules that may match ``source``; the others are not run, and LibCST parses no file none can match.

    First the rules' required tokens (a substring test), then, for the rules that define one, their
    ``could_match`` check on Python's ``ast`` (a fifth of the cost of LibCST's parse on training code, less on
    libraries, and only paid when such a rule is left).
    """
    selected = tuple(rule.code for rule in rules)
    candidates = tuple(rule for rule in rules if any(token.encode() in source for token in rule.required_tokens))
    if not any(_checks_structure(rule) for rule in candidates):
        return Prefiltered(candidates, selected=selected)
    tree = _python_ast(source)
    if tree is None:
        return Prefiltered(candidates, selected=selected)
    return Prefiltered(tuple(rule for rule in candidates if rule.could_match(tree)), tree, selected)


def _checks_structure(rule: type[Rule]) -> bool:
    return rule.could_match.__func__ is not Rule.could_match.__func__


def _python_ast(source: Union[bytes, str]) -> Optional[ast.Module]:
    """CPython's ast of ``source``, or None where it cannot build one (LibCST then decides, as without this)."""
    try:
        with warnings.catch_warnings():
            # CPython warns about e.g. invalid escape sequences while parsing: not perflint's to print.
            warnings.simplefilter("ignore")
            return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def lint(
    module: cst.Module,
    rules: Sequence[type[Rule]],
    path: str,
    options: Mapping[str, Mapping[str, object]],
    *,
    tree: Optional[ast.Module] = None,
    eager_metadata: bool = False,
    selected: Optional[Iterable[str]] = None,
) -> LintOutcome:
    """Run ``rules`` over ``module`` in one batched visit; each metadata provider runs once, when first needed.

    ``tree`` is Python's ast of the same source, if the caller has it (else it is parsed when needed).
    ``eager_metadata`` resolves every declared provider before the visit and answers every qualified-name
    question with LibCST's provider instead (same findings, slower).

    Rules that read the other rules' findings (``reads_reported_codes``, i.e. PFL901 ``unused-noqa``) run in a
    second visit, after the first, and are handed a ReportedCodes: the codes reported on each line before
    ``# noqa`` is applied, and the codes that ran. ``selected`` names every rule selected for the file,
    including those the prefilter skipped (they ran, in effect, and found nothing); by default, ``rules``.
    """
    if not rules:
        return LintOutcome((), ())
    first = [rule for rule in rules if not getattr(rule, "reads_reported_codes", False)]
    second = [rule for rule in rules if getattr(rule, "reads_reported_codes", False)]
    import_table = None if eager_metadata else ImportTableOf(module, tree)
    # One wrapper for both visits: the metadata resolved for the first (positions) serves the second.
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    metadata = ModuleMetadata(wrapper, import_table, tree)
    try:
        instances = _visit(wrapper, metadata, first, path, options, import_table) if first else []
        outcome = _outcome(instances)
        if second:
            reported = _reported_codes(outcome, selected if selected is not None else (rule.code for rule in rules))
            instances += _visit(wrapper, metadata, second, path, options, import_table, reported)
    except RecursionError:
        # The traversal itself, not one rule, ran out of stack: a property of the file, reported once.
        raise SourceError("too deeply nested to analyse (recursion limit reached)") from None
    return _outcome(instances)


def _outcome(instances: Sequence[Rule]) -> LintOutcome:
    findings = tuple(finding for instance in instances if instance.error is None for finding in instance.context.findings)
    failures = tuple(
        RuleFailure(instance.code, f"{type(instance.error).__name__}: {instance.error}")
        for instance in instances
        if instance.error is not None
    )
    return LintOutcome(findings, failures)


def _reported_codes(outcome: LintOutcome, selected: Iterable[str]) -> ReportedCodes:
    """The first visit's findings by the line a ``# noqa`` must be on, and the selected codes that did not crash."""
    by_line: dict[int, set[str]] = {}
    for finding in outcome.findings:
        by_line.setdefault(finding.range.start.line, set()).add(finding.code)
    failed = {failure.code for failure in outcome.failures}
    ran = frozenset(code for code in selected if code not in failed)
    return ReportedCodes({line: frozenset(codes) for line, codes in by_line.items()}, ran)


def _visit(
    wrapper: MetadataWrapper,
    metadata: ModuleMetadata,
    rules: Sequence[type[Rule]],
    path: str,
    options: Mapping[str, Mapping[str, object]],
    import_table: Optional["ImportTableOf"],
    reported: Optional[ReportedCodes] = None,
) -> list[Rule]:
    """The rule instances after one visit: lazy metadata with ``import_table``, eager and provider-only without.

    ``reported`` is handed to rules that read the other rules' findings (before the visit).
    """

    def instantiate(table: Optional[ImportTableOf]) -> list[Rule]:
        instances = [rule(RuleContext(path=path, options=options.get(rule.code, {}), imported_names=table)) for rule in rules]
        if reported is not None:
            for instance in instances:
                instance.reported_codes = reported  # type: ignore[attr-defined]
        return instances

    if import_table is not None:
        instances = instantiate(import_table)
        try:
            visit_lazily(metadata, instances)
            return instances
        except NeedsEagerResolution:
            pass  # a provider needed more stack than is left mid-visit: redo the visit eagerly below
    instances = instantiate(import_table)
    wrapper.visit_batched(instances)
    return instances


class ImportTableOf:
    """The ImportedNames of a module, built on the first call from its ast (parsed then if not given)."""

    def __init__(self, module: cst.Module, tree: Optional[ast.Module]) -> None:
        self._module = module
        self._tree = tree
        self._names: Optional[ImportedNames] = None

    def __call__(self) -> ImportedNames:
        if self._names is None:
            tree = self._tree if self._tree is not None else _python_ast(self._module.code)
            self._names = NO_IMPORTED_NAMES if tree is None else imported_names(tree)
        return self._names
