"""Dataflow facts shared by rules: fresh names, how surely an expression runs, rebinding between two points.

Every function here that takes a visitor reads metadata from it; the visitor must declare ScopeProvider and
ParentNodeProvider (and QualifiedNameProvider for ``introspects_frame``) in its METADATA_DEPENDENCIES.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Collection, Iterator, Optional, Sequence, Union

import libcst as cst
from libcst import MetadataDependent
from libcst.metadata import ComprehensionScope, GlobalScope, Scope, ScopeProvider

from perflint.analysis.bindings import bound_names
from perflint.analysis.names import qualified_names
from perflint.analysis.syntax import DEFERRED, TreeIndex, end, parent, start, tree_index
from perflint.traversal import children, walk

Statement = Union[cst.BaseStatement, cst.BaseSmallStatement]
BLOCKS = (cst.Module, cst.IndentedBlock, cst.SimpleStatementLine, cst.SimpleStatementSuite)
COMPREHENSIONS = (cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)
# Calls that read or write the local namespace behind the compiler's back: a new local changes what they see.
FRAME_INTROSPECTION = frozenset(
    {"builtins.exec", "builtins.eval", "builtins.locals", "sys._getframe", "inspect.currentframe", "inspect.stack"}
)
# ``vars()`` and ``dir()`` read the locals only when called without arguments.
FRAME_INTROSPECTION_WITHOUT_ARGUMENTS = frozenset({"builtins.vars", "builtins.dir"})


class Reach(enum.IntEnum):
    """How surely, and when, an expression is evaluated once the statement holding it starts (worst last)."""

    ALWAYS = 0
    """Evaluated every time the statement runs, as part of running it."""
    MAYBE = 1
    """Inside a branch, loop, short-circuit, conditional expression or comprehension: zero, one or more times."""
    GUARDED = 2
    """Inside ``try``/``with``/``match`` or a nested definition: exceptions or bindings are handled differently."""
    LATER = 3
    """Inside a lambda or generator expression: at some other time, or never."""


@dataclass(frozen=True)
class Region:
    """Where one new binding can serve a set of uses.

    ``anchor`` is the statement (a small statement when it shares its line with others) before which the
    binding goes; ``statements`` are the anchor's line or statement and the following statements of the same
    block, up to the one holding the last use: every use lies inside them.
    """

    anchor: Statement
    statements: tuple[Statement, ...]


def fresh_name(visitor: MetadataDependent, node: cst.CSTNode, base: str, avoid: Collection[str] = ()) -> str:
    """``base``, or ``base_1``, ``base_2``... : a name that a new local binding next to ``node`` may take.

    The result shadows nothing visible from the scope of ``node`` (locals, enclosing functions, globals,
    builtins) and equals no name written anywhere in the enclosing function (nested functions and
    comprehensions included) or, at module level, anywhere in the module; nor any name in ``avoid``
    (names the caller already handed out).
    """
    scope = _binding_scope(visitor.get_metadata(ScopeProvider, node))
    root = _scope_root(visitor, scope, node)
    index = tree_index(visitor, root)
    taken = index.memo(("names written in", root), lambda: {name.value for name in index.under(root, cst.Name)}) | set(avoid)
    candidate, suffix = base, 0
    while candidate in taken or candidate in scope:
        suffix += 1
        candidate = f"{base}_{suffix}"
    return candidate


def ancestors(visitor: MetadataDependent, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """The parents of ``node``, innermost first, up to the module."""
    while not isinstance(node, cst.Module):
        node = parent(visitor, node)
        yield node


def enclosing_statements(visitor: MetadataDependent, node: cst.CSTNode, top: cst.CSTNode) -> list[Statement]:
    """The statements and small statements holding ``node`` below ``top``, outermost first."""
    found: list[Statement] = [node] if isinstance(node, (cst.BaseStatement, cst.BaseSmallStatement)) else []
    for ancestor in ancestors(visitor, node):
        if ancestor is top:
            break
        if isinstance(ancestor, (cst.BaseStatement, cst.BaseSmallStatement)):
            found.append(ancestor)
    return found[::-1]


def reach(visitor: MetadataDependent, node: cst.CSTNode, top: cst.CSTNode) -> Reach:
    """How surely ``node`` is evaluated when ``top`` (a statement or expression holding it) runs."""
    worst = Reach.ALWAYS
    child = node
    while child is not top:
        step = parent(visitor, child)
        worst = max(worst, _step_reach(visitor, child, step))
        child = step
    return worst


def first_effect(visitor: MetadataDependent, node: cst.CSTNode, top: cst.CSTNode) -> bool:
    """Whether nothing that may have a side effect is evaluated before ``node`` when ``top`` runs.

    Conservative: calls, subscripts, f-string formatting, walrus, await, yield, comprehensions and entering
    a ``with`` item count as side effects; name and attribute loads, literals and operators do not.
    """
    child = node
    while child is not top:
        step = parent(visitor, child)
        if any(may_have_effects(earlier) for earlier in _evaluated_before(child, step)):
            return False
        child = step
    return True


def may_have_effects(node: cst.CSTNode) -> bool:
    """Whether evaluating ``node`` may run code with side effects (see ``first_effect``)."""
    if isinstance(node, (cst.BaseStatement, cst.BaseSmallStatement)):
        return True
    finder = _EffectFinder()
    walk(node, finder)
    return finder.found


def hoist_region(visitor: MetadataDependent, uses: Sequence[cst.CSTNode], top: cst.CSTNode) -> Optional[Region]:
    """The region where one binding placed before the statement holding ``uses[0]`` reaches every use.

    ``uses`` are in source order and lie in the body of ``top`` (a function or the module). The anchor is the
    deepest statement holding the first use whose block also holds, at or after it, every other use.
    """
    chains = [enclosing_statements(visitor, use, top) for use in uses]
    first = chains[0]
    for depth in reversed(range(len(first))):
        block = parent(visitor, first[depth])
        if not isinstance(block, BLOCKS):
            continue
        siblings = list(block.body)
        start = _index(siblings, first[depth])
        found = [_position_in_block(visitor, chain, block, siblings) for chain in chains[1:]]
        ends = [end for end in found if end is not None and end >= start]
        if len(ends) == len(found):
            last = max([start, *ends])
            anchor = first[depth]
            if isinstance(block, cst.SimpleStatementLine) and len(siblings) == 1:
                return Region(block, (block,))  # the line's only statement: insert a line, not `a = ...; stmt`
            if isinstance(anchor, cst.SimpleStatementLine) and len(anchor.body) > 1:
                anchor = first[depth + 1]  # insert between small statements, not above the whole line
            return Region(anchor, tuple(siblings[start : last + 1]))
    return None


def bindings(visitor: MetadataDependent, statements: Sequence[cst.CSTNode], name: str) -> list[cst.CSTNode]:
    """The nodes in ``statements`` that (re)bind or delete ``name`` in their scope, in source order.

    Covers assignment, augmented and annotated assignment, ``del``, ``for``/``with``/``except`` targets,
    walrus (also inside comprehensions), imports (a star import binds anything), nested ``def``/``class``
    names, ``match`` captures and ``global``/``nonlocal`` declarations. Bodies of nested functions, lambdas
    and classes bind in their own scope and are not searched; comprehension targets neither. The candidates
    come from the module's TreeIndex, so the cost does not grow with the statements' size.
    """
    finder = _BindingFinder(name)
    for statement in statements:
        if isinstance(statement, DEFERRED):
            walk(statement, finder)  # its name and what runs here (decorators, defaults, bases), not its body
            continue
        for node in tree_index(visitor, statement).same_scope(statement, *_BINDING_KINDS):
            if isinstance(node, DEFERRED):
                walk(node, finder)
            elif finder.binds(node):
                finder.found.append(node)
    return finder.found


@dataclass(frozen=True)
class Declarations:
    """A function's ``global``/``nonlocal`` declarations: its own (class bodies in it included), and the
    ``nonlocal`` ones of functions nested in it (calling those may rebind the name)."""

    own: frozenset[str]
    nested_nonlocal: frozenset[str]


def declarations(visitor: MetadataDependent, function: cst.FunctionDef) -> Declarations:
    """The Declarations of ``function``, from the module's tree index, once per function."""
    index = tree_index(visitor, function)

    def found() -> Declarations:
        own: set[str] = set()
        nested_nonlocal: set[str] = set()
        for declared in index.under(function, cst.Global):
            if _innermost_def(index, declared) is function:
                own.update(item.name.value for item in declared.names)
        for nonlocal_ in index.under(function, cst.Nonlocal):
            names = own if _innermost_def(index, nonlocal_) is function else nested_nonlocal
            names.update(item.name.value for item in nonlocal_.names)
        return Declarations(frozenset(own), frozenset(nested_nonlocal))

    return index.memo(("declarations", function), found)


