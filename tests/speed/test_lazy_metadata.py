"""Metadata resolved on first use, and the rules' own traversal, give what LibCST's providers and visit give."""

from __future__ import annotations

import ast

from functools import partial
from pathlib import Path
from typing import Callable, Iterable, Optional

import libcst as cst
import pytest
from libcst.metadata import (
    ExpressionContextProvider,
    MetadataWrapper,
    ParentNodeProvider,
    PositionProvider,
    QualifiedNameProvider,
    ScopeProvider,
)
from libcst.metadata.expression_context_provider import ExpressionContextVisitor
from libcst.metadata.scope_provider import ScopeVisitor

from perflint import api, engine, metadata, traversal
from perflint.metadata import ModuleMetadata
from perflint.registry import rule_by_code
from tests.speed.samples import all_inputs, corpus_sample, every_rule

INPUTS = all_inputs()


@pytest.mark.parametrize(("name", "source"), INPUTS, ids=[name for name, _ in INPUTS])
def test_lazy_and_eager_metadata_give_the_same_results(name: str, source: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    settings, path = every_rule(), Path(name.replace("/", "_") + ".py")
    lazy = api.check_source(source, path, settings)
    monkeypatch.setattr(engine, "lint", partial(engine.lint, eager_metadata=True))
    assert api.check_source(source, path, settings) == lazy


def _resolutions(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    resolved: list[object] = []
    real_computed = ModuleMetadata._computed

    def counting_computed(self: ModuleMetadata, provider):
        resolved.append(provider)
        return real_computed(self, provider)

    monkeypatch.setattr(ModuleMetadata, "_computed", counting_computed)
    return resolved


def test_no_provider_runs_when_no_rule_asks(monkeypatch: pytest.MonkeyPatch) -> None:
    module = engine.parse(b"import torch\nfor x in loader:\n    print(len(x), x.to(device))\n")
    resolved = _resolutions(monkeypatch)
    outcome = engine.lint(module, [rule_by_code("PFL101")], "x.py", {})
    assert outcome.findings == () and resolved == []


def test_providers_run_once_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    module = engine.parse(b"import torch\nfor x in loader:\n    kept.append(model(x).cpu())\n")
    resolved = _resolutions(monkeypatch)
    outcome = engine.lint(module, [rule_by_code("PFL101")], "x.py", {})
    assert len(outcome.findings) == 1
    assert resolved and len(resolved) == len(set(resolved))


def test_recursion_while_resolving_mid_visit_redoes_the_visit_eagerly(monkeypatch: pytest.MonkeyPatch) -> None:
    source = b"import torch\nwith torch.no_grad():\n    kept.append(model(x).cpu())\n"
    expected = engine.lint(engine.parse(source), [rule_by_code("PFL101")], "x.py", {}, eager_metadata=True)

    def too_deep(self: ModuleMetadata, provider):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(ModuleMetadata, "_computed", too_deep)
    outcome = engine.lint(engine.parse(source), [rule_by_code("PFL101")], "x.py", {})
    assert [(f.code, f.message, f.range) for f in outcome.findings] == [
        (f.code, f.message, f.range) for f in expected.findings
    ]
    # Had the rule's crash guard caught the request to resolve eagerly, PFL101 would have failed here.
    assert outcome.failures == ()



@pytest.mark.parametrize(("name", "source"), INPUTS, ids=[name for name, _ in INPUTS])
def test_parent_nodes_equal_libcst_provider(name: str, source: bytes) -> None:
    _assert_parents_equal_libcst_provider(engine.parse(source))


def _assert_parents_equal_libcst_provider(module: cst.Module) -> None:
    """Each node's parent is LibCST's; tokens (whitespace, punctuation), which no rule asks about, have none."""
    expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(ParentNodeProvider)
    ours = ModuleMetadata(MetadataWrapper(module, unsafe_skip_copy=True)).values(ParentNodeProvider)
    assert dict(ours) == {node: parent for node, parent in expected.items() if type(node) not in traversal.TOKENS}


@pytest.mark.slow
@pytest.mark.parametrize("path", corpus_sample(60, seed=1), ids=str)
def test_parent_nodes_equal_libcst_provider_on_corpus(path: Path) -> None:
    _assert_parents_equal_libcst_provider(_parsed_or_skipped(path))


def _parsed_or_skipped(path: Path) -> cst.Module:
    try:
        return engine.parse(path.read_bytes())
    except engine.SourceError:
        pytest.skip("LibCST cannot parse this file")


def _scope_facts(scopes, in_module) -> dict[object, object]:
    """Each node's scope, told by what it is (kind, owner node, bindings, accesses), not by identity."""
    facts: dict[object, object] = {}

    def described(scope) -> object:
        assignments = {(a.name, type(a).__name__, id(getattr(a, "node", None)), tuple(sorted(id(r.node) for r in a.references))) for a in scope.assignments}
        accesses = {(a.node and id(a.node), tuple(sorted(id(r.node) for r in a.referents if hasattr(r, "node")))) for a in scope.accesses}
        return (type(scope).__name__, id(scope.node) if hasattr(scope, "node") else None, frozenset(assignments), frozenset(accesses))

    cache: dict[int, object] = {}
    for node, scope in scopes.items():
        if node not in in_module:
            continue  # a node of a string annotation, parsed anew by each run
        if scope is None:
            facts[node] = None
        else:
            if id(scope) not in cache:
                cache[id(scope)] = described(scope)
            facts[node] = cache[id(scope)]
    return facts


def _python_ast(code: str) -> Optional[ast.Module]:
    """Python's ast of ``code``, or None where this Python cannot parse it (syntax newer than itself)."""
    try:
        return ast.parse(code)
    except SyntaxError:
        return None


def _assert_metadata_equals_libcst_providers(module: cst.Module) -> None:
    """Every provider's values equal LibCST's, except that tokens (whitespace, punctuation), which LibCST documents
    as having no scope and which get no expression context, are not given one."""
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    ours = ModuleMetadata(MetadataWrapper(module, unsafe_skip_copy=True), engine.ImportTableOf(module, None))
    assert dict(ours.values(PositionProvider)) == dict(wrapper.resolve(PositionProvider))
    assert dict(ours.values(ExpressionContextProvider)) == dict(wrapper.resolve(ExpressionContextProvider))
    in_module = {module, *MetadataWrapper(module, unsafe_skip_copy=True).resolve(ParentNodeProvider)}
    not_tokens = {node for node in in_module if type(node) not in traversal.TOKENS}
    our_scopes = ours.values(ScopeProvider)
    assert not any(node in our_scopes for node in in_module - not_tokens)
    assert _scope_facts(our_scopes, not_tokens) == _scope_facts(wrapper.resolve(ScopeProvider), not_tokens)
    names = wrapper.resolve(QualifiedNameProvider)
    theirs = {node: value() if callable(value) else value for node, value in names.items() if node in not_tokens}
    assert {node: ours.values(QualifiedNameProvider)[node] for node in theirs} == theirs
    # Positions asked node by node (in no particular order) come from their statements' own generation, with
    # the top-level statements' lines counted in the code before them or read from Python's ast.
    theirs_positions = wrapper.resolve(PositionProvider)
    asked = not_tokens - {module}
    for tree in (None, _python_ast(module.code)):
        positions = ModuleMetadata(MetadataWrapper(module, unsafe_skip_copy=True), tree=tree).values(PositionProvider)
        assert {node: positions[node] for node in asked} == {node: theirs_positions[node] for node in asked}
        assert isinstance(positions, metadata.StatementPositions) and positions._whole_values is None


@pytest.mark.parametrize(("name", "source"), INPUTS, ids=[name for name, _ in INPUTS])
def test_metadata_equals_libcst_providers(name: str, source: bytes) -> None:
    _assert_metadata_equals_libcst_providers(engine.parse(source))


# Top-level statements whose first line Python's ast and LibCST's code generation might see differently:
# comments and blank lines before them, decorators with comments between them, a line break after `@`, a
# parenthesized decorator, several statements on one line, statements opening with a parenthesis.
STATEMENT_STARTS = b"""# header comment

import torch; import numpy as np  # two statements


# comment before a decorated def
@torch.no_grad()
# comment between decorators
@staticmethod
def f(x):
    return x.cpu()
@\\
    torch.no_grad()
def g(x):
    return x.cpu()

@(
    torch.no_grad()
)
def h(x):
    return x.cpu()
(
    a
).b(); c = (
    1
)
class K:
    @property
    def p(self):
        return 1
"""


def test_metadata_equals_libcst_providers_on_statement_starts() -> None:
    _assert_metadata_equals_libcst_providers(engine.parse(STATEMENT_STARTS))


def test_statement_starts_come_from_the_ast_where_it_pairs_up() -> None:
    """Every block statement's start is read from the ast but the parenthesized decorator's (left to the count),
    and a tree of other code pairs up with nothing."""
    module = engine.parse(STATEMENT_STARTS)
    parents = MetadataWrapper(module, unsafe_skip_copy=True).resolve(ParentNodeProvider)
    statements = [node for node in parents if isinstance(node, (cst.SimpleStatementLine, cst.BaseCompoundStatement))]
    starts = metadata.AstStatementStarts(module, ast.parse(STATEMENT_STARTS), parents)
    unread = [node for node in statements if starts.start(node) is None]
    assert len(unread) == 1 and isinstance(unread[0], cst.FunctionDef) and unread[0].name.value == "h"
    other = metadata.AstStatementStarts(module, ast.parse(b"x = 1\n"), parents)
    assert all(other.start(node) is None for node in statements)


def test_metadata_equals_libcst_providers_on_every_syntax() -> None:
    _assert_metadata_equals_libcst_providers(engine.parse(EVERY_SYNTAX))


# Calls whose string arguments LibCST reads as type hints (accesses of `Foo`, `Bar`...), under every spelling
# the import table must not rule out, next to calls named alike that are not those.
TYPE_HINT_CALLS = b"""
import typing
import typing as t
from typing import cast as c, NewType, TypeVar as TV

UserId = NewType("UserId", "Foo")
T = TV("T", "Foo", bound="Bar")
x = c("List[Foo]", y)
z = t.cast("Dict[str, Baz]", w)
q = typing.cast("Qux", w)

def f(cast, TypeVar):
    return cast("Foo", 1), TypeVar("Bar")

class Foo: ...
class Bar: ...
class Baz: ...
class Qux: ...
"""


@pytest.mark.parametrize(
    "source",
    [TYPE_HINT_CALLS, TYPE_HINT_CALLS + b"from typing import *\n", TYPE_HINT_CALLS.replace(b"import typing\n", b"class typing: ...\n")],
    ids=["aliases", "a star import", "a class named typing"],
)
def test_metadata_equals_libcst_providers_on_type_hint_calls(source: bytes) -> None:
    _assert_metadata_equals_libcst_providers(engine.parse(source))


@pytest.mark.slow
@pytest.mark.parametrize("path", corpus_sample(60, seed=2), ids=str)
def test_metadata_equals_libcst_providers_on_corpus(path: Path) -> None:
    _assert_metadata_equals_libcst_providers(_parsed_or_skipped(path))


def test_scope_providers_leave_libcst_visit_as_it_was() -> None:
    """The in-place walk stands in for ``CSTNode.visit`` only while a scope provider runs, and only for its
    visitors: a transformer run afterwards (or meanwhile, in another thread) still rebuilds the tree."""
    module = engine.parse(b"x = 1\n")
    ModuleMetadata(MetadataWrapper(module, unsafe_skip_copy=True)).values(ScopeProvider)
    assert cst.CSTNode.visit is metadata._visit_rebuilding

    class Renaming(cst.CSTTransformer):
        def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.Name:
            return updated_node.with_changes(value="y")

    with metadata._visiting_in_place():
        renamed = module.visit(Renaming())
    assert renamed.code == "y = 1\n"


EVERY_SYNTAX = b'''
import a.b as c
from . import d
from .e import (f as g, h)

@decorator(1)
@other
async def function(p: int = 1, /, q=2, *args: str, r, s=3, **kwargs) -> "Annotated":
    global G
    x = y if z else w
    x += 1
    x: int = 2
    (u := 3)
    del x[0], y.a
    async with a as (b, c), d:
        async for i, j in k:
            await m
    lam = lambda a, *b, c=1, **d: a
    t = [i for i in j if i for k in i], {i: j for i in j}, {i for i in j}, (i for i in j)
    s = f"{a!r:>{width}} {b=}" "and" 'more'
    n = a[1:2:3, ..., None], -a ** b // c @ d, not a and b or c, a < b <= c is not d not in e
    try:
        raise E from F
    except* (A, B) as e:
        pass
    else:
        yield from g
    finally:
        return
    while a:
        break
    else:
        continue
    match point:
        case Point(x=0, y=[1, *rest]) | {"k": v, **kw} if v:
            pass
        case _:
            nonlocal_thing = 1

class C[T](Base, metaclass=M):
    type Alias[U] = list[U]
    def method[V: int, *Ts, **P](self): ...
    x: ClassVar[int]
assert a, "message"; import os
'''


@pytest.mark.parametrize(("name", "source"), [*INPUTS, ("every syntax", EVERY_SYNTAX)], ids=[name for name, _ in INPUTS] + ["every syntax"])
def test_children_in_libcst_visiting_order(name: str, source: bytes) -> None:
    module = engine.parse(source)
    stack: list[cst.CSTNode] = [module]
    while stack:
        node = stack.pop()
        assert traversal.children(node) == list(node.children), type(node).__name__
        stack.extend(node.children)


class _Recorder(cst.BatchableCSTVisitor):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, int]] = []

    def visit_Name(self, node: cst.Name) -> None:
        self.calls.append(("visit", id(node)))

    def leave_Name(self, node: cst.Name) -> None:
        self.calls.append(("leave", id(node)))

    def visit_Call(self, node: cst.Call) -> None:
        self.calls.append(("visit", id(node)))

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.calls.append(("leave", id(node)))


