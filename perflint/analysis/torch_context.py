"""Is autograd provably off at a node? Lexical grad-mode contexts, resolved by qualified name."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Optional

import libcst as cst
from libcst import MetadataDependent

from perflint.analysis import syntax
from perflint.analysis.names import argument, callee_name, qualified_names

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
    prefix = "@" if as_decorator else ""
    if not isinstance(node, cst.Call):
        # `@torch.inference_mode` without parentheses is documented to work as a decorator.
        if as_decorator and not qualified_names(visitor, node).isdisjoint(INFERENCE_MODE):
            return GradContext(GradMode.DISABLED, "@torch.inference_mode")
        return None
    names = qualified_names(visitor, node.func)
    if not names.isdisjoint(NO_GRAD):
        return GradContext(GradMode.DISABLED, f"{prefix}torch.no_grad()")
    if not names.isdisjoint(ENABLE_GRAD):
        return GradContext(GradMode.ENABLED, f"{prefix}torch.enable_grad()")
    if not names.isdisjoint(INFERENCE_MODE):
        mode = argument(node, 0, "mode")
        if mode is None or _is_literal(mode, "True"):
            return GradContext(GradMode.DISABLED, f"{prefix}torch.inference_mode()")
        return GradContext(GradMode.UNKNOWN, f"{prefix}torch.inference_mode(...)")
    if not names.isdisjoint(SET_GRAD_ENABLED):
        mode = argument(node, 0, "mode")
        if mode is not None and _is_literal(mode, "False"):
            return GradContext(GradMode.DISABLED, f"{prefix}torch.set_grad_enabled(False)")
        if mode is not None and _is_literal(mode, "True"):
            return GradContext(GradMode.ENABLED, f"{prefix}torch.set_grad_enabled(True)")
        return GradContext(GradMode.UNKNOWN, f"{prefix}torch.set_grad_enabled(...)")
    return None


def _is_literal(node: cst.BaseExpression, value: str) -> bool:
    return isinstance(node, cst.Name) and node.value == value
