"""PFL204 growing-concat-in-loop."""

from __future__ import annotations

import ast
from typing import Optional

import libcst as cst
from libcst.metadata import ParentNodeProvider, PositionProvider, QualifiedNameProvider

from perflint.analysis import ast_shapes
from perflint.analysis.names import argument, dotted_name, qualified_names_among
from perflint.analysis.syntax import walk_same_scope
from perflint.analysis.training_loop import enclosing_loops
from perflint.rule import Invalid, Rule, Valid
from perflint.types import FixSafety, MetricImpact

# Functions taking a sequence of pieces as their first argument.
SEQUENCE_CONCATS = {
    "pandas.concat": "pd.concat",
    "numpy.concatenate": "np.concatenate",
    "numpy.concat": "np.concatenate",
    "numpy.vstack": "np.vstack",
    "numpy.hstack": "np.hstack",
    "torch.cat": "torch.cat",
    "torch.concat": "torch.cat",
    "torch.concatenate": "torch.cat",
    "torch.vstack": "torch.vstack",
    "torch.hstack": "torch.hstack",
}
# How each library names that first argument when it is passed by keyword (numpy's is positional-only).
PIECES_KEYWORD = {"pandas": "objs", "torch": "tensors"}
# np.append(arr, values): the grown array is either argument.
APPEND = {"numpy.append": "np.concatenate"}
GROWING_FUNCTIONS = frozenset({*SEQUENCE_CONCATS, *APPEND})
# The last names of all of them, for ``could_match``.
GROWING_NAMES = frozenset(name.rsplit(".", 1)[-1] for name in (*SEQUENCE_CONCATS, *APPEND))
# What ``walk_same_scope`` does not enter, on Python's ast.
AST_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