def _innermost_def(index: TreeIndex, node: cst.CSTNode) -> Optional[cst.FunctionDef]:
    """The ``def`` that holds ``node`` most closely, class bodies between them or not."""
    current = index.parents.get(node)
    while current is not None and not isinstance(current, cst.FunctionDef):
        current = index.parents.get(current)
    return current


def introspects_frame(visitor: MetadataDependent, function: cst.CSTNode) -> bool:
    """Whether ``function`` calls ``exec``/``eval``/``locals()``/``vars()``/``dir()`` or grabs its frame."""
    index = tree_index(visitor, function)
    calls = index.under(function, cst.Call)
    return index.memo(("introspects frame", function), lambda: any(_introspects(visitor, call) for call in calls))


def _introspects(visitor: MetadataDependent, call: cst.Call) -> bool:
    names = qualified_names(visitor, call.func)
    return not names.isdisjoint(FRAME_INTROSPECTION) or (
        not call.args and not names.isdisjoint(FRAME_INTROSPECTION_WITHOUT_ARGUMENTS)
    )


def mutually_exclusive(visitor: MetadataDependent, first: cst.CSTNode, second: cst.CSTNode) -> bool:
    """Whether ``first`` and ``second`` sit in different arms of one ``if``/``elif``/``else`` or conditional expression."""
    second_path = [second, *ancestors(visitor, second)]
    inside_second = {id(node): i for i, node in enumerate(second_path)}
    child = first
    for node in ancestors(visitor, first):
        if id(node) in inside_second:
            other = second_path[inside_second[id(node)] - 1] if inside_second[id(node)] else None
            return other is not None and _different_arms(node, child, other)
        child = node
    return False


