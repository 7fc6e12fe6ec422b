"""Metadata resolved on first use: a provider runs only if some rule asks it about some node.

Each mapping is computed once per module (``ModuleMetadata``) and only when a rule first asks for it. The
values are exactly those of LibCST's providers; how they are computed is cheaper where that is exact:

- ParentNodeProvider: read from the nodes' fields in the pass that builds the module's TreeIndex
  (``perflint.tree_index``), ~13x faster than LibCST's visitor. Tokens (whitespace, punctuation), which no
  rule asks about, get no parent.
- QualifiedNameProvider: LibCST's provider visits every node and stores, per node, a deferred call to the
  node's scope's ``get_qualified_names_for``; here that call is made for the nodes a rule asks about
  (a 5,000-line script: 1.1 s of provider for the few hundred names rules ask about).
- PositionProvider: generated one block statement at a time, when a node of it is asked about
  (``StatementPositions``), from the line Python's ast gives the statement where the caller has the ast:
  findings need the positions of a few nodes, LibCST generates the whole module.
- ExpressionContextProvider and ScopeProvider: run by calling the provider itself. LibCST's resolver adds a
  whole-module visit per resolution round even when a round has nothing to batch (0.3 s on that script).
- ExpressionContextProvider and ScopeProvider visit through ``CSTNode.visit``, which rebuilds every node it
  leaves. While they run, their visitors walk the nodes in place instead (``_visiting_in_place``), in the same
  order with the same callbacks, and skip tokens (whitespace, punctuation), for which LibCST documents no scope
  and gives no expression context: 1.8 against 0.8 CPU s on a 10,777-line script. The scope visitor asks the
  qualified names of a call only where the module's import table cannot rule out a typing call (``_ScopeVisitor``).
"""

from __future__ import annotations

import ast
from contextlib import contextmanager
from functools import lru_cache
from typing import Callable, Iterator, Mapping, Optional, Sequence, Union, cast

import libcst as cst
from libcst._nodes.internal import CodegenState
from libcst.helpers import get_full_name_for_node
from libcst.metadata import (
    CodeRange,
    ExpressionContextProvider,
    MetadataWrapper,
    ParentNodeProvider,
    PositionProvider,
    QualifiedName,
    QualifiedNameProvider,
    Scope,
    ScopeProvider,
)
from libcst.metadata.base_provider import ProviderT
from libcst.metadata.expression_context_provider import ExpressionContextVisitor
from libcst.metadata.position_provider import NEWLINE_RE, PositionProvidingCodegenState
from libcst.metadata.scope_provider import _ASSIGNMENT_LIKE_NODES, ScopeVisitor

from perflint.import_table import ImportedNames
from perflint.traversal import non_token_children, visit_batched
from perflint.tree_index import index_of


class NeedsEagerResolution(BaseException):
    """A provider hit the recursion limit when resolved inside the visit: resolve before visiting instead.

    A BaseException so that a rule's crash guard (``except Exception``) does not swallow it: the whole
    visit is redone eagerly, which is how the file would have been checked without laziness.
    """


