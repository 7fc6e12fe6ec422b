"""PFL301 index-pairing-loop."""

from __future__ import annotations

import ast
import itertools
from dataclasses import dataclass, field
from typing import Optional, cast

import libcst as cst
from libcst.metadata import BuiltinAssignment, ClassScope, ParentNodeProvider, PositionProvider, QualifiedNameProvider, ScopeProvider

from perflint.analysis import ast_shapes
from perflint.analysis.bindings import bound_value, scope_of, target_leaves
from perflint.analysis.dataflow import fresh_name, read_after
from perflint.analysis.names import is_call_to, qualified_names
from perflint.analysis.syntax import DeferredDepth
from perflint.rule import Invalid, Rewrite, Rule, RuleContext, Valid
from perflint.types import Applicability, FixSafety, MetricImpact

RANGE = frozenset({"builtins.range"})
LEN = frozenset({"builtins.len"})
LIST_MAKERS = frozenset({"builtins.list", "builtins.sorted"})
TUPLE_MAKERS = frozenset({"builtins.tuple"})
LIST_TYPES = frozenset({"builtins.list", "typing.List"})
TUPLE_TYPES = frozenset({"builtins.tuple", "typing.Tuple"})
CURRENT, NEXT = "current", "next"
# Builtins that run a generator passed as their only argument to the end, right away.
CONSUMERS = frozenset(
    f"builtins.{name}" for name in ("sum", "min", "max", "any", "all", "sorted", "list", "tuple", "set", "frozenset", "dict")
)
# Calls made by `range(len(x) - 1)` itself, counted with those of the loop's body.
ITERABLE_CALLS = 2
# Plural-looking names whose singular is not the name minus its "s".
IRREGULAR = frozenset({"series", "species", "news", "means", "bias", "alias", "canvas"})