def _different_arms(fork: cst.CSTNode, one: cst.CSTNode, other: cst.CSTNode) -> bool:
    if isinstance(fork, cst.If):
        arms = {id(fork.body): "body", id(fork.orelse): "orelse"}
    elif isinstance(fork, cst.IfExp):
        arms = {id(fork.body): "body", id(fork.orelse): "orelse"}
    else:
        return False
    return id(one) in arms and id(other) in arms and arms[id(one)] != arms[id(other)]


def _position_in_block(
    visitor: MetadataDependent, chain: list[Statement], block: cst.CSTNode, siblings: list[cst.CSTNode]
) -> Optional[int]:
    for statement in chain:
        if parent(visitor, statement) is block:
            return _index(siblings, statement)
    return None


def _index(nodes: Sequence[cst.CSTNode], node: cst.CSTNode) -> int:
    return next(i for i, candidate in enumerate(nodes) if candidate is node)


def _step_reach(visitor: MetadataDependent, child: cst.CSTNode, step: cst.CSTNode) -> Reach:
    """How surely ``child`` runs when ``step`` (its parent) runs."""
    if isinstance(step, cst.BooleanOperation):
        return Reach.MAYBE if child is step.right else Reach.ALWAYS
    if isinstance(step, (cst.IfExp, cst.If)):
        return Reach.ALWAYS if child is step.test else Reach.MAYBE
    if isinstance(step, cst.Lambda):
        return Reach.LATER if child is step.body else Reach.ALWAYS
    if isinstance(step, COMPREHENSIONS):
        return Reach.ALWAYS if child is step.for_in else _lazy(step)
    if isinstance(step, cst.CompFor):
        comprehension = _comprehension_of(visitor, step)
        outermost_iterable = child is step.iter and comprehension.for_in is step
        return Reach.ALWAYS if outermost_iterable else _lazy(comprehension)
    if isinstance(step, cst.For):
        return Reach.ALWAYS if child is step.iter else Reach.MAYBE
    if isinstance(step, cst.While):
        return Reach.MAYBE
    if isinstance(step, cst.With):
        return Reach.ALWAYS if isinstance(child, cst.WithItem) else Reach.GUARDED
    if isinstance(step, (cst.Try, cst.TryStar, cst.ExceptHandler, cst.ExceptStarHandler, cst.Finally, cst.Match)):
        return Reach.GUARDED
    if isinstance(step, (cst.FunctionDef, cst.ClassDef)):
        return Reach.GUARDED
    return Reach.ALWAYS


def _lazy(comprehension: cst.CSTNode) -> Reach:
    return Reach.LATER if isinstance(comprehension, cst.GeneratorExp) else Reach.MAYBE


def _comprehension_of(visitor: MetadataDependent, comp_for: cst.CompFor) -> cst.CSTNode:
    node: cst.CSTNode = comp_for
    while not isinstance(node, COMPREHENSIONS):
        node = parent(visitor, node)
    return node