class ModuleMetadata:
    """Every provider's node -> value mapping for one module, each computed on first request and kept."""

    def __init__(
        self,
        wrapper: MetadataWrapper,
        imported_names: Optional[Callable[[], ImportedNames]] = None,
        tree: Optional[ast.Module] = None,
    ) -> None:
        self._wrapper = wrapper
        # The module's import table, if the caller has one: it spares the scope analysis most of its
        # qualified-name questions (``_ScopeVisitor.visit_Call``).
        self._imported_names = imported_names
        # Python's ast of the module, if the caller has one: the lines its block statements start on.
        self._tree = tree
        self._values: dict[ProviderT, Mapping[cst.CSTNode, object]] = {}

    @property
    def module(self) -> cst.Module:
        return self._wrapper.module

    def values(self, provider: ProviderT) -> Mapping[cst.CSTNode, object]:
        if provider not in self._values:
            try:
                self._values[provider] = self._computed(provider)
            except RecursionError:
                # Resolving inside the visit doubles the stack depth (visit + provider's own visit).
                raise NeedsEagerResolution() from None
        return self._values[provider]

    def _computed(self, provider: ProviderT) -> Mapping[cst.CSTNode, object]:
        if provider is ParentNodeProvider:
            return index_of(self._wrapper.module).parents
        if provider is QualifiedNameProvider:
            return QualifiedNames(self.values(ScopeProvider))  # type: ignore[arg-type]
        if provider is PositionProvider:
            return StatementPositions(self._wrapper.module, lambda: self._run_alone(PositionProvider), self._tree)
        if provider in (ExpressionContextProvider, ScopeProvider):
            return self._run_alone(provider)
        return self._wrapper.resolve(provider)

    def _run_alone(self, provider: ProviderT) -> Mapping[cst.CSTNode, object]:
        """What ``wrapper.resolve(provider)`` gives, for a provider that does all its work on its own.

        PositionProvider generates the module's code; ExpressionContextProvider and ScopeProvider run their
        own visitor from ``visit_Module``. None needs the batched visit of the whole module that LibCST's
        resolver adds around it.
        """
        instance = provider()
        instance.metadata = {dependency: self.values(dependency) for dependency in provider.METADATA_DEPENDENCIES}
        module = self._wrapper.module
        if isinstance(instance, PositionProvider):
            instance._gen_impl(module)
            return instance._computed
        # The walk below reads each node's children from the module's tree index (built for parents anyway).
        instance.child_nodes = index_of(module).child_nodes  # type: ignore[attr-defined]
        if isinstance(instance, ScopeProvider):
            # What ScopeProvider.visit_Module does, with the visitor below.
            visitor = _ScopeVisitor(instance, self._imported_names)
            with _visiting_in_place():
                module.visit(visitor)
            visitor.infer_accesses()
        else:
            with _visiting_in_place():
                instance.visit_Module(module)
        return instance._computed


class _ScopeVisitor(ScopeVisitor):
    """LibCST's ScopeVisitor, with two shortcuts that give the same scopes.

    Leaving a node (``left``, called by ``_visit_in_place`` before the node's ``leave_<Type>``) tells
    assignment-like nodes by their exact type: its ``isinstance`` against 18 node classes, each an ABC, was a
    third of the provider's CPU. None of those classes has a subclass, so the answer is the same.

    ``visit_Call`` asks every call's qualified names, to find ``typing.NewType``, ``typing.TypeVar`` and
    ``typing.cast`` (whose arguments are type hints): a fifth of the provider's CPU on training scripts. A call
    the module's import table says cannot be one of those (``ImportedNames.cannot_refer_to``, for the name
    LibCST would look up) is visited as LibCST visits any other call.
    """

    def __init__(self, provider: ScopeProvider, imported_names: Optional[Callable[[], ImportedNames]]) -> None:
        super().__init__(provider)
        self._imported_names = imported_names

    def left(self, original_node: cst.CSTNode) -> None:
        self.provider.set_metadata(original_node, self.scope)
        if type(original_node) in ASSIGNMENT_LIKE_TYPES:
            self.scope._assignment_count += 1

    def visit_Call(self, node: cst.Call) -> Optional[bool]:
        if self._imported_names is None or self._may_set_type_hints(node):
            return super().visit_Call(node)
        # What ScopeVisitor.visit_Call does for other calls: open the two stacks its leave_Call closes.
        self._ScopeVisitor__top_level_attribute_stack.append(None)  # type: ignore[attr-defined]
        self._ScopeVisitor__in_type_hint_stack.append(False)  # type: ignore[attr-defined]
        return True

    def _may_set_type_hints(self, call: cst.Call) -> bool:
        assert self._imported_names is not None
        name = get_full_name_for_node(call)
        return name is not None and not self._imported_names().cannot_refer_to(name, TYPE_HINT_CALLS)


# The calls ScopeVisitor.visit_Call treats apart: their arguments are type hints.
TYPE_HINT_CALLS = frozenset({"typing.NewType", "typing.TypeVar", "typing.cast"})
ASSIGNMENT_LIKE_TYPES = frozenset(_ASSIGNMENT_LIKE_NODES)


# The visitors of LibCST's scope providers as run here: they only read, and call ``.visit`` on children
# themselves. Told by exact type: isinstance against an ABC (CSTVisitor is one) costs a Python call per node.
IN_PLACE_VISITORS = frozenset({_ScopeVisitor, ExpressionContextVisitor})
_visit_rebuilding = cst.CSTNode.visit


