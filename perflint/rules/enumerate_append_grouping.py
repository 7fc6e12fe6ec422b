"""PFL202 enumerate-append-grouping."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Optional, Sequence

import libcst as cst
from libcst.metadata import (
    Assignment,
    ClassScope,
    ParentNodeProvider,
    PositionProvider,
    QualifiedNameProvider,
    ScopeProvider,
)

from perflint.analysis import ast_shapes
from perflint.analysis.bindings import bound_value
from perflint.analysis.dataflow import fresh_name, is_empty_dict, mentions, previous_statement, read_after
from perflint.analysis.names import argument, dotted_name, method_call, qualified_names, receiver
from perflint.analysis.pandas_evidence import KeyDtype, Label, column_dtype, is_dataframe, is_series, label_value
from perflint.analysis.syntax import sole_statement
from perflint.rule import Invalid, NodeChange, Rewrite, Rule, Valid
from perflint.types import Applicability, FixSafety, MetricImpact

DEFAULTDICT = frozenset({"collections.defaultdict"})
# Loop / groupby speed-up by key dtype, measured at 1M and 10M rows under pandas 2.3 and 3.1 (CPU).
GAIN = {
    KeyDtype.DATETIME: "datetime keys: 14-75x faster",
    KeyDtype.INT: "int keys: 3-9x faster",
    KeyDtype.STR: "str keys: 1.1-5x faster",
    KeyDtype.UNKNOWN: "unknown dtype: 1.1-75x faster",
}
GROUPBY_OPTIONS = "sort=False, dropna=False, observed=True"
# Key dtypes that cannot hold the one input the exact helper gets wrong (tuples holding NaN, in object columns).
NON_OBJECT_KEYS = frozenset({KeyDtype.DATETIME, KeyDtype.INT, KeyDtype.STR})
HELPER = "_perflint_positions_by_value"
HELPER_SOURCE = f'''
def {HELPER}(values):
    """Row positions grouped by value, exactly as `groups[value].append(position)` over `enumerate(values)`.

    Added by perflint (PFL202, option exact-helper). Values are grouped on their `factorize` codes; missing
    values go through a loop over their rows only, so that they keep the loop's dict semantics (one key per
    NaN row; None, NaT and pd.NA kept as they are).
    """
    codes = values.factorize()[0]
    groups = values.groupby(codes, sort=False).indices
    missing = groups.pop(-1, None)
    firsts = [positions[0] for positions in groups.values()]
    entries = list(zip(firsts, values.iloc[firsts], (positions.tolist() for positions in groups.values())))
    if missing is not None:
        by_key = {{}}
        for position, key in zip(missing.tolist(), values.iloc[missing]):
            by_key.setdefault(key, (position, key, []))[2].append(position)
        entries = sorted(entries + list(by_key.values()), key=lambda entry: entry[0])
    return {{key: positions for _, key, positions in entries}}
'''


@dataclass(frozen=True)
class _Loop:
    """The parts of ``for I, K in enumerate(X[col]): D[K].append(I)`` (or ``D.setdefault(K, []).append(I)``,
    or ``if K not in D: D[K] = []`` before the append); ``enumerate(S)`` of a Series ``S`` has no frame."""

    node: cst.For
    values: cst.BaseExpression
    frame: Optional[cst.BaseExpression]
    column: Optional[cst.BaseExpression]
    position: cst.Name
    key: cst.Name
    groups: cst.BaseExpression
    uses_setdefault: bool


class EnumerateAppendGrouping(Rule):
    """
    ## What it does
    Finds row positions grouped by the values of a pandas column with a Python loop:
    `for I, K in enumerate(X[col]): D[K].append(I)`, `D.setdefault(K, []).append(I)`, or
    `if K not in D: D[K] = []` followed by `D[K].append(I)`, where the code shows that `X` is a DataFrame
    (built by `pd.DataFrame(...)`, `pd.read_*`, `pd.concat`, `pd.merge` or a DataFrame method chain, annotated
    `pd.DataFrame`, inside `if isinstance(X, pd.DataFrame):` or an `elif` of it, or after
    `if not isinstance(X, pd.DataFrame): raise ...`), or `enumerate(S)` of a Series `S` (`X[col]` of such a
    frame, `pd.Series(...)`, annotated `pd.Series`). `X` and `S` may be `self.<attr>` when every assignment of
    that attribute in the class is such a value and one is in `__init__`. `col` is a literal label or a name
    holding one (`data[self.date_column]`).

    ## Why is this bad?
    The loop boxes one Python object per row and appends to a list per row. With a datetime column it boxes a
    `Timestamp` per row and is super-linear (every Timestamp is tracked by the garbage collector): 1 M rows
    took 4.3-5.7 s and 10 M rows 104-131 s, and `Series.groupby(...).indices` was 14-29x (1 M) and 50-76x
    (10 M) faster. For int keys the gain is 3-9x, for str keys 1.1-5x (pandas 2.3 and 3.1, CPU). The message
    says which applies when the column's dtype is evident (`pd.to_datetime`, `parse_dates=`, `astype`,
    `dtype=`).

    ## Example
    ```python
    date_indices = defaultdict(list)
    for idx, date in enumerate(data["Date"]):
        date_indices[date].append(idx)
    ```

    ## Use instead
    ```python
    date_values = data["Date"]
    date_indices = defaultdict(list, {date: positions.tolist() for date, positions in date_values.groupby(date_values, sort=False, dropna=False, observed=True).indices.items()})
    ```
    When `D` is created right before the loop (`defaultdict(list)`, or `{}` for the setdefault forms) it is
    built at once as above. Anywhere else, with any statements between, or when `D` is a parameter or an
    attribute, the loop becomes one `extend` per key:
    ```python
    date_values = data[self.date_column]
    for date, positions in date_values.groupby(date_values, sort=False, dropna=False, observed=True).indices.items():
        date_indices[date].extend(positions.tolist())
    ```
    which leaves `D` as the appends did whatever it held before: keys already there keep their place and get
    the new positions after their old ones, new keys come in the order of their first row, and each key's
    positions are increasing (checked by a differential test with random prior contents). So nothing between
    the creation and the loop needs to be proven. It is as fast as the one-liner: at 1 M rows 26x (datetime),
    3.6x (str) and 3.7x (int) faster than the loop (pandas 3.1, loaded 2-core CPU;
    `benchmarks/bench_date_grouping.py`).
    Group the column by itself, never `data.groupby("Date")`, which raises when an index level has the same
    name. `sort=False` keeps first-appearance order, `dropna=False` keeps missing keys, `observed=True` drops
    unobserved categories (pandas 2 added them), `.tolist()` gives lists of Python ints, and `defaultdict`
    keeps `D[missing]` returning `[]`.

    ## Fix safety
    Unsafe. For a key column with no missing values the result is identical for datetime, str, object-str,
    categorical and Int64 keys, and differs otherwise only in the type of numeric and bool keys. The
    differences (checked by a differential test on random frames under pandas 3.1 and 2.3):
    - **numpy keys**: int, uint, float and bool columns, and object columns holding only numbers or only
      bools, give numpy scalar keys (`np.int64(3)`) where the loop gives Python ones (in an object column
      with a missing value, an int key comes back as `np.float64(1.0)`): equal and hashing alike, so lookups
      work, but `type()`, `repr()` and `json.dumps` differ.
    - **missing keys merged**: every missing key becomes one key holding all their positions, in the place of
      the first missing row. The loop gives each float NaN row its own key (`nan != nan`) and keeps `None`,
      `pd.NA` and `NaT` as their own keys; `D[pd.NaT]` then silently returns `[]` (and inserts the key). Under
      pandas 3 the merged key is a float NaN; under pandas 2 it is the column's own missing value (NaT for
      datetimes and timedeltas, `pd.NA` for nullable dtypes, NaN otherwise, so `None` in an object column
      becomes NaN).
    - **categorical with NaN**: the NaN group is dropped despite `dropna=False` (pandas issues 35646, 36327,
      39573), so those positions are lost.
    - **errors**: when `X[col]` raises, `D` is left unbound (or at its old value) instead of empty. Into a
      plain dict missing a key, the loop and the extend form both raise `KeyError` before changing anything.
    - **the extend form** calls `D[K]` once per key instead of once per row, and appends one key's positions
      together: only a mapping whose `__getitem__` has side effects, or two keys sharing one list object,
      could tell.
    - **a label held in a name** that holds a list of labels makes `X[col]` a DataFrame; the loop then groups
      its column labels, the fix groups rows.

    With the option `exact-helper`, the fix instead keeps `D`'s creation, replaces the loop with
    `D.update(_perflint_positions_by_value(X[col]))` (where `D` is created elsewhere:
    `for K, positions in _perflint_positions_by_value(X[col]).items(): D[K].extend(positions)`, unsafe), and
    adds that helper (15 lines) once per module. It
    groups on `factorize` codes, re-boxes each key from the column, and runs a Python loop over the missing
    rows only, so it returns the loop's keys (same objects and types, first-appearance order, one key per
    NaN row, None / NaT / pd.NA kept) and lists: identical on every random frame of the differential test
    under pandas 3.1 and 2.3, and 1.5-75x faster than the loop at 1 M-10 M rows (2.3-6.6x for int keys,
    1.5-3.3x for str keys). One input differs: in an object column, tuples holding distinct NaN objects, such
    as `(1, nan)` twice, are one key for `factorize` and two for the loop. So that fix is safe where the code
    shows the key column is a datetime, int or str column (`pd.to_datetime`, `parse_dates=`, `astype`,
    `dtype=`, set on every path to the loop), and unsafe elsewhere. A function called with the frame could
    still change that column's dtype unseen.
    The seed's `{str(k): list(v) for k, v in data.groupby(col).indices.items()}` differs in eight ways (sorted
    keys, str keys, numpy int values, dropped NA rows, `KeyError` instead of `[]`, a `TypeError` on mixed
    unorderable keys...) and is not used.

    ## Metric impact
    May change: positions and their order are identical, so a sampler built on a date column without missing
    values (the reference trainer's) batches exactly the same rows; missing keys are grouped differently.

    ## Known problems
    Reported without a fix: `enumerate(..., start=...)`, a loop `else:`, a `D` that is not a name or a dotted
    name, a column that is not one label or a name holding one (`X[cols[0]]`), and loop variables read
    after the loop. The fix assumes `X[col]` is a Series: with duplicate column labels, or a top-level label of
    MultiIndex columns, it is a DataFrame and the loop iterates column labels. Not reported without evidence
    that `X` is a DataFrame or `S` a Series (a dict of lists or a list has no `groupby`), nor for
    `enumerate(X[[a]])`, which iterates column labels.

    ## Options
    - `exact-helper` (bool, default false): fix with the exact helper described under Fix safety instead of
      the readable one-liner: `[tool.perflint.options.PFL202]` `exact-helper = true`.

    ## References
    - pandas documentation, `GroupBy.indices`, and "Group by: split-apply-combine" (`dropna`, `observed`).
    - pandas issues 35646, 36327, 39573 (categorical NaN group dropped with `dropna=False`).
    """

    code = "PFL202"
    name = "enumerate-append-grouping"
    message = "row positions grouped one row at a time with `enumerate` + `.append`"
    fix_title = "Group the positions with `Series.groupby(...).indices`"
    fix_safety = FixSafety.SOMETIMES_SAFE
    unsafe_when = "missing and numeric keys come back merged or as numpy scalars"
    metric_impact = MetricImpact.MAY_CHANGE
    required_tokens = ("enumerate(",)
    options = {"exact-helper": False}
    METADATA_DEPENDENCIES = (PositionProvider, ParentNodeProvider, QualifiedNameProvider, ScopeProvider)

    valid = (
        Valid(
            """
            from collections import defaultdict
            date_indices = defaultdict(list)
            for idx, date in enumerate(records["Date"]):
                date_indices[date].append(idx)
            """
        ),
        Valid(
            """
            from collections import defaultdict
            import pandas as pd
            data = pd.read_csv("prices.csv")
            date_indices = defaultdict(list)
            for idx, date in enumerate(data["Date"]):
                if date is not None:
                    date_indices[date].append(idx)
            """
        ),
    )
    invalid = (
        Invalid(
            """
            from collections import defaultdict
            import pandas as pd

            def group_positions(data: pd.DataFrame):
                date_indices = defaultdict(list)
                for idx, date in enumerate(data["Date"]):
                    date_indices[date].append(idx)
                return date_indices
            """,
            fixed="""
            from collections import defaultdict
            import pandas as pd

            def group_positions(data: pd.DataFrame):
                date_values = data["Date"]
                date_indices = defaultdict(list, {date: positions.tolist() for date, positions in date_values.groupby(date_values, sort=False, dropna=False, observed=True).indices.items()})
                return date_indices
            """,
            applicability=Applicability.UNSAFE,
            message_contains="unknown dtype: 1.1-75x faster",
        ),
        Invalid(
            """
            import pandas as pd

            def group_positions(path):
                data = pd.read_csv(path, parse_dates=["Date"])
                groups = {}
                for i, day in enumerate(data["Date"]):
                    groups.setdefault(day, []).append(i)
                return groups
            """,
            fixed="""
            import pandas as pd

            def group_positions(path):
                data = pd.read_csv(path, parse_dates=["Date"])
                day_values = data["Date"]
                groups = {day: positions.tolist() for day, positions in day_values.groupby(day_values, sort=False, dropna=False, observed=True).indices.items()}
                return groups
            """,
            applicability=Applicability.UNSAFE,
            message_contains="datetime keys: 14-75x faster",
        ),
        Invalid(
            """
            from collections import defaultdict
            import pandas as pd

            def group_positions(data: pd.DataFrame):
                date_indices = defaultdict(list)
                for idx, date in enumerate(data["Date"], start=1):
                    date_indices[date].append(idx)
                return date_indices
            """,
            message_contains="no fix: `enumerate` has a `start`",
        ),
        Invalid(
            # With `exact-helper` and a key column the code shows is datetime, int or str: the exact helper, safe.
            """
            from collections import defaultdict

            import pandas as pd


            def by_date(path):
                data = pd.read_csv(path)
                data["date"] = pd.to_datetime(data["date"])
                date_indices = defaultdict(list)
                for idx, date in enumerate(data["date"]):
                    date_indices[date].append(idx)
                return date_indices
            """,
            fixed='''
            from collections import defaultdict

            import pandas as pd


            def _perflint_positions_by_value(values):
                """Row positions grouped by value, exactly as `groups[value].append(position)` over `enumerate(values)`.

                Added by perflint (PFL202, option exact-helper). Values are grouped on their `factorize` codes; missing
                values go through a loop over their rows only, so that they keep the loop's dict semantics (one key per
                NaN row; None, NaT and pd.NA kept as they are).
                """
                codes = values.factorize()[0]
                groups = values.groupby(codes, sort=False).indices
                missing = groups.pop(-1, None)
                firsts = [positions[0] for positions in groups.values()]
                entries = list(zip(firsts, values.iloc[firsts], (positions.tolist() for positions in groups.values())))
                if missing is not None:
                    by_key = {}
                    for position, key in zip(missing.tolist(), values.iloc[missing]):
                        by_key.setdefault(key, (position, key, []))[2].append(position)
                    entries = sorted(entries + list(by_key.values()), key=lambda entry: entry[0])
                return {key: positions for _, key, positions in entries}


            def by_date(path):
                data = pd.read_csv(path)
                data["date"] = pd.to_datetime(data["date"])
                date_indices = defaultdict(list)
                date_indices.update(_perflint_positions_by_value(data["date"]))
                return date_indices
            ''',
            applicability=Applicability.SAFE,
            options={"exact-helper": True},
        ),
    )

    @classmethod
    def could_match(cls, tree: ast.Module) -> bool:
        """Whether ``tree`` imports pandas and has ``_match``'s shape, the callee spelled ``enumerate`` or a name
        an import of it binds (see ``_ast_may_match``)."""
        if not _ast_imports_pandas(tree):
            # for i, c in enumerate(classes): groups[c].append(i) with no pandas import: the Series evidence
            # visit_For needs (a DataFrame or Series the code shows) resolves to a `pandas.` name or not at all.
            return False
        enumerates = frozenset({"enumerate"}) | ast_shapes.import_aliases(tree, ("enumerate",))
        return any(
            _ast_may_match(site.node, enumerates) for site in ast_shapes.shapes(tree).of(ast.For, ast.AsyncFor)
        )

    def visit_For(self, node: cst.For) -> None:
        loop = self._match(node)
        if loop is None:
            return
        if loop.frame is not None and not is_dataframe(self, loop.frame):
            # enumerate(records["Date"]) of a dict of lists: no groupby.
            return
        if loop.frame is None and not is_series(self, loop.values):
            # enumerate(labels) of a list or an array: no evidence of a Series.
            return
        label = self._label(loop.column) if loop.column is not None else None
        dtype = column_dtype(self, loop.frame, label, node) if label is not None and loop.frame is not None else KeyDtype.UNKNOWN
        message = f"{self.message} ({GAIN[dtype]})"
        creation = self._creation(loop)
        reason = self._reason(loop, creation)
        if reason is not None:
            self.report(node, f"{message} (no fix: {reason})")
            return
        if creation is None:
            self.report(node, message, rewrite=self._extend_rewrite(loop, helper=bool(self.option("exact-helper"))))
        elif self.option("exact-helper"):
            self.report(node, message, rewrite=self._helper_rewrite(loop, label))
        else:
            self.report(node, message, rewrite=self._rewrite(loop, creation))

    # ------------------------------------------------------------------------------------------ matching

    def _match(self, node: cst.For) -> Optional[_Loop]:
        call = node.iter
        if not isinstance(call, cst.Call) or "builtins.enumerate" not in qualified_names(self, call.func):
            return None
        iterable = argument(call, 0, "iterable")
        target = node.target
        if iterable is None or not (isinstance(target, (cst.Tuple, cst.List)) and len(target.elements) == 2):
            return None
        position, key = (element.value for element in target.elements)
        if not (isinstance(position, cst.Name) and isinstance(key, cst.Name) and position.value != key.value):
            return None
        body = _body_statements(node)
        if body is None:
            return None
        guard = None
        if len(body) == 2:
            guard, body = body[0], body[1:]
        if len(body) != 1:
            return None
        append = _single_call(body[0])
        if append is None or not _appends(append, position):
            return None
        groups, uses_setdefault = _grouped_into(receiver(append), key)
        if groups is None or (guard is not None and (uses_setdefault or not _creates_missing_list(guard, groups, key))):
            return None
        uses_setdefault = uses_setdefault or guard is not None
        if (
            isinstance(iterable, cst.Subscript)
            and len(iterable.slice) == 1
            and isinstance(iterable.slice[0].slice, cst.Index)
            and iterable.slice[0].slice.star is None
            and not isinstance(iterable.slice[0].slice.value, (cst.List, cst.Tuple, cst.Slice))
        ):
            index = iterable.slice[0].slice
            return _Loop(node, iterable, iterable.value, index.value, position, key, groups, uses_setdefault)
        if dotted_name(iterable) is not None:
            return _Loop(node, iterable, None, None, position, key, groups, uses_setdefault)
        return None

    def _label(self, column: cst.BaseExpression) -> Optional[Label]:
        """A literal label, or a name bound only to one literal (``DATE = "Date"``)."""
        value = label_value(column)
        if value is not None or not isinstance(column, cst.Name):
            return value
        scope = self.get_metadata(ScopeProvider, column, None)
        assignments = list(scope[column.value]) if scope is not None else []
        values = {self._constant_value(assignment) for assignment in assignments}
        return values.pop() if assignments and len(values) == 1 else None

    def _constant_value(self, assignment: object) -> Optional[Label]:
        if not isinstance(assignment, Assignment):
            return None
        # Only `DATE = "Date"` (not `DATE: str = "Date"` or a walrus): trusting more forms would change findings.
        value = bound_value(self, assignment.node, (cst.Assign,))
        return label_value(value) if value is not None else None

    def _creation(self, loop: _Loop) -> Optional[cst.SimpleStatementLine]:
        """The line right before the loop if it creates ``D`` empty the way the loop body needs."""
        if not isinstance(loop.groups, cst.Name):
            return None
        previous = previous_statement(self, loop.node)
        if not isinstance(previous, cst.SimpleStatementLine) or len(previous.body) != 1:
            return None
        statement = previous.body[0]
        if isinstance(statement, cst.Assign):
            targets = [target.target for target in statement.targets]
        elif isinstance(statement, cst.AnnAssign) and statement.value is not None:
            targets = [statement.target]
        else:
            return None
        if len(targets) != 1 or not (isinstance(targets[0], cst.Name) and targets[0].value == loop.groups.value):
            # `groups = alias = defaultdict(list)`: rebinding `groups` would leave `alias` empty; extend in place.
            return None
        value = statement.value
        if self._is_list_defaultdict(value) or (loop.uses_setdefault and is_empty_dict(self, value)):
            return previous
        return None

    def _is_list_defaultdict(self, node: cst.BaseExpression) -> bool:
        return (
            isinstance(node, cst.Call)
            and len(node.args) == 1
            and node.args[0].keyword is None
            and not node.args[0].star
            and not qualified_names(self, node.func).isdisjoint(DEFAULTDICT)
            and "builtins.list" in qualified_names(self, node.args[0].value)
        )

    def _reason(self, loop: _Loop, creation: Optional[cst.SimpleStatementLine]) -> Optional[str]:
        """Why no fix is offered here, or None."""
        call = loop.node.iter
        assert isinstance(call, cst.Call)
        name = _code(loop.groups)
        if len(call.args) != 1:
            return "`enumerate` has a `start`"
        if loop.node.orelse is not None:
            return "the loop has an `else` clause"
        if dotted_name(loop.groups) is None:
            return f"`{name}` is not a name"
        if loop.column is not None and self._label(loop.column) is None and dotted_name(loop.column) is None:
            # enumerate(X[cols[0]]), enumerate(X[["a", "b"]]): maybe several columns.
            return "the column is not one label or a name holding one"
        root = _first_component(loop.groups)
        if mentions(loop.values, root) or mentions(loop.key, root):
            return f"the column expression reads `{root}`"
        if any(read_after(self, variable, loop.node, credit_loop_rebinding=True) for variable in (loop.position, loop.key)):
            return "the loop variables are read after the loop"
        if isinstance(self.get_metadata(ScopeProvider, loop.node, None), ClassScope):
            return "the loop is in a class body"
        return None

    # ------------------------------------------------------------------------------------------ rewrite

    def _rewrite(self, loop: _Loop, creation: cst.SimpleStatementLine) -> Rewrite:
        key = loop.key.value
        positions = "rows" if "positions" in (key, _code(loop.groups)) else "positions"
        column, head = self._column_binding(loop, avoid=(positions,))
        leading = [*creation.leading_lines, *loop.node.leading_lines]
        comprehension = (
            f"{{{key}: {positions}.tolist() for {key}, {positions} in "
            f"{column}.groupby({column}, {GROUPBY_OPTIONS}).indices.items()}}"
        )
        statement = creation.body[0]
        if self._is_list_defaultdict(statement.value):
            creator = statement.value
            value = cst.parse_expression(f"{_code(creator.func)}({_code(creator.args[0].value)}, {comprehension})")
        else:
            value = cst.parse_expression(comprehension)
        grouped = creation.with_changes(body=[statement.with_changes(value=value)], leading_lines=())
        lines = [*head, grouped]
        lines[0] = lines[0].with_changes(leading_lines=leading)
        changes = (
            (creation, lambda _updated: cst.FlattenSentinel(lines)),
            (loop.node, lambda _updated: cst.RemovalSentinel.REMOVE),
        )
        return Rewrite(Applicability.UNSAFE, changes)


    def _column_binding(self, loop: _Loop, avoid: tuple[str, ...]) -> tuple[str, list[cst.BaseStatement]]:
        """The expression to group (spelled twice), and the line binding it first unless it is a dotted name."""
        if loop.frame is None and dotted_name(loop.values) is not None:
            return _code(loop.values), []
        key = loop.key.value
        column = fresh_name(self, loop.node, "column" if key.startswith("_") else f"{key}_values", avoid=avoid)
        return column, [cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(cst.Name(column))], loop.values)])]

    def _extend_rewrite(self, loop: _Loop, helper: bool) -> Rewrite:
        """The loop becomes one ``extend`` per key, in first-appearance order, into ``D`` whatever it holds:

            values = X[col]
            for K, positions in values.groupby(values, sort=False, dropna=False, observed=True).indices.items():
                D[K].extend(positions.tolist())

        Each key's positions are increasing and new keys come in the order of their first row, so ``D`` ends as
        the appends left it (up to the documented key differences). With ``helper``, the exact helper's groups.
        """
        key = loop.key.value
        positions = fresh_name(self, loop.node, "positions", avoid=(key, _first_component(loop.groups)))
        if helper:
            groups = f"{HELPER}({_code(loop.values)}).items()"
            head: list[cst.BaseStatement] = []
            extended = positions
        else:
            column, head = self._column_binding(loop, avoid=(positions,))
            groups = f"{column}.groupby({column}, {GROUPBY_OPTIONS}).indices.items()"
            extended = f"{positions}.tolist()"
        target = f"{_code(loop.groups)}.setdefault({key}, [])" if loop.uses_setdefault else f"{_code(loop.groups)}[{key}]"
        grouping = cst.parse_statement(f"for {key}, {positions} in {groups}:\n    {target}.extend({extended})\n")
        lines = [*head, grouping]
        lines[0] = lines[0].with_changes(leading_lines=loop.node.leading_lines)
        changes: list[tuple[cst.CSTNode, NodeChange]] = [(loop.node, lambda _updated: cst.FlattenSentinel(lines))]
        title = None
        if helper:
            anchor = self._helper_anchor(loop.node)
            if anchor is not None:
                definition = cst.parse_statement(HELPER_SOURCE).with_changes(leading_lines=[cst.EmptyLine(), cst.EmptyLine()])
                changes.append(Rewrite.insert_before(anchor, [definition]))
            title = f"Group the positions with `{HELPER}` (exact keys)"
        return Rewrite(Applicability.UNSAFE, tuple(changes), title=title)

    def _helper_rewrite(self, loop: _Loop, label: Optional[Label]) -> Rewrite:
        """``D.update(_perflint_positions_by_value(X[col]))`` in place of the loop, and the helper once per module.

        ``D`` stays created as before, so even a failing ``X[col]`` leaves it bound and empty, as the loop did.
        Safe where the code shows the key column is not an object column.
        """
        grouped = cst.Call(cst.Name(HELPER), [cst.Arg(loop.values)])
        update = cst.Call(cst.Attribute(loop.groups, cst.Name("update")), [cst.Arg(grouped)])
        statement = cst.SimpleStatementLine([cst.Expr(update)], leading_lines=loop.node.leading_lines)
        changes: list[tuple[cst.CSTNode, NodeChange]] = [Rewrite.replace(loop.node, statement)]
        anchor = self._helper_anchor(loop.node)
        if anchor is not None:
            helper = cst.parse_statement(HELPER_SOURCE).with_changes(leading_lines=[cst.EmptyLine(), cst.EmptyLine()])
            changes.append(Rewrite.insert_before(anchor, [helper]))
        proven = (
            column_dtype(self, loop.frame, label, loop.node, proven=True)
            if loop.frame is not None and label is not None
            else KeyDtype.UNKNOWN
        )
        safety = Applicability.SAFE if proven in NON_OBJECT_KEYS else Applicability.UNSAFE
        return Rewrite(safety, tuple(changes), title=f"Group the positions with `{HELPER}` (exact)")

    def _helper_anchor(self, node: cst.CSTNode) -> Optional[cst.BaseStatement]:
        """The module statement to put the helper before (the first after the docstring and imports); None when
        the module already defines it."""
        module = node
        while not isinstance(module, cst.Module):
            module = self.get_metadata(ParentNodeProvider, module)
        if any(isinstance(statement, cst.FunctionDef) and statement.name.value == HELPER for statement in module.body):
            return None
        return next(statement for statement in module.body if not _is_preamble(statement))


def _is_preamble(statement: cst.BaseStatement) -> bool:
    """A module docstring or an import line: the helper goes after these."""
    if not isinstance(statement, cst.SimpleStatementLine):
        return False
    return all(
        isinstance(small, (cst.Import, cst.ImportFrom))
        or (isinstance(small, cst.Expr) and isinstance(small.value, (cst.SimpleString, cst.ConcatenatedString)))
        for small in statement.body
    )


def _ast_imports_pandas(tree: ast.Module) -> bool:
    """``import pandas [as pd]``, ``import pandas.x``, ``from pandas[.x] import ...`` anywhere in the module."""
    for site in ast_shapes.shapes(tree).of(ast.Import, ast.ImportFrom):
        node = site.node
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            modules = [node.module or ""]
        else:
            continue
        if any(module == "pandas" or module.startswith("pandas.") for module in modules):
            return True
    return False


def _ast_may_match(loop: ast.For | ast.AsyncFor, enumerates: frozenset[str]) -> bool:
    """``for a, b in e(<subscript, name or attribute>):``, ``e`` a name in ``enumerates`` (or ``x.enumerate``),
    whose body ends with ``<x>[...].append(a)`` or ``<x>.setdefault(...).append(a)``, after at most one ``if``
    (the ``if b not in d: d[b] = []`` form)."""
    call, target = loop.iter, loop.target
    if not (
        isinstance(call, ast.Call)
        # for i, label in zip(indices, labels): not builtins.enumerate
        and ast_shapes.last_name(call.func) in enumerates
        and any(isinstance(value, (ast.Subscript, ast.Name, ast.Attribute)) for value in ast_shapes.argument_values(call))
        and isinstance(target, (ast.Tuple, ast.List))
        and len(target.elts) == 2
        and all(isinstance(element, ast.Name) for element in target.elts)
        and 1 <= len(loop.body) <= 2
        and (len(loop.body) == 1 or isinstance(loop.body[0], ast.If))
        and isinstance(loop.body[-1], ast.Expr)
        and ast_shapes.method_name(loop.body[-1].value) == "append"
    ):
        return False
    append = loop.body[-1].value
    if not (isinstance(append, ast.Call) and isinstance(append.func, ast.Attribute)):
        return False
    grown = append.func.value
    if not (isinstance(grown, ast.Subscript) or ast_shapes.method_name(grown) == "setdefault"):
        return False  # out.append(i): a list, not a group
    first = target.elts[0]
    position = first.id if isinstance(first, ast.Name) else ""
    return any(
        isinstance(value, ast.Name) and value.id == position for value in ast_shapes.argument_values(append)
    )


def _body_statements(loop: cst.For) -> Optional[Sequence[cst.BaseStatement]]:
    body = loop.body
    return body.body if isinstance(body, cst.IndentedBlock) and 1 <= len(body.body) <= 2 else None


def _single_call(line: cst.BaseStatement) -> Optional[cst.Call]:
    """The call when ``line`` is exactly one expression statement ``<...>.append(...)``."""
    if not isinstance(line, cst.SimpleStatementLine) or len(line.body) != 1 or not isinstance(line.body[0], cst.Expr):
        return None
    return method_call(line.body[0].value, "append")


def _creates_missing_list(guard: cst.BaseStatement, groups: cst.BaseExpression, key: cst.Name) -> bool:
    """``if K not in D: D[K] = []`` (no ``else``)."""
    if not isinstance(guard, cst.If) or guard.orelse is not None:
        return False
    test = guard.test
    if not (
        isinstance(test, cst.Comparison)
        and _is_name(test.left, key.value)
        and len(test.comparisons) == 1
        and isinstance(test.comparisons[0].operator, cst.NotIn)
        and _code(test.comparisons[0].comparator) == _code(groups)
    ):
        return False
    store = sole_statement(guard.body)
    return (
        isinstance(store, cst.Assign)
        and len(store.targets) == 1
        and isinstance(store.targets[0].target, cst.Subscript)
        and _code(store.targets[0].target) == f"{_code(groups)}[{key.value}]"
        and isinstance(store.value, cst.List)
        and not store.value.elements
    )


def _first_component(node: cst.BaseExpression) -> str:
    """``self`` in ``self.groups``; ``groups`` in ``groups``."""
    while isinstance(node, cst.Attribute):
        node = node.value
    return node.value if isinstance(node, cst.Name) else ""


def _appends(call: cst.Call, position: cst.Name) -> bool:
    return (
        len(call.args) == 1
        and call.args[0].keyword is None
        and not call.args[0].star
        and isinstance(call.args[0].value, cst.Name)
        and call.args[0].value.value == position.value
    )


def _grouped_into(target: cst.BaseExpression, key: cst.Name) -> tuple[Optional[cst.BaseExpression], bool]:
    """``(D, False)`` for ``D[K]``, ``(D, True)`` for ``D.setdefault(K, [])``, else ``(None, False)``."""
    if isinstance(target, cst.Subscript) and len(target.slice) == 1:
        index = target.slice[0].slice
        if isinstance(index, cst.Index) and _is_name(index.value, key.value):
            return target.value, False
        return None, False
    setdefault = method_call(target, "setdefault")
    if setdefault is None or len(setdefault.args) != 2 or any(arg.keyword or arg.star for arg in setdefault.args):
        return None, False
    first, default = (arg.value for arg in setdefault.args)
    if _is_name(first, key.value) and isinstance(default, cst.List) and not default.elements:
        return receiver(setdefault), True
    return None, False


def _is_name(node: cst.BaseExpression, name: str) -> bool:
    return isinstance(node, cst.Name) and node.value == name





def _code(node: cst.CSTNode) -> str:
    return cst.Module([]).code_for_node(node)
