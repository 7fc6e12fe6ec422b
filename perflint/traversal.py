"""The rules' batched visit of a module: LibCST's order and callbacks, without rebuilding the tree.

``libcst.visit_batched`` goes through ``CSTNode.visit``, which rebuilds every node it leaves (a new dataclass
instance, validated) even for visitors that change nothing: on a 5,000-line script that is 0.3 s, most of a
bare parse. Rules only read the tree, so here the nodes are walked as they are: the same nodes, in the same
order, with the same ``visit_<Type>`` and ``leave_<Type>`` calls.

LibCST visits a node's children in the order its ``_visit_and_replace_children`` names their fields (source
order: a conditional expression's ``body`` before its ``test``, decorators before a function's name), which
is not the order the fields are declared in. That order is read once per node type from the method itself:
each field is visited by a ``visit_*(self, "<field>", ...)`` call.

Also here, for Python's ``ast``: ``ast_children``, the one reading of a node's child nodes.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import textwrap
import typing
from functools import lru_cache
from typing import Callable, Iterable, Iterator, Optional

import libcst as cst
import libcst._nodes.op as op_nodes
import libcst._nodes.whitespace as whitespace_nodes

VisitorMethod = Callable[[cst.CSTNode], object]


# Nodes that are tokens (whitespace, comments, brackets, commas, operators): only tokens are below them, and
# they are most of a module's nodes (three in five on training scripts).
TOKENS = frozenset(
    kind
    for module in (whitespace_nodes, op_nodes)
    for kind in vars(module).values()
    if isinstance(kind, type) and issubclass(kind, cst.CSTNode)
) | frozenset(
    {cst.LeftParen, cst.RightParen, cst.LeftSquareBracket, cst.RightSquareBracket, cst.LeftCurlyBrace, cst.RightCurlyBrace}
)
TOKEN_NAMES = frozenset(kind.__name__ for kind in TOKENS)
# Every node type by its name, as visitor callbacks name them (``visit_Call``).
NODE_TYPES = {
    name: kind for name, kind in vars(cst).items() if isinstance(kind, type) and issubclass(kind, cst.CSTNode)
}


def visit_batched(module: cst.Module, visitors: Iterable[cst.BatchableCSTVisitor]) -> None:
    """What ``libcst.visit_batched(module, visitors)`` calls, in the same order, for read-only visitors.

    Attribute callbacks (``visit_<Type>_<field>``) are not supported: no rule uses them. Unless some visitor
    has a callback for a token type, tokens are not visited: no callback would be made for them.
    """
    batched = _Batched(visitors)
    if batched.names() & TOKEN_NAMES:
        walk(module, batched)
        return
    # The module's tree index holds its nodes in this order, and nearly every file a rule keeps needs the
    # index anyway (for parents): the visit reads it instead of walking the tree once more.
    from perflint.tree_index import index_of  # imported here: the index is built with this module's walk

    index_of(module).visit(batched, tuple(NODE_TYPES[name] for name in batched.names() if name in NODE_TYPES))


class _Batched(cst.CSTVisitor):
    """Several batchable visitors' ``visit_<Type>`` and ``leave_<Type>`` callbacks, as one visitor for ``walk``
    or ``TreeIndex.visit`` (it visits every node's children)."""

    def __init__(self, visitors: Iterable[cst.BatchableCSTVisitor]) -> None:
        super().__init__()
        self.visits: dict[str, list[VisitorMethod]] = {}
        self.leaves: dict[str, list[VisitorMethod]] = {}
        for visitor in visitors:
            for name, method in visitor.get_visitors().items():
                kind, _, type_name = name.partition("_")
                if "_" in type_name:
                    raise ValueError(f"attribute visitor {name} of {type(visitor).__name__} is not supported")
                (self.visits if kind == "visit" else self.leaves).setdefault(type_name, []).append(method)

    def names(self) -> set[str]:
        """The names of the node types some visitor has a callback for."""
        return {*self.visits, *self.leaves}

    def on_visit(self, node: cst.CSTNode) -> bool:
        for method in self.visits.get(type(node).__name__, ()):
            method(node)
        return True

    def on_leave(self, original_node: cst.CSTNode) -> None:
        for method in self.leaves.get(type(original_node).__name__, ()):
            method(original_node)


def walk(node: cst.CSTNode, visitor: cst.CSTVisitor) -> None:
    """``node.visit(visitor)`` for a visitor that only reads: ``on_visit`` (False skips the children), the
    children in LibCST's order, then ``on_leave``. Attribute callbacks are not made (no perflint visitor has
    one). Iterative, so a deep tree cannot exhaust the stack here.
    """
    # A node to visit, or (None, node) once its children are done.
    stack: list[tuple[Optional[cst.CSTNode], cst.CSTNode]] = [(node, node)]
    while stack:
        current, left = stack.pop()
        if current is None:
            visitor.on_leave(left)
            continue
        stack.append((None, current))
        if visitor.on_visit(current):
            stack.extend((child, child) for child in reversed(children(current)))


def children(node: cst.CSTNode, skip: frozenset[type] = frozenset()) -> list[cst.CSTNode]:
    """``node.children``: its child nodes in LibCST's visiting order, less those of the types in ``skip``."""
    return _nodes_in(node, visit_order(type(node)), skip)


def non_token_children(node: cst.CSTNode) -> list[cst.CSTNode]:
    """``children(node, TOKENS)``, reading only the fields that can hold a node that is not a token (a Name's
    ``lpar``, ``rpar`` and ``value`` are never read): the walks over whole modules read every node this way."""
    return _nodes_in(node, non_token_fields(type(node)), TOKENS)


def _nodes_in(node: cst.CSTNode, fields: tuple[str, ...], skip: frozenset[type]) -> list[cst.CSTNode]:
    """The nodes held by ``fields`` of ``node`` (directly or in a sequence), in that order, less those of ``skip``."""
    found: list[cst.CSTNode] = []
    for name in fields:
        value = getattr(node, name)
        kind = type(value)
        if IS_NODE_TYPE[kind]:
            if kind not in skip:
                found.append(value)
        elif kind is tuple or kind is list:
            found.extend(child for child in value if IS_NODE_TYPE[type(child)] and type(child) not in skip)
    return found


@lru_cache(maxsize=None)
def non_token_fields(kind: type[cst.CSTNode]) -> tuple[str, ...]:
    """The fields of ``visit_order(kind)`` whose declared type allows a node that is not a token."""
    declared = {field.name: field.type for field in dataclasses.fields(kind)}
    return tuple(name for name in visit_order(kind) if _may_hold_non_token(declared.get(name, object)))


def _may_hold_non_token(declared: object) -> bool:
    """Whether a field declared ``declared`` (a class or a typing form over classes) can hold a node that is not
    a token; anything this cannot read (a string annotation, ``Any``) counts as able to."""
    arguments = typing.get_args(declared)
    if arguments:
        return any(_may_hold_non_token(argument) for argument in arguments)
    if not isinstance(declared, type):
        return True
    if not issubclass(declared, cst.CSTNode):
        return declared is object
    return not all((kind.__module__, kind.__qualname__) in _TOKEN_CLASS_NAMES for kind in _with_subclasses(declared))


# Token classes by module and name: LibCST's ``add_slots`` replaces each node class with a copy that has slots,
# and the class it copied stays listed among its bases' subclasses (it has no instances).
_TOKEN_CLASS_NAMES = frozenset((kind.__module__, kind.__qualname__) for kind in TOKENS)


def _with_subclasses(kind: type) -> Iterator[type]:
    yield kind
    subclasses: list[type] = kind.__subclasses__()
    for subclass in subclasses:
        yield from _with_subclasses(subclass)


class _NodeTypes(dict[type, bool]):
    """Whether a type is a CSTNode type, asked once per type: ``isinstance(value, cst.CSTNode)`` goes through
    ``ABCMeta.__instancecheck__``, a third of the CPU of a walk over a whole module."""

    def __missing__(self, kind: type) -> bool:
        self[kind] = issubclass(kind, cst.CSTNode)
        return self[kind]


IS_NODE_TYPE = _NodeTypes()


@lru_cache(maxsize=None)
def visit_order(kind: type[cst.CSTNode]) -> tuple[str, ...]:
    """The fields ``kind._visit_and_replace_children`` visits, in the order it visits them."""
    source = textwrap.dedent(inspect.getsource(kind._visit_and_replace_children))
    calls = [
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id.startswith("visit_")
        and len(node.args) >= 2
        and isinstance(node.args[1], ast.Constant)
        and isinstance(node.args[1].value, str)
    ]
    calls.sort(key=lambda call: (call.lineno, call.col_offset))
    return tuple(dict.fromkeys(call.args[1].value for call in calls))


# Fields of Python's ast nodes that hold no node with children of its own: names and other scalars, expression
# contexts, operator singletons and import aliases. Walks looking for statements, expressions and bindings
# (``ast_shapes.shapes``, the import table) skip them: a third of a walk of every field on real code.
AST_LEAF_FIELDS = frozenset(
    {"ctx", "op", "ops", "names", "id", "attr", "arg", "name", "module", "level", "kind", "type_comment", "conversion",
     "is_async"}
)  # fmt: skip
_AST_BRANCH_FIELDS: dict[type[ast.AST], tuple[str, ...]] = {}


def ast_branch_fields(kind: type[ast.AST]) -> tuple[str, ...]:
    """The fields of ``kind`` not in AST_LEAF_FIELDS (worked out once per node type)."""
    fields = _AST_BRANCH_FIELDS.get(kind)
    if fields is None:
        fields = _AST_BRANCH_FIELDS[kind] = tuple(name for name in kind._fields if name not in AST_LEAF_FIELDS)
    return fields


def ast_children(node: ast.AST, fields: Optional[Iterable[str]] = None) -> list[ast.AST]:
    """What ``ast.iter_child_nodes(node)`` yields, limited to ``fields`` if given, read from the fields directly:
    without its two generators per node, a walk of a 10,000-line script's ast takes a third of the CPU."""
    found: list[ast.AST] = []
    for name in node._fields if fields is None else fields:
        value = getattr(node, name, None)
        if isinstance(value, list):
            for item in value:
                if isinstance(item, ast.AST):
                    found.append(item)
        elif isinstance(value, ast.AST):
            found.append(value)
    return found
