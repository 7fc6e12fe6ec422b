"""Unit tests of the analysis PFL102 is built on: fresh names, reach, evaluation order, bindings, regions, chains."""

from __future__ import annotations

import textwrap
from typing import Any, Callable

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, ParentNodeProvider, PositionProvider, QualifiedNameProvider, ScopeProvider

from perflint.analysis.dataflow import (
    Reach,
    bindings,
    first_effect,
    fresh_name,
    hoist_region,
    introspects_frame,
    mutually_exclusive,
    reach,
)
from perflint.analysis.host_conversions import conversion_of


class _Probe(cst.CSTVisitor):
    """Runs a check inside the visit, while the metadata is resolved."""

    METADATA_DEPENDENCIES = (ScopeProvider, ParentNodeProvider, QualifiedNameProvider, PositionProvider)

    def __init__(self, check: Callable[[_Probe, cst.Module], Any]) -> None:
        super().__init__()
        self.check = check
        self.result: Any = None

    def leave_Module(self, original_node: cst.Module) -> None:
        self.result = self.check(self, original_node)


def _analyse(source: str, check: Callable[[_Probe, cst.Module], Any]) -> Any:
    probe = _Probe(check)
    MetadataWrapper(cst.parse_module(textwrap.dedent(source))).visit(probe)
    return probe.result


class _Finder(cst.CSTVisitor):
    def __init__(self, module: cst.Module, code: str) -> None:
        super().__init__()
        self.module, self.code, self.found = module, code, []

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, cst.BaseExpression) and self.module.code_for_node(node) == self.code:
            self.found.append(node)
        return True


def _nodes(module: cst.Module, code: str) -> list[cst.CSTNode]:
    finder = _Finder(module, code)
    module.visit(finder)
    assert finder.found, code
    return finder.found


def _function(module: cst.Module, name: str = "f") -> cst.FunctionDef:
    return next(s for s in module.body if isinstance(s, cst.FunctionDef) and s.name.value == name)


# -- fresh_name ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def f(x):\n    return x.numpy()\n", "x_np"),
        ("def f(x):\n    x_np = 1\n    return x.numpy()\n", "x_np_1"),
        ("x_np = 1\ndef f(x):\n    return x.numpy()\n", "x_np_1"),
        ("def f(x):\n    def g():\n        return x_np\n    return x.numpy()\n", "x_np_1"),
        ("def f(x):\n    return x.numpy()\ndef g():\n    x_np = 2\n", "x_np"),
        ("def f(x):\n    x_np, x_np_1 = 1, 2\n    return x.numpy()\n", "x_np_2"),
        ("def f(x):\n    return [x.numpy() for x_np in x]\n", "x_np_1"),
    ],
)
def test_fresh_name_shadows_nothing(source: str, expected: str) -> None:
    assert _analyse(source, lambda probe, module: fresh_name(probe, _nodes(module, "x.numpy()")[0], "x_np")) == expected


def test_fresh_name_avoids_builtins_and_given_names() -> None:
    source = "def f(x):\n    return x.numpy()\n"
    assert _analyse(source, lambda probe, module: fresh_name(probe, _nodes(module, "x.numpy()")[0], "len")) == "len_1"
    result = _analyse(source, lambda probe, module: fresh_name(probe, _nodes(module, "x.numpy()")[0], "a", avoid={"a"}))
    assert result == "a_1"


def test_fresh_name_at_module_level_sees_every_function() -> None:
    source = "x = 1\ndef g():\n    return np\n"
    assert _analyse(source, lambda probe, module: fresh_name(probe, module.body[0], "np")) == "np_1"


