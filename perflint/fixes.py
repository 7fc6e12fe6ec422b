"""Apply rule rewrites: one pass of non-overlapping fixes, repeated to a fixpoint, every result re-parsed."""

from __future__ import annotations

import ast
import difflib
import warnings
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import libcst as cst
from libcst.helpers import get_full_name_for_node

from perflint.engine import LintOutcome, SourceError, parse
from perflint.rule import Finding, ImportNeed, NodeChange
from perflint.traversal import children
from perflint.types import Applicability, Edit, Location

MAX_ITERATIONS = 10
# (module, name or None, alias or None): one import a fix needs.
Import = tuple[str, Optional[str], Optional[str]]
# Module-level statements whose imports run (or may run) when the module is imported.
CONDITIONAL_BLOCKS = (cst.If, cst.Try, cst.With)


class FixError(RuntimeError):
    """Fixing a file failed (no convergence, or output that does not parse); the file stays untouched."""


class RewriteError(FixError):
    """A rule's rewrite raised while being applied: that rule's internal error, not the file's."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class FixOutcome:
    """The fixed module, how many fixes went in, and the findings left on the fixed code."""

    module: cst.Module
    applied: int
    remaining: LintOutcome


Lint = Callable[[cst.Module], LintOutcome]
IsWanted = Callable[[Finding, cst.Module], bool]


class _ApplyChanges(cst.CSTTransformer):
    def __init__(self, changes: dict[cst.CSTNode, NodeChange]) -> None:
        super().__init__()
        self.changes = changes

    def on_visit(self, node: cst.CSTNode) -> bool:
        return True

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode):  # type: ignore[override]
        change = self.changes.get(original_node)
        return updated_node if change is None else change(updated_node)


def choose_non_overlapping(findings: Sequence[Finding]) -> list[Finding]:
    """Fixes whose spans do not overlap; where two overlap, the outer (earlier-starting, longer) one wins."""
    ordered = sorted(
        (finding for finding in findings if finding.rewrite is not None and finding.fix_span is not None),
        key=lambda finding: (finding.fix_span[0], _negated(finding.fix_span[1])),
    )
    chosen: list[Finding] = []
    for finding in ordered:
        if all(not _overlap(finding.fix_span, other.fix_span) for other in chosen):
            chosen.append(finding)
    return chosen


def _negated(position: tuple[int, int]) -> tuple[int, int]:
    return (-position[0], -position[1])


def _overlap(first, second) -> bool:
    return not (first[1] <= second[0] or second[1] <= first[0])


def apply_once(module: cst.Module, findings: Sequence[Finding]) -> cst.Module:
    """Apply the given (non-overlapping) findings' rewrites in one transform, adding the imports they need."""
    changes: dict[cst.CSTNode, NodeChange] = {}
    imports: set[Import] = set()
    for finding in findings:
        assert finding.rewrite is not None
        changes.update((node, _attributed(change, finding.code)) for node, change in finding.rewrite.changes)
        imports.update(_as_triple(need) for need in finding.rewrite.imports)
    fixed = module.visit(_ApplyChanges(changes))
    imports -= _imported_conditionally(module)
    if imports:
        # Imported here: libcst.codemod pulls in libcst.matchers, a fifth of a second at every start-up,
        # and only fixes that add imports need it.
        from libcst.codemod import CodemodContext
        from libcst.codemod.visitors import AddImportsVisitor

        context = CodemodContext()
        for module_name, name, alias in sorted(imports, key=lambda item: (item[0], item[1] or "", item[2] or "")):
            AddImportsVisitor.add_needed_import(context, module_name, name, alias)
        fixed = AddImportsVisitor(context).transform_module(fixed)
    return fixed


def _as_triple(need: ImportNeed) -> Import:
    """``(module, name)`` or ``(module, name, alias)`` as ``(module, name, alias)``."""
    return (need[0], need[1], need[2] if len(need) > 2 else None)  # type: ignore[misc]


def _imported_conditionally(module: cst.Module) -> set[Import]:
    """Imports made inside module-level `if` / `try` / `with` blocks (not `if TYPE_CHECKING:`).

    AddImportsVisitor sees only top-level imports: for `if has_torch: import torch` it would add a second,
    unconditional `import torch`, turning an optional dependency into a hard one (found in sktime by the
    corpus sweep). The fixed code uses the existing binding instead.
    """
    found: set[Import] = set()
    blocks: list[cst.CSTNode] = [statement for statement in module.body if isinstance(statement, CONDITIONAL_BLOCKS)]
    while blocks:
        block = blocks.pop()
        if isinstance(block, cst.If) and _is_type_checking(block.test):
            blocks.extend([block.orelse] if block.orelse is not None else [])
            continue
        for child in children(block):
            if isinstance(child, cst.BaseSuite):
                for statement in child.body:
                    if isinstance(statement, cst.SimpleStatementLine):
                        found.update(_imports(statement))
                    elif isinstance(statement, CONDITIONAL_BLOCKS):
                        blocks.append(statement)
            elif isinstance(child, (cst.If, cst.Else, cst.ExceptHandler, cst.Finally)):
                blocks.append(child)
    return found


def _is_type_checking(test: cst.BaseExpression) -> bool:
    return cst.Module(body=[]).code_for_node(test).strip() in ("TYPE_CHECKING", "typing.TYPE_CHECKING")