class GrowingConcatInLoop(Rule):
    """
    ## What it does
    Finds one object grown by concatenation inside a loop: `X = pd.concat([X, piece])`,
    `X = np.concatenate([X, piece])` (also `np.vstack` / `np.hstack`), `X = np.append(X, piece)`,
    `X = torch.cat([X, piece])` (also `torch.vstack` / `torch.hstack`), with `X` the same name or
    attribute on both sides. The functions are resolved by qualified name (`import numpy as np`, `from
    torch import cat`).

    ## Why is this bad?
    Each concatenation copies everything accumulated so far, so n iterations copy O(n^2) elements.
    Growing an array by 2,000 pieces of 1,000 floats with `np.append` took 1.3-6.2 s against 2-12 ms for
    one `np.concatenate` of a list (530-620x); the same with `torch.cat` took 42 s against 32 ms on a
    loaded 2-core CPU and 15 ms against 0.5 ms on an H200 (29x, a new device buffer every iteration);
    growing a DataFrame by 500 one-row frames with `pd.concat` was 5-12x slower than one `pd.concat`
    (`benchmarks/bench_growing_concat.py`).

    ## Example
    ```python
    result = pd.DataFrame()
    for path in paths:
        result = pd.concat([result, pd.read_csv(path)])
    ```

    ## Use instead
    ```python
    pieces = [pd.read_csv(path) for path in paths]
    result = pd.concat(pieces)
    ```

    ## Fix safety
    No fix. Concatenating once is not always the same: `np.append` without `axis` flattens both
    arguments (the equivalent is `np.concatenate([X.ravel(), ...])`), an initial empty `pd.DataFrame()`
    changes the dtypes pandas infers, and the first piece's dtype decides numpy's result type
    differently from a pairwise chain (int32 + int64 pieces).

    ## Metric impact
    Identical: no fix is applied.

    ## Known problems
    Only `X = f([X, ...])` statements whose target is spelled exactly as the grown element are found;
    growth through a helper function or `X = f([*parts, X])` is not. A loop that also rebinds `X` in
    another statement (so nothing grows across iterations) is not reported.

    ## Options
    None.

    ## References
    - pandas documentation, `pandas.concat`: "It is not recommended to build DataFrames by adding single
      rows in a for loop. Build a list of rows and make a DataFrame in a single concat."
    - numpy documentation, `numpy.append` (a copy is made on every call).
    """

    code = "PFL204"
    name = "growing-concat-in-loop"
    message = "one object grown by concatenation in a loop"
    fix_safety = FixSafety.NONE
    metric_impact = MetricImpact.IDENTICAL
    required_tokens = ("concat", "append", "cat(", "stack")
    METADATA_DEPENDENCIES = (PositionProvider, ParentNodeProvider, QualifiedNameProvider)

    valid = (
        Valid(
            """
            import pandas as pd
            pieces = []
            for path in paths:
                pieces.append(pd.read_csv(path))
            result = pd.concat(pieces)
            """
        ),
        Valid(
            """
            import numpy as np
            for row in rows:
                pair = np.concatenate([row, row])
            """
        ),
        Valid(
            """
            import torch
            for x in batches:
                state = torch.zeros(0)
                state = torch.cat([state, x])
            """
        ),
    )
    invalid = (
        Invalid(
            """
            import pandas as pd
            result = pd.DataFrame()
            for path in paths:
                result = pd.concat([result, pd.read_csv(path)], ignore_index=True)
            """,
            message_contains="`pd.concat` once after the loop",
        ),
        Invalid(
            """
            import numpy as np
            from torch import cat
            def collect(batches, model):
                values = np.array([])
                kept = None
                for x in batches:
                    values = np.append(values, x.numpy())
                    kept = cat((kept, model(x)))
                return values, kept
            """,
            count=2,
        ),
    )

    @classmethod
    def could_match(cls, tree: ast.Module) -> bool:
        """Whether ``tree`` assigns, in a loop, a call ending in one of the concatenating names (or an import
        alias of one) whose target is spelled like something among the call's arguments, and the innermost
        such loop does not certainly rebind the target otherwise (``_rebound_elsewhere`` on the ast)."""
        calls = {id(site.node) for site in ast_shapes.calls_named(tree, GROWING_NAMES)}
        if not calls:
            return False
        for site in ast_shapes.in_loops(ast_shapes.shapes(tree).of(ast.Assign)):
            node = site.node
            if len(node.targets) != 1 or id(node.value) not in calls:
                continue
            target = ast_shapes.dotted_name(node.targets[0])
            if target is None or target not in _ast_argument_spellings(node.value):
                continue
            loop = _ast_innermost_loop(site.loop, node)
            if loop is not None and not _ast_rebound_elsewhere(loop, node, target, calls):
                return True
        return False

    def visit_Assign(self, node: cst.Assign) -> None:
        if len(node.targets) != 1 or not isinstance(node.value, cst.Call):
            return
        target = dotted_name(node.targets[0].target)
        # A cheap spelling test first: resolving what the called function is costs far more.
        if target is None or target not in _argument_spellings(node.value):
            return
        grown = self._grown_by(node.value)
        if grown is None or target not in grown[0]:
            return
        if grown[0] == {target}:
            # `audio = np.concatenate([audio, audio])` doubles it: geometric growth copies O(n) in all.
            return
        loops = enclosing_loops(self, node)
        if not loops or self._rebound_elsewhere(loops[0], node, target):
            return
        function = cst.Module(body=[]).code_for_node(node.value.func)
        self.report(
            node,
            f"`{target}` is grown by `{function}` on every iteration, which copies everything accumulated so far "
            f"(quadratic); append the pieces to a list and call `{grown[1]}` once after the loop",
        )

    def _grown_by(self, call: cst.Call) -> Optional[tuple[set[str], str]]:
        """The spellings of the objects ``call`` concatenates and the once-after-the-loop call to suggest."""
        names = qualified_names_among(self, call.func, GROWING_FUNCTIONS)
        for qualified, suggestion in SEQUENCE_CONCATS.items():
            if qualified in names:
                pieces = argument(call, 0, PIECES_KEYWORD.get(qualified.split(".")[0], ""))
                if isinstance(pieces, (cst.List, cst.Tuple)):
                    return {dotted_name(element.value) or "" for element in pieces.elements}, suggestion
                return None
        for qualified, suggestion in APPEND.items():
            if qualified in names:
                grown = {dotted_name(value) or "" for value in (argument(call, 0, "arr"), argument(call, 1, "values")) if value}
                return grown, suggestion
        return None

    def _rebound_elsewhere(self, loop: cst.CSTNode, statement: cst.Assign, target: str) -> bool:
        """Whether another statement in ``loop`` assigns ``target`` (so it does not grow across iterations)."""
        for node in walk_same_scope(loop):
            if isinstance(node, cst.Assign) and node is not statement:
                bound = {name for t in node.targets for name in _bound_spellings(t.target)}
                if target in bound and not self._grown_by_same(node, target):
                    return True
            elif isinstance(node, (cst.AnnAssign, cst.AugAssign)) and dotted_name(node.target) == target:
                return True
            elif isinstance(node, cst.For) and target in _bound_spellings(node.target):
                # Also ``loop`` itself: `for row in rows: row = np.append(row, pad)` extends each row once.
                return True
        return False

    def _grown_by_same(self, node: cst.Assign, target: str) -> bool:
        """Whether ``node`` is itself a growing concatenation of ``target``."""
        if not isinstance(node.value, cst.Call):
            return False
        grown = self._grown_by(node.value)
        return grown is not None and target in grown[0]


