"""PFL204 growing-concat-in-loop."""

from __future__ import annotations

import ast
import bisect
from typing import Iterable, Optional

import libcst as cst
from libcst.metadata import ParentNodeProvider, PositionProvider, QualifiedNameProvider

from perflint.analysis import ast_shapes
from perflint.analysis.names import argument, dotted_name, qualified_names_among
from perflint.analysis.training_loop import enclosing_loops
from perflint.rule import Invalid, Rule, RuleContext, Valid
from perflint.traversal import ast_children
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
# The key prefix of a dotted target's root used whole: `f(self)`, `self.step()`.
ROOT_USE = "root:"
# Where a statement is no longer run by the loops around it, on Python's ast.
AST_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


class GrowingConcatInLoop(Rule):
    """
    ## What it does
    Finds one object grown by concatenation inside a loop: `X = pd.concat([X, piece])`,
    `X = np.concatenate([X, piece])` (also `np.vstack` / `np.hstack`), `X = np.append(X, piece)`,
    `X = torch.cat([X, piece])` (also `torch.vstack` / `torch.hstack`), with `X` the same name or
    attribute on both sides. The functions are resolved by qualified name (`import numpy as np`, `from
    torch import cat`). It reports only where the loop never reads `X` other than to grow it, so that
    concatenating once after the loop gives the same result.

    Where the loop reads `X` (autoregressive decoding, `idx = torch.cat((idx, nxt), 1)` after
    `logits = model(idx)`; DenseNet-style blocks feeding all features so far to the next layer; a frame
    whose last row starts the next window), it cannot be concatenated once after the loop and nothing is
    reported. A preallocated buffer written in place (`buf[:, t] = nxt`, reading `buf[:, :t]`) would avoid
    the copies there, but is exact only when the final size, dtype and device are known before the loop,
    which the code rarely shows; perflint does not suggest it. On a held-out sweep of eleven ML
    repositories (issue #13), 14 of the 37 findings before this check were such loops.

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
    growth through a helper function or `X = f([*parts, X])` is not. Any other use of `X` in the loop
    (a read, a rebinding, a use in a nested function) silences the report, and for an attribute `self.X`
    so does any method call on `self` or any bare use of `self` in the loop, since either may read it.

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
    # `cat` alone is in too many words; a call of it is spelled `cat(` or `cat (`, and an alias `cat as x`.
    required_tokens = ("concat", "append", "cat(", "cat (", "cat as", "stack")
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
        Valid(
            """
            import torch
            def generate(model, idx, steps):
                for _ in range(steps):
                    logits = model(idx)
                    idx = torch.cat((idx, logits[:, -1:].argmax(-1)), dim=1)
                return idx
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
        loop running it uses the target nowhere else (as ``leave_Module`` decides, on Python's ast: one walk of
        each outermost loop holding such a statement)."""
        calls = {id(site.node) for site in ast_shapes.calls_named(tree, GROWING_NAMES)}
        if not calls:
            return False
        candidates: dict[int, tuple[ast.AST, list[tuple[ast.Assign, str]]]] = {}
        for site in ast_shapes.in_loops(ast_shapes.shapes(tree).of(ast.Assign)):
            node = site.node
            if not isinstance(node, ast.Assign) or len(node.targets) != 1 or id(node.value) not in calls:
                continue
            target = ast_shapes.dotted_name(node.targets[0])
            if site.loop is not None and isinstance(node.value, ast.Call) and target in _ast_argument_spellings(node.value):
                candidates.setdefault(id(site.loop), (site.loop, []))[1].append((node, target))
        for outermost, statements in candidates.values():
            uses, innermost = _ast_loop_uses(outermost, statements)
            for statement, target in statements:
                loop = innermost.get(id(statement))
                if loop is not None and not uses.read_in(loop, target):
                    return True
        return False

    def __init__(self, context: RuleContext) -> None:
        super().__init__(context)
        self._uses = LoopUses()
        # Names that are no variable: the `attr` of `a.attr`, the keyword of `f(x=...)`.
        self._not_variables: set[int] = set()
        # Growing statements: (statement, target, innermost loop, function spelled, suggested function).
        self._candidates: list[tuple[cst.Assign, str, cst.CSTNode, str, str]] = []

    def visit_For(self, node: cst.For) -> None:
        self._uses.enter_loop()

    def leave_For(self, original_node: cst.For) -> None:
        self._uses.leave_loop(original_node)

    def visit_While(self, node: cst.While) -> None:
        self._uses.enter_loop()

    def leave_While(self, original_node: cst.While) -> None:
        self._uses.leave_loop(original_node)

    def visit_Name(self, node: cst.Name) -> None:
        if self._uses.in_loop and id(node) not in self._not_variables:
            self._uses.name(node.value, node, bare=id(node) not in self._uses.attribute_bases)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if self._uses.in_loop:
            self._not_variables.add(id(node.attr))
            self._uses.attribute(dotted_name(node), node, node.value)

    def visit_Arg(self, node: cst.Arg) -> None:
        if self._uses.in_loop and node.keyword is not None:
            self._not_variables.add(id(node.keyword))

    def visit_Call(self, node: cst.Call) -> None:
        if self._uses.in_loop and isinstance(node.func, cst.Attribute):
            self._uses.method_call(dotted_name(node.func.value), node)

    def visit_Assign(self, node: cst.Assign) -> None:
        if not self._uses.in_loop or len(node.targets) != 1 or not isinstance(node.value, cst.Call):
            return
        target = dotted_name(node.targets[0].target)
        # A cheap spelling test first: resolving what the called function is costs far more.
        if target is None or target not in _argument_spellings(node.value):
            return
        grown = self._grown_by(node.value)
        if grown is None:
            return
        spellings = {spelling for spelling, _ in grown[0]}
        if target not in spellings:
            return
        if spellings == {target}:
            # `audio = np.concatenate([audio, audio])` doubles it: geometric growth copies O(n) in all.
            return
        loops = enclosing_loops(self, node)
        if not loops:
            return
        self._uses.growth(node.targets[0].target, [piece for spelling, piece in grown[0] if spelling == target])
        function = cst.Module(body=[]).code_for_node(node.value.func)
        self._candidates.append((node, target, loops[0], function, grown[1]))

    def leave_Module(self, original_node: cst.Module) -> None:
        for node, target, loop, function, suggestion in self._candidates:
            if self._uses.read_in(loop, target):
                # `idx = torch.cat((idx, idx_next), 1)` after `logits = model(idx)`: the grown object is read
                # (or rebound) in the loop, so it cannot be concatenated once after it.
                continue
            self.report(node, _message(target, function, suggestion))

    def _grown_by(self, call: cst.Call) -> Optional[tuple[set[tuple[str, cst.CSTNode]], str]]:
        """The spellings (with their nodes) of the objects ``call`` concatenates, and the call to suggest."""
        names = qualified_names_among(self, call.func, GROWING_FUNCTIONS)
        for qualified, suggestion in SEQUENCE_CONCATS.items():
            if qualified in names:
                pieces = argument(call, 0, PIECES_KEYWORD.get(qualified.split(".")[0], ""))
                if isinstance(pieces, (cst.List, cst.Tuple)):
                    return {(dotted_name(element.value) or "", element.value) for element in pieces.elements}, suggestion
                return None
        for qualified, suggestion in APPEND.items():
            if qualified in names:
                values = (argument(call, 0, "arr"), argument(call, 1, "values"))
                return {(dotted_name(value) or "", value) for value in values if value}, suggestion
        return None


def _message(target: str, function: str, suggestion: str) -> str:
    """At most 100 characters: long spellings are cut, and the advice shortened or dropped before the problem."""
    message = f"`{_short(target)}` grown by `{_short(function)}` in a loop is copied whole each pass"
    for advice in (f"; `{suggestion}` once after the loop", "; concatenate once after the loop"):
        if len(message + advice) <= 100:
            return message + advice
    return message


def _short(spelling: str, limit: int = 24) -> str:
    return spelling if len(spelling) <= limit else spelling[: limit - 3] + "..."


class LoopUses:
    """Where each name and dotted attribute is used inside loops, to ask "does this loop use X other than to
    grow it?" without walking the loop again.

    One counter ticks at every loop boundary and every recorded use, so "inside a loop" is "between the
    loop's two ticks", found by bisection: the cost of all questions is linear in the uses they skip.
    """

    def __init__(self) -> None:
        self._tick = 0
        self._open: list[int] = []
        self._spans: dict[int, tuple[int, int]] = {}
        # spelling -> [(tick, node id)] in tick order; a dotted target's root used whole (`f(self)`) or as
        # a method's receiver (`self.step()`) is recorded under ROOT_USE + root.
        self._uses: dict[str, list[tuple[int, int]]] = {}
        self._growth: set[int] = set()
        self.attribute_bases: set[int] = set()

    @property
    def in_loop(self) -> bool:
        return bool(self._open)

    def enter_loop(self) -> None:
        self._tick += 1
        self._open.append(self._tick)

    def leave_loop(self, loop: object) -> None:
        self._tick += 1
        self._spans[id(loop)] = (self._open.pop(), self._tick)

    def name(self, spelling: str, node: object, bare: bool) -> None:
        """A Name; ``bare`` when it is not the object of an attribute access."""
        self._use(spelling, node)
        if bare:
            self._use(ROOT_USE + spelling, node)

    def attribute(self, spelling: Optional[str], node: object, value: object) -> None:
        self.attribute_bases.add(id(value))
        if spelling is not None:
            self._use(spelling, node)

    def method_call(self, receiver: Optional[str], node: object) -> None:
        """``receiver.method(...)``: the method may read any attribute of the receiver's root."""
        if receiver is not None:
            self._use(ROOT_USE + receiver.split(".", 1)[0], node)

    def growth(self, target: object, pieces: Iterable[object]) -> None:
        """The target and grown pieces of a growing statement: uses that are not reads."""
        self._growth.add(id(target))
        self._growth.update(id(piece) for piece in pieces)

    def _use(self, spelling: str, node: object) -> None:
        self._tick += 1
        self._uses.setdefault(spelling, []).append((self._tick, id(node)))

    def read_in(self, loop: object, target: str) -> bool:
        """Whether ``loop`` uses ``target`` other than as the target or a piece of a growing statement; for
        `a.b`, also whether it uses `a` whole or calls a method of it."""
        start, end = self._spans[id(loop)]
        if self._used_between(target, start, end):
            return True
        # `self.out = torch.cat([self.out, y])` beside `self.step()`: a method may read `self.out`.
        return "." in target and self._used_between(ROOT_USE + target.split(".", 1)[0], start, end)

    def _used_between(self, spelling: str, start: int, end: int) -> bool:
        uses = self._uses.get(spelling, [])
        for tick, node_id in uses[bisect.bisect_right(uses, (start, -1)):]:
            if tick >= end:
                return False
            if node_id not in self._growth:
                return True
        return False


