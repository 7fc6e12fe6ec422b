"""Shapes of a module read from Python's ``ast``, for rules' cheap, conservative ``could_match`` checks.

One walk per tree (cached) records the nodes the checks look at, each with the outermost loop it runs in
and the innermost ``def`` it is in, so that every rule's check is a few passes over short lists instead of
a walk of its own. A second walk, made only for a tree a check asks it of, records where each name is
spelled (``name_occurrences``: stores, reads, the value a plain assignment binds, names in string type
hints). The checks built on them must stay supersets of what their rules report: these helpers answer
loosely (any qualification, no scoping beyond the frame) where ast cannot tell.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable, Iterator, NamedTuple, Optional, Union

from perflint.traversal import ast_branch_fields, ast_children

LOOP_TYPES = (ast.For, ast.AsyncFor, ast.While)
FUNCTION_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef)
COMPREHENSION_TYPES = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
Function = Union[ast.FunctionDef, ast.AsyncFunctionDef]
# The node types recorded by ``shapes``.
RECORDED = (
    ast.Call, ast.Assign, ast.AugAssign, ast.For, ast.AsyncFor, ast.While, ast.Import, ast.ImportFrom,
    *COMPREHENSION_TYPES, ast.Lambda, ast.With, ast.AsyncWith,
)  # fmt: skip
# The same, for the walk's exact-type lookups (ast never makes subclasses of its node types).
RECORDED_KINDS, LOOP_KINDS, FUNCTION_KINDS = frozenset(RECORDED), frozenset(LOOP_TYPES), frozenset(FUNCTION_TYPES)
# Where a node starts and ends in the source, as (line, column) pairs.
Span = tuple[tuple[int, int], tuple[int, int]]
# The nodes whose bodies run at another time than the code around them (``syntax.DEFERRED`` on LibCST).
FRAME_KINDS = FUNCTION_KINDS | {ast.Lambda, ast.ClassDef}
COMPREHENSION_KINDS = frozenset(COMPREHENSION_TYPES)
# The commonest nodes, which hold nothing a walk looks for.
LEAF_KINDS = frozenset({ast.Name, ast.Constant})


class Site(NamedTuple):
    """A recorded node, the outermost loop whose body or header holds it (None outside loops), the
    innermost ``def`` it is in (None at module or class level outside any def; lambdas do not count), its
    frame: the innermost ``def``, ``lambda`` or class it is in (None at module level), whose own code it is
    (``TreeIndex.same_scope``'s frame), and the outermost loop of that frame holding it (``frame_loop``: a
    call in a ``def`` written in a loop body runs where the ``def`` is called). A ``def``'s decorators and
    defaults count as its own."""

    node: ast.AST
    loop: Optional[ast.AST]
    function: Optional[Function]
    frame: Optional[ast.AST]
    frame_loop: Optional[ast.AST]


@dataclass
class Shapes:
    """The recorded nodes of one module, by type, in source-walk order."""

    sites: dict[type, list[Site]] = field(default_factory=dict)

    def of(self, *types: type) -> list[Site]:
        """The sites of nodes of ``types``."""
        if len(types) == 1:
            return self.sites.get(types[0], [])
        return [site for kind in types for site in self.sites.get(kind, [])]

    def calls(self) -> list[Site]:
        return self.of(ast.Call)

    def comprehensions(self) -> Iterator[ast.comprehension]:
        """Every ``for ... in ...`` clause of the list, set and dict comprehensions and generator expressions."""
        for site in self.of(*COMPREHENSION_TYPES):
            yield from site.node.generators  # type: ignore[attr-defined]


@lru_cache(maxsize=1)
def shapes(tree: ast.Module) -> Shapes:
    """The Shapes of ``tree``, computed once per tree however many rules ask (ast nodes hash by identity).

    The walk reads only the fields a recorded node may be under (``ast_children``, twice as fast as
    ``ast.iter_child_nodes``), and it runs over every file that holds a rule's token.
    """
    result = Shapes()
    stack: list[tuple[ast.AST, Optional[ast.AST], Optional[Function], Optional[ast.AST], Optional[ast.AST]]] = [
        (tree, None, None, None, None)
    ]
    while stack:
        node, loop, function, frame, frame_loop = stack.pop()
        kind = type(node)
        if kind in LEAF_KINDS:
            continue
        if kind in RECORDED_KINDS:
            result.sites.setdefault(kind, []).append(Site(node, loop, function, frame, frame_loop))
            if kind in LOOP_KINDS:
                loop = loop or node
                frame_loop = frame_loop or node
        elif kind in FUNCTION_KINDS:
            function = node
        if kind in FRAME_KINDS:
            frame, frame_loop = node, None
        for child in reversed(ast_children(node, ast_branch_fields(kind))):
            stack.append((child, loop, function, frame, frame_loop))
    return result


def dotted_name(node: ast.AST, max_parts: Optional[int] = None) -> Optional[str]:
    """``a.b.c`` for a chain of Names and Attributes, else None (as ``perflint.analysis.names.dotted_name``);
    also None past ``max_parts`` parts (a cheap "not this name" for long chains)."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        if max_parts is not None and len(parts) >= max_parts:
            return None
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def span(node: ast.AST) -> Span:
    """Where ``node`` (an expression or statement) starts and ends."""
    assert isinstance(node, (ast.expr, ast.stmt))
    return (node.lineno, node.col_offset), (node.end_lineno or node.lineno, node.end_col_offset or 0)


