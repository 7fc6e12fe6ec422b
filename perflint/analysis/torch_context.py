"""Is autograd provably off at a node? Lexical grad-mode contexts, resolved by qualified name."""

from __future__ import annotations

import ast
import enum
from dataclasses import dataclass
from typing import Collection, Optional

import libcst as cst
from libcst import MetadataDependent

from perflint.analysis import ast_shapes, syntax
from perflint.analysis.names import argument, callee_name, qualified_names
from perflint.import_table import ImportedNames

NO_GRAD = frozenset({"torch.no_grad", "torch.autograd.no_grad", "torch.autograd.grad_mode.no_grad"})
INFERENCE_MODE = frozenset(
    {"torch.inference_mode", "torch.autograd.inference_mode", "torch.autograd.grad_mode.inference_mode"}
)
SET_GRAD_ENABLED = frozenset(
    {"torch.set_grad_enabled", "torch.autograd.set_grad_enabled", "torch.autograd.grad_mode.set_grad_enabled"}
)
ENABLE_GRAD = frozenset({"torch.enable_grad", "torch.autograd.enable_grad", "torch.autograd.grad_mode.enable_grad"})
# Calls that, made as a statement (not as a `with` item or decorator), may turn recording back on inside a
# grad-off region. Measured (torch 2.13): `torch.set_grad_enabled(True)`, `torch.autograd.set_grad_enabled(True)`,
# `torch.autograd.grad_mode.set_grad_enabled(True)` and `torch._C._set_grad_enabled(True)` inside
# `with torch.no_grad():` turn recording on until the block ends; a bare `torch.enable_grad()` statement does not
# (it is a context manager), but it is counted too: being wrong that way costs a safe label, never a behaviour.
GRAD_MODE_STATEMENTS = SET_GRAD_ENABLED | ENABLE_GRAD | {"torch._C._set_grad_enabled"}
_GRAD_MODE_CALLEES = frozenset(name.rsplit(".", 1)[1] for name in GRAD_MODE_STATEMENTS)

# Code in these runs later, under whatever grad mode its caller has: an outer context proves nothing.
DEFERRED_SCOPES = (cst.Lambda, cst.ClassDef, cst.GeneratorExp)


class GradMode(enum.Enum):
    """What can be proven about autograd at a point."""

    DISABLED = "disabled"
    ENABLED = "enabled"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class GradContext:
    """The grad mode at a node and the construct that decides it (for messages), e.g. ``torch.no_grad()``."""

    mode: GradMode
    source: Optional[str] = None


UNKNOWN = GradContext(GradMode.UNKNOWN)


def grad_context(visitor: MetadataDependent, node: cst.CSTNode) -> GradContext:
    """The nearest grad-mode context enclosing ``node`` within its function; UNKNOWN if none decides it.

    The visitor must depend on ParentNodeProvider and QualifiedNameProvider.
    A grad-disabling region that holds a call which may turn recording back on as a statement
    (``torch.set_grad_enabled(True)`` inside ``with torch.no_grad():``) proves nothing: such a region gives
    UNKNOWN wherever the call sits in it (in a loop, a statement after the node runs before it next time).
    """
    child: cst.CSTNode = node
    parent = syntax.parent_or_none(visitor, child)
    while parent is not None:
        if isinstance(parent, cst.With) and child is parent.body:
            context = _with_context(visitor, parent)
            if context is not None:
                return _unless_reenabled(visitor, parent, context)
        elif isinstance(parent, cst.FunctionDef):
            context = _decorator_context(visitor, parent)
            return UNKNOWN if context is None else _unless_reenabled(visitor, parent, context)
        elif isinstance(parent, DEFERRED_SCOPES):
            return UNKNOWN
        child, parent = parent, syntax.parent_or_none(visitor, parent)
    return UNKNOWN


def _unless_reenabled(visitor: MetadataDependent, region: cst.CSTNode, context: GradContext) -> GradContext:
    if context.mode is GradMode.DISABLED and id(region) in _regions_with_grad_statements(visitor, region):
        return GradContext(GradMode.UNKNOWN, f"{context.source} with a grad-mode statement inside")
    return context


def _regions_with_grad_statements(visitor: MetadataDependent, node: cst.CSTNode) -> frozenset[int]:
    """Ids of every ``with`` and ``def`` that encloses a grad-mode call made as a statement, in ``node``'s module.

    Computed once per module from its TreeIndex: linear in its size however many nodes ask.
    """
    index = syntax.tree_index(visitor, node)
    return index.memo(("regions with grad-mode statements",), lambda: _marked_regions(visitor, index))


def _marked_regions(visitor: MetadataDependent, index: syntax.TreeIndex) -> frozenset[int]:
    by_callee = index.grouped(cst.Call, callee_name, "callee name")
    marked: set[int] = set()
    for name in _GRAD_MODE_CALLEES:
        for call in by_callee.get(name, []):
            marked |= _regions_holding(visitor, call)
    return frozenset(marked)


