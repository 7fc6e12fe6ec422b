"""A per-module index of nodes, built in one pass over the tree: each node's parent, its place in source order,
its frame, and the nodes of each type filed by frame, so that no rule walks a subtree per candidate."""

from __future__ import annotations

from bisect import bisect_left
from functools import lru_cache
from typing import Callable, Hashable, Optional, TypeVar

import libcst as cst

from perflint.traversal import non_token_children

T = TypeVar("T")
N = TypeVar("N", bound=cst.CSTNode)

# Bodies of these run later or elsewhere, not as part of the statement that contains them.
DEFERRED = (cst.FunctionDef, cst.Lambda, cst.ClassDef)
# The same, for telling a node's exact type in the build (none of them has a subclass): cheaper per node than
# isinstance against these classes, which are ABCs.
DEFERRED_TYPES = frozenset(DEFERRED)


class TreeIndex:
    """One module's nodes in pre-order, built in one pass, so that a rule never walks a subtree per candidate.

    Every node gets its position in a pre-order walk in source order (``walk_all``'s, which is LibCST's) and
    the position just past its last descendant: the descendants of a node are the nodes whose position lies
    in that span. Nodes are filed by their exact type and by their *frame* (the nearest enclosing ``def``,
    ``lambda`` or class, or the module), so that ``same_scope(root, kind)`` answers what
    ``walk_same_scope(root)`` would yield of ``kind`` with two binary searches. The same pass records each
    node's parent (ParentNodeProvider's values), and the rules' batched visit reads the pre-order back
    (``visit``). Facts that rules derive from these queries are kept per module with ``memo``.
    Whitespace, comments, punctuation and operator tokens (``TOKENS``) are left out: no query can ask for them.
    """

    def __init__(self, module: cst.Module) -> None:
        self.module = module
        # Each node's parent (tokens left out): ParentNodeProvider's values, from the same pass.
        self.parents: dict[cst.CSTNode, cst.CSTNode] = {}
        # Each node's children (tokens left out), by the node's id: the scope providers' walks read them here.
        self.child_nodes: dict[int, list[cst.CSTNode]] = {}
        self._start: dict[cst.CSTNode, int] = {}
        self._end: dict[cst.CSTNode, int] = {}
        # (type, frame or None for all frames) -> (positions, nodes), both in pre-order. The pass files each node
        # under its frame; the entry of all frames is put together from those when first asked for.
        self._filed: dict[tuple[type, Optional[cst.CSTNode]], tuple[list[int], list[cst.CSTNode]]] = {}
        self._entries_of_type: dict[type, list[tuple[list[int], list[cst.CSTNode]]]] = {}
        self._memo: dict[tuple[Hashable, ...], object] = {}
        self._build()

    def _build(self) -> None:
        start, end, filed, parents = self._start, self._end, self._filed, self.parents
        child_nodes, entries_of_type = self.child_nodes, self._entries_of_type
        position = 0
        # (node, its frame); None marks "every descendant of the node below it on the stack has been seen".
        stack: list[tuple[Optional[cst.CSTNode], cst.CSTNode]] = [(self.module, self.module)]
        while stack:
            node, frame = stack.pop()
            if node is None:
                end[frame] = position
                continue
            start[node] = position
            kind = type(node)
            entry = filed.get((kind, frame))
            if entry is None:
                entry = filed[(kind, frame)] = ([], [])
                entries_of_type.setdefault(kind, []).append(entry)
            entry[0].append(position)
            entry[1].append(node)
            position += 1
            stack.append((None, node))
            inner = node if kind in DEFERRED_TYPES else frame
            below = child_nodes[id(node)] = non_token_children(node)
            for child in below:
                parents[child] = node
            stack.extend([(child, inner) for child in reversed(below)])

    def visit(self, visitor: cst.CSTVisitor, kinds: tuple[type[cst.CSTNode], ...]) -> None:
        """The calls ``traversal.walk(module, visitor)`` makes for the nodes of ``kinds`` (exact types), in the same
        order, read from the index instead of the tree, for a visitor that visits every node's children (its
        ``on_visit`` answer is not read) and has callbacks for those types only: each node's ``on_leave`` comes
        once every node of its span has been visited, before the first node after it."""
        start, end = self._start, self._end
        open_nodes: list[cst.CSTNode] = []
        for node in self.under(self.module, *kinds):
            position = start[node]
            while open_nodes and end[open_nodes[-1]] <= position:
                visitor.on_leave(open_nodes.pop())
            visitor.on_visit(node)
            open_nodes.append(node)
        while open_nodes:
            visitor.on_leave(open_nodes.pop())

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
        if isinstance(root, (*DEFERRED, cst.Module)):
            return root
        # The nearest def, lambda or class above `root`, else the module (which has no parent).
        parent = self.parents.get(root)
        while parent is not None and type(parent) not in DEFERRED_TYPES:
            parent = self.parents.get(parent)
        return self.module if parent is None else parent

    def under(self, root: cst.CSTNode, *kinds: type[N]) -> list[N]:
        """The nodes of ``kinds`` (exact types) among ``root`` and all its descendants, nested scopes included."""
        return self._within(root, kinds, None)

    def _within(self, root: cst.CSTNode, kinds: tuple[type, ...], frame: Optional[cst.CSTNode]) -> list:
        low, high = self._start[root], self._end[root]
        found: list[tuple[int, cst.CSTNode]] = []
        for kind in kinds:
            entry = self._entry(kind, frame)
            if entry is None:
                continue
            positions, nodes = entry
            first, last = bisect_left(positions, low), bisect_left(positions, high)
            found.extend(zip(positions[first:last], nodes[first:last]))
        if len(kinds) > 1:
            found.sort(key=lambda pair: pair[0])
        return [node for _position, node in found]

    def _entry(self, kind: type, frame: Optional[cst.CSTNode]) -> Optional[tuple[list[int], list[cst.CSTNode]]]:
        """The positions and nodes of ``kind`` in ``frame`` (None: in every frame), in pre-order."""
        entry = self._filed.get((kind, frame))
        if entry is None and frame is None and kind in self._entries_of_type:
            pairs = sorted(
                (pair for positions, nodes in self._entries_of_type[kind] for pair in zip(positions, nodes)),
                key=lambda pair: pair[0],
            )
            entry = self._filed[(kind, None)] = ([position for position, _node in pairs], [node for _position, node in pairs])
        return entry

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

    def ends_before(self, node: cst.CSTNode, other: cst.CSTNode) -> bool:
        """Whether ``node`` ends where ``other`` starts or before: it comes first and does not hold it."""
        return self._start[node] < self._start[other] and not self.contains(node, other)

    def memo(self, key: tuple[Hashable, ...], compute: Callable[[], T]) -> T:
        """``compute()``, once per module and ``key`` (a fact's name and the nodes it is about)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]  # type: ignore[return-value]


@lru_cache(maxsize=2)
def index_of(module: cst.Module) -> TreeIndex:
    """``module``'s TreeIndex, built once and shared by the metadata and every rule (the last two modules kept)."""
    return TreeIndex(module)