def _calls_made(module: cst.Module, recorder: Callable[[], cst.BatchableCSTVisitor]) -> tuple[list, list]:
    """The calls a recorder gets from our batched visit of ``module``, and those another gets from LibCST's."""
    ours, theirs = recorder(), recorder()
    traversal.visit_batched(module, [ours])
    cst.visit_batched(module, [theirs])
    return ours.calls, theirs.calls


@pytest.mark.parametrize(("name", "source"), [*INPUTS, ("every syntax", EVERY_SYNTAX)], ids=[name for name, _ in INPUTS] + ["every syntax"])
def test_batched_visit_makes_libcst_calls_in_libcst_order(name: str, source: bytes) -> None:
    module = engine.parse(source)
    # Callbacks for a few node types that nest in one another: the visit reads only those types' nodes.
    nesting = partial(
        _recording,
        ("visit_For", "leave_For", "visit_While", "leave_Module", "visit_Lambda", "leave_Attribute", "leave_IndentedBlock"),
    )
    for recorder in (_Recorder, nesting):
        ours, theirs = _calls_made(module, recorder)
        assert ours == theirs and ours


def _recording(callbacks: Iterable[str]) -> cst.BatchableCSTVisitor:
    """A batchable visitor with the ``callbacks`` named (``visit_For``, ``leave_Name``...), each recording its call."""

    def recorder(name: str):
        kind = name.partition("_")[0]

        def record(self, node: cst.CSTNode) -> None:
            self.calls.append((kind, id(node)))

        record.__name__ = name  # LibCST finds callbacks by their function's name
        return record

    visitor = type("Recording", (cst.BatchableCSTVisitor,), {name: recorder(name) for name in callbacks})()
    visitor.calls = []
    return visitor


