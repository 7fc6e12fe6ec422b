"""PFL301 index-pairing-loop."""

from __future__ import annotations

import ast
from typing import Optional

import libcst as cst
from libcst.metadata import BuiltinAssignment, ParentNodeProvider, PositionProvider, QualifiedNameProvider, ScopeProvider

from perflint.analysis import ast_shapes
from perflint.analysis.dataflow import fresh_name, read_after
from perflint.analysis.names import is_call_to, qualified_names
from perflint.analysis.syntax import DEFERRED, is_plain_read, variable_names, walk_same_scope
from perflint.analysis.training_loop import scope_of
from perflint.rule import Invalid, Rewrite, Rule, Valid
from perflint.types import Applicability, FixSafety, MetricImpact

RANGE = frozenset({"builtins.range"})
LEN = frozenset({"builtins.len"})
LIST_MAKERS = frozenset({"builtins.list", "builtins.sorted"})
TUPLE_MAKERS = frozenset({"builtins.tuple"})
LIST_TYPES = frozenset({"builtins.list", "typing.List"})
TUPLE_TYPES = frozenset({"builtins.tuple", "typing.Tuple"})
CURRENT, NEXT = "current", "next"
# Plural-looking names whose singular is not the name minus its "s".
IRREGULAR = frozenset({"series", "species", "news", "means", "bias", "alias", "canvas"})


