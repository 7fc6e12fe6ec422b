"""PFL205 iterrows-list-build."""

from __future__ import annotations

import ast
from typing import Optional

import libcst as cst
from libcst.metadata import BuiltinAssignment, ParentNodeProvider, PositionProvider, QualifiedNameProvider, ScopeProvider

from perflint.analysis import ast_shapes
from perflint.analysis.iterrows import (
    Columns,
    collecting_builtin,
    Read,
    columns_of,
    iterrows_frame,
    only_column_reads,
    pair_of_names,
    read_values,
    reusable_frame,
    row_read,
)
from perflint.rule import Invalid, Rewrite, Rule, Valid
from perflint.types import Applicability, FixSafety, MetricImpact

# What the comprehension builds, and the builtin that collects the column values into it.
CONTAINERS = {cst.ListComp: "list", cst.SetComp: "set"}
CALLED_CONTAINERS = ("list", "set", "tuple")


class IterrowsListBuild(Rule):
    """
    ## What it does
    Finds lists and sets built row by row from `DataFrame.iterrows()`: `[V for I, R in X.iterrows()]`,
    `{V for I, R in X.iterrows()}`, and `list(...)` / `set(...)` / `tuple(...)` of such a generator, where `V`
    reads one column of the row (`R["col"]`, `R[col_name]`, `R.col`), the index label `I`, `str()` / `int()` /
    `float()` / `bool()` of one, or a tuple of those (`(R.a, R.b)`).

    ## Why is this bad?
    `iterrows()` builds a new Series for every row, from the frame's common-dtype 2-D array (and pandas 3
    re-infers each row's dtype). Reading a whole column is one vectorised call: at 3,973 rows of string
    columns a list of `(code, market)` tuples took 456 ms with `iterrows()` and 0.49 ms as
    `list(zip(X[a].tolist(), X[b].tolist()))`, about 900x faster (pandas 3.1, loaded 2-core CPU, median of 7
    interleaved runs; `benchmarks/bench_code_maps.py`).

    ## Example
    ```python
    codes = [str(row["Code"]) for _, row in listed_info.iterrows()]
    pairs = [(row.Code, row.Name) for _, row in listed_info.iterrows()]
    ```

    ## Use instead
    ```python
    codes = list(map(str, listed_info["Code"].tolist()))
    pairs = list(zip(listed_info["Code"].tolist(), listed_info["Name"].tolist()))
    ```
    `X[a].tolist()` for a plain column, `list(X.index)` for the row label `I`, `set(...)` / `tuple(...)` for a
    set or tuple. `.tolist()` matters: iterating a nullable column (`Int64`, `boolean`) yields numpy scalars,
    where iterrows and `.tolist()` yield Python ones.

    ## Fix safety
    Unsafe: whether the values are identical depends on the runtime dtypes of `X` and on the pandas version,
    which a static tool does not see. The fix equals the comprehension for string, object, int, float, bool,
    datetime, timezone-aware, timedelta, categorical and Int64 columns, with or without missing values,
    whenever `X` also has a string or object column; a differential test checks this on random frames under
    pandas 3.1 and 2.3. It differs (the same list as PFL201):
    - **int next to float**: a row takes the common dtype of *all* columns of `X`, so when `X` is all-numeric
      with a float column, iterrows gives `np.float64(1301.0)` (and `'1301.0'` under `str()`) where the fix
      gives `1301` (`'1301'`); above 2**53 precision is lost. `int()` / `float()` / `bool()` of a value are
      the same either way.
    - **numpy scalars**: in an all-numeric or all-bool frame iterrows yields numpy scalars (`np.int64(1301)`,
      `np.float32(0.1)`) where the fix yields Python ones: equal and hashing alike (except float32, whose
      Python value is `0.10000000149011612`), but `type()`, `json.dumps` and `isinstance(x, np.integer)`
      differ.
    - **missing values in re-inferred rows**: iterrows infers each row's dtype. A row whose other values are
      all datetimes, all timedeltas or all periods turns `None` / NaN into NaT; under pandas >= 3 a row whose
      other values are all strings turns `None` / `pd.NA` into NaN, and an all-number row turns `pd.NA` into
      NaN. The fix keeps the column's own missing value (so `int()` of it raises `TypeError` where iterrows
      raised `ValueError`, and `float(pd.NA)` raises where `float(nan)` did not).
    - **duplicate column labels**: `R[a]` is then a Series; the fix's `X[a]` is a DataFrame and `.tolist()`
      raises `AttributeError`.
    - **errors**: a missing column raises `KeyError` even on an empty frame, where the comprehension built
      `[]`.
    A set holds the same elements either way, but for the differences above (a NaN float per row is one
    element per row in both).

    ## Metric impact
    May change: identical on string-typed tables, but an int column in an all-numeric table with a float
    column changes from `1301.0` to `1301`.

    ## Known problems
    Reported without a fix: an `if` filter, more than one `for`, a value computed from columns
    (`R["a"] + 1`), a tuple of columns of a frame that is not a dotted name (`pd.read_csv(p).iterrows()`:
    the fix would read it once per column), and `list`/`set`/`zip`/`map` or a converter rebound in scope. Not reported: a
    comprehension that uses the row other than by reading columns (`[f(R) for ...]`, `[R for ...]`,
    `R.name`), and loops that `.append()` (PFL203's). `X.iterrows()` is taken to be pandas whatever `X` is, since only pandas
    has it.

    ## Options
    None.

    ## References
    - pandas documentation, `DataFrame.iterrows`: "Because iterrows returns a Series for each row, it does
      not preserve dtypes across the rows".
    """

    code = "PFL205"
    name = "iterrows-list-build"
    message = "list or set built row by row from `iterrows()`, which makes a Series per row"
    fix_title = "Read whole columns with `.tolist()`"
    fix_safety = FixSafety.UNSAFE
    unsafe_when = "values depend on the column dtypes and the pandas version"
    metric_impact = MetricImpact.MAY_CHANGE
    required_tokens = (".iterrows(",)
    METADATA_DEPENDENCIES = (PositionProvider, ParentNodeProvider, QualifiedNameProvider, ScopeProvider)

    valid = (
        Valid(
            """
            codes = [row.Code for row in listed_info.itertuples()]
            """
        ),
        Valid(
            """
            totals = [row["a"] + row["b"] for row in rows]
            """
        ),
    )
    invalid = (
        Invalid(
            """
            def codes(listed_info):
                return [str(row["Code"]) for _, row in listed_info.iterrows()]
            """,
            fixed="""
            def codes(listed_info):
                return list(map(str, listed_info["Code"].tolist()))
            """,
            applicability=Applicability.UNSAFE,
            message_contains="makes a Series per row",
        ),
        Invalid(
            """
            def pairs(frame):
                return {(r.a, r.b) for _, r in frame.iterrows()}
            """,
            fixed="""
            def pairs(frame):
                return set(zip(frame["a"].tolist(), frame["b"].tolist()))
            """,
            applicability=Applicability.UNSAFE,
        ),
        Invalid(
            """
            def labels(frame):
                return [idx for idx, row in frame.iterrows()]
            """,
            fixed="""
            def labels(frame):
                return list(frame.index)
            """,
            applicability=Applicability.UNSAFE,
        ),
        Invalid(
            """
            def totals(frame):
                return [row["a"] + row["b"] for _, row in frame.iterrows()]
            """,
            message_contains="no fix: the row is used",
        ),
    )

    @classmethod
    def could_match(cls, tree: ast.Module) -> bool:
        """Whether ``tree`` has a list or set comprehension or a generator expression over ``X.iterrows()``."""
        return any(
            ast_shapes.is_iterrows_call(generator.iter)
            for site in ast_shapes.shapes(tree).of(ast.ListComp, ast.SetComp, ast.GeneratorExp)
            for generator in site.node.generators  # type: ignore[attr-defined]
        )

    def visit_ListComp(self, node: cst.ListComp) -> None:
        self._check(node, "list", node.for_in, node.elt)

    def visit_SetComp(self, node: cst.SetComp) -> None:
        self._check(node, "set", node.for_in, node.elt)

    def visit_Call(self, node: cst.Call) -> None:
        # list(V for ...), set(...), tuple(...): the generator is the call's only argument.
        container = collecting_builtin(self, node)
        if container in CALLED_CONTAINERS:
            generator = node.args[0].value
            assert isinstance(generator, cst.GeneratorExp)
            self._check(node, container, generator.for_in, generator.elt)

    def _check(self, node: cst.CSTNode, container: str, for_in: cst.CompFor, element: cst.BaseExpression) -> None:
        frame = iterrows_frame(for_in.iter)
        if frame is None or for_in.asynchronous is not None:
            # [f(x) for x in items]: not over iterrows (an inner `for` over it is the outer comprehension's
            # business only when it is the first one).
            return
        names = pair_of_names(for_in.target)
        if names is None or not only_column_reads(self, [element, *for_in.ifs], names[1].value):
            # [f(row) for _, row in X.iterrows()], [row for ...]: the rows themselves are wanted, no column read.
            return
        reason = None
        read: Optional[Read] = None
        if for_in.inner_for_in is not None:
            reason = "the comprehension has more than one `for`"
        elif for_in.ifs:
            reason = "the comprehension has an `if` filter"
        else:
            read = row_read(self, element, names[0].value, names[1].value)
            if read is None:
                reason = "the row is used other than as `row[<label>]`, `row.<label>` or `str()` of one"
        source = None
        if reason is None and read is not None:
            source = reusable_frame(frame, (read,))
            if source is None and not isinstance(read, Columns):
                source = frame  # one column: `pd.read_csv(p)["a"].tolist()` still reads the frame once
            if source is None:
                # [(r.a, r.b) for _, r in pd.read_csv(p).iterrows()]: the fix would read the frame per column.
                reason = "the frame expression would run once per column"
        if reason is None and not self._builtins_visible(node, container, read):
            reason = "a builtin the fix calls is rebound in this scope"
        if reason is not None:
            self.report(node, f"{self.message} (no fix: {reason})")
            return
        assert read is not None and source is not None
        self.report(node, self.message, rewrite=Rewrite(Applicability.UNSAFE, (Rewrite.replace(node, _collected(source, container, read)),)))

    def _builtins_visible(self, node: cst.CSTNode, container: str, read: Optional[Read]) -> bool:
        scope = self.get_metadata(ScopeProvider, node, None)
        if scope is None or read is None:
            return False
        used = {container, "zip", "map", *(column.convert for column in columns_of(read) if column.convert)}
        return all(all(isinstance(a, BuiltinAssignment) for a in scope[name]) for name in used)


def _collected(frame: cst.BaseExpression, container: str, read: Read) -> cst.BaseExpression:
    """``X[a].tolist()`` for a list of one plain column, else ``<container>(<values>)``."""
    values = read_values(frame, read)
    if container == "list" and isinstance(values, cst.Call) and isinstance(values.func, cst.Attribute):
        return values  # X[a].tolist() is already a new list
    return cst.Call(cst.Name(container), [cst.Arg(values)])
