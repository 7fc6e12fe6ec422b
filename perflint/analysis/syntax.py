"""Tree walks that respect Python's scopes, the Name nodes that spell variables, and a per-module index that
answers "which nodes of this kind lie under that node?" without walking the subtree again."""

from __future__ import annotations

from bisect import bisect_left
from functools import lru_cache
from typing import Callable, Hashable, Iterator, Optional, TypeVar

import libcst as cst
from libcst import MetadataDependent
from libcst.metadata import ParentNodeProvider, PositionProvider

from perflint.traversal import TOKENS, children

T = TypeVar("T")
N = TypeVar("N", bound=cst.CSTNode)

# Bodies of these run later or elsewhere, not as part of the statement that contains them.
DEFERRED = (cst.FunctionDef, cst.Lambda, cst.ClassDef)


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


class TreeIndex:
    """One module's nodes in pre-order, built in one pass, so that a rule never walks a subtree per candidate.

    Every node gets its position in a pre-order walk in source order (``walk_all``'s, which is LibCST's) and
    the position just past its last descendant: the
    descendants of a node are the nodes whose position lies in that span. Nodes are filed by their exact
    type and by their *frame* (the nearest enclosing ``def``, ``lambda`` or class, or the module), so that
    ``same_scope(root, kind)`` answers what ``walk_same_scope(root)`` would yield of ``kind`` with two
    binary searches. Facts that rules derive from these queries are kept per module with ``memo``.
    Whitespace, comments, punctuation and operator tokens (``TOKENS``) are left out: no query can ask for them.
    """

    def __init__(self, module: cst.Module) -> None:
        self.module = module
        self._start: dict[cst.CSTNode, int] = {}
        self._end: dict[cst.CSTNode, int] = {}
        self._frame: dict[cst.CSTNode, cst.CSTNode] = {}
        # (type, frame or None for all frames) -> (positions, nodes), both in pre-order.
        self._filed: dict[tuple[type, Optional[cst.CSTNode]], tuple[list[int], list[cst.CSTNode]]] = {}
        self._memo: dict[tuple[Hashable, ...], object] = {}
        self._build()

    def _build(self) -> None:
        start, end, frames, filed = self._start, self._end, self._frame, self._filed
        position = 0
        # (node, its frame); None marks "every descendant of the node below it on the stack has been seen".
        stack: list[tuple[Optional[cst.CSTNode], cst.CSTNode]] = [(self.module, self.module)]
        while stack:
            node, frame = stack.pop()
            if node is None:
                end[frame] = position
                continue
            start[node] = position
            frames[node] = frame
            kind = type(node)
            for key in ((kind, frame), (kind, None)):
                entry = filed.get(key)
                if entry is None:
                    entry = filed[key] = ([], [])
                entry[0].append(position)
                entry[1].append(node)
            position += 1
            stack.append((None, node))
            inner = node if isinstance(node, DEFERRED) else frame
            stack.extend((child, inner) for child in reversed(children(node, TOKENS)))

    def same_scope(self, root: cst.CSTNode, *kinds: type[N]) -> list[N]:
        """The nodes of ``kinds`` (exact types) that ``walk_same_scope(root)`` yields, in pre-order."""
        found = self._within(root, kinds, self._opened_frame(root))
        if isinstance(root, DEFERRED) and isinstance(root, kinds):
            found.insert(0, root)  # filed under its own enclosing frame, not under the one it opens
        return found

    def same_scope_where(self, root: cst.CSTNode, kind: type[N], fact: Hashable, keep: Callable[[N], bool]) -> list[N]:
        """``[node for node in same_scope(root, kind) if keep(node)]``, where ``keep`` is asked about each node
        of the frame once per module: ``fact`` names the predicate (the same name must mean the same one)."""
        frame = self._opened_frame(root)

        def kept() -> tuple[list[int], list[cst.CSTNode]]:
            positions, nodes = self._filed.get((kind, frame), ([], []))
            pairs = [(position, node) for position, node in zip(positions, nodes) if keep(node)]  # type: ignore[arg-type]
            return [position for position, _node in pairs], [node for _position, node in pairs]

        positions, nodes = self.memo(("same_scope_where", fact, kind, frame), kept)
        first, last = bisect_left(positions, self._start[root]), bisect_left(positions, self._end[root])
        found = nodes[first:last]
        if isinstance(root, DEFERRED) and isinstance(root, kind) and keep(root):  # type: ignore[arg-type]
            found.insert(0, root)
        return found  # type: ignore[return-value]

    def _opened_frame(self, root: cst.CSTNode) -> cst.CSTNode:
        """The frame whose nodes ``walk_same_scope(root)`` yields (``root`` itself aside)."""
        return root if isinstance(root, (*DEFERRED, cst.Module)) else self._frame[root]

    def under(self, root: cst.CSTNode, *kinds: type[N]) -> list[N]:
        """The nodes of ``kinds`` (exact types) among ``root`` and all its descendants, nested scopes included."""
        return self._within(root, kinds, None)

    def _within(self, root: cst.CSTNode, kinds: tuple[type, ...], frame: Optional[cst.CSTNode]) -> list:
        low, high = self._start[root], self._end[root]
        found: list[tuple[int, cst.CSTNode]] = []
        for kind in kinds:
            entry = self._filed.get((kind, frame))
            if entry is None:
                continue
            positions, nodes = entry
            first, last = bisect_left(positions, low), bisect_left(positions, high)
            found.extend(zip(positions[first:last], nodes[first:last]))
        if len(kinds) > 1:
            found.sort(key=lambda pair: pair[0])
        return [node for _position, node in found]

    def grouped(self, kind: type[N], key: Callable[[N], Optional[Hashable]], fact: Hashable) -> dict[Hashable, list[N]]:
        """The module's nodes of ``kind`` (exact type) by ``key`` of each, in source order, once per module;
        nodes whose key is None are left out. ``fact`` names the key function (the same name, the same one)."""

        def group() -> dict[Hashable, list[N]]:
            groups: dict[Hashable, list[N]] = {}
            for node in self.under(self.module, kind):
                value = key(node)
                if value is not None:
                    groups.setdefault(value, []).append(node)
            return groups

        return self.memo(("grouped", fact, kind), group)

    def order(self, node: cst.CSTNode) -> int:
        """``node``'s place in source order (pre-order). For two nodes neither of which holds the other, the
        earlier in the source has the lower place, as with their positions, without computing positions."""
        return self._start[node]

    def contains(self, ancestor: cst.CSTNode, node: cst.CSTNode) -> bool:
        """Whether ``node`` is ``ancestor`` or one of its descendants."""
        return self._start[ancestor] <= self._start[node] < self._end[ancestor]

    def memo(self, key: tuple[Hashable, ...], compute: Callable[[], T]) -> T:
        """``compute()``, once per module and ``key`` (a fact's name and the nodes it is about)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]  # type: ignore[return-value]


def tree_index(visitor: MetadataDependent, node: cst.CSTNode) -> TreeIndex:
    """The TreeIndex of the module that holds ``node``; the visitor must depend on ParentNodeProvider.

    Built once per module and shared by every rule of the visit (the last two modules are kept).
    """
    root = node
    while not isinstance(root, cst.Module):
        root = visitor.get_metadata(ParentNodeProvider, root)
    return _index(root)


@lru_cache(maxsize=2)
def _index(module: cst.Module) -> TreeIndex:
    return TreeIndex(module)