def _ast_loop_uses(outermost: ast.AST, statements: list[tuple[ast.Assign, str]]) -> tuple[LoopUses, dict[int, ast.AST]]:
    """LoopUses of ``outermost`` (one walk), and the innermost loop whose body or ``else`` runs each statement
    in the same scope. Pieces spelled like the target in every candidate statement count as growth (the ast
    cannot resolve which calls really concatenate: it errs towards "maybe reported")."""
    uses = LoopUses()
    for statement, target in statements:
        if not isinstance(statement.value, ast.Call):  # could_match passes growing calls only
            continue
        pieces = [value for argument_value in ast_shapes.argument_values(statement.value)
                  for value in (argument_value.elts if isinstance(argument_value, (ast.List, ast.Tuple)) else [argument_value])
                  if ast_shapes.dotted_name(value) == target]
        uses.growth(statement.targets[0], pieces)
    wanted = {id(statement) for statement, _ in statements}
    innermost: dict[int, ast.AST] = {}
    # (node, innermost loop running it, whether leaving) ; a loop is left after all its children.
    stack: list[tuple[ast.AST, Optional[ast.AST], bool]] = [(outermost, None, False)]
    while stack:
        node, loop, leaving = stack.pop()
        if leaving:
            uses.leave_loop(node)
            continue
        if id(node) in wanted and loop is not None:
            innermost[id(node)] = loop
        if isinstance(node, ast.Name):
            uses.name(node.id, node, bare=id(node) not in uses.attribute_bases)
        elif isinstance(node, ast.Attribute):
            uses.attribute(ast_shapes.dotted_name(node), node, node.value)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            uses.method_call(ast_shapes.dotted_name(node.func.value), node)
        children = ast_children(node)
        if isinstance(node, ast_shapes.LOOP_TYPES):
            uses.enter_loop()
            stack.append((node, loop, True))
            inside = {id(child) for child in (*node.body, *node.orelse)}
            stack.extend((child, node if id(child) in inside else loop, False) for child in reversed(children))
            continue
        if isinstance(node, AST_SCOPES):
            loop = None
        stack.extend((child, loop, False) for child in reversed(children))
    return uses, innermost


def _argument_spellings(call: cst.Call) -> set[str]:
    """The names and attributes passed to ``call``, alone or as elements of a list or tuple argument."""
    spellings: set[str] = set()
    for arg in call.args:
        values = [element.value for element in arg.value.elements] if isinstance(arg.value, (cst.List, cst.Tuple)) else [arg.value]
        spellings.update(name for name in map(dotted_name, values) if name is not None)
    return spellings


def _ast_argument_spellings(call: ast.Call) -> set[str]:
    """``_argument_spellings`` on Python's ast."""
    spellings: set[str] = set()
    for value in ast_shapes.argument_values(call):
        values = value.elts if isinstance(value, (ast.List, ast.Tuple)) else [value]
        spellings.update(name for name in map(ast_shapes.dotted_name, values) if name is not None)
    return spellings
