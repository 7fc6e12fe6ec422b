"""Tree walks that respect Python's scopes, the Name nodes that spell variables, and the per-module TreeIndex
(``perflint.tree_index``) of the node a rule is looking at."""

from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst
from libcst import MetadataDependent
from libcst.metadata import ParentNodeProvider, PositionProvider

from perflint.traversal import children
from perflint.tree_index import DEFERRED, TreeIndex, index_of



def parent(visitor: MetadataDependent, node: cst.CSTNode) -> cst.CSTNode:
    """The node that holds ``node``, which must lie below the module (else KeyError: a climb that misses its
    stop fails loudly). The visitor must depend on ParentNodeProvider."""
    return visitor.get_metadata(ParentNodeProvider, node)


def parent_or_none(visitor: MetadataDependent, node: Optional[cst.CSTNode]) -> Optional[cst.CSTNode]:
    """``parent``, but None for the module, for None, and for a node the metadata does not know: for climbs
    that stop at the top and for chains of "the parent, if there is one"."""
    return None if node is None else visitor.get_metadata(ParentNodeProvider, node, None)


def start(visitor: MetadataDependent, node: cst.CSTNode) -> tuple[int, int]:
    """Where ``node`` starts in the source, as ``(line, column)``: the key by which rules order nodes by line.

    Nodes neither of which holds the other, whose lines do not matter, are ordered by ``TreeIndex.order``
    instead: the same order, without computing positions. The visitor must depend on PositionProvider.
    """
    position = visitor.get_metadata(PositionProvider, node).start
    return (position.line, position.column)


def end(visitor: MetadataDependent, node: cst.CSTNode) -> tuple[int, int]:
    """Where ``node`` ends in the source, as ``(line, column)`` (see ``start``)."""
    position = visitor.get_metadata(PositionProvider, node).end
    return (position.line, position.column)


def deferred_between(visitor: MetadataDependent, node: cst.CSTNode, ancestor: cst.CSTNode) -> bool:
    """Whether a ``def``, ``lambda`` or class body lies between ``node`` and its ``ancestor`` (so ``node`` runs
    at another time than ``ancestor``). ``node`` itself does not count; ``ancestor`` must enclose it (else the
    climb past the module raises KeyError)."""
    current = parent(visitor, node)
    while current is not ancestor:
        if isinstance(current, DEFERRED):
            return True
        current = parent(visitor, current)
    return False


class DeferredDepth:
    """A visitor mixin that counts the ``def``, ``lambda`` and class bodies the visit is in (``deferred``).

    A node met at a greater depth than a candidate's runs at another time than the candidate's body. Rules
    that override one of these visits call ``super()`` first.
    """

    deferred = 0

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.deferred += 1

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.deferred -= 1

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self.deferred += 1

    def leave_Lambda(self, original_node: cst.Lambda) -> None:
        self.deferred -= 1

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.deferred += 1

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.deferred -= 1


def sole_statement(block: cst.BaseSuite) -> Optional[cst.BaseSmallStatement]:
    """The statement of an indented block that holds exactly one line of exactly one statement, else None."""
    if not isinstance(block, cst.IndentedBlock) or len(block.body) != 1:
        return None
    line = block.body[0]
    if not isinstance(line, cst.SimpleStatementLine) or len(line.body) != 1:
        return None
    return line.body[0]


def walk_same_scope(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """``node`` and its descendants, without entering nested ``def``, ``lambda`` or class bodies."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if current is not node and isinstance(current, DEFERRED):
            continue
        stack.extend(reversed(children(current)))


def walk_all(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """``node`` and every descendant, nested scopes included."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))


def variable_names(root: cst.CSTNode, name: Optional[str] = None) -> list[cst.Name]:
    """Name nodes under ``root`` (nested scopes included) that spell a variable, optionally only ``name``.

    The name of an attribute (``b`` in ``a.b``) and of a keyword argument (``k`` in ``f(k=1)``) are not
    variables and are left out.
    """
    skipped: set[int] = set()
    for node in walk_all(root):
        if isinstance(node, cst.Attribute):
            skipped.add(id(node.attr))
        elif isinstance(node, cst.Arg) and node.keyword is not None:
            skipped.add(id(node.keyword))
    return [
        node
        for node in walk_all(root)
        if isinstance(node, cst.Name) and id(node) not in skipped and (name is None or node.value == name)
    ]


def is_plain_read(visitor: MetadataDependent, node: cst.CSTNode, ancestor: cst.CSTNode) -> bool:
    """``node`` is loaded (not a store or delete target) when ``ancestor`` runs, not deferred into a nested
    ``def``, ``lambda`` or class between them. The visitor must depend on ParentNodeProvider."""
    holder = visitor.get_metadata(ParentNodeProvider, node)
    if isinstance(holder, (cst.AssignTarget, cst.Del)) or (
        isinstance(holder, (cst.AugAssign, cst.AnnAssign, cst.For, cst.WithItem, cst.NamedExpr))
        and getattr(holder, "target", None) is node
    ):
        return False
    return not deferred_between(visitor, node, ancestor)


def tree_index(visitor: MetadataDependent, node: cst.CSTNode) -> TreeIndex:
    """The TreeIndex of the module that holds ``node``; the visitor must depend on ParentNodeProvider.

    Built once per module and shared by every rule of the visit (the last two modules are kept).
    """
    root = node
    while not isinstance(root, cst.Module):
        root = visitor.get_metadata(ParentNodeProvider, root)
    return index_of(root)