def _imports(line: cst.SimpleStatementLine) -> set[Import]:
    """The ``(module, name, alias)`` of each import of ``line``."""
    found: set[Import] = set()
    for statement in line.body:
        if isinstance(statement, cst.Import):
            found.update((get_full_name_for_node(alias.name) or "", None, _alias(alias)) for alias in statement.names)
        elif isinstance(statement, cst.ImportFrom) and statement.module is not None and not statement.relative:
            if not isinstance(statement.names, cst.ImportStar):
                source = get_full_name_for_node(statement.module) or ""
                found.update((source, alias.name.value, _alias(alias)) for alias in statement.names if isinstance(alias.name, cst.Name))
    return found


def _alias(alias: cst.ImportAlias) -> str | None:
    return alias.asname.name.value if alias.asname is not None and isinstance(alias.asname.name, cst.Name) else None


def _attributed(change: NodeChange, code: str) -> NodeChange:
    """``change``, with any exception it raises turned into the RewriteError of rule ``code``."""

    def call(updated: cst.CSTNode) -> cst.CSTNode | cst.RemovalSentinel | cst.FlattenSentinel:
        try:
            return change(updated)
        except Exception as error:  # noqa: BLE001 - a rule's bug, reported as its internal error
            raise RewriteError(code, f"{type(error).__name__} in its fix: {error}") from error

    return call


def _apply_verified(module: cst.Module, findings: Sequence[Finding], path: str) -> cst.Module:
    """Apply ``findings``' rewrites and verify the result; a crash while doing so is reported, not raised
    through: a rewrite can also build a tree that LibCST fails to place or to print."""
    try:
        return verified_reparse(apply_once(module, findings), path)
    except FixError:
        raise
    except Exception as error:  # noqa: BLE001 - see the docstring
        codes = sorted({finding.code for finding in findings})
        reason = f"{type(error).__name__} while applying its fix: {error}"
        if len(codes) == 1:
            raise RewriteError(codes[0], reason) from error
        raise FixError(f"the fixes of {', '.join(codes)} failed ({reason}); file left unchanged") from error


def _compile(source: bytes, path: str) -> None:
    with warnings.catch_warnings():
        # Python warns about e.g. invalid escape sequences while compiling: the user's code, not ours to print.
        warnings.simplefilter("ignore")
        # Notebooks allow top-level `await` (IPython runs cells in an event loop).
        flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT if path.endswith(".ipynb") else 0
        compile(source, path, "exec", flags=flags, dont_inherit=True)


def verified_reparse(module: cst.Module, path: str) -> cst.Module:
    """Re-parse generated code with LibCST and compile it, so no fix can write code that does not run."""
    source = module.bytes
    try:
        reparsed = parse(source)
        _compile(source, path)
    except (SourceError, SyntaxError, ValueError, RecursionError, MemoryError) as error:
        raise FixError(f"a fix produced code that does not parse ({error}); file left unchanged") from None
    return reparsed


def _ensure_fixable(module: cst.Module, original: bytes, path: str) -> None:
    """Refuse to fix a file that LibCST does not write back byte for byte (every line would be at risk,
    not only the fixed ones), or that Python rejects (LibCST accepts e.g. `return` outside a function:
    the result could not be verified, and the error must not be blamed on a fix)."""
    if module.bytes != original:
        raise FixError("LibCST does not reproduce this file byte for byte; not fixed")
    try:
        _compile(original, path)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        raise FixError(f"the file does not compile ({error}); not fixed") from None


def fix_to_fixpoint(module: cst.Module, lint: Lint, wanted: IsWanted, path: str, original: bytes) -> FixOutcome:
    """Lint, apply the wanted fixes, re-parse, and repeat until no wanted fix is left.

    ``module`` is the parse of ``original``, the bytes that would be replaced.
    """
    applied = 0
    for _ in range(MAX_ITERATIONS):
        outcome = lint(module)
        candidates = choose_non_overlapping([finding for finding in outcome.findings if wanted(finding, module)])
        if not candidates:
            return FixOutcome(module, applied, outcome)
        if applied == 0:
            _ensure_fixable(module, original, path)
        module = _apply_verified(module, candidates, path)
        applied += len(candidates)
    raise FixError(f"fixes did not converge after {MAX_ITERATIONS} passes; file left unchanged")


def edits_for(module: cst.Module, finding: Finding) -> tuple[Edit, ...]:
    """The text edits that applying ``finding``'s rewrite alone would make, line-granular."""
    before = module.code.splitlines(keepends=True)
    try:
        after = apply_once(module, [finding]).code.splitlines(keepends=True)
    except RewriteError:
        raise
    except Exception as error:  # noqa: BLE001 - a rewrite that builds a tree LibCST cannot place or print
        raise RewriteError(finding.code, f"{type(error).__name__} while applying its fix: {error}") from error
    edits = []
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    for tag, old_start, old_end, new_start, new_end in matcher.get_opcodes():
        if tag != "equal":
            edits.append(
                Edit(
                    content="".join(after[new_start:new_end]),
                    location=Location(old_start + 1, 1),
                    end_location=Location(old_end + 1, 1),
                )
            )
    return tuple(edits)


def is_applicable(finding: Finding, unsafe_fixes: bool) -> bool:
    """Whether ``finding``'s fix is applied in a run with or without ``--unsafe-fixes``."""
    if finding.rewrite is None:
        return False
    return unsafe_fixes or finding.rewrite.applicability is Applicability.SAFE
