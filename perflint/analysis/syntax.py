"""Tree walks that respect Python's scopes, and the Name nodes that spell variables."""

from __future__ import annotations

from typing import Iterator, Optional

import libcst as cst
from libcst import MetadataDependent
from libcst.metadata import ParentNodeProvider

# Bodies of these run later or elsewhere, not as part of the statement that contains them.
DEFERRED = (cst.FunctionDef, cst.Lambda, cst.ClassDef)


def walk_same_scope(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """``node`` and its descendants, without entering nested ``def``, ``lambda`` or class bodies."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if current is not node and isinstance(current, DEFERRED):
            continue
        stack.extend(reversed(current.children))


def walk_all(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """``node`` and every descendant, nested scopes included."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


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
    parent = visitor.get_metadata(ParentNodeProvider, node)
    if isinstance(parent, (cst.AssignTarget, cst.Del)) or (
        isinstance(parent, (cst.AugAssign, cst.AnnAssign, cst.For, cst.WithItem, cst.NamedExpr))
        and getattr(parent, "target", None) is node
    ):
        return False
    current = parent
    while current is not ancestor:
        if isinstance(current, DEFERRED):
            return False
        current = visitor.get_metadata(ParentNodeProvider, current)
    return True