class IndexPairingLoop(DeferredDepth, Rule):
    """
    ## What it does
    Finds `for i in range(len(x) - 1):` (or `range(0, len(x) - 1)`) whose body uses `i` only to read
    `x[i]` and `x[i + 1]`, uses `x` only through those reads, and whose `i` is not read after the loop.
    The same in list and set comprehensions and generator expressions with one `for`:
    `sum(x[i + 1] - x[i] for i in range(len(x) - 1))`.

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
    Comprehensions follow the same reasoning, with two more unsafe cases: a generator expression that is
    not the only argument of a builtin that runs it at once (`sum`, `min`, `max`, `any`, `all`, `sorted`,
    `list`, `tuple`, `set`, `frozenset`, `dict`), since `range(len(x) - 1)` and `x[1:]` are taken when
    the generator is created and `x` may change before it runs (`x.insert(0, v)` in between gives other
    pairs); and a comprehension in a class body, whose element cannot see the class's `x` (NameError)
    while `zip(x, x[1:])` is evaluated in the class scope and works.

    ## Metric impact
    Identical: the same elements are paired in the same order.

    ## Known problems
    Annotations are trusted: a `list`-annotated parameter that receives a Series at run time gets a safe
    fix it should not. Only the exact shapes `x[i]` / `x[i + 1]` / `x[1 + i]` are recognised, and `x` must
    be a plain name. Element operators (`x[i + 1] - x[i]`) are assumed not to mutate `x`. Comprehensions
    with more than one `for` are not checked.

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
    unsafe_when = "the sequence may not be a list or tuple (a Series indexes by label)"
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
            message_contains="`prices[i]` with `prices[i + 1]`",
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
            message_contains="(fix unsafe)",
        ),
        Invalid(
            """
            def increasing(readings):
                points = sorted(readings)
                return all(points[i] <= points[i + 1] for i in range(len(points) - 1))
            """,
            fixed="""
            def increasing(readings):
                points = sorted(readings)
                return all(point <= next_point for point, next_point in zip(points, points[1:]))
            """,
            message_contains="comprehension only pairs",
        ),
    )

    @classmethod
    def could_match(cls, tree: ast.Module) -> bool:
        """Whether ``tree`` has a plain ``for <name> in f(<a>, <b> - ...)`` / ``f(<b> - ...)`` whose ``<b>`` is a
        one-argument call of a name, in a statement or a comprehension: ``_ranged_sequence``'s shape with
        neither callee resolved."""
        shapes = ast_shapes.shapes(tree)
        loops = (site.node for site in shapes.of(ast.For))
        return any(
            isinstance(loop.target, ast.Name) and _ast_may_be_ranged(loop.iter)
            for loop in itertools.chain(loops, shapes.comprehensions())
        )

    def __init__(self, context: RuleContext) -> None:
        super().__init__(context)
        # Open candidates by index name and by sequence name: each Name met while one is open is classified
        # as it is visited (a pair read or not), so no loop body or function is walked again.
        self._by_index: dict[str, list[_Candidate]] = {}
        self._by_sequence: dict[str, list[_Candidate]] = {}
        self._open: dict[int, _Candidate] = {}
        self._closed: list[_Candidate] = []
        self.deferred = 0  # def / lambda / class bodies the visit is in (kept by DeferredDepth)
        self._roots: list[tuple[int, int]] = [(0, 0)]  # (function id, its depth); 0 is the module
        self._stores: set[int] = set()  # subscripts stored to or deleted: `x[i] = ...`
        self._bindings: set[int] = set()  # names bound by `=`, an annotation or a parameter
        self._not_variables: set[int] = set()  # `b` in `a.b`, `k` in `f(k=1)`
        self._pair_of: dict[int, tuple[cst.Subscript, str]] = {}  # Name in `x[i]` / `x[i + 1]` -> read, role
        self._in_place: set[int] = set()  # Names of `x[...]`, `x.attr`, `len(x)`
        self._shared: set[tuple[int, str]] = set()  # (function, name) used other than in place

    # ---------------------------------------------------------------------------------------------- candidates

    def visit_For(self, node: cst.For) -> None:
        self._mark_store(node.target)
        if node.asynchronous is None and isinstance(node.target, cst.Name):
            self._open_candidate(node, node.target, node.iter, "loop")

    def leave_For(self, original_node: cst.For) -> None:
        self._close_candidate(original_node)

    def visit_ListComp(self, node: cst.ListComp) -> None:
        self._comprehension(node)

    def leave_ListComp(self, original_node: cst.ListComp) -> None:
        self._close_candidate(original_node)

    def visit_SetComp(self, node: cst.SetComp) -> None:
        self._comprehension(node)

    def leave_SetComp(self, original_node: cst.SetComp) -> None:
        self._close_candidate(original_node)

    def visit_GeneratorExp(self, node: cst.GeneratorExp) -> None:
        self._comprehension(node)

    def leave_GeneratorExp(self, original_node: cst.GeneratorExp) -> None:
        self._close_candidate(original_node)

    def _comprehension(self, node: cst.BaseSimpleComp) -> None:
        for_in = node.for_in
        # [f(i) for i in range(len(x) - 1) for j in ...]: only one `for`, so the pairs are the only iteration.
        if for_in.inner_for_in is None and for_in.asynchronous is None and isinstance(for_in.target, cst.Name):
            self._open_candidate(node, for_in.target, for_in.iter, "comprehension")

    def _open_candidate(self, node: cst.CSTNode, target: cst.Name, iterable: cst.BaseExpression, kind: str) -> None:
        sequence = self._ranged_sequence(iterable)
        if sequence is None or target.value == sequence:
            return
        # The `x` of `len(x)` (its shape checked by _ranged_sequence) is no use in the body.
        stop = cast(cst.Call, iterable).args[-1].value
        length = cast(cst.Call, cast(cst.BinaryOperation, stop).left).args[0].value
        candidate = _Candidate(node, kind, target, iterable, target.value, sequence, self.deferred, {id(target), id(length)})
        self._open[id(node)] = candidate
        self._by_index.setdefault(candidate.index, []).append(candidate)
        self._by_sequence.setdefault(sequence, []).append(candidate)

    def _close_candidate(self, node: cst.CSTNode) -> None:
        candidate = self._open.pop(id(node), None)
        if candidate is None:
            return
        self._by_index[candidate.index].remove(candidate)
        self._by_sequence[candidate.sequence].remove(candidate)
        candidate.root = self._roots[-1][0]
        if candidate.pairs and {role for _subscript, role in candidate.reads} == {CURRENT, NEXT}:
            self._closed.append(candidate)

    def leave_Module(self, original_node: cst.Module) -> None:
        # Decided at the end: whether a list is shared needs every use of it in its function.
        for candidate in self._closed:
            self._check(candidate)

    def _check(self, candidate: _Candidate) -> None:
        node = candidate.node
        if candidate.kind == "loop" and read_after(self, candidate.target, node):
            # for i in range(len(x) - 1): ... then `return i`: the index outlives the loop.
            return
        if not self._zip_visible(node):
            self.report(node, self._message(candidate, "`zip` rebound: no fix"))
            return
        reason = self._unsafe_reason(candidate)
        message = self._message(candidate, None if reason is None else "fix unsafe")
        self.report(node, message, rewrite=self._rewrite(candidate, reason))

    # ---------------------------------------------------------------------------------------------- uses

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        super().visit_FunctionDef(node)
        self._roots.append((id(node), self.deferred))

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        super().leave_FunctionDef(original_node)
        self._roots.pop()

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._bindings.add(id(node.target))
        self._mark_store(node.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._bindings.add(id(node.target))
        self._mark_store(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._mark_store(node.target)

    def visit_Del(self, node: cst.Del) -> None:
        self._mark_store(node.target)

    def visit_Param(self, node: cst.Param) -> None:
        self._bindings.add(id(node.name))

    def _mark_store(self, target: cst.BaseExpression) -> None:
        self._stores.update(id(leaf) for leaf in target_leaves(target))

    def visit_Arg(self, node: cst.Arg) -> None:
        if node.keyword is not None:
            self._not_variables.add(id(node.keyword))

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self._not_variables.add(id(node.attr))
        self._in_place.add(id(node.value))

    def visit_Call(self, node: cst.Call) -> None:
        for candidate in self._open.values():
            if candidate.deferred == self.deferred:
                candidate.calls += 1
        # len(x) neither aliases nor changes `x`.
        if isinstance(node.func, cst.Name) and node.func.value == "len" and len(node.args) == 1 and is_call_to(self, node, LEN):
            self._in_place.add(id(node.args[0].value))

    def visit_Yield(self, node: cst.Yield) -> None:
        self._suspends()

    def visit_Await(self, node: cst.Await) -> None:
        self._suspends()

    def _suspends(self) -> None:
        for candidate in self._open.values():
            if candidate.deferred == self.deferred:
                candidate.suspends = True

    def visit_Subscript(self, node: cst.Subscript) -> None:
        self._in_place.add(id(node.value))
        value = node.value
        if not isinstance(value, cst.Name) or id(node) in self._stores:
            return
        for candidate in self._by_sequence.get(value.value, ()):
            role = _role(node, candidate.index)
            if role is not None:
                # `x[i]` / `x[i + 1]`: its `x` and its `i` are the pair read, nothing else.
                key = cast(cst.Index, node.slice[0].slice).value  # an Index: _role checked it
                index = key if isinstance(key, cst.Name) or not isinstance(key, cst.BinaryOperation) else next(
                    side for side in (key.left, key.right) if isinstance(side, cst.Name)
                )
                self._pair_of[id(value)] = self._pair_of[id(index)] = (node, role)

    def visit_Name(self, node: cst.Name) -> None:
        if id(node) in self._not_variables:
            return
        if id(node) not in self._bindings:
            for root, depth in self._roots:
                if self.deferred > depth or id(node) not in self._in_place:
                    # `f(x)`, `y = x`, `return x`, `lambda: x[0]`, `def grow(): x.insert(0, v)` in a function
                    # enclosing it: an alias of the list may exist, or a call may change it.
                    self._shared.add((root, node.value))
        for candidate in (*self._by_index.get(node.value, ()), *self._by_sequence.get(node.value, ())):
            if id(node) in candidate.own:
                continue
            pair = self._pair_of.get(id(node))
            if pair is None or self.deferred > candidate.deferred:
                # print(i, x[i]), x[i] = ..., lambda: x[i]: the index or the list is used otherwise.
                candidate.pairs = False
            elif all(pair[0] is not seen for seen, _role in candidate.reads):
                candidate.reads.append(pair)

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

    def _zip_visible(self, node: cst.CSTNode) -> bool:
        scope = scope_of(self, node)
        return scope is not None and all(isinstance(a, BuiltinAssignment) for a in scope.assignments["zip"])

    def _unsafe_reason(self, candidate: _Candidate) -> Optional[str]:
        """Why ``zip(x, x[1:])`` may differ here, or None when ``x`` is a list or tuple that cannot change."""
        node, sequence = candidate.node, candidate.sequence
        scope = scope_of(self, node)
        kinds = self._binding_kinds(scope, sequence) if scope is not None else []
        if not kinds or None in kinds:
            return f"`{sequence}` may not be a list or tuple (a Series indexes by label)"
        if candidate.kind == "comprehension" and isinstance(scope, ClassScope):
            # class C: x = [1, 2]; d = [x[i + 1] - x[i] for i in ...] raises NameError (a class body's names are
            # not visible inside the comprehension); the fix moves `x` out of the body and makes it work.
            return f"a class-level comprehension cannot see `{sequence}`"
        if isinstance(node, cst.GeneratorExp) and not self._consumed_at_once(node):
            # g = (x[i + 1] - x[i] for i in ...); x.append(v); sum(g): `range` and `x[1:]` were taken early.
            return f"the generator may run after `{sequence}` changes"
        if set(kinds) == {"tuple"}:
            return None
        if "param" not in kinds and (candidate.root, sequence) not in self._shared:
            return None
        # The iterable `range(len(x) - 1)` makes two calls of its own.
        if candidate.calls <= ITERABLE_CALLS and not candidate.suspends:
            return None
        return f"a call in the {candidate.kind} might change `{sequence}`"

    def _consumed_at_once(self, node: cst.GeneratorExp) -> bool:
        """``sum(g)``, ``max(g)``...: the generator is a builtin's only argument, run to the end right there."""
        arg = self.get_metadata(ParentNodeProvider, node, None)
        call = self.get_metadata(ParentNodeProvider, arg, None) if isinstance(arg, cst.Arg) else None
        return isinstance(call, cst.Call) and len(call.args) == 1 and is_call_to(self, call, CONSUMERS)

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
        # `x = [...]` and `x: T = [...]` (not a walrus: trusting more forms would change findings).
        value = bound_value(self, target, (cst.Assign, cst.AnnAssign))
        return self._value_kind(value) if value is not None else None

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

    def _message(self, candidate: _Candidate, note: Optional[str]) -> str:
        """At most 100 characters: a long name is cut, then the note dropped."""
        x = candidate.sequence if len(candidate.sequence) <= 20 else candidate.sequence[:17] + "..."
        message = f"`range(len({x}) - 1)` {candidate.kind} only pairs `{x}[i]` with `{x}[i + 1]`"
        return message if note is None or len(message) + len(note) + 3 > 100 else f"{message} ({note})"

    def _rewrite(self, candidate: _Candidate, reason: Optional[str]) -> Rewrite:
        sequence = candidate.sequence
        singular = _singular(sequence) or "item"
        current = fresh_name(self, candidate.node, singular)
        following = fresh_name(self, candidate.node, f"next_{singular}", avoid=(current,))
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
        changes = [Rewrite.replace(candidate.target, target), Rewrite.replace(candidate.iterable, pairs)]
        changes += [Rewrite.replace(subscript, cst.Name(names[role])) for subscript, role in candidate.reads]
        applicability = Applicability.SAFE if reason is None else Applicability.UNSAFE
        title = f"Iterate `zip({sequence}, {sequence}[1:])`"
        if reason is not None and len(title) + len(reason) + 11 <= 100:
            title += f" (unsafe: {reason})"
        return Rewrite(applicability, tuple(changes), title=title)


@dataclass(eq=False)
class _Candidate:
    """A loop or comprehension ``for <index> in range(len(<sequence>) - 1)`` and what its body did."""

    node: cst.CSTNode
    kind: str
    target: cst.Name
    iterable: cst.BaseExpression
    index: str
    sequence: str
    deferred: int
    own: set[int]  # the loop's target and the `x` of `len(x)`: not uses in the body
    reads: list[tuple[cst.Subscript, str]] = field(default_factory=list)
    pairs: bool = True
    calls: int = 0
    suspends: bool = False
    root: int = 0


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