def _recording_every_node() -> cst.BatchableCSTVisitor:
    """A batchable visitor with a visit and a leave callback for every node type but the tokens."""
    kinds = {name for name, value in vars(cst).items() if isinstance(value, type) and issubclass(value, cst.CSTNode)}
    return _recording(f"{kind}_{name}" for name in kinds - traversal.TOKEN_NAMES for kind in ("visit", "leave"))


@pytest.mark.parametrize(("name", "source"), [*INPUTS, ("every syntax", EVERY_SYNTAX)], ids=[name for name, _ in INPUTS] + ["every syntax"])
def test_batched_visit_makes_libcst_calls_for_every_node(name: str, source: bytes) -> None:
    ours, theirs = _calls_made(engine.parse(source), _recording_every_node)
    assert ours == theirs and ours


class _TokenRecorder(_Recorder):
    """A visitor with callbacks for tokens too: the batched visit must then walk them."""

    def visit_Comma(self, node: cst.Comma) -> None:
        self.calls.append(("visit", id(node)))

    def leave_SimpleWhitespace(self, node: cst.SimpleWhitespace) -> None:
        self.calls.append(("leave", id(node)))


def test_batched_visit_walks_tokens_when_some_visitor_has_a_callback_for_them() -> None:
    module = engine.parse(EVERY_SYNTAX)
    ours, theirs, names_only = _TokenRecorder(), _TokenRecorder(), _Recorder()
    traversal.visit_batched(module, [ours, names_only])
    cst.visit_batched(module, [theirs])
    assert ours.calls == theirs.calls and len(ours.calls) > len(names_only.calls) > 100


