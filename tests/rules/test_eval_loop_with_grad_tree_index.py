"""syntax.TreeIndex, the one-pass index PFL103/104/105 query instead of walking a subtree per candidate:
its answers are exactly those of the walks it replaces, in the same order."""

from __future__ import annotations

import textwrap
from pathlib import Path

import libcst as cst
import pytest

from perflint.analysis.syntax import TreeIndex, walk_all, walk_same_scope
from perflint.traversal import TOKENS

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SOURCES = sorted(path for code in ("PFL103", "PFL104", "PFL105") for path in (FIXTURES / code).glob("*.py"))
KINDS = [(cst.Call,), (cst.Name,), (cst.For, cst.While), (cst.Yield, cst.Await), (cst.FunctionDef, cst.Lambda)]

NESTED = textwrap.dedent(
    """
    @decorate(first)
    def outer(a: int = f(x)) -> g(y):
        b = c if d(e) else h(i)
        try:
            j()
        except k(l) as m:
            n()
        for o in p(q=r):
            lam = lambda s: t(s)
            class C(u(v), metaclass=w):
                z = zz()
            def inner():
                yield inner_call()
        while cond():
            [aa(bb) for bb in cc()]
    """
)


def _check(module: cst.Module) -> None:
    index = TreeIndex(module)
    nodes = [node for node in walk_all(module) if type(node) not in TOKENS]  # tokens are not indexed
    for root in nodes[:: max(1, len(nodes) // 150)]:  # every kind of root, without a quadratic test
        for kinds in KINDS:
            expected = [node for node in walk_same_scope(root) if type(node) in kinds]
            assert [id(node) for node in index.same_scope(root, *kinds)] == [id(node) for node in expected]
            expected = [node for node in walk_all(root) if type(node) in kinds]
            assert [id(node) for node in index.under(root, *kinds)] == [id(node) for node in expected]
        kept = [node for node in walk_same_scope(root) if isinstance(node, cst.Call) and isinstance(node.func, cst.Name)]
        found = index.same_scope_where(root, cst.Call, "test: call of a name", lambda call: isinstance(call.func, cst.Name))
        assert [id(node) for node in found] == [id(node) for node in kept]


def test_nested_scopes_and_source_order() -> None:
    _check(cst.parse_module(NESTED))


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: f"{path.parent.name}/{path.name}")
def test_fixtures(path: Path) -> None:
    _check(cst.parse_module(path.read_bytes()))
