"""The shared facts of ``perflint.analysis`` that rules read instead of private copies: which statements bind a
name to a value (``bindings``), what an assignment target stores into, and the nesting helpers of ``syntax``."""

from __future__ import annotations

import textwrap
from typing import Optional

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, ParentNodeProvider, PositionProvider, ScopeProvider

from perflint.analysis.bindings import bound_names, bound_value, reaching_value, target_leaves
from perflint.analysis.dataflow import declarations
from perflint.analysis.local_calls import called_function
from perflint.analysis.syntax import DeferredDepth, deferred_between, start


class _Probe(cst.CSTVisitor):
    """Collects every Name spelled ``x`` in a module, with the metadata the helpers read."""

    METADATA_DEPENDENCIES = (ParentNodeProvider, PositionProvider, ScopeProvider)

    def __init__(self) -> None:
        super().__init__()
        self.names: list[cst.Name] = []
        self.functions: list[cst.FunctionDef] = []

    def visit_Name(self, node: cst.Name) -> None:
        if node.value == "x":
            self.names.append(node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.functions.append(node)


def _probe(source: str) -> tuple[_Probe, MetadataWrapper]:
    wrapper = MetadataWrapper(cst.parse_module(textwrap.dedent(source)))
    probe = _Probe()
    wrapper.visit(probe)
    return probe, wrapper


def _bound(source: str, forms: Optional[tuple[type, ...]] = None) -> Optional[str]:
    probe, wrapper = _probe(source)
    with probe.resolve(wrapper):
        value = bound_value(probe, probe.names[0]) if forms is None else bound_value(probe, probe.names[0], forms)
    return None if value is None else wrapper.module.code_for_node(value)


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("x = f(1)\n", "f(1)"),
        ("a = x = 2\n", "2"),
        ("x: int = 3\n", "3"),
        ("if (x := 4):\n    pass\n", "4"),
        ("x += 5\n", None),  # binds `x + 5`, not 5
        ("x, y = 6, 7\n", None),
        ("x: int\n", None),
        ("for x in range(3):\n    pass\n", None),
        ("with open(p) as x:\n    pass\n", None),
        ("import x\n", None),
        ("def f(x):\n    pass\n", None),
    ],
)
def test_bound_value_decides_each_statement_form_once(source: str, value: Optional[str]) -> None:
    assert _bound(source) == value


def test_bound_value_forms_restrict_what_a_caller_trusts() -> None:
    assert _bound("x: int = 3\n", (cst.Assign,)) is None
    assert _bound("if (x := 4):\n    pass\n", (cst.Assign, cst.AnnAssign)) is None
    assert _bound("x = 1\n", (cst.Assign,)) == "1"


@pytest.mark.parametrize(
    ("source", "use", "value"),
    [
        ("x = a\ny = x\n", -1, "a"),
        ("x = a; y = x\n", -1, "a"),  # an earlier statement on the use's line runs first
        ("x = a; x = b\ny = x\n", -1, "b"),
        ("x = a\nx = f(\n    x)\n", -1, None),  # the use inside the binding reads the earlier `x`
        ("x = f(x)\n", -1, None),
        ("for i in r:\n    y = x\n    x = a\n", 0, None),  # the rebinding reaches the next iteration's use
        ("if c:\n    x = a\ny = x\n", -1, None),  # the binding may not have run
        ("x = a\ndef g():\n    return x\n", -1, None),
        ("x = a\nf = lambda: x\n", -1, None),
        ("x, y = pair\nz = x\n", -1, None),
    ],
)
def test_reaching_value_is_the_last_binding_before_the_use_in_source_order(source: str, use: int, value: Optional[str]) -> None:
    probe, wrapper = _probe(source)
    with probe.resolve(wrapper):
        found = reaching_value(probe, probe.names[use])
    assert (None if found is None else wrapper.module.code_for_node(found)) == value


def test_reaching_value_of_an_unpacked_name_is_the_unpacked_value() -> None:
    probe, wrapper = _probe("x, y = model(batch)\nz = x\n")
    with probe.resolve(wrapper):
        found = reaching_value(probe, probe.names[-1], unpacked=True)
    assert found is not None and wrapper.module.code_for_node(found) == "model(batch)"


def test_target_leaves_and_bound_names_go_through_tuples_lists_and_stars() -> None:
    module = cst.parse_module("a, (b.c, *d[0]), [e, *f] = value\n")
    statement = module.body[0].body[0]
    assert isinstance(statement, cst.Assign)
    target = statement.targets[0].target
    assert [module.code_for_node(leaf) for leaf in target_leaves(target)] == ["a", "b.c", "d[0]", "e", "f"]
    assert [name.value for name in bound_names(target)] == ["a", "e", "f"]