def _regions_holding(visitor: MetadataDependent, call: cst.Call) -> set[int]:
    """Ids of the ``with`` and ``def`` around ``call`` if it sets the grad mode as a statement, else none."""
    parent = syntax.parent_or_none(visitor, call)
    # `with torch.set_grad_enabled(True):` and `@torch.enable_grad()` are contexts, read by grad_context.
    if isinstance(parent, (cst.WithItem, cst.Decorator)) or qualified_names(visitor, call.func).isdisjoint(GRAD_MODE_STATEMENTS):
        return set()
    regions: set[int] = set()
    while parent is not None:
        if isinstance(parent, (cst.With, cst.FunctionDef)):
            regions.add(id(parent))
        parent = syntax.parent_or_none(visitor, parent)
    return regions


def _with_context(visitor: MetadataDependent, statement: cst.With) -> Optional[GradContext]:
    # `with a(), b():` enters b inside a: the last item is the nearest context.
    for item in reversed(statement.items):
        context = _call_context(visitor, item.item)
        if context is not None:
            return context
    return None


def _decorator_context(visitor: MetadataDependent, function: cst.FunctionDef) -> Optional[GradContext]:
    for decorator in reversed(function.decorators):
        context = _call_context(visitor, decorator.decorator, as_decorator=True)
        if context is not None:
            return context
    return None


def _call_context(visitor: MetadataDependent, node: cst.BaseExpression, as_decorator: bool = False) -> Optional[GradContext]:
    if not isinstance(node, cst.Call):
        # `@torch.inference_mode` without parentheses is documented to work as a decorator.
        return context_of(qualified_names(visitor, node), None, is_call=False, as_decorator=as_decorator) if as_decorator else None
    return context_of(qualified_names(visitor, node.func), _mode(node), is_call=True, as_decorator=as_decorator)


def _mode(call: cst.Call) -> Optional[str]:
    """The spelling of ``call``'s first or ``mode=`` argument as ``context_of`` reads it."""
    mode = argument(call, 0, "mode")
    if mode is None:
        return None
    return mode.value if isinstance(mode, cst.Name) and mode.value in ("True", "False") else "other"


def context_of(names: frozenset[str], mode: Optional[str], is_call: bool, as_decorator: bool) -> Optional[GradContext]:
    """The grad context a ``with`` item or a decorator sets, or None if it sets none.

    ``names`` are the qualified names of what it calls (of itself when it is not a call), ``mode`` the spelling
    of its first or ``mode=`` argument: None when there is none, "True" or "False" for those literals, else
    "other". The one decision behind ``grad_context`` and its reading on Python's ast (``grad_disabled_on_ast``).
    """
    prefix = "@" if as_decorator else ""
    if not is_call:
        if as_decorator and not names.isdisjoint(INFERENCE_MODE):
            return GradContext(GradMode.DISABLED, "@torch.inference_mode")
        return None
    if not names.isdisjoint(NO_GRAD):
        return GradContext(GradMode.DISABLED, f"{prefix}torch.no_grad()")
    if not names.isdisjoint(ENABLE_GRAD):
        return GradContext(GradMode.ENABLED, f"{prefix}torch.enable_grad()")
    if not names.isdisjoint(INFERENCE_MODE):
        if mode is None or mode == "True":
            return GradContext(GradMode.DISABLED, f"{prefix}torch.inference_mode()")
        return GradContext(GradMode.UNKNOWN, f"{prefix}torch.inference_mode(...)")
    if not names.isdisjoint(SET_GRAD_ENABLED):
        if mode == "False":
            return GradContext(GradMode.DISABLED, f"{prefix}torch.set_grad_enabled(False)")
        if mode == "True":
            return GradContext(GradMode.ENABLED, f"{prefix}torch.set_grad_enabled(True)")
        return GradContext(GradMode.UNKNOWN, f"{prefix}torch.set_grad_enabled(...)")
    return None


# Every qualified name a grad-mode context can be made from: an expression that cannot refer to any of them
# sets no context (``context_of`` gives None).
GRAD_CONTEXT_NAMES = NO_GRAD | ENABLE_GRAD | INFERENCE_MODE | SET_GRAD_ENABLED
_AST_WITHS = (ast.With, ast.AsyncWith)


def grad_disabled_on_ast(tree: ast.Module, calls: Collection[ast_shapes.Site], names: ImportedNames) -> frozenset[int]:
    """The ids of the nodes of those of ``calls`` (sites of ``ast_shapes.shapes(tree)``) that ``grad_context``
    certainly finds under a grad-disabling context (``with torch.no_grad():``, ``@torch.inference_mode()``,
    ...), read from Python's ast for a rule's ``could_match``: a lexical shape and qualified names, resolved by
    the module's import table. Which ``with`` holds a call is read from positions, so that no walk is needed.

    Never more than ``grad_context`` finds, so that a prefilter built on it keeps every file its rule reports
    on: a context whose callee the table cannot name counts as undecided, and a region holding a call named
    like a grad-mode statement (``set_grad_enabled``, ``enable_grad``) as re-enabled.
    """
    shapes = ast_shapes.shapes(tree)
    withs_by_frame: dict[int, list[ast.AST]] = {}
    for site in shapes.of(*_AST_WITHS):
        withs_by_frame.setdefault(id(site.frame), []).append(site.node)
    regions = _GradRegions(names, _grad_mode_statements(shapes))
    generators = shapes.of(ast.GeneratorExp)
    found = set()
    for site in calls:
        if site.frame is not site.function:
            continue  # the innermost frame is a lambda or a class body: grad_context stops there
        if any(generator.frame is site.frame and _holds(generator.node, site.node) for generator in generators):
            continue  # a generator expression runs later, under its consumer's grad mode
        if regions.disabled_at(site, withs_by_frame.get(id(site.frame), [])):
            found.add(id(site.node))
    return frozenset(found)