def _argument_spellings(call: cst.Call) -> set[str]:
    """The names and attributes passed to ``call``, alone or as elements of a list or tuple argument."""
    spellings = set()
    for arg in call.args:
        values = [element.value for element in arg.value.elements] if isinstance(arg.value, (cst.List, cst.Tuple)) else [arg.value]
        spellings.update(name for name in map(dotted_name, values) if name is not None)
    return spellings


def _ast_argument_spellings(call: ast.Call) -> set[str]:
    """``_argument_spellings`` on Python's ast."""
    spellings = set()
    for value in ast_shapes.argument_values(call):
        values = value.elts if isinstance(value, (ast.List, ast.Tuple)) else [value]
        spellings.update(name for name in map(ast_shapes.dotted_name, values) if name is not None)
    return spellings


def _ast_innermost_loop(outermost: ast.AST, statement: ast.stmt) -> Optional[ast.AST]:
    """The innermost loop under ``outermost`` whose body or ``else`` runs ``statement`` in the same scope
    (the first of ``enclosing_loops`` on the ast), else None."""
    path = ast_shapes.paths(outermost, [statement]).get(id(statement), [])
    for parent, child in zip(reversed(path[:-1]), reversed(path[1:])):
        if isinstance(parent, AST_SCOPES):
            return None
        if isinstance(parent, ast_shapes.LOOP_TYPES) and (child in parent.body or child in parent.orelse):
            return parent
    return None


def _ast_rebound_elsewhere(loop: ast.AST, statement: ast.Assign, target: str, growing_calls: set[int]) -> bool:
    """Whether ``loop`` certainly rebinds ``target`` besides ``statement``, as ``_rebound_elsewhere`` decides:
    an assignment that is not a concatenating call with ``target`` among its arguments, an annotated or
    augmented assignment, or a ``for`` target."""
    stack = [loop]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Assign) and node is not statement:
            bound = {name for each in node.targets for name in _ast_bound_spellings(each)}
            maybe_growing = id(node.value) in growing_calls and target in _ast_argument_spellings(node.value)
            if target in bound and not maybe_growing:
                return True
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and ast_shapes.dotted_name(node.target) == target:
            return True
        elif isinstance(node, (ast.For, ast.AsyncFor)) and target in _ast_bound_spellings(node.target):
            return True
        if node is loop or not isinstance(node, AST_SCOPES):
            stack.extend(ast.iter_child_nodes(node))
    return False


def _ast_bound_spellings(target: ast.expr) -> list[str]:
    """``_bound_spellings`` on Python's ast."""
    if isinstance(target, (ast.Tuple, ast.List)):
        return [name for element in target.elts for name in _ast_bound_spellings(element)]
    if isinstance(target, ast.Starred):
        return _ast_bound_spellings(target.value)
    name = ast_shapes.dotted_name(target)
    return [name] if name is not None else []


def _bound_spellings(target: cst.BaseExpression) -> list[str]:
    """The names and attributes an assignment target binds, through tuple and list unpacking
    (`samples, mid = controlnet(...)` rebinds `mid`, seen in diffusers' pipelines)."""
    if isinstance(target, (cst.Tuple, cst.List)):
        return [name for element in target.elements for name in _bound_spellings(element.value)]
    name = dotted_name(target)
    return [name] if name is not None else []