@contextmanager
def _visiting_in_place() -> Iterator[None]:
    """While inside, ``node.visit(visitor)`` walks the nodes in place for the visitors in IN_PLACE_VISITORS.

    Their own ``visit_<Type>`` methods call ``child.visit(self)``, so no walk of ours can stand in for
    ``CSTNode.visit``; it is replaced for the duration. Any other visitor (a transformer in another thread
    included) gets LibCST's own ``visit``. Should another thread's run end first and put LibCST's ``visit``
    back, this one finishes through it: the same values, computed the slower way.
    """
    cst.CSTNode.visit = _visit_in_place  # type: ignore[method-assign, assignment]
    try:
        yield
    finally:
        cst.CSTNode.visit = _visit_rebuilding  # type: ignore[method-assign]


def _visit_in_place(
    node: cst.CSTNode, visitor: cst.CSTVisitor
) -> Union[cst.CSTNode, cst.RemovalSentinel, cst.FlattenSentinel[cst.CSTNode]]:
    """``CSTNode.visit`` for a read-only visitor: ``on_visit``, the children that are not tokens in LibCST's
    order, ``on_leave``. Attribute callbacks are not made: the only ones these visitors have
    (``ScopeVisitor.visit_ClassDef_bases``) sit under a ``visit_ClassDef`` that returns False.

    Neither visitor has an ``on_visit``, nor an ``on_leave`` but ScopeVisitor's (``_ScopeVisitor.left``), of its
    own: their ``visit_<Type>`` and ``leave_<Type>`` methods are called here, found once per node type."""
    kind = type(visitor)
    if kind not in IN_PLACE_VISITORS:
        return _visit_rebuilding(node, visitor)
    visit, leave = _callbacks(kind, type(node))
    if visit is None or visit(visitor, node) is not False:
        # A node parsed from a string annotation is not in the module's index.
        below = visitor.provider.child_nodes.get(id(node))  # type: ignore[attr-defined]
        for child in non_token_children(node) if below is None else below:
            child.visit(visitor)
    if kind is _ScopeVisitor:
        visitor.left(node)  # type: ignore[attr-defined]
    if leave is not None:
        leave(visitor, node)
    return node


@lru_cache(maxsize=None)
def _callbacks(visitor: type, node: type) -> tuple[Optional[Callable[..., object]], Optional[Callable[..., object]]]:
    """``visitor``'s ``visit_<Type>`` and ``leave_<Type>`` functions for nodes of type ``node`` (None if it has none)."""
    return getattr(visitor, f"visit_{node.__name__}", None), getattr(visitor, f"leave_{node.__name__}", None)


class QualifiedNames(Mapping[cst.CSTNode, object]):
    """QualifiedNameProvider's values, each computed when asked for.

    LibCST's provider stores, for every node that has a scope, a deferred ``scope.get_qualified_names_for``
    and an empty set for the others; this makes the same call when a node is looked up.
    """

    def __init__(self, scopes: Mapping[cst.CSTNode, Optional[Scope]]) -> None:
        self._scopes = scopes

    def __getitem__(self, node: cst.CSTNode) -> set[QualifiedName]:
        scope = self._scopes.get(node)
        return scope.get_qualified_names_for(node) if scope else set()

    def __iter__(self) -> Iterator[cst.CSTNode]:
        return iter(self._scopes)

    def __len__(self) -> int:
        return len(self._scopes)


