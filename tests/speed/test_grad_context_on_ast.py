"""``grad_disabled_on_ast`` (what prefilters read) never finds autograd off where ``grad_context`` does not.

Every call of each input is asked both ways: on Python's ast with the module's import table, and on LibCST
through a rule context with the same table (as rules ask). A call the ast reading calls disabled must be one
``grad_context`` puts under a disabling context; the programs below also pin that it does find the common ones.
"""

from __future__ import annotations

import ast
import re
import textwrap
from typing import Optional

import libcst as cst
import pytest
from libcst.metadata import ParentNodeProvider, PositionProvider, QualifiedNameProvider

from perflint.analysis import ast_shapes
from perflint.analysis.names import dotted_name
from perflint.analysis.torch_context import GradMode, grad_context, grad_disabled_on_ast
from perflint.import_table import ImportedNames, imported_names
from perflint.rule import RuleContext
from tests.speed.samples import all_inputs, corpus_sample

# Each program marks with `# off` the lines whose calls are under a disabling context, and only those (a def's
# decorators count as under its own decorator context, as in grad_context).
PROGRAMS = {
    "with and decorators": """
        import torch
        import torch as T
        from torch import no_grad as ng, set_grad_enabled, inference_mode

        def plain(m, x):
            with torch.no_grad():
                m(x)  # off
            m(x)

        @T.inference_mode()  # off
        def decorated(m, x):
            return m(x)  # off

        @inference_mode
        def bare(m, x):
            return m(x)  # off

        def aliased(m, x):
            with ng(), open(x) as f:
                m(f)  # off
            with set_grad_enabled(False):
                m(x)  # off
            with torch.inference_mode(False):
                m(x)
            with torch.inference_mode(mode=True):
                m(x)  # off
        """,
    "what proves nothing": """
        import torch

        def nested(m, x, flag):
            with torch.no_grad():
                with torch.set_grad_enabled(flag):  # off (a with's items run in the context around it)
                    m(x)
                with torch.enable_grad():  # off
                    m(x)
                g = lambda y: m(y)
                h = (m(y) for y in x)
                k = [m(y) for y in x]  # off

                def later(y):
                    return m(y)

        def reenabled(m, x):
            with torch.no_grad():
                torch.set_grad_enabled(True)
                m(x)

        @torch.no_grad()  # off
        def item_not_statement(m, x):
            with torch.enable_grad():  # off
                pass
            m(x)  # off
        """,
    # A module that binds `torch` other than by its import: the table names no `torch.*` (nor does this).
    "names the table cannot speak for": """
        import torch

        def shadowed(torch, m, x):
            with torch.no_grad():
                m(x)

        def local_import(m, x):
            import torch as t
            with t.no_grad():
                m(x)
        """,
    # A parameter's method is never torch's no_grad: the outer context decides.
    "contexts that are not grad modes": """
        import torch

        def unknown(m, x, ctx):
            with torch.no_grad():
                with ctx.no_grad():  # off
                    m(x)  # off
                with ctx():  # off
                    m(x)  # off
            with (ctx or torch).no_grad():
                m(x)
        """,
    "star import": """
        from torch import *

        def f(m, x):
            with no_grad():
                m(x)
        """,
}


class _Asker(cst.BatchableCSTVisitor):
    """grad_context of every call, asked as a rule asks (qualified names through the import table first)."""

    METADATA_DEPENDENCIES = (ParentNodeProvider, QualifiedNameProvider, PositionProvider)

    def __init__(self, table: ImportedNames) -> None:
        super().__init__()
        self.context = RuleContext(path="m.py", imported_names=lambda: table)
        self.modes: dict[tuple[int, int, Optional[str]], GradMode] = {}

    def visit_Call(self, node: cst.Call) -> None:
        start = self.get_metadata(PositionProvider, node).start
        self.modes[(start.line, start.column, dotted_name(node.func))] = grad_context(self, node).mode


def _both_readings(source: str) -> list[tuple[int, bool, GradMode]]:
    """(line, disabled on the ast, grad_context's mode) of every call of ``source``, paired by where the call
    starts and what it calls (``f(x)(y)`` and ``f(x)`` start alike)."""
    tree = ast.parse(source)
    table = imported_names(tree)
    sites = ast_shapes.shapes(tree).calls()
    calls = [site.node for site in sites]
    disabled = grad_disabled_on_ast(tree, sites, table)
    asker = _Asker(table)
    cst.MetadataWrapper(cst.parse_module(source)).visit_batched([asker])
    lines = re.split(r"\r\n|\r|\n", source)  # Python's line ends (str.splitlines also splits at form feeds)
    readings = []
    for node in calls:
        # ast counts columns in UTF-8 bytes, LibCST in characters.
        column = len(lines[node.lineno - 1].encode()[: node.col_offset].decode())
        mode = asker.modes.get((node.lineno, column, ast_shapes.dotted_name(node.func)))
        assert mode is not None, f"no LibCST call at line {node.lineno}, column {column}"
        readings.append((node.lineno, id(node) in disabled, mode))
    return readings


@pytest.mark.parametrize("name", PROGRAMS)
def test_the_ast_reading_finds_the_disabling_contexts_it_can_prove(name: str) -> None:
    source = textwrap.dedent(PROGRAMS[name])
    marked = {number for number, line in enumerate(source.splitlines(), 1) if "# off" in line}
    readings = _both_readings(source)
    assert {line for line, disabled, _mode in readings if disabled} == marked
    assert all(mode is GradMode.DISABLED for line, _disabled, mode in readings if line in marked)


INPUTS = all_inputs() + [(path.name, path.read_bytes()) for path in corpus_sample(40)]


@pytest.mark.parametrize(("name", "source"), INPUTS, ids=[name for name, _ in INPUTS])
def test_the_ast_reading_never_finds_grad_off_where_grad_context_does_not(name: str, source: bytes) -> None:
    try:
        text = source.decode()
        ast.parse(text)
    except (UnicodeDecodeError, SyntaxError, ValueError):
        pytest.skip("not a module both parsers read")
    for line, disabled, mode in _both_readings(text):
        assert not disabled or mode is GradMode.DISABLED, f"line {line}: {mode}"