class _PruningRecorder(cst.CSTVisitor):
    """Records every callback; does not enter function bodies' statements or the arguments of calls to ``f``."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, int]] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        self.calls.append(("visit", id(node)))
        return super().on_visit(node)

    def on_leave(self, original_node: cst.CSTNode) -> None:
        self.calls.append(("leave", id(original_node)))
        super().on_leave(original_node)

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> bool:
        return False

    def visit_Call(self, node: cst.Call) -> Optional[bool]:
        return False if isinstance(node.func, cst.Name) and node.func.value == "f" else None


def test_walk_makes_the_calls_of_libcst_visit() -> None:
    module = engine.parse(EVERY_SYNTAX + b"f(g(x), y)\ng(f(x))\n")
    ours, theirs = _PruningRecorder(), _PruningRecorder()
    traversal.walk(module, ours)
    module.visit(theirs)
    assert ours.calls == theirs.calls and len(ours.calls) > 100


def test_assignment_like_node_classes_have_no_subclasses() -> None:
    """``metadata._ScopeVisitor`` tells them by exact type, which is LibCST's isinstance only while this holds."""
    assert all(not kind.__subclasses__() for kind in metadata.ASSIGNMENT_LIKE_TYPES)


def test_the_in_place_visitors_have_only_libcsts_on_visit_and_scope_visitors_on_leave() -> None:
    """``metadata._visit_in_place`` makes their ``visit_<Type>`` / ``leave_<Type>`` calls itself, which is what
    their ``on_visit`` and ``on_leave`` do only while this holds (ScopeVisitor's own ``on_leave`` is
    ``_ScopeVisitor.left`` then LibCST's)."""
    for visitor in metadata.IN_PLACE_VISITORS:
        assert visitor.on_visit is cst.CSTVisitor.on_visit
    assert ExpressionContextVisitor.on_leave is cst.CSTVisitor.on_leave
    assert ScopeVisitor.on_leave.__qualname__ == "ScopeVisitor.on_leave"


@pytest.mark.parametrize(("name", "source"), [("every syntax", EVERY_SYNTAX), *INPUTS[:40]], ids=lambda value: value if isinstance(value, str) else "")
def test_non_token_children_reads_only_fields_that_can_hold_them(name: str, source: bytes) -> None:
    """The fields ``non_token_children`` skips (a Name's parentheses, a call's whitespace) never hold a node that
    is not a token: it lists what ``children(node, TOKENS)`` lists, for every node."""
    module = engine.parse(source)
    for node in {module, *MetadataWrapper(module, unsafe_skip_copy=True).resolve(ParentNodeProvider)}:
        assert traversal.non_token_children(node) == traversal.children(node, traversal.TOKENS)