class _GradRegions:
    """What the ``with`` statements and decorators of one module say about the grad mode of the calls in them."""

    def __init__(self, names: ImportedNames, statements: list[ast.AST]) -> None:
        self._names = names
        self._statements = statements

    def disabled_at(self, site: ast_shapes.Site, withs: list[ast.AST]) -> bool:
        """Whether the nearest context around ``site`` in its frame (a ``with`` of the frame whose body holds it,
        else the frame's decorators) certainly disables grad."""
        holding = [statement for statement in withs if _in_body(statement, site.node)]
        # Inner blocks start later: the nearest `with` comes first.
        for statement in sorted(holding, key=lambda statement: ast_shapes.span(statement)[0], reverse=True):
            decided = self._decides(statement, [(item.context_expr, False) for item in statement.items])  # type: ignore[attr-defined]
            if decided is not None:
                return decided
        if site.function is None:
            return False
        return bool(self._decides(site.function, [(decorator, True) for decorator in site.function.decorator_list]))

    def _decides(self, region: ast.AST, contexts: list[tuple[ast.expr, bool]]) -> Optional[bool]:
        """Whether the nearest of ``contexts`` (``with`` items or decorators, outermost first) certainly disables
        grad in ``region``: None if none of them sets a context."""
        for expression, as_decorator in reversed(contexts):
            context = _ast_context(expression, as_decorator, self._names)
            if context is not None:
                reenabled = any(_holds(region, statement) for statement in self._statements)
                return context.mode is GradMode.DISABLED and not reenabled
        return None


def _holds(outer: ast.AST, node: ast.AST) -> bool:
    """Whether ``node`` lies within ``outer``'s source span."""
    (outer_start, outer_end), (start, end) = ast_shapes.span(outer), ast_shapes.span(node)
    return outer_start <= start and end <= outer_end


def _in_body(statement: ast.AST, node: ast.AST) -> bool:
    """Whether ``node`` lies within the body of ``statement`` (a ``with``), not in its items."""
    body = statement.body  # type: ignore[attr-defined]
    start, end = ast_shapes.span(node)
    return ast_shapes.span(body[0])[0] <= start and end <= ast_shapes.span(body[-1])[1]


def _ast_context(node: ast.expr, as_decorator: bool, names: ImportedNames) -> Optional[GradContext]:
    """``_call_context`` on the ast; UNKNOWN where the import table cannot name the callee."""
    is_call = isinstance(node, ast.Call)
    if not is_call and not as_decorator:
        return None
    dotted = ast_shapes.dotted_name(node.func if isinstance(node, ast.Call) else node)
    if dotted is None:
        return UNKNOWN
    qualified = names.qualified_names(dotted)
    if qualified is None:
        return None if names.cannot_refer_to(dotted, GRAD_CONTEXT_NAMES) else UNKNOWN
    mode = _ast_mode(node) if isinstance(node, ast.Call) else None
    return context_of(qualified, mode, is_call, as_decorator)


def _ast_mode(call: ast.Call) -> Optional[str]:
    """``names.argument(call, 0, "mode")`` spelled as ``context_of`` reads it."""
    keyword = next((k.value for k in call.keywords if k.arg == "mode"), None)
    positional = [arg for arg in call.args if not isinstance(arg, ast.Starred)]
    value = keyword if keyword is not None else positional[0] if positional else None
    if value is None:
        return None
    return str(value.value) if isinstance(value, ast.Constant) and isinstance(value.value, bool) else "other"


def _grad_mode_statements(shapes: ast_shapes.Shapes) -> list[ast.AST]:
    """The calls named like a grad-mode statement and made as one, not as a ``with`` item or a decorator (which
    ``_ast_context`` reads): on the ast, the calls ``_regions_holding`` marks the regions around."""
    items = {id(item.context_expr) for site in shapes.of(*_AST_WITHS) for item in site.node.items}  # type: ignore[attr-defined]
    statements = []
    for site in shapes.calls():
        named = ast_shapes.last_name(site.node.func)  # type: ignore[attr-defined]
        if named is None or named not in _GRAD_MODE_CALLEES or id(site.node) in items:
            continue
        if site.function is None or all(site.node is not decorator for decorator in site.function.decorator_list):
            statements.append(site.node)
    return statements