class IndexPairingLoop(Rule):
    """
    ## What it does
    Finds `for i in range(len(x) - 1):` (or `range(0, len(x) - 1)`) whose body uses `i` only to read
    `x[i]` and `x[i + 1]`, uses `x` only through those reads, and whose `i` is not read after the loop.

    ## Why is this bad?
    The loop pairs neighbours through two index lookups per step and hides that intent. `zip(x, x[1:])`
    says it directly and is faster: 1.47x on a list of 100,000 floats and 1.44x on an ndarray; on a
    pandas Series each `x[i]` goes through label lookup, and the index loop was 21x slower than `zip`
    (`benchmarks/bench_index_pairing.py`, CPU). On a Series or an array the rewrite is not exact (see
    Fix safety), and a vectorised `np.diff(x)` / `s.diff()` is the real remedy there.

    ## Example
    ```python
    for i in range(len(prices) - 1):
        returns.append(prices[i + 1] / prices[i] - 1)
    ```

    ## Use instead
    ```python
    for price, next_price in zip(prices, prices[1:]):
        returns.append(next_price / price - 1)
    ```

    ## Fix safety
    The fix writes `zip(x, x[1:])`, which runs on every Python version (`itertools.pairwise(x)` would
    avoid copying the slice but needs Python 3.10 and an import; the copy costs less than the index
    lookups it replaces). The pair's names come from `x` (`prices` -> `price`, `next_price`; otherwise
    `item`, `next_item` when the name is no plain plural), made fresh so they shadow nothing. Safe when `x` is known to be a list or a
    tuple (every binding in its scope is a list or tuple display, a list comprehension, `list(...)`,
    `sorted(...)` or `tuple(...)`, or a parameter annotated `list[...]` / `tuple[...]`) and cannot change
    during the loop: a tuple; a list that is only ever bound to fresh values and never passed, returned,
    stored or aliased anywhere in the function; or any such list when the loop body makes no call and
    never yields or awaits. Unsafe otherwise: a pandas Series indexes by *label* (`x[i]` on a
    Series with a date index raises `KeyError`, or reads the wrong rows on a shuffled integer index) while
    `zip` iterates by position; `x[1:]` on a numpy array is a view, so a write to `x` inside the loop
    shows in the pairs differently; a dict's `x[i]` is a key lookup while `zip` iterates its keys; and a
    list mutated during the loop gives different pairs (`range` is fixed when the loop starts).

    ## Metric impact
    Identical: the same elements are paired in the same order.

    ## Known problems
    Annotations are trusted: a `list`-annotated parameter that receives a Series at run time gets a safe
    fix it should not. Only the exact shapes `x[i]` / `x[i + 1]` / `x[1 + i]` are recognised, and `x` must
    be a plain name. Element operators (`x[i + 1] - x[i]`) are assumed not to mutate `x`.

    ## Options
    None.

    ## References
    - Python documentation, `zip` and `itertools.pairwise`.
    - pandas user guide, "Indexing and selecting data": `[]` on a Series is label-based.
    """

    code = "PFL301"
    name = "index-pairing-loop"
    message = "index loop that pairs neighbouring elements"
    fix_title = "Iterate `zip(x, x[1:])`"
    fix_safety = FixSafety.SOMETIMES_SAFE
    metric_impact = MetricImpact.IDENTICAL
    required_tokens = ("range(",)
    METADATA_DEPENDENCIES = (PositionProvider, ParentNodeProvider, QualifiedNameProvider, ScopeProvider)

    valid = (
        Valid(
            """
            def steps(x):
                for i in range(len(x) - 1):
                    print(i, x[i], x[i + 1])
            """
        ),
        Valid(
            """
            def steps(x):
                for i in range(len(x) - 1):
                    x[i] = x[i + 1]
            """
        ),
        Valid(
            """
            def steps(x):
                for i in range(len(x) - 1):
                    d = x[i + 1] - x[i]
                return i
            """
        ),
        Valid(
            """
            def steps(x):
                for i in range(len(x) - 1):
                    print(x[i])
            """
        ),
    )
    invalid = (
        Invalid(
            """
            def returns(prices: list[float]) -> list[float]:
                out = []
                for i in range(len(prices) - 1):
                    out.append(prices[i + 1] / prices[i] - 1)
                return out
            """,
            fixed="""
            def returns(prices: list[float]) -> list[float]:
                out = []
                for price, next_price in zip(prices, prices[1:]):
                    out.append(next_price / price - 1)
                return out
            """,
            applicability=Applicability.UNSAFE,
            message_contains="`zip(prices, prices[1:])`",
        ),
        Invalid(
            """
            def gaps(values):
                points = sorted(values)
                widest = 0
                for i in range(len(points) - 1):
                    widest = max(widest, points[i + 1] - points[i])
                return widest
            """,
            fixed="""
            def gaps(values):
                points = sorted(values)
                widest = 0
                for point, next_point in zip(points, points[1:]):
                    widest = max(widest, next_point - point)
                return widest
            """,
        ),
        Invalid(
            """
            def deltas(series):
                total = 0.0
                for j in range(0, len(series) - 1):
                    total += abs(series[1 + j] - series[j])
                return total
            """,
            fixed="""
            def deltas(series):
                total = 0.0
                for item, next_item in zip(series, series[1:]):
                    total += abs(next_item - item)
                return total
            """,
            applicability=Applicability.UNSAFE,
            message_contains="not known to be a list or tuple",
        ),
    )

    @classmethod
    def could_match(cls, tree: ast.Module) -> bool:
        """Whether ``tree`` has a plain ``for <name> in f(<a>, <b> - ...)`` / ``f(<b> - ...)`` whose ``<b>`` is a
        one-argument call of a name: ``_ranged_sequence``'s shape with neither callee resolved."""
        return any(
            isinstance(site.node.target, ast.Name) and _ast_may_be_ranged(site.node.iter)
            for site in ast_shapes.shapes(tree).of(ast.For)
        )

    def visit_For(self, node: cst.For) -> None:
        if node.asynchronous is not None or not isinstance(node.target, cst.Name):
            return
        sequence = self._ranged_sequence(node.iter)
        if sequence is None:
            return
        reads = self._pair_reads(node, node.target.value, sequence)
        if reads is None or read_after(self, node.target, node):
            return
        if not self._zip_visible(node):
            self.report(node, self._message(sequence, "`zip` is rebound here, so no fix"))
            return
        reason = self._unsafe_reason(node, sequence)
        message = self._message(sequence, None if reason is None else f"fix unsafe: {reason}")
        self.report(node, message, rewrite=self._rewrite(node, sequence, reads, reason))

    def _ranged_sequence(self, iterable: cst.BaseExpression) -> Optional[str]:
        """``x`` in ``range(len(x) - 1)`` / ``range(0, len(x) - 1)``, else None."""
        if not is_call_to(self, iterable, RANGE) or any(arg.keyword or arg.star for arg in iterable.args):
            return None
        args = [arg.value for arg in iterable.args]
        if len(args) == 2 and isinstance(args[0], cst.Integer) and args[0].evaluated_value == 0:
            args = args[1:]
        if len(args) != 1:
            return None
        stop = args[0]
        if not (
            isinstance(stop, cst.BinaryOperation)
            and isinstance(stop.operator, cst.Subtract)
            and _is_one(stop.right)
            and is_call_to(self, stop.left, LEN)
            and len(stop.left.args) == 1
            and isinstance(stop.left.args[0].value, cst.Name)
        ):
            return None
        return stop.left.args[0].value.value

    def _pair_reads(self, loop: cst.For, index: str, sequence: str) -> Optional[list[tuple[cst.Subscript, str]]]:
        """Every ``x[i]`` / ``x[i + 1]`` read in the loop with its role, or None if ``i`` or ``x`` is used otherwise."""
        reads: list[tuple[cst.Subscript, str]] = []
        for block in (loop.body, loop.orelse):
            if block is None:
                continue
            for name in variable_names(block):
                if name.value not in (index, sequence):
                    continue
                read = self._pair_read(name, loop, index, sequence)
                if read is None:
                    return None
                if all(read[0] is not seen for seen, _role in reads):
                    reads.append(read)
        roles = {role for _subscript, role in reads}
        return reads if roles == {CURRENT, NEXT} else None

    def _pair_read(self, name: cst.Name, loop: cst.For, index: str, sequence: str) -> Optional[tuple[cst.Subscript, str]]:
        """The subscript ``x[i]`` / ``x[i + 1]`` that ``name`` (an ``i`` or an ``x``) belongs to, if it is one."""
        parent = self.get_metadata(ParentNodeProvider, name)
        if name.value == sequence:
            subscript = parent if isinstance(parent, cst.Subscript) and parent.value is name else None
        else:
            if isinstance(parent, cst.BinaryOperation):
                parent = self.get_metadata(ParentNodeProvider, parent)
            subscript = self._subscript_of_index(parent)
        if subscript is None or not isinstance(subscript.value, cst.Name) or subscript.value.value != sequence:
            return None
        role = _role(subscript, index)
        if role is None or not is_plain_read(self, subscript, loop):
            return None
        return subscript, role

    def _subscript_of_index(self, node: cst.CSTNode) -> Optional[cst.Subscript]:
        if not isinstance(node, cst.Index):
            return None
        element = self.get_metadata(ParentNodeProvider, node)
        subscript = self.get_metadata(ParentNodeProvider, element)
        return subscript if isinstance(subscript, cst.Subscript) else None

    def _zip_visible(self, node: cst.CSTNode) -> bool:
        scope = scope_of(self, node)
        return scope is not None and all(isinstance(a, BuiltinAssignment) for a in scope.assignments["zip"])

    def _unsafe_reason(self, loop: cst.For, sequence: str) -> Optional[str]:
        """Why ``zip(x, x[1:])`` may differ here, or None when ``x`` is a list or tuple that cannot change."""
        scope = scope_of(self, loop)
        kinds = self._binding_kinds(scope, sequence) if scope is not None else []
        if not kinds or None in kinds:
            return f"`{sequence}` is not known to be a list or tuple (a Series indexes by label)"
        if set(kinds) == {"tuple"}:
            return None
        if "param" not in kinds and self._unshared(loop, sequence):
            return None
        if not any(isinstance(node, (cst.Call, cst.Yield, cst.Await)) for node in walk_same_scope(loop.body)):
            return None
        return f"a call in the loop might change the list `{sequence}`"

    def _binding_kinds(self, scope, name: str) -> list[Optional[str]]:
        """``"tuple"``, ``"list"`` or ``"param"`` (an annotated list parameter) per binding; None if unknown."""
        kinds: list[Optional[str]] = []
        for assignment in scope.assignments[name]:
            target = getattr(assignment, "node", None)
            kinds.append(self._binding_kind(target))
        return kinds

    def _binding_kind(self, target: object) -> Optional[str]:
        if isinstance(target, cst.Param):
            annotation = target.annotation.annotation if target.annotation is not None else None
            kind = self._annotated_kind(annotation) if annotation is not None else None
            return "param" if kind == "list" else kind
        if not isinstance(target, cst.CSTNode):
            return None
        parent = self.get_metadata(ParentNodeProvider, target)
        if isinstance(parent, cst.AssignTarget) and parent.target is target:
            return self._value_kind(self.get_metadata(ParentNodeProvider, parent).value)
        if isinstance(parent, cst.AnnAssign) and parent.target is target and parent.value is not None:
            return self._value_kind(parent.value)
        return None

    def _value_kind(self, value: cst.BaseExpression) -> Optional[str]:
        if isinstance(value, (cst.List, cst.ListComp)):
            return "list"
        if isinstance(value, cst.Tuple):
            return "tuple"
        if is_call_to(self, value, LIST_MAKERS):
            return "list"
        if is_call_to(self, value, TUPLE_MAKERS):
            return "tuple"
        return None

    def _annotated_kind(self, annotation: cst.BaseExpression) -> Optional[str]:
        base = annotation.value if isinstance(annotation, cst.Subscript) else annotation
        names = qualified_names(self, base)
        if not names.isdisjoint(LIST_TYPES):
            return "list"
        if not names.isdisjoint(TUPLE_TYPES):
            return "tuple"
        return None

    def _unshared(self, loop: cst.For, sequence: str) -> bool:
        """Whether every use of ``x`` in its function reads or mutates it in place (no alias can exist)."""
        root = self._scope_root(loop)
        for name in variable_names(root):
            if name.value != sequence or self._is_binding(name):
                continue
            parent = self.get_metadata(ParentNodeProvider, name)
            if self._in_nested_scope(name, root):
                return False
            if isinstance(parent, cst.Subscript) and parent.value is name:
                continue
            if isinstance(parent, cst.Attribute) and parent.value is name:
                continue
            if isinstance(parent, cst.Arg) and is_call_to(self, self.get_metadata(ParentNodeProvider, parent), LEN):
                continue
            return False
        return True

    def _is_binding(self, name: cst.Name) -> bool:
        parent = self.get_metadata(ParentNodeProvider, name)
        return (isinstance(parent, cst.AssignTarget) and parent.target is name) or (
            isinstance(parent, (cst.AnnAssign, cst.Param)) and getattr(parent, "target", getattr(parent, "name", None)) is name
        )

    def _in_nested_scope(self, node: cst.CSTNode, root: cst.CSTNode) -> bool:
        current = self.get_metadata(ParentNodeProvider, node)
        while current is not root:
            if isinstance(current, DEFERRED):
                return True
            current = self.get_metadata(ParentNodeProvider, current)
        return False

    def _scope_root(self, node: cst.CSTNode) -> cst.CSTNode:
        current = self.get_metadata(ParentNodeProvider, node)
        while not isinstance(current, (cst.FunctionDef, cst.Module)):
            current = self.get_metadata(ParentNodeProvider, current)
        return current

    def _message(self, sequence: str, note: Optional[str]) -> str:
        message = (
            f"`range(len({sequence}) - 1)` loop that only pairs `{sequence}[i]` with `{sequence}[i + 1]`: "
            f"iterate `zip({sequence}, {sequence}[1:])`"
        )
        return message if note is None else f"{message} ({note})"

    def _rewrite(
        self, loop: cst.For, sequence: str, reads: list[tuple[cst.Subscript, str]], reason: Optional[str]
    ) -> Rewrite:
        singular = _singular(sequence) or "item"
        current = fresh_name(self, loop, singular)
        following = fresh_name(self, loop, f"next_{singular}", avoid=(current,))
        names = {CURRENT: current, NEXT: following}
        target = cst.Tuple(
            elements=[cst.Element(cst.Name(current)), cst.Element(cst.Name(following))], lpar=[], rpar=[]
        )
        pairs = cst.Call(
            func=cst.Name("zip"),
            args=[
                cst.Arg(cst.Name(sequence)),
                cst.Arg(cst.Subscript(cst.Name(sequence), [cst.SubscriptElement(cst.Slice(lower=cst.Integer("1"), upper=None))])),
            ],
        )
        changes = [Rewrite.replace(loop.target, target), Rewrite.replace(loop.iter, pairs)]
        changes += [Rewrite.replace(subscript, cst.Name(names[role])) for subscript, role in reads]
        applicability = Applicability.SAFE if reason is None else Applicability.UNSAFE
        return Rewrite(applicability, tuple(changes), title=f"Iterate `zip({sequence}, {sequence}[1:])`")


