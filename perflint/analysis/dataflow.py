"""Dataflow facts shared by rules: fresh local names, rebinding of names between two points."""

from __future__ import annotations

from typing import Collection

import libcst as cst
from libcst import MetadataDependent
from libcst.metadata import ComprehensionScope, GlobalScope, ParentNodeProvider, Scope, ScopeProvider


def fresh_name(visitor: MetadataDependent, node: cst.CSTNode, base: str, avoid: Collection[str] = ()) -> str:
    """``base``, or ``base_1``, ``base_2``... : a name that a new local binding next to ``node`` may take.

    The result shadows nothing visible from the scope of ``node`` (locals, enclosing functions, globals,
    builtins) and equals no name written anywhere in the enclosing function (nested functions and
    comprehensions included) or, at module level, anywhere in the module; nor any name in ``avoid``
    (names the caller already handed out). The visitor must declare ScopeProvider and ParentNodeProvider
    in its METADATA_DEPENDENCIES.
    """
    scope = _binding_scope(visitor.get_metadata(ScopeProvider, node))
    taken = _names_written_in(_scope_root(visitor, scope, node)) | set(avoid)
    candidate, suffix = base, 0
    while candidate in taken or candidate in scope:
        suffix += 1
        candidate = f"{base}_{suffix}"
    return candidate


def _binding_scope(scope: Scope) -> Scope:
    """The scope a new statement would bind in: comprehensions bind in their enclosing scope."""
    while isinstance(scope, ComprehensionScope):
        scope = scope.parent
    return scope


def _scope_root(visitor: MetadataDependent, scope: Scope, node: cst.CSTNode) -> cst.CSTNode:
    """The function or class node owning ``scope``; the module for the global scope."""
    if not isinstance(scope, GlobalScope):
        return scope.node
    root = node
    # The global scope does not hold its module, so climb to it.
    while not isinstance(root, cst.Module):
        root = visitor.get_metadata(ParentNodeProvider, root)
    return root


class _NameCollector(cst.CSTVisitor):
    """Every identifier spelled by a Name node, in any position."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def visit_Name(self, node: cst.Name) -> None:
        self.names.add(node.value)


def _names_written_in(root: cst.CSTNode) -> set[str]:
    """Identifiers written anywhere under ``root``."""
    collector = _NameCollector()
    root.visit(collector)
    return collector.names