def test_deferred_between_sees_nested_def_lambda_and_class_bodies_only() -> None:
    probe, wrapper = _probe(
        """
        def outer():
            print(x)
            g = lambda: x
            class C:
                y = x
        """
    )
    outer = probe.functions[0]
    with probe.resolve(wrapper):
        assert [deferred_between(probe, name, outer) for name in probe.names] == [False, True, True]
        assert [start(probe, name) for name in probe.names] == [(3, 10), (4, 16), (6, 12)]


def test_deferred_depth_counts_bodies_the_visit_is_in() -> None:
    class Depths(DeferredDepth, cst.CSTVisitor):
        def __init__(self) -> None:
            super().__init__()
            self.depths: list[int] = []

        def visit_Name(self, node: cst.Name) -> None:
            if node.value == "x":
                self.depths.append(self.deferred)

    visitor = Depths()
    cst.parse_module("x\ndef f():\n    x\n    g = lambda: x\nclass C:\n    x\nx\n").visit(visitor)
    assert visitor.depths == [0, 1, 2, 1, 0]


class _Calls(cst.CSTVisitor):
    """Collects every call of ``evaluate`` with the function it is made in."""

    METADATA_DEPENDENCIES = (ParentNodeProvider, ScopeProvider)

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[cst.Call, cst.FunctionDef]] = []
        self.functions: list[cst.FunctionDef] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.functions.append(node)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.functions.pop()

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Name) and node.func.value == "evaluate" and self.functions:
            self.calls.append((node, self.functions[-1]))


def _scope_answer(visitor: _Calls, name: cst.Name) -> Optional[cst.FunctionDef]:
    """What LibCST's scope analysis says ``name`` reaches: its one binding, if that is a module-level def."""
    assignments = list(visitor.get_metadata(ScopeProvider, name)[name.value])
    node = getattr(assignments[0], "node", None) if len(assignments) == 1 else None
    is_module_level = isinstance(node, cst.FunctionDef) and isinstance(visitor.get_metadata(ParentNodeProvider, node), cst.Module)
    return node if is_module_level else None


@pytest.mark.parametrize(
    "source",
    [
        "def evaluate(m):\n    pass\ndef main():\n    evaluate(m)\n",
        "def evaluate(m):\n    pass\ndef main():\n    evaluate(m)\n    run(callback=evaluate)\n    x.evaluate()\n    f(evaluate=1)\n",
        "def evaluate(m):\n    pass\ndef main(evaluate):\n    evaluate(m)\n",
        "def evaluate(m):\n    pass\ndef main():\n    evaluate = make()\n    evaluate(m)\n",
        "def evaluate(m):\n    pass\nevaluate = wrap(evaluate)\ndef main():\n    evaluate(m)\n",
        "def evaluate(m):\n    pass\ndef main():\n    from lib import evaluate\n    evaluate(m)\n",
        "def evaluate(m):\n    pass\ndef main():\n    global evaluate\n    evaluate(m)\n",
        "def evaluate(m):\n    pass\ndef main():\n    for evaluate in fs:\n        evaluate(m)\n",
        "def evaluate(m):\n    pass\ndef main():\n    [evaluate(m) for evaluate in fs]\n",
        "def evaluate(m):\n    pass\nclass C:\n    def evaluate(self):\n        pass\n    def main(self):\n        evaluate(m)\n",
        "def evaluate(m):\n    pass\ndef evaluate(m, n):\n    pass\ndef main():\n    evaluate(m)\n",
        "if ok:\n    def evaluate(m):\n        pass\ndef main():\n    evaluate(m)\n",
        "def main():\n    def evaluate(m):\n        pass\n    evaluate(m)\n",
    ],
)
def test_called_function_agrees_with_the_scope_analysis(source: str) -> None:
    """``called_function`` decides most calls without the scope analysis; where it does, it must agree."""
    wrapper = MetadataWrapper(cst.parse_module(source))
    visitor = _Calls()
    wrapper.visit(visitor)
    assert visitor.calls
    with visitor.resolve(wrapper):
        for call, caller in visitor.calls:
            reached = called_function(visitor, call, caller)
            assert isinstance(call.func, cst.Name)
            assert (None if reached is None else reached.definition) is _scope_answer(visitor, call.func)


def test_declarations_are_a_functions_own_and_its_nested_functions_nonlocal_ones() -> None:
    probe, wrapper = _probe(
        """
        def outer():
            global a
            nonlocal b
            class Inner:
                global c
            def nested():
                global d
                nonlocal e
        """
    )
    with probe.resolve(wrapper):
        found = declarations(probe, probe.functions[0])
    assert (found.own, found.nested_nonlocal) == ({"a", "b", "c"}, {"e"})
