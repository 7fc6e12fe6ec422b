"""The prefilter's shared ast walk (``ast_shapes.shapes``) reads only the fields a recorded node can be under:
it records what a walk of every field records."""

from __future__ import annotations

import ast

import pytest

from perflint.analysis import ast_shapes
from tests.speed.samples import fixture_inputs

EVERY_STATEMENT = '''
import a.b as c
from .e import (f as g, h)

@decorator(lambda q: [q for _ in range(2)])
async def function(p: int = f(1), /, *args: str, r=lambda: g(), **kwargs) -> "Annotated":
    global G
    x = y if z(1) else w
    x += h(2)
    x: int = k(3)
    (u := m(4))
    async with a(5) as (b, c):
        async for i, j in k(6):
            await n(7)
    t = [i(8) for i in j if i for k in i], {i: j(9) for i in j}, {i for i in j(10)}, (i for i in j(11))
    s = f"{a(12)!r:>{width(13)}}"
    n = a[o(14):2, ...], -a ** b(15) // c, not a(16) and b or c, a(17) < b <= c(18)
    try:
        raise E(19) from F(20)
    except (A, B) as e:
        pass
    while a(21):
        del d[q(22)]
    match point(23):
        case Point(x=0, y=[1, *rest]) | {"k": v} if v(24):
            pass

class C(Base(25), metaclass=M(26)):
    x: ClassVar[int] = p(27)
    def method(self): return [z(28) for z in self]
'''


def _sites(tree: ast.Module) -> dict[type, list[tuple[int, int, int, int]]]:
    found = ast_shapes.shapes.__wrapped__(tree)
    return {kind: [(id(s.node), id(s.loop), id(s.function), id(s.frame)) for s in sites] for kind, sites in found.sites.items()}


PYTHON_FIXTURES = [path for path in fixture_inputs() if path.suffix == ".py"]


@pytest.mark.parametrize(
    "source",
    [EVERY_STATEMENT, *(path.read_bytes() for path in PYTHON_FIXTURES)],
    ids=["every statement", *(str(path) for path in PYTHON_FIXTURES)],
)
def test_shapes_records_what_a_walk_of_every_field_records(source, monkeypatch: pytest.MonkeyPatch) -> None:
    tree = ast.parse(source)
    recorded = _sites(tree)
    monkeypatch.setattr(ast_shapes, "ast_branch_fields", lambda kind: kind._fields)
    assert recorded == _sites(tree)
    assert len(recorded[ast.Call]) >= 1


def test_every_statement_records_its_calls() -> None:
    assert len(ast_shapes.shapes.__wrapped__(ast.parse(EVERY_STATEMENT)).calls()) >= 28