def _evaluated_before(child: cst.CSTNode, step: cst.CSTNode) -> list[cst.CSTNode]:
    """The parts of ``step`` evaluated before ``child``: source order, except that assignments evaluate their value first."""
    if isinstance(step, cst.Assign):
        if child is step.value:
            return []
        targets = list(step.targets)
        return [step.value, *targets[: _index(targets, child)]]
    if isinstance(step, cst.AnnAssign):
        return [] if child is step.value or step.value is None else [step.value]
    if isinstance(step, COMPREHENSIONS) and child is step.for_in:
        return []  # the outermost iterable is evaluated before the element
    if isinstance(step, cst.CompFor) and child is step.iter:
        return []  # ... and before the target is bound
    siblings = children(step)
    return siblings[: _index(siblings, child)]


class _EffectFinder(cst.CSTVisitor):
    EFFECTS = (
        cst.Call,
        cst.Subscript,
        cst.Await,
        cst.Yield,
        cst.NamedExpr,
        cst.WithItem,
        cst.FormattedStringExpression,
        *COMPREHENSIONS,
    )

    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, self.EFFECTS):
            self.found = True
        return not self.found


class _BindingFinder(cst.CSTVisitor):
    """Finds the bindings of one name, staying in the scope being searched."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.found: list[cst.CSTNode] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        if self.binds(node):
            self.found.append(node)
        # Nested defs, classes and lambdas scope their bodies: search only what runs here (decorators,
        # defaults, bases); the def/class name itself was checked above.
        if isinstance(node, cst.FunctionDef):
            self._search(*node.decorators, node.params)
            return False
        if isinstance(node, cst.ClassDef):
            self._search(*node.decorators, *node.bases, *node.keywords)
            return False
        if isinstance(node, cst.Lambda):
            self._search(node.params)
            return False
        return True

    def _search(self, *parts: cst.CSTNode) -> None:
        for part in parts:
            walk(part, self)

    def binds(self, node: cst.CSTNode) -> bool:
        if isinstance(node, (cst.AssignTarget, cst.AugAssign, cst.AnnAssign)):
            return _target_binds(node.target, self.name)
        if isinstance(node, cst.For):
            return _target_binds(node.target, self.name)
        if isinstance(node, cst.WithItem):
            return node.asname is not None and _target_binds(node.asname.name, self.name)
        if isinstance(node, (cst.ExceptHandler, cst.ExceptStarHandler)):
            return node.name is not None and _target_binds(node.name.name, self.name)
        if isinstance(node, cst.NamedExpr):
            return _target_binds(node.target, self.name)
        if isinstance(node, cst.Del):
            return _target_binds(node.target, self.name)
        if isinstance(node, (cst.Import, cst.ImportFrom)):
            return _import_binds(node, self.name)
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            return node.name.value == self.name
        if isinstance(node, (cst.MatchAs, cst.MatchStar)):
            return node.name is not None and node.name.value == self.name
        if isinstance(node, cst.MatchMapping):
            return node.rest is not None and node.rest.value == self.name
        if isinstance(node, (cst.Global, cst.Nonlocal)):
            return any(item.name.value == self.name for item in node.names)
        return False


# The node types ``_BindingFinder.binds`` answers for, and the scopes whose headers it searches.
_BINDING_KINDS = (
    cst.AssignTarget, cst.AugAssign, cst.AnnAssign, cst.For, cst.WithItem, cst.ExceptHandler, cst.ExceptStarHandler,
    cst.NamedExpr, cst.Del, cst.Import, cst.ImportFrom, cst.FunctionDef, cst.ClassDef, cst.Lambda, cst.MatchAs,
    cst.MatchStar, cst.MatchMapping, cst.Global, cst.Nonlocal,
)  # fmt: skip


def _target_binds(target: cst.CSTNode, name: str) -> bool:
    """Whether assigning to ``target`` binds ``name`` (see ``bindings.bound_names``)."""
    return any(bound.value == name for bound in bound_names(target))


def _import_binds(node: Union[cst.Import, cst.ImportFrom], name: str) -> bool:
    if isinstance(node.names, cst.ImportStar):
        return True
    for alias in node.names:
        if alias.asname is not None:
            bound = alias.asname.name
            if isinstance(bound, cst.Name) and bound.value == name:
                return True
        elif _first_component(alias.name) == name:
            return True
    return False


def _first_component(name: cst.CSTNode) -> Optional[str]:
    while isinstance(name, cst.Attribute):
        name = name.value
    return name.value if isinstance(name, cst.Name) else None


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
        root = parent(visitor, root)
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
    walk(root, collector)
    return collector.names


def read_after(
    visitor: MetadataDependent, target: cst.Name, statement: cst.CSTNode, *, credit_loop_rebinding: bool = False
) -> bool:
    """Whether the value bound to ``target`` by ``statement`` (e.g. a ``for`` loop variable) may be read after it.

    Conservative: a reference to that binding outside ``statement`` counts when it comes later in the text or lies
    in a nested function, lambda or class (which may run at any time); inside a loop that encloses
    ``statement``, any other mention of the name counts (the next iteration may read it); so does frame
    introspection in the scope (``locals()``...). Rebinding in between is not credited. Importers of a
    module-level name are not seen. The visitor must also declare PositionProvider and QualifiedNameProvider.

    With ``credit_loop_rebinding``, one kind of rebinding is credited: a read inside the body of a later ``for``
    whose target binds the name reads that loop's value (``for date, rows in groups.items(): use(date)``).
    """
    scope = visitor.get_metadata(ScopeProvider, target, None)
    if scope is None or introspects_frame(visitor, _scope_root(visitor, _binding_scope(scope), target)):
        return True
    span = (start(visitor, statement), end(visitor, statement))
    loop = _enclosing_loop(visitor, statement)
    if loop is not None and _mentioned_outside(visitor, loop, statement, target.value):
        return True
    for assignment in scope.assignments[target.value]:
        if getattr(assignment, "node", None) is not target:
            continue
        for access in assignment.references:
            where = (start(visitor, access.node), end(visitor, access.node))
            if _within(where, span):
                continue
            if _binding_scope(access.scope) is not scope:
                return True
            if _starts_after(where, span) and not (
                credit_loop_rebinding and _in_rebinding_loop_body(visitor, access.node, target.value, statement)
            ):
                return True
    return False


def _in_rebinding_loop_body(visitor: MetadataDependent, node: cst.CSTNode, name: str, statement: cst.CSTNode) -> bool:
    """Whether ``node`` lies in the body of a ``for`` (other than ``statement``) whose target binds ``name``."""
    child = node
    for ancestor in ancestors(visitor, node):
        if isinstance(ancestor, (cst.FunctionDef, cst.ClassDef, cst.Lambda, cst.Module)):
            return False
        if isinstance(ancestor, cst.For) and ancestor is not statement and child is ancestor.body:
            if _target_binds(ancestor.target, name):
                return True
        child = ancestor
    return False


def _mentioned_outside(visitor: MetadataDependent, root: cst.CSTNode, excluded: cst.CSTNode, name: str) -> bool:
    """Whether ``name`` is written somewhere under ``root`` but outside ``excluded``."""
    index = tree_index(visitor, root)
    return any(node.value == name and not index.contains(excluded, node) for node in index.under(root, cst.Name))


def _enclosing_loop(visitor: MetadataDependent, node: cst.CSTNode) -> Optional[cst.CSTNode]:
    """The nearest ``for``/``while`` around ``node`` in the same function, else None."""
    for ancestor in ancestors(visitor, node):
        if isinstance(ancestor, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            return None
        if isinstance(ancestor, (cst.For, cst.While)):
            return ancestor
    return None


Span = tuple[tuple[int, int], tuple[int, int]]  # (start, end) of a node, as ``syntax.start`` / ``syntax.end``


def _within(inner: Span, outer: Span) -> bool:
    return outer[0] <= inner[0] and inner[1] <= outer[1]


def _starts_after(inner: Span, outer: Span) -> bool:
    return inner[0] >= outer[1]


def previous_statement(visitor: MetadataDependent, statement: cst.BaseStatement) -> Optional[cst.BaseStatement]:
    """The statement right before ``statement`` in its block, else None (first in its block)."""
    body = getattr(parent(visitor, statement), "body", None)
    if not isinstance(body, Sequence):
        return None
    position = _index(body, statement)
    return body[position - 1] if position else None


def mentions(node: cst.CSTNode, name: str) -> bool:
    """Whether the identifier ``name`` is written anywhere under ``node`` (any position, nested scopes too)."""
    return name in _names_written_in(node)


def is_empty_dict(visitor: MetadataDependent, node: cst.BaseExpression) -> bool:
    """Whether ``node`` creates a new empty dict: ``{}`` or a call of the builtin ``dict()``."""
    if isinstance(node, cst.Dict):
        return not node.elements
    return isinstance(node, cst.Call) and not node.args and "builtins.dict" in qualified_names(visitor, node.func)