class StatementPositions(Mapping[cst.CSTNode, CodeRange]):
    """PositionProvider's values, generated one statement of a block at a time.

    LibCST generates the whole module's code with positions on the first question (on a 10,000-line script
    about as much CPU as its parse), where findings need the positions of a few nodes. Here a node's innermost
    *block statement* (a statement of the module's body or of an indented block) is generated with positions
    the first time a node of it is asked about: the same code generation from the same state, so the same
    values. A block statement starts a line, at column 0, under the indents of the blocks around it; the line
    is read from Python's ast of the module when the caller has it (``AstStatementStarts``), else counted in
    the plain code of what comes before it, which costs a sixth of generating with positions.
    A node outside every statement (a token, the module's header or footer, the module itself) gets the values
    of the whole module's generation (``generate_whole``).
    """

    def __init__(
        self,
        module: cst.Module,
        generate_whole: Callable[[], Mapping[cst.CSTNode, object]],
        tree: Optional[ast.Module] = None,
    ) -> None:
        self._module = module
        self._tree = tree
        self._ast_starts: Optional[AstStatementStarts] = None
        self._generate_whole = generate_whole
        self._whole_values: Optional[Mapping[cst.CSTNode, object]] = None
        self._parents = index_of(module).parents
        self._values: dict[cst.CSTNode, CodeRange] = {}
        self._generated: set[int] = set()
        # The first line and indents of each block statement (by id) found so far.
        self._starts: dict[int, tuple[int, list[str]]] = {}
        # Top-level statements counted so far, and where the next one starts.
        self._counted = 0
        self._next_line = 1 + sum(_line_breaks(module.code_for_node(line)) for line in module.header)

    def __getitem__(self, node: cst.CSTNode) -> CodeRange:
        if node in self._values:
            return self._values[node]
        found = self._statements_of(node)
        if found is None or id(found[0]) in self._generated:
            # Not in a statement, or in one already generated without it (not a node of this module).
            return self._whole()[node]  # type: ignore[return-value]
        self._generate(*found)
        return self._values[node]

    def _statements_of(self, node: cst.CSTNode) -> Optional[tuple[cst.CSTNode, cst.CSTNode]]:
        """``node``'s innermost block statement (itself included) and its top-level statement."""
        innermost = None
        parent = self._parents.get(node)
        while parent is not None and parent is not self._module:
            if innermost is None and type(parent) is cst.IndentedBlock:
                innermost = node  # the block's non-token children are its statements
            node, parent = parent, self._parents.get(parent)
        return (innermost or node, node) if parent is self._module else None

    def _generate(self, statement: cst.CSTNode, top_level: cst.CSTNode) -> None:
        if id(statement) not in self._starts:
            self._find_start(statement, top_level)
        line, indents = self._starts[id(statement)]
        provider = PositionProvider()
        state = PositionProvidingCodegenState(
            default_indent=self._module.default_indent, default_newline=self._module.default_newline, provider=provider
        )
        state.line, state.indent_tokens = line, list(indents)
        statement._codegen(state)
        self._values.update(cast(Mapping[cst.CSTNode, CodeRange], provider._computed))
        self._generated.add(id(statement))

    def _find_start(self, statement: cst.CSTNode, top_level: cst.CSTNode) -> None:
        """Where ``statement`` starts: read from Python's ast where the caller has it, else counted (with every
        block statement of the top-level statements up to ``top_level``)."""
        if self._tree is not None and self._ast_starts is None:
            self._ast_starts = AstStatementStarts(self._module, self._tree, self._parents)
        start = self._ast_starts.start(statement) if self._ast_starts is not None else None
        if start is None:
            self._count_lines_before(top_level)
        else:
            self._starts[id(statement)] = start

    def _count_lines_before(self, top_level: cst.CSTNode) -> None:
        """Where ``top_level`` and each block statement in it start, from the plain code before each."""
        body = self._module.body
        while id(top_level) not in self._starts:
            counted = body[self._counted]
            state = _BlockStatementStarts(self._module.default_indent, self._module.default_newline, self._next_line)
            counted._codegen(state)
            self._starts.update(state.starts())
            self._next_line += _line_breaks("".join(state.tokens))
            self._counted += 1

    def _whole(self) -> Mapping[cst.CSTNode, object]:
        if self._whole_values is None:
            self._whole_values = self._generate_whole()
        return self._whole_values

    def __iter__(self) -> Iterator[cst.CSTNode]:
        return iter(self._whole())

    def __len__(self) -> int:
        return len(self._whole())