def last_name(func: ast.AST) -> Optional[str]:
    """``f`` of ``f(...)`` / ``a.b.f(...)``: the name or last attribute a call's func ends with, else None."""
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def method_name(node: ast.AST) -> Optional[str]:
    """``m`` when ``node`` is a call ``<expr>.m(...)``, else None."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def names_in(node: ast.AST) -> set[str]:
    """The names (``ast.Name`` ids) spelled in ``node``, itself included: for expressions and single statements."""
    return {child.id for child in ast.walk(node) if isinstance(child, ast.Name)}


def paths(root: ast.AST, wanted: Iterable[ast.AST]) -> dict[int, list[ast.AST]]:
    """The path from ``root`` down to each of the ``wanted`` nodes under it (``root`` first), by node id."""
    wanted_ids = {id(node) for node in wanted}
    found: dict[int, list[ast.AST]] = {}
    stack: list[tuple[ast.AST, list[ast.AST]]] = [(root, [root])]
    while stack and len(found) < len(wanted_ids):
        node, path = stack.pop()
        if id(node) in wanted_ids:
            found[id(node)] = path
        stack.extend((child, [*path, child]) for child in ast_children(node))
    return found


def is_iterrows_call(node: ast.AST) -> bool:
    """``X.iterrows()`` without arguments (``perflint.analysis.iterrows.iterrows_frame`` on the ast)."""
    return method_name(node) == "iterrows" and isinstance(node, ast.Call) and argument_count(node) == 0


def blocks(tree: ast.Module) -> Iterator[list[ast.stmt]]:
    """Every statement block of ``tree``: the module's, bodies, ``else`` and ``finally`` blocks, handlers, cases."""
    for node in ast.walk(tree):
        for name in ("body", "orelse", "finalbody"):
            block = getattr(node, name, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                yield block


def argument_values(call: ast.Call) -> Iterator[ast.expr]:
    """The values passed to ``call``, positional (unwrapping ``*x``) and keyword (including ``**x``)."""
    for arg in call.args:
        yield arg.value if isinstance(arg, ast.Starred) else arg
    for keyword in call.keywords:
        yield keyword.value


def argument_count(call: ast.Call) -> int:
    return len(call.args) + len(call.keywords)


def import_aliases(tree: ast.Module, names: Iterable[str]) -> frozenset[str]:
    """The local names that imports of any of ``names`` bind: ``ap`` for ``from numpy import append as ap``,
    ``import x.append as ap``; also the plain names (``from torch import cat`` binds ``cat``)."""
    wanted = frozenset(names)
    bound: set[str] = set()
    for site in shapes(tree).of(ast.Import, ast.ImportFrom):
        for alias in site.node.names:
            if alias.name.rsplit(".", 1)[-1] in wanted:
                bound.add(alias.asname or alias.name.rsplit(".", 1)[-1])
    return frozenset(bound)


def calls_named(tree: ast.Module, names: Iterable[str]) -> list[Site]:
    """Calls whose func ends with one of ``names`` or with a name an import of one of them binds
    (any qualification: ``np.append``, ``numpy.append``, ``append``, ``ap`` after ``from numpy import append as ap``)."""
    wanted = frozenset(names) | import_aliases(tree, names)
    return [site for site in shapes(tree).calls() if last_name(site.node.func) in wanted]


def same_expression(left: ast.AST, right: ast.AST) -> bool:
    """Whether two expressions read alike, ignoring load/store context and parentheses (LibCST's
    ``deep_equals`` of two nodes implies this)."""
    try:
        return ast.unparse(left) == ast.unparse(right)
    except RecursionError:
        return True  # too deep to tell: keep the file


def in_loops(sites: Iterable[Site]) -> list[Site]:
    """The sites that run inside some loop."""
    return [site for site in sites if site.loop is not None]


def may_call_local_function(site: Site) -> bool:
    """Whether the call at ``site`` has a shape ``local_calls.called_function`` may resolve: ``f(...)``, or
    ``self.m(...)`` where ``self`` is the first positional parameter of the ``def`` it is in."""
    func = site.node.func  # type: ignore[attr-defined]
    if isinstance(func, ast.Name):
        return True
    if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and site.function is not None):
        return False
    return func.value.id == first_parameter(site.function)