def _role(subscript: cst.Subscript, index: str) -> Optional[str]:
    """``"current"`` for ``x[i]``, ``"next"`` for ``x[i + 1]`` / ``x[1 + i]``, else None."""
    if len(subscript.slice) != 1 or not isinstance(subscript.slice[0].slice, cst.Index):
        return None
    key = subscript.slice[0].slice.value
    if isinstance(key, cst.Name) and key.value == index:
        return CURRENT
    if isinstance(key, cst.BinaryOperation) and isinstance(key.operator, cst.Add):
        left, right = key.left, key.right
        if (isinstance(left, cst.Name) and left.value == index and _is_one(right)) or (
            isinstance(right, cst.Name) and right.value == index and _is_one(left)
        ):
            return NEXT
    return None


def _singular(plural: str) -> Optional[str]:
    """``prices`` -> ``price``, ``batches`` -> ``batch``; None where English plurals get hard (``series``, ``xs``)."""
    if plural.endswith(("ches", "shes", "xes", "sses")):
        return plural[:-2]
    if len(plural) > 3 and plural.endswith("s") and plural[-2] not in "siu" and plural not in IRREGULAR:
        return plural[:-1]
    return None


def _ast_may_be_ranged(iterable: ast.expr) -> bool:
    if not isinstance(iterable, ast.Call) or iterable.keywords or not 1 <= len(iterable.args) <= 2:
        return False
    stop = iterable.args[-1]
    if not (isinstance(stop, ast.BinOp) and isinstance(stop.op, ast.Sub)):
        return False
    length = stop.left
    return (
        isinstance(length, ast.Call)
        and ast_shapes.argument_count(length) == 1
        and isinstance(next(ast_shapes.argument_values(length)), ast.Name)
    )


def _is_one(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Integer) and node.evaluated_value == 1