class _BlockStatementStarts(CodegenState):
    """A plain code generation of one top-level statement that notes where it and each statement of an indented
    block in it start: the number of tokens before and the indents then."""

    def __init__(self, default_indent: str, default_newline: str, first_line: int) -> None:
        super().__init__(default_indent=default_indent, default_newline=default_newline)
        self._first_line = first_line
        self._marks: list[tuple[int, int, list[str]]] = []  # (node id, tokens before it, indents)
        self._open: list[cst.CSTNode] = []  # the nodes being generated, outermost first

    def before_codegen(self, node: cst.CSTNode) -> None:
        if not self._open or type(self._open[-1]) is cst.IndentedBlock:
            # The top-level statement, or a child of a block: its statements (and header and footer lines).
            self._marks.append((id(node), len(self.tokens), list(self.indent_tokens)))
        self._open.append(node)

    def after_codegen(self, node: cst.CSTNode) -> None:
        self._open.pop()

    def starts(self) -> dict[int, tuple[int, list[str]]]:
        """Each noted node's first line and the indents it is generated under."""
        found = {}
        line, counted = self._first_line, 0
        for node_id, before, indents in self._marks:
            line += _line_breaks("".join(self.tokens[counted:before]))
            counted = before
            found[node_id] = (line, indents)
        return found


class AstStatementStarts:
    """Where a block statement's code starts (its line, with its leading lines, and the indents it is generated
    under), read from Python's ast of the same source instead of counted in the code before it.

    The statement is paired with its ast statement by walking down from the module: a simple statement line
    holds as many ast statements as it has small statements, and each block of a compound statement is the
    ast statement's list of the same role (``body``, ``orelse``, a handler's or a case's ``body``,
    ``finalbody``; an ``elif`` is the one statement of ``orelse``). The statement's first token is on the line
    its ast statement starts on; for a decorated definition, the line of the first decorator's expression less
    the line breaks between the ``@`` and it (a parenthesized one is left out: its ast starts inside the
    parentheses). Its code starts that many leading lines (and the first decorator's own) earlier. Anything
    that does not pair up gives None, and the caller counts instead.
    """

    def __init__(self, module: cst.Module, tree: ast.Module, parents: Mapping[cst.CSTNode, cst.CSTNode]) -> None:
        self._module = module
        self._tree = tree
        self._parents = parents

    def start(self, statement: cst.CSTNode) -> Optional[tuple[int, list[str]]]:
        path = self._path_to(statement)
        if path is None:
            return None
        paired: object = self._tree.body
        indents: list[str] = []
        for holder, node in zip([self._module, *path], path):
            paired = _ast_counterpart(holder, node, paired)
            if paired is None:
                return None
            if isinstance(node, cst.IndentedBlock):
                indents.append(self._module.default_indent if node.indent is None else node.indent)
        line = _first_line(statement, paired)  # type: ignore[arg-type]
        return None if line is None else (line, indents)

    def _path_to(self, statement: cst.CSTNode) -> Optional[list[cst.CSTNode]]:
        """The nodes from the top-level statement down to ``statement``."""
        path = [statement]
        parent = self._parents.get(statement)
        while parent is not None and parent is not self._module:
            path.append(parent)
            parent = self._parents.get(parent)
        return path[::-1] if parent is self._module else None


def _ast_counterpart(holder: cst.CSTNode, node: cst.CSTNode, paired: object) -> object:
    """What in the ast pairs with ``node``, a child of ``holder``, given what pairs with ``holder``: a list of ast
    statements for a block (and for the module), an ast node otherwise; None where they do not pair up."""
    if isinstance(holder, (cst.Module, cst.IndentedBlock)):
        position = _index(holder.body, node)
        sizes = [len(s.body) if isinstance(s, cst.SimpleStatementLine) else 1 for s in holder.body]
        if not isinstance(paired, list) or position is None or len(paired) != sum(sizes):
            return None
        statement = paired[sum(sizes[:position])]
        return statement if _pairs(node, statement) else None
    if isinstance(node, cst.IndentedBlock):
        # An `else:` or `finally:` block pairs with the list its holder paired with; the others with `body`.
        return paired if isinstance(holder, (cst.Else, cst.Finally)) else getattr(paired, "body", None)
    if isinstance(node, cst.Else):
        return getattr(paired, "orelse", None)
    if isinstance(node, cst.Finally):
        return getattr(paired, "finalbody", None)
    if isinstance(node, cst.If):  # an `elif`: the one statement of the `orelse`
        orelse = getattr(paired, "orelse", None)
        return orelse[0] if isinstance(orelse, list) and len(orelse) == 1 and isinstance(orelse[0], ast.If) else None
    if isinstance(node, (cst.ExceptHandler, cst.ExceptStarHandler)):
        return _nth(getattr(paired, "handlers", None), getattr(holder, "handlers", ()), node)
    if isinstance(node, cst.MatchCase):
        return _nth(getattr(paired, "cases", None), getattr(holder, "cases", ()), node)
    return None