def positional_parameters(definition: Union[Function, ast.Lambda]) -> list[str]:
    """The parameters a call's positional arguments fill, in order (a method's ``self`` first)."""
    return [arg.arg for arg in (*definition.args.posonlyargs, *definition.args.args)]


def first_parameter(definition: Union[Function, ast.Lambda]) -> Optional[str]:
    positional = positional_parameters(definition)
    return positional[0] if positional else None


def parameter_names(definition: Union[Function, ast.Lambda]) -> set[str]:
    """The parameters an argument can be bound to, by position or keyword (not ``*args`` / ``**kwargs``)."""
    arguments = definition.args
    return {arg.arg for arg in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs)}


def in_frame_loops(sites: Iterable[Site]) -> list[Site]:
    """The sites that run inside some loop of their own frame."""
    return [site for site in sites if site.frame_loop is not None]


class Occurrence(NamedTuple):
    """One spelling of a name: where it starts, whether it stores to the name (an assignment, ``for`` or
    ``with`` target; not ``del x``, nor ``x: T`` without a value, which binds nothing), whether it may read
    it (any spelling but a plain store: ``x += 1`` does both), its frame (as ``Site.frame``), whether it lies
    in a comprehension or generator expression, the method name of the call it is a direct argument of
    (``append`` for ``xs.append(n)``), and the value a one-target assignment binds it to (``v`` for ``x = v``
    and for ``x, y = v``; what ``bindings.reaching_value`` may give), else None."""

    start: tuple[int, int]
    stored: bool
    read: bool
    frame: Optional[ast.AST]
    in_comprehension: bool
    argument_of: Optional[str]
    bound: Optional[ast.expr]


@dataclass
class NameOccurrences:
    """Every ``ast.Name`` of a module by identifier, in source-walk order, and every string constant inside a
    type hint (where LibCST's scope analysis reads names): an annotation, a subscript, or an argument of a
    call named like ``typing.cast``, ``TypeVar`` or ``NewType``."""

    names: dict[str, list[Occurrence]] = field(default_factory=dict)
    hint_strings: list[tuple[tuple[int, int], str]] = field(default_factory=list)
    # Answers derived per name, kept: each question costs one pass over the name's spellings, once.
    _derived: dict[tuple[object, ...], object] = field(default_factory=dict)

    def of(self, name: str) -> list[Occurrence]:
        return self.names.get(name, [])

    def read_starts(self, name: str, argument_of: Optional[frozenset[str]] = None) -> list[tuple[int, int]]:
        """Where ``name`` may be read, in source order; with ``argument_of``, only as a direct argument of a call of
        one of those methods."""
        key = ("reads", name, *sorted(argument_of or ()))
        if key not in self._derived:
            self._derived[key] = sorted(
                o.start for o in self.of(name) if o.read and (argument_of is None or o.argument_of in argument_of)
            )
        return self._derived[key]  # type: ignore[return-value]

    def last_store(self, name: str, frame: Optional[ast.AST]) -> Optional[Occurrence]:
        """The last store to ``name`` in ``frame``'s own code outside comprehensions, in source order."""
        key = ("last store", name, id(frame))
        if key not in self._derived:
            stores = [o for o in self.of(name) if o.stored and o.frame is frame and not o.in_comprehension]
            self._derived[key] = max(stores, key=lambda o: o.start, default=None)
        return self._derived[key]  # type: ignore[return-value]

    def in_comprehension_at(self, name: str, start: tuple[int, int]) -> bool:
        """Whether the spelling of ``name`` at ``start`` lies in a comprehension or generator expression."""
        key = ("in comprehensions", name)
        if key not in self._derived:
            self._derived[key] = {o.start for o in self.of(name) if o.in_comprehension}
        return start in self._derived[key]  # type: ignore[operator]

    def hints_naming(self, name: str) -> list[tuple[int, int]]:
        """Where a string in a type hint holds ``name`` as a word (``"Optional[y]"`` holds ``y``), in source order."""
        key = ("hints", name)
        if key not in self._derived:
            self._derived[key] = sorted(
                start
                for start, value in self.hint_strings
                if name in value and name in _IDENTIFIER_CHARACTERS.sub(" ", value).split()
            )
        return self._derived[key]  # type: ignore[return-value]


