"""PFL203 iterrows-loop."""

from __future__ import annotations

import ast
import itertools
from dataclasses import dataclass, field
from typing import Optional

import libcst as cst
from libcst.metadata import ParentNodeProvider, PositionProvider, QualifiedNameProvider, ScopeProvider

from perflint.analysis import ast_shapes
from perflint.analysis.bindings import target_leaves
from perflint.analysis.iterrows import collecting_builtin, is_dict_build_loop, iterrows_frame
from perflint.analysis.names import literal_string
from perflint.analysis.pandas_evidence import SERIES_ATTRIBUTES
from perflint.analysis.syntax import DeferredDepth
from perflint.rule import Invalid, Rule, RuleContext, Valid
from perflint.types import FixSafety, MetricImpact


class IterrowsLoop(DeferredDepth, Rule):
    """
    ## What it does
    Finds `for index, row in X.iterrows():` loops whose body only *reads* columns of `row` (`row["a"]`,
    `row.a`) and never uses `row` otherwise: not passed to a call, not written to, not rebound, no
    Series method or attribute (`row.name`, `row.to_dict()`). The same in comprehensions and generator
    expressions: `sum(r["qty"] * r["price"] for _, r in orders.iterrows())`, `max(...)`, `"".join(...)`,
    and an iterrows `for` after another `for` (`[r.a for f in frames for _, r in f.iterrows()]`).

    What other rules report is left to them: the dict-building loop (`D = {}` right before a loop whose
    whole body is `D[K] = V`), dict comprehensions and `dict(...)` of a generator are PFL201's; list and
    set comprehensions and `list` / `set` / `tuple` of a generator whose first `for` is over iterrows are
    PFL205's.

    ## Why is this bad?
    `iterrows()` builds a whole pandas Series for every row: a per-row object with an index, and a
    common dtype for the row (an int column next to a float column comes back as float). Reading two
    float columns of a 5-column frame took 0.8 s for 10,000 rows and 8.4 s for 100,000 rows with
    `iterrows()`: 29-41x longer than `itertuples()` and 350-980x longer than zipping the columns'
    `.tolist()`s (pandas 3.1, loaded 2-core CPU; `benchmarks/bench_iterrows_loop.py`).

    ## Example
    ```python
    for _, row in prices.iterrows():
        adjusted[row["Code"]] = row["Close"] * row["AdjustmentFactor"]
    ```

    ## Use instead
    ```python
    for row in prices.itertuples(index=False):
        adjusted[row.Code] = row.Close * row.AdjustmentFactor
    ```
    or a vectorised form: `prices["Close"] * prices["AdjustmentFactor"]`.

    ## Fix safety
    No fix. `itertuples()` yields a namedtuple whose fields keep each column's own dtype, while
    `iterrows()` gives the row's common dtype: an int read next to a float column is `1301.0` from
    `iterrows()` and `1301` from `itertuples()`; numpy scalars become Python scalars for numeric columns.
    Column labels that are not identifiers, start with `_` or repeat are renamed to positions (`_1`),
    and the index is the field `Index`. Those differences need a look at the data.

    ## Metric impact
    Identical: no fix is applied.

    ## Known problems
    Only loops that unpack `(index, row)` into two plain names are checked. A use of `row` inside a
    nested function, lambda or class counts as "something other than a read"; so does a label that is
    not a string literal (`row[col]`). A comprehension is checked for its first iterrows `for` only.
    The builtins PFL201 and PFL205 own are recognised by name (`list(...)`, `dict(...)`): a rebound
    `list` makes PFL203 stay quiet where neither reports.

    ## Options
    None.

    ## References
    - pandas documentation, `DataFrame.iterrows`: "iterrows does not preserve dtypes across the rows ...
      To preserve dtypes while iterating over the rows, it is better to use itertuples()".
    - pandas user guide, "Iteration".
    """

    code = "PFL203"
    name = "iterrows-loop"
    message = "`iterrows()` loop that only reads columns"
    fix_safety = FixSafety.NONE
    metric_impact = MetricImpact.IDENTICAL
    required_tokens = (".iterrows(",)
    METADATA_DEPENDENCIES = (PositionProvider, ParentNodeProvider, QualifiedNameProvider, ScopeProvider)  # for is_dict_build_loop

    valid = (
        Valid(
            """
            for _, row in frame.iterrows():
                process(row)
            """
        ),
        Valid(
            """
            for _, row in frame.iterrows():
                row["a"] = 0
            """
        ),
        Valid(
            """
            mapping = {}
            for _, row in frame.iterrows():
                mapping[row["a"]] = row["b"]
            """
        ),
        Valid(
            """
            for _, row in frame.iterrows():
                print(row.name, row["a"])
            """
        ),
        Valid(
            """
            values = [row["a"] for _, row in frame.iterrows()]
            """
        ),
    )
    invalid = (
        Invalid(
            """
            total = 0
            for _, row in prices.iterrows():
                total += row["Close"] * row.Volume
            """,
            message_contains="`prices.itertuples(index=False)`",
        ),
        Invalid(
            """
            for date, row in frame.iterrows():
                if row["flag"]:
                    out.append((date, row["value"]))
            """,
            message_contains="`frame.itertuples()`",
        ),
        Invalid(
            """
            for day in days:
                totals[day] = sum(r["qty"] * r["price"] for _, r in orders[day].iterrows())
            """,
            message_contains="comprehension only reads columns 'qty', 'price'",
        ),
    )

    @classmethod
    def could_match(cls, tree: ast.Module) -> bool:
        """Whether ``tree`` has a ``for`` or a comprehension ``for`` over ``X.iterrows()`` whose target is a pair
        of names."""
        shapes = ast_shapes.shapes(tree)
        loops = (site.node for site in shapes.of(ast.For))
        return any(
            ast_shapes.is_iterrows_call(loop.iter) and _ast_index_and_row(loop.target)
            for loop in itertools.chain(loops, shapes.comprehensions())
        )

    def __init__(self, context: RuleContext) -> None:
        super().__init__(context)
        # The open candidates (loops and comprehensions over iterrows), by their row name and index name: a
        # Name met while one is open is classified once, as it is visited, never by walking a body again.
        self._by_row: dict[str, list[_Candidate]] = {}
        self._by_index: dict[str, list[_Candidate]] = {}
        self._open: dict[int, _Candidate] = {}
        self.deferred = 0  # how many def / lambda / class bodies the visit is in (kept by DeferredDepth)
        self._stores: set[int] = set()  # store and delete targets: `row["a"] = 0`, `del row["a"]`
        self._not_variables: set[int] = set()  # `b` in `a.b`, `k` in `f(k=1)`
        self._column_of: dict[int, str] = {}  # Name `row` -> the label it reads: `row["a"]`, `row.a`

    # ---------------------------------------------------------------------------------------------- candidates

    def visit_For(self, node: cst.For) -> None:
        self._mark_store(node.target)
        frame = iterrows_frame(node.iter)
        if frame is None or node.asynchronous is not None or is_dict_build_loop(self, node):
            return
        self._open_candidate(node, node.target, node.iter, frame, "loop")

    def leave_For(self, original_node: cst.For) -> None:
        self._close_candidate(original_node)

    def visit_ListComp(self, node: cst.ListComp) -> None:
        self._comprehension(node, first_is_pfl205s=True)

    def leave_ListComp(self, original_node: cst.ListComp) -> None:
        self._close_candidate(original_node)

    def visit_SetComp(self, node: cst.SetComp) -> None:
        self._comprehension(node, first_is_pfl205s=True)

    def leave_SetComp(self, original_node: cst.SetComp) -> None:
        self._close_candidate(original_node)

    def visit_GeneratorExp(self, node: cst.GeneratorExp) -> None:
        self._comprehension(node, first_is_pfl205s=self._collected_by_builtin(node))

    def leave_GeneratorExp(self, original_node: cst.GeneratorExp) -> None:
        self._close_candidate(original_node)

    def _comprehension(self, node: cst.BaseSimpleComp, first_is_pfl205s: bool) -> None:
        """A comprehension whose first ``for`` over ``X.iterrows()`` with a pair target is a candidate.

        Dict comprehensions and ``dict(...)`` of a generator are PFL201's (never visited here); a list or set
        comprehension, or ``list`` / ``set`` / ``tuple`` / ``dict`` of a generator, whose *first* ``for`` is
        over iterrows is PFL205's (or PFL201's): PFL203 takes an iterrows ``for`` after another ``for``, and
        generators consumed any other way (``sum(...)``, ``max(...)``, ``"".join(...)``).
        """
        for_in: Optional[cst.CompFor] = node.for_in
        first = True
        while for_in is not None:
            frame = iterrows_frame(for_in.iter)
            if frame is not None and for_in.asynchronous is None and _index_and_row(for_in.target) is not None:
                if first and first_is_pfl205s:
                    # [row["a"] for _, row in frame.iterrows()]: PFL205's list build.
                    return
                self._open_candidate(node, for_in.target, for_in.iter, frame, "comprehension")
                return
            first, for_in = False, for_in.inner_for_in

    def _collected_by_builtin(self, node: cst.GeneratorExp) -> bool:
        """``list(g)``, ``set(g)``, ``tuple(g)``, ``dict(g)``: the generator is the call's only argument."""
        arg = self.get_metadata(ParentNodeProvider, node, None)
        call = self.get_metadata(ParentNodeProvider, arg, None) if isinstance(arg, cst.Arg) else None
        return isinstance(call, cst.Call) and collecting_builtin(self, call) is not None

    def _open_candidate(
        self, node: cst.CSTNode, target: cst.BaseExpression, at: cst.BaseExpression, frame: cst.BaseExpression, kind: str
    ) -> None:
        names = _index_and_row(target)
        if names is None or not isinstance(target, (cst.Tuple, cst.List)):
            return
        index, row = names
        candidate = _Candidate(at, frame, index, row, kind, self.deferred, own={id(element.value) for element in target.elements})
        self._open[id(node)] = candidate
        self._by_row.setdefault(row, []).append(candidate)
        self._by_index.setdefault(index, []).append(candidate)

    def _close_candidate(self, node: cst.CSTNode) -> None:
        candidate = self._open.pop(id(node), None)
        if candidate is None:
            return
        self._by_row[candidate.row].remove(candidate)
        self._by_index[candidate.index].remove(candidate)
        if candidate.only_reads:
            self.report(candidate.at, _message(candidate))

    # ---------------------------------------------------------------------------------------------- uses

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._mark_store(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._mark_store(node.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._mark_store(node.target)

    def visit_Del(self, node: cst.Del) -> None:
        self._mark_store(node.target)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None:
            self._mark_store(node.asname.name)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._mark_store(node.target)

    def _mark_store(self, target: cst.BaseExpression) -> None:
        self._stores.update(id(leaf) for leaf in target_leaves(target))

    def visit_Arg(self, node: cst.Arg) -> None:
        if node.keyword is not None:
            self._not_variables.add(id(node.keyword))

    def visit_Subscript(self, node: cst.Subscript) -> None:
        # `row["a"]` read (not stored): one column.
        value = node.value
        if not (isinstance(value, cst.Name) and self._by_row.get(value.value)) or id(node) in self._stores:
            return
        if len(node.slice) == 1:
            index = node.slice[0].slice
            label = literal_string(index.value) if isinstance(index, cst.Index) and index.star is None else None
            if label is not None:
                self._column_of[id(value)] = label

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self._not_variables.add(id(node.attr))
        # `row.a` read (not stored), unless a Series attribute or method (`row.name`, `row.to_dict()`).
        value = node.value
        if not (isinstance(value, cst.Name) and self._by_row.get(value.value)) or id(node) in self._stores:
            return
        attribute = node.attr.value
        if not attribute.startswith("_") and attribute not in SERIES_ATTRIBUTES:
            self._column_of[id(value)] = attribute

    def visit_Name(self, node: cst.Name) -> None:
        if id(node) in self._not_variables:
            return
        for candidate in self._by_row.get(node.value, ()):
            if id(node) in candidate.own:
                continue
            label = self._column_of.get(id(node))
            if label is None or self.deferred > candidate.deferred:
                # process(row), row["a"] = 0, row.to_dict(), lambda: row["a"]: the row is used as a Series.
                candidate.only_reads = False
            elif label not in candidate.columns:
                candidate.columns.append(label)
        for candidate in self._by_index.get(node.value, ()):
            if id(node) not in candidate.own:
                candidate.index_used = True


@dataclass(eq=False)
class _Candidate:
    """A loop or comprehension over ``frame.iterrows()`` binding ``index, row``; ``at`` is where to report."""

    at: cst.BaseExpression
    frame: cst.BaseExpression
    index: str
    row: str
    kind: str
    deferred: int
    own: set[int]
    only_reads: bool = True
    columns: list[str] = field(default_factory=list)
    index_used: bool = False


def _index_and_row(target: cst.BaseExpression) -> Optional[tuple[str, str]]:
    if isinstance(target, (cst.Tuple, cst.List)) and len(target.elements) == 2:
        first, second = (element.value for element in target.elements)
        if isinstance(first, cst.Name) and isinstance(second, cst.Name) and first.value != second.value:
            return first.value, second.value
    return None


def _ast_index_and_row(target: ast.expr) -> bool:
    """``_index_and_row`` on the ast (a starred name counts: LibCST's element value is the name)."""
    if not (isinstance(target, (ast.Tuple, ast.List)) and len(target.elts) == 2):
        return False
    first, second = (element.value if isinstance(element, ast.Starred) else element for element in target.elts)
    return isinstance(first, ast.Name) and isinstance(second, ast.Name) and first.id != second.id


def _message(candidate: _Candidate) -> str:
    """At most 100 characters: the frame and the labels are cut when long, the advice shortened or dropped."""
    shown = cst.Module(body=[]).code_for_node(candidate.frame)
    shown = shown if len(shown) <= 30 else shown[:27] + "..."
    where = f"`{shown}.iterrows()` {candidate.kind}"
    if not candidate.columns:
        return f"{where} only reads the index; use `{shown}.index`"
    labels = ", ".join(repr(label) for label in candidate.columns)
    message = f"{where} only reads column{'s' if len(candidate.columns) > 1 else ''} {labels}"
    if len(message) > 100:
        message = f"{where} only reads {len(candidate.columns)} columns"
    tuples = "itertuples()" if candidate.index_used else "itertuples(index=False)"
    for advice in (f"; use `{shown}.{tuples}`", f"; use `.{tuples}`"):
        if len(message + advice) <= 100:
            return message + advice
    return message