def _index(nodes: Sequence[cst.CSTNode], node: cst.CSTNode) -> Optional[int]:
    return next((i for i, other in enumerate(nodes) if other is node), None)


def _nth(paired: object, siblings: Sequence[cst.CSTNode], node: cst.CSTNode) -> object:
    position = _index(siblings, node)
    if not isinstance(paired, list) or position is None or len(paired) != len(siblings):
        return None
    return paired[position]


def _pairs(statement: cst.CSTNode, paired: object) -> bool:
    """Whether an ast statement can be the counterpart of a LibCST statement (a simple line's first one)."""
    if isinstance(statement, cst.SimpleStatementLine):
        return isinstance(paired, ast.stmt) and not isinstance(paired, AST_COMPOUND_STATEMENTS)
    return isinstance(paired, COMPOUND_STATEMENTS.get(type(statement), ()))


def _first_line(statement: cst.CSTNode, paired: ast.AST) -> Optional[int]:
    """The line ``statement``'s code starts on, from its ast statement ``paired``; None if they do not pair up."""
    if not _pairs(statement, paired) or not isinstance(paired, ast.stmt):
        return None
    line, before = paired.lineno, len(getattr(statement, "leading_lines", ()))
    decorators = getattr(statement, "decorators", ())
    if len(decorators) != len(getattr(paired, "decorator_list", ())):
        return None
    if decorators:
        at = decorators[0]
        if at.decorator.lpar:
            return None  # `@(\n    dec\n)`: the ast starts the expression inside its parentheses
        line = paired.decorator_list[0].lineno - _line_breaks(at.whitespace_after_at.value)  # type: ignore[attr-defined]
        before += len(at.leading_lines)
    return line - before


# Each LibCST compound statement and the ast statements it can pair with; any other pairs with simple lines.
COMPOUND_STATEMENTS: dict[type[cst.CSTNode], tuple[type[ast.stmt], ...]] = {
    cst.FunctionDef: (ast.FunctionDef, ast.AsyncFunctionDef),
    cst.ClassDef: (ast.ClassDef,),
    cst.If: (ast.If,),
    cst.For: (ast.For, ast.AsyncFor),
    cst.While: (ast.While,),
    cst.With: (ast.With, ast.AsyncWith),
    cst.Try: (ast.Try,),
    cst.TryStar: tuple(getattr(ast, name) for name in ("TryStar",) if hasattr(ast, name)),
    cst.Match: (ast.Match,),
}
AST_COMPOUND_STATEMENTS = tuple(kind for kinds in COMPOUND_STATEMENTS.values() for kind in kinds)


def _line_breaks(code: str) -> int:
    return len(NEWLINE_RE.findall(code))


class LazyMetadata(Mapping[cst.CSTNode, object]):
    """One provider's node -> value mapping for a module, computed on the first lookup."""

    def __init__(self, metadata: ModuleMetadata, provider: ProviderT) -> None:
        self._metadata = metadata
        self._provider = provider

    def _resolved(self) -> Mapping[cst.CSTNode, object]:
        return self._metadata.values(self._provider)

    def __getitem__(self, node: cst.CSTNode) -> object:
        return self._resolved()[node]

    def __iter__(self) -> Iterator[cst.CSTNode]:
        return iter(self._resolved())

    def __len__(self) -> int:
        return len(self._resolved())


def visit_lazily(metadata: ModuleMetadata, visitors: Sequence[cst.BatchableCSTVisitor]) -> None:
    """``wrapper.visit_batched(visitors)`` for read-only visitors, each metadata provider resolved when first
    asked for.

    Raises NeedsEagerResolution when a provider could not be resolved inside the visit.
    """
    for visitor in visitors:
        visitor.metadata = {provider: LazyMetadata(metadata, provider) for provider in visitor.get_inherited_dependencies()}
    try:
        visit_batched(metadata.module, visitors)
    finally:
        for visitor in visitors:
            visitor.metadata = {}