_IDENTIFIER_CHARACTERS = re.compile(r"[^\w]")
_TYPE_HINT_CALLS = frozenset({"cast", "TypeVar", "NewType"})


@dataclass
class _ChildFacts:
    """What a node's parent says about it, for ``name_occurrences``."""

    argument_of: dict[int, str] = field(default_factory=dict)
    bound: dict[int, ast.expr] = field(default_factory=dict)
    declared_only: set[int] = field(default_factory=set)  # the targets of `x: T` without a value
    augmented: set[int] = field(default_factory=set)  # the targets of `x += v`
    hints: set[int] = field(default_factory=set)  # the roots of type hints
    hint_calls: frozenset[str] = _TYPE_HINT_CALLS  # with the names imports of them bind

    def note(self, node: ast.AST, kind: type) -> None:
        if kind is ast.Call:
            func = node.func  # type: ignore[attr-defined]
            if isinstance(func, ast.Attribute):
                for value in argument_values(node):  # type: ignore[arg-type]
                    self.argument_of[id(value)] = func.attr
            if last_name(func) in self.hint_calls:
                self.hints.update(id(value) for value in argument_values(node))  # type: ignore[arg-type]
        elif kind is ast.Assign and len(node.targets) == 1:  # type: ignore[attr-defined]
            target = node.targets[0]  # type: ignore[attr-defined]
            for leaf in target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]:
                self.bound[id(leaf)] = node.value  # type: ignore[attr-defined]
        elif kind is ast.AnnAssign:
            self.hints.add(id(node.annotation))  # type: ignore[attr-defined]
            if node.value is None:  # type: ignore[attr-defined]
                self.declared_only.add(id(node.target))  # type: ignore[attr-defined]
        elif kind is ast.AugAssign:
            self.augmented.add(id(node.target))  # type: ignore[attr-defined]
        elif kind is ast.Subscript and isinstance(node.value, ast.Name):  # type: ignore[attr-defined]
            # `Optional["x"]`: LibCST reads names in the strings of subscripts of typing's names.
            self.hints.add(id(node.slice))  # type: ignore[attr-defined]
        elif kind is ast.arg and node.annotation is not None:  # type: ignore[attr-defined]
            self.hints.add(id(node.annotation))  # type: ignore[attr-defined]
        elif kind in FUNCTION_KINDS and node.returns is not None:  # type: ignore[attr-defined]
            self.hints.add(id(node.returns))  # type: ignore[attr-defined]


@lru_cache(maxsize=1)
def name_occurrences(tree: ast.Module) -> NameOccurrences:
    """The NameOccurrences of ``tree``: one walk of every node, computed once per tree and only when a check
    asks where a name is spelled."""
    result = NameOccurrences()
    facts = _ChildFacts(hint_calls=_TYPE_HINT_CALLS | import_aliases(tree, _TYPE_HINT_CALLS))
    # (node, its frame, whether in a comprehension, whether in a type hint)
    stack: list[tuple[ast.AST, Optional[ast.AST], bool, bool]] = [(tree, None, False, False)]
    while stack:
        node, frame, in_comprehension, in_hint = stack.pop()
        kind = type(node)
        if kind is ast.Name:
            key = id(node)
            store = type(node.ctx) is ast.Store  # type: ignore[attr-defined]
            occurrence = Occurrence(
                (node.lineno, node.col_offset),  # type: ignore[attr-defined]
                store and key not in facts.declared_only,
                not store or key in facts.augmented,
                frame,
                in_comprehension,
                facts.argument_of.get(key),
                facts.bound.get(key) if store else None,
            )
            result.names.setdefault(node.id, []).append(occurrence)  # type: ignore[attr-defined]
            continue
        in_hint = in_hint or id(node) in facts.hints
        if kind is ast.Constant:
            if in_hint and isinstance(node.value, str):  # type: ignore[attr-defined]
                result.hint_strings.append(((node.lineno, node.col_offset), node.value))  # type: ignore[attr-defined]
            continue
        facts.note(node, kind)
        if kind in FRAME_KINDS:
            frame = node
        elif kind in COMPREHENSION_KINDS:
            in_comprehension = True
        for child in reversed(ast_children(node, ast_branch_fields(kind))):
            stack.append((child, frame, in_comprehension, in_hint))
    return result