# -- reach and evaluation order ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("a = g(x.numpy())", Reach.ALWAYS),
        ("a = c and x.numpy()", Reach.MAYBE),
        ("a = x.numpy() and c", Reach.ALWAYS),
        ("a = x.numpy() if c else 0", Reach.MAYBE),
        ("a = 0 if x.numpy() else 1", Reach.ALWAYS),
        ("a = [x.numpy() for _ in r]", Reach.MAYBE),
        ("a = [v for v in x.numpy()]", Reach.ALWAYS),
        ("a = [v for v in r for w in x.numpy()]", Reach.MAYBE),
        ("a = (x.numpy() for _ in r)", Reach.LATER),
        ("a = (v for v in x.numpy())", Reach.ALWAYS),
        ("a = lambda: x.numpy()", Reach.LATER),
        ("a = lambda v=x.numpy(): v", Reach.ALWAYS),
    ],
)
def test_reach_of_expressions(statement: str, expected: Reach) -> None:
    source = f"def f(x, c, r):\n    {statement}\n"

    def check(probe: _Probe, module: cst.Module) -> Reach:
        use = _nodes(module, "x.numpy()")[0]
        return reach(probe, use, _function(module).body.body[0])

    assert _analyse(source, check) is expected


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ("if x.numpy().any():\n        pass", Reach.ALWAYS),
        ("if c:\n        x.numpy()", Reach.MAYBE),
        ("for v in x.numpy():\n        pass", Reach.ALWAYS),
        ("for v in r:\n        x.numpy()", Reach.MAYBE),
        ("while x.numpy().any():\n        pass", Reach.MAYBE),
        ("with g(x.numpy()):\n        pass", Reach.ALWAYS),
        ("with c:\n        x.numpy()", Reach.GUARDED),
        ("try:\n        x.numpy()\n    except E:\n        pass", Reach.GUARDED),
    ],
)
def test_reach_of_statements(block: str, expected: Reach) -> None:
    source = f"def f(x, c, r):\n    {block}\n"

    def check(probe: _Probe, module: cst.Module) -> Reach:
        return reach(probe, _nodes(module, "x.numpy()")[0], _function(module).body.body[0])

    assert _analyse(source, check) is expected


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("a = float(x.numpy().sum())", True),
        ("a = np.mean(x.numpy())", True),
        ("a = g() + x.numpy()", False),
        ("a = b[0] + x.numpy()", False),
        ("a = b + x.numpy()", True),
        ("a[g()] = x.numpy()", True),
        ("a[x.numpy()[0]] = g()", False),
        ("a += x.numpy()", True),
        ("log.append(x.numpy())", True),
        ("h(g(), x.numpy())", False),
        ("a = [v for v in x.numpy()]", True),
        ('a = f"{b}" + str(x.numpy())', False),
    ],
)
def test_first_effect(statement: str, expected: bool) -> None:
    source = f"def f(x, a, b, g, h, log):\n    {statement}\n"

    def check(probe: _Probe, module: cst.Module) -> bool:
        return first_effect(probe, _nodes(module, "x.numpy()")[0], _function(module).body.body[0])

    assert _analyse(source, check) is expected


# -- bindings ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "x = 1",
        "x += 1",
        "x: int = 1",
        "a, (b, *x) = v",
        "del x",
        "for x in v:\n        pass",
        "with v as x:\n        pass",
        "try:\n        pass\n    except E as x:\n        pass",
        "if (x := v):\n        pass",
        "y = [(x := w) for w in v]",
        "import x",
        "import os.path as x",
        "from m import *",
        "def x():\n        pass",
        "class x:\n        pass",
        "match v:\n        case [*x]:\n            pass",
        "global x",
    ],
)
def test_bindings_found(statement: str) -> None:
    source = f"def f(v, E):\n    {statement}\n"
    assert _analyse(source, lambda probe, module: len(bindings(probe, _function(module).body.body, "x"))) >= 1


@pytest.mark.parametrize(
    "statement",
    [
        "y = x",
        "x.data = v",
        "x[0] = 1",
        "y = [x for x in v]",
        "def g():\n        x = 1",
        "g = lambda x: x",
        "class C:\n        x = 1",
    ],
)
def test_bindings_in_other_scopes_or_stores_into_objects_are_not_bindings(statement: str) -> None:
    source = f"def f(x, v):\n    {statement}\n"
    assert _analyse(source, lambda probe, module: bindings(probe, _function(module).body.body, "x")) == []


# -- regions and exclusivity ------------------------------------------------------------------------------------


def _region_codes(source: str) -> tuple[str, list[str]]:
    def check(probe: _Probe, module: cst.Module) -> tuple[str, list[str]]:
        uses = _nodes(module, "x.numpy()")
        region = hoist_region(probe, uses, _function(module))
        assert region is not None
        return module.code_for_node(region.anchor).strip(), [module.code_for_node(s).strip() for s in region.statements]

    return _analyse(textwrap.dedent(source), check)


def test_region_from_first_to_last_use() -> None:
    anchor, statements = _region_codes(
        """
        def f(x):
            a = 1
            b = x.numpy()
            c = 2
            d = x.numpy()
            e = 3
        """
    )
    assert anchor == "b = x.numpy()" and statements == ["b = x.numpy()", "c = 2", "d = x.numpy()"]


def test_region_between_small_statements_of_one_line() -> None:
    anchor, _ = _region_codes("def f(x):\n    a = 1; b = x.numpy()\n    c = x.numpy()\n")
    assert anchor == "b = x.numpy()"


def test_region_climbs_out_of_a_branch_the_later_uses_are_not_in() -> None:
    anchor, statements = _region_codes(
        """
        def f(x, c):
            if c:
                a = x.numpy()
            b = x.numpy()
        """
    )
    assert anchor.startswith("if c:") and len(statements) == 2


def test_region_stays_in_the_branch_holding_every_use() -> None:
    anchor, _ = _region_codes(
        """
        def f(x, c):
            if c:
                a = x.numpy()
                b = x.numpy()
        """
    )
    assert anchor == "a = x.numpy()"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("if c:\n        a = x.numpy()\n    else:\n        b = x.numpy()", True),
        ("if c:\n        a = x.numpy()\n    elif d:\n        b = x.numpy()", True),
        ("a = x.numpy() if c else x.numpy()", True),
        ("if c:\n        a = x.numpy()\n    if d:\n        b = x.numpy()", False),
        ("a = x.numpy()\n    b = x.numpy()", False),
    ],
)
def test_mutually_exclusive(source: str, expected: bool) -> None:
    def check(probe: _Probe, module: cst.Module) -> bool:
        first, second = _nodes(module, "x.numpy()")
        return mutually_exclusive(probe, first, second)

    assert _analyse(f"def f(x, c, d):\n    {source}\n", check) is expected


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("return locals()", True),
        ("exec('y = 1')", True),
        ("return eval('x')", True),
        ("return vars()", True),
        ("return vars(x)", False),
        ("import sys\n    return sys._getframe()", True),
        ("return x.eval()", False),
    ],
)
def test_frame_introspection(statement: str, expected: bool) -> None:
    source = f"def f(x):\n    {statement}\n"
    assert _analyse(source, lambda probe, module: introspects_frame(probe, _function(module))) is expected


# -- conversion chains -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "text", "copies"),
    [
        ("x.numpy()", ".numpy()", False),
        ("x.detach().numpy()", ".detach().numpy()", False),
        ("x.view(-1).numpy()", ".view(-1).numpy()", False),
        ("x.cpu().numpy()", ".cpu().numpy()", True),
        ("x.detach().cpu().numpy()", ".detach().cpu().numpy()", True),
        ("x.reshape(-1).numpy()", ".reshape(-1).numpy()", True),
        ("x.numpy(force=True)", ".numpy(force=True)", True),
        ("x.tolist()", ".tolist()", True),
        ("x.cpu()", ".cpu()", True),
    ],
)
def test_conversion_chains(code: str, text: str, copies: bool) -> None:
    conversion = conversion_of(cst.parse_expression(code))
    assert conversion is not None and conversion.text == text and conversion.copies is copies


@pytest.mark.parametrize(
    "code",
    ["x.view(-1)", "x.numpy().ravel()", "x.cpu().cpu()", "x.numpy().tolist()", "x.cpu(0)", "x.numpy(True)", "x.detach()"],
)
def test_not_conversion_chains(code: str) -> None:
    assert conversion_of(cst.parse_expression(code)) is None


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ("@d(x := 1)\n    def g():\n        x = 2", 1),  # the decorator runs here, the body does not
        ("def g(a=(x := 1)):\n        x = 2", 1),
        ("class C(B, metaclass=(x := M)):\n        x = 1", 1),
        ("h = lambda a=(x := 1): (x := 2)", 1),
        ("for x in v:\n        y = [(x := w) for w in v]\n        def x():\n            x = 3", 3),
    ],
)
def test_bindings_in_headers_of_nested_scopes_count_once(statement: str, expected: int) -> None:
    source = f"def f(v, d, B, M):\n    {statement}\n"
    found = _analyse(source, lambda probe, module: bindings(probe, _function(module).body.body, "x"))
    assert len(found) == expected, found
