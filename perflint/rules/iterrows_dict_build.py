"""PFL201 iterrows-dict-build."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Callable, Optional

import libcst as cst
from libcst.metadata import (
    BuiltinAssignment,
    ClassScope,
    ParentNodeProvider,
    PositionProvider,
    QualifiedNameProvider,
    ScopeProvider,
)

from perflint.analysis import ast_shapes
from perflint.analysis.dataflow import fresh_name, mentions, read_after
from perflint.analysis.iterrows import fresh_dict_before, iterrows_frame, single_subscript_store
from perflint.analysis.names import dotted_name, literal_string, qualified_names
from perflint.analysis.pandas_evidence import SERIES_ATTRIBUTES
from perflint.rule import Invalid, Rewrite, Rule, Valid
from perflint.types import Applicability, FixSafety, MetricImpact

# Builtins the rewrite calls; where any is rebound the fix would call something else.
REWRITE_BUILTINS = ("dict", "zip", "map", "str")


@dataclass(frozen=True)
class _Column:
    """Where a key or value comes from: a column label and its literal (None for the index label), and whether
    ``str()`` wraps it."""

    label: Optional[str]
    literal: Optional[cst.SimpleString]
    as_str: bool


@dataclass(frozen=True)
class _Site:
    """One dict built from ``X.iterrows()``: the pieces the rule checks and the fix rewrites."""

    node: cst.CSTNode
    frame: cst.BaseExpression
    target: cst.BaseAssignTargetExpression
    key: cst.BaseExpression
    value: cst.BaseExpression


RewriteFor = Callable[[tuple[_Column, _Column]], tuple[Optional[Rewrite], Optional[str]]]


class IterrowsDictBuild(Rule):
    """
    ## What it does
    Finds dicts built row by row from `DataFrame.iterrows()`: `{K: V for I, R in X.iterrows()}`,
    `dict((K, V) for I, R in X.iterrows())`, and `D = {}` followed by `for I, R in X.iterrows(): D[K] = V`,
    where `K` and `V` read one column of the row (`R["col"]`, `R.col`), the index label `I`, or `str()` of one.

    ## Why is this bad?
    `iterrows()` builds a new Series for every row, from the frame's common-dtype 2-D array (and pandas 3
    re-infers each row's dtype). Reading two whole columns is a few vectorised calls: at 3,973 rows
    `dict(zip(map(str, X[a].tolist()), map(str, X[b].tolist())))` was 67-248x faster than the iterrows
    comprehension, and the seed's `astype(str)` version 29-134x (pandas 3.1 and 2.3, CPU). The seed's 3,973-row
    maps dropped from 0.3-0.6 s to 2-12 ms.

    ## Example
    ```python
    code2market = {str(row["Code"]): str(row["MarketCode"]) for _, row in listed_info.iterrows()}
    ```

    ## Use instead
    ```python
    code2market = dict(zip(map(str, listed_info["Code"].tolist()), map(str, listed_info["MarketCode"].tolist())))
    ```
    `dict(zip(X[a].tolist(), X[b].tolist()))` without `str()`, and `X.index` for the row label `I`
    (`map(str, X.index.tolist())` for `str(I)`). `.tolist()` matters without `str()` too: iterating a nullable
    column (`Int64`, `boolean`) yields numpy scalars, where iterrows and `.tolist()` yield Python ones.

    ## Fix safety
    Unsafe: whether the result is identical depends on the runtime dtypes of `X` and on the pandas version,
    which a static tool does not see. The fix equals the loop for string, object, int, float, bool, datetime
    (midnight or not), timezone-aware, timedelta, categorical and Int64 columns, with or without missing
    values, whenever `X` also has a string or object column, and for duplicate keys (the last row wins in
    both); a differential test checks this on random frames under pandas 3.1 and 2.3. It differs:
    - **int next to float**: a row takes the common dtype of *all* columns of `X`, so when `X` is all-numeric
      with a float column an int becomes a float: iterrows gives `'1301.0'` where the fix gives `'1301'`
      (and precision is lost above 2**53: `'9007199254740992.0'`); without `str()` the key is
      `np.float64(1301.0)` instead of `1301`.
    - **float32**: in an all-float32 frame iterrows yields `np.float32` (`'0.1'`) where the fix yields the
      Python float (`'0.10000000149011612'`).
    - **missing values in re-inferred rows**: iterrows builds each row as a Series, which infers the row's
      dtype. A row whose other values are all datetimes (of one time zone), all timedeltas or all periods
      becomes a datetime-like row, so a `None` or NaN in it becomes NaT: iterrows gives `'NaT'` where the fix
      gives `'None'` / `'nan'` (pandas 2 and 3). Under pandas >= 3 a row whose other values are all strings
      becomes a string row, so `None`, `pd.NA` or an Int64 `<NA>` in it becomes NaN: `'nan'` instead of
      `'None'` / `'<NA>'` (pandas 2 keeps them, like the fix).
    - **without `str()`**: an all-numeric or all-bool frame yields numpy scalars (`np.int64(1301)`,
      `np.bool_`) where the fix yields Python ones: equal and hashing alike, but `type()`, `json.dumps` and
      `isinstance(x, np.integer)` differ. In re-inferred rows (above) the raw missing value changes too, and
      under pandas 3 float NaN keys in string rows collapse into the one `np.nan` object.
    - **duplicate column labels** (including `X[[a, a]]`): `R[a]` is a Series and the original keys are its
      multi-line repr; no fix is offered when the key and the value name the same column.
    - **errors**: a missing column raises `KeyError` even on an empty frame, where the loop built `{}`; in the
      loop form a failing loop left `D` bound to a partial dict.
    The seed's own target, `dict(zip(X[a].astype(str), X[b].astype(str)))`, is worse and is not used: it also
    renders all-midnight datetimes as `'2024-01-04'` instead of `'2024-01-04 00:00:00'`, timedeltas as
    `'1 days'` instead of `'1 days 00:00:00'`, float32 next to a string column as `'0.1'`, and under pandas 3
    keeps every missing value as a float NaN key or value instead of `'nan'` / `'None'` / `'NaT'`.

    When `X` is a call (`pd.read_csv(path).iterrows()`), the fix binds it once to a fresh local (`frame`) on
    the line before, which keeps the frame alive until the function returns; where that would change the
    order of evaluation (the dict is not the whole value of an assignment or `return`) no fix is offered.
    `X[[a, b]]` as the receiver is read as `X` when the list names exactly the columns used.

    ## Metric impact
    May change: identical on string-typed tables such as the reference trainer's listed-info table, but an
    int code column in an all-numeric table with a float column changes every key from `'1301.0'` to
    `'1301'`, so later lookups find different entries.

    ## Known problems
    Reported without a fix: an `if` filter, more than one `for`, the key and the value from the same column,
    any other use of the row (`R["a"] + 1`, `f(R)`, `R[0]`, `R.name`, any attribute pandas.Series has), loop
    variables read after the loop, and `dict`/`zip`/`map`/`str` rebound in scope. `X.iterrows()` is taken to
    be pandas whatever `X` is, since only pandas has it.

    ## Options
    None.

    ## References
    - pandas documentation, `DataFrame.iterrows`: "Because iterrows returns a Series for each row, it does
      not preserve dtypes across the rows".
    - pandas "Migration guide for the new string data type" (pandas 3).
    """

    code = "PFL201"
    name = "iterrows-dict-build"
    message = (
        "dict built row by row from `iterrows()`, which makes a Series per row; reading whole columns with "
        "`dict(zip(...))` was 67-248x faster"
    )
    fix_title = "Build the dict from whole columns with `dict(zip(...))`"
    fix_safety = FixSafety.UNSAFE
    metric_impact = MetricImpact.MAY_CHANGE
    required_tokens = (".iterrows(",)
    METADATA_DEPENDENCIES = (PositionProvider, ParentNodeProvider, QualifiedNameProvider, ScopeProvider)

    valid = (
        Valid(
            """
            names = [str(row["Code"]) for _, row in listed_info.iterrows()]
            """
        ),
        Valid(
            """
            for _, row in listed_info.iterrows():
                mapping[row["Code"]] = row["MarketCode"]
            """
        ),
        Valid(
            """
            code2market = {str(row["Code"]): str(row["MarketCode"]) for row in listed_info.itertuples()}
            """
        ),
    )
    invalid = (
        Invalid(
            """
            def build(listed_info):
                return {str(row["Code"]): str(row["MarketCode"]) for _, row in listed_info.iterrows()}
            """,
            fixed="""
            def build(listed_info):
                return dict(zip(map(str, listed_info["Code"].tolist()), map(str, listed_info["MarketCode"].tolist())))
            """,
            applicability=Applicability.UNSAFE,
            message_contains="67-248x faster",
        ),
        Invalid(
            """
            def build(frame):
                return dict((label, row.price) for label, row in frame.iterrows())
            """,
            fixed="""
            def build(frame):
                return dict(zip(frame.index, frame["price"].tolist()))
            """,
            applicability=Applicability.UNSAFE,
        ),
        Invalid(
            """
            def build(frame):
                names = {}
                for label, row in frame.iterrows():
                    names[str(label)] = row["name"]
                return names
            """,
            fixed="""
            def build(frame):
                names = dict(zip(map(str, frame.index.tolist()), frame["name"].tolist()))
                return names
            """,
            applicability=Applicability.UNSAFE,
        ),
        Invalid(
            """
            def build(frame):
                return {row["a"]: row["b"] for _, row in frame.iterrows() if row["b"] > 0}
            """,
            message_contains="no fix: the comprehension has an `if` filter",
        ),
        Invalid(
            """
            def build(frame):
                return {row["a"]: row["b"] * 2 for _, row in frame.iterrows()}
            """,
            message_contains="no fix: the row is used",
        ),
        Invalid(
            """
            def build(frame):
                return {str(row["a"]): row["a"] for _, row in frame.iterrows()}
            """,
            message_contains="same column",
        ),
    )

    @classmethod
    def could_match(cls, tree: ast.Module) -> bool:
        """Whether ``tree`` has a dict comprehension or generator expression with an ``X.iterrows()`` generator,
        or a ``for`` over ``X.iterrows()`` whose body is one ``D[K] = V`` right after ``D = {}`` / ``D = f()``."""
        if any(_ast_comprehension_over_iterrows(node) for node in ast.walk(tree)):
            return True
        return any(
            _ast_dict_build_loop(previous, loop) for block in ast_shapes.blocks(tree) for previous, loop in zip(block, block[1:])
        )

    def visit_DictComp(self, node: cst.DictComp) -> None:
        self._check_comprehension(node, node.for_in, node.key, node.value)

    def visit_Call(self, node: cst.Call) -> None:
        if not (
            len(node.args) == 1
            and node.args[0].keyword is None
            and not node.args[0].star
            and isinstance(node.args[0].value, cst.GeneratorExp)
            and "builtins.dict" in qualified_names(self, node.func)
        ):
            return
        generator = node.args[0].value
        pair = generator.elt
        if isinstance(pair, cst.Tuple) and len(pair.elements) == 2 and not any(
            isinstance(element, cst.StarredElement) for element in pair.elements
        ):
            self._check_comprehension(node, generator.for_in, pair.elements[0].value, pair.elements[1].value)
        elif iterrows_frame(generator.for_in.iter) is not None:
            self._report(node, "the generator does not yield `(key, value)` pairs")

    def visit_For(self, node: cst.For) -> None:
        frame = iterrows_frame(node.iter)
        store = single_subscript_store(node)
        if frame is None or store is None or node.asynchronous is not None:
            return
        creation = fresh_dict_before(self, node, store[0])
        if creation is None:
            # `for ...: D[K] = V` into a dict of unknown content is an update, not a build.
            return
        site = _Site(node, frame, node.target, store[1], store[2])
        reason = self._loop_reason(node, store[0])
        self._report_site(site, reason, lambda columns: self._loop_rewrite(site, creation, columns))

    # ------------------------------------------------------------------------------------------ comprehensions

    def _check_comprehension(
        self, node: cst.CSTNode, for_in: cst.CompFor, key: cst.BaseExpression, value: cst.BaseExpression
    ) -> None:
        frame = iterrows_frame(for_in.iter)
        if for_in.asynchronous is not None:
            return
        if frame is None:
            if _has_inner_iterrows(for_in):
                self._report(node, "the comprehension has more than one `for`")
            return
        if for_in.inner_for_in is not None:
            self._report(node, "the comprehension has more than one `for`")
        elif for_in.ifs:
            self._report(node, "the comprehension has an `if` filter")
        else:
            site = _Site(node, frame, for_in.target, key, value)
            self._report_site(site, None, lambda columns: self._expression_rewrite(site, columns))

    # ------------------------------------------------------------------------------------------ checks

    def _report_site(self, site: _Site, reason: Optional[str], rewrite_for: RewriteFor) -> None:
        """Report ``site``: without a fix when ``reason`` (or a check here) says why, else with ``rewrite_for``'s."""
        columns = None
        if reason is None:
            columns, reason = self._columns(site)
        if reason is None and not self._builtins_visible(site.node):
            reason = "`dict`, `zip`, `map` or `str` is rebound in this scope"
        rewrite = None
        if reason is None:
            rewrite, reason = rewrite_for(columns)
        self._report(site.node, reason, rewrite)

    def _columns(self, site: _Site) -> tuple[Optional[tuple[_Column, _Column]], Optional[str]]:
        names = _pair_of_names(site.target)
        if names is None:
            return None, "the loop target is not a pair of names"
        index, row = (name.value for name in names)
        key = self._column(site.key, index, row)
        value = self._column(site.value, index, row)
        if key is None or value is None:
            return None, "the row is used other than as `row[\"<label>\"]`, `row.<label>` or `str()` of one"
        if key.label == value.label:
            return None, "the key and the value come from the same column"
        return (key, value), None

    def _column(self, node: cst.BaseExpression, index: str, row: str) -> Optional[_Column]:
        if (
            isinstance(node, cst.Call)
            and len(node.args) == 1
            and node.args[0].keyword is None
            and not node.args[0].star
            and "builtins.str" in qualified_names(self, node.func)
        ):
            inner = _plain_column(node.args[0].value, index, row)
            return None if inner is None else _Column(inner.label, inner.literal, as_str=True)
        return _plain_column(node, index, row)

    def _loop_reason(self, loop: cst.For, dict_name: str) -> Optional[str]:
        if loop.orelse is not None:
            return "the loop has an `else` clause"
        if mentions(loop.iter, dict_name):
            return f"the frame expression reads `{dict_name}`"
        names = _pair_of_names(loop.target)
        if names is not None and any(read_after(self, name, loop) for name in names):
            return "the loop variables are read after the loop"
        return None

    def _builtins_visible(self, node: cst.CSTNode) -> bool:
        scope = self.get_metadata(ScopeProvider, node, None)
        if scope is None:
            return False
        return all(
            all(isinstance(assignment, BuiltinAssignment) for assignment in scope[name])
            for name in REWRITE_BUILTINS
        )

    def _expression_rewrite(self, site: _Site, columns: tuple[_Column, _Column]) -> tuple[Optional[Rewrite], Optional[str]]:
        frame = _reusable_frame(site.frame, columns)
        if frame is not None:
            return Rewrite(Applicability.UNSAFE, (Rewrite.replace(site.node, _zip_dict(frame, columns)),)), None
        statement = self._binding_statement(site.node)
        if statement is None:
            return None, "the frame expression would run twice, and binding it first would change the order of evaluation"
        local = cst.Name(fresh_name(self, statement, "frame"))
        binding = cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(local)], site.frame)])
        changes = (
            Rewrite.insert_before(statement, [binding]),
            Rewrite.replace(site.node, _zip_dict(local, columns)),
        )
        return Rewrite(Applicability.UNSAFE, changes), None

    def _loop_rewrite(
        self, site: _Site, creation: cst.SimpleStatementLine, columns: tuple[_Column, _Column]
    ) -> tuple[Optional[Rewrite], Optional[str]]:
        if self._in_class_body(creation):
            return None, "the loop is in a class body"
        assert isinstance(site.node, cst.For)
        frame = _reusable_frame(site.frame, columns)
        lines: list[cst.BaseStatement] = []
        if frame is None:
            frame = cst.Name(fresh_name(self, creation, "frame"))
            lines.append(cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(frame)], site.frame)]))
        creation_statement = creation.body[0]
        built = creation_statement.with_changes(value=_zip_dict(frame, columns))
        lines.append(creation.with_changes(body=[built], leading_lines=()))
        # The comments above the `D = {}` line and above the loop stay above the new statements.
        lines[0] = lines[0].with_changes(leading_lines=[*creation.leading_lines, *site.node.leading_lines])
        changes = (
            (creation, lambda _updated: cst.FlattenSentinel(lines)),
            (site.node, lambda _updated: cst.RemovalSentinel.REMOVE),
        )
        return Rewrite(Applicability.UNSAFE, changes), None

    def _binding_statement(self, node: cst.CSTNode) -> Optional[cst.SimpleStatementLine]:
        """The statement line whose first evaluation is ``node``: ``D = node``, ``D: T = node``, ``return node``."""
        parent = self.get_metadata(ParentNodeProvider, node)
        if not isinstance(parent, (cst.Assign, cst.AnnAssign, cst.Return)) or parent.value is not node:
            return None
        line = self.get_metadata(ParentNodeProvider, parent)
        if not isinstance(line, cst.SimpleStatementLine) or len(line.body) != 1 or self._in_class_body(line):
            return None
        return line

    def _in_class_body(self, node: cst.CSTNode) -> bool:
        return isinstance(self.get_metadata(ScopeProvider, node, None), ClassScope)

    def _report(self, node: cst.CSTNode, reason: Optional[str], rewrite: Optional[Rewrite] = None) -> None:
        message = self.message if reason is None else f"{self.message} (no fix: {reason})"
        self.report(node, message, rewrite=rewrite)


def _ast_comprehension_over_iterrows(node: ast.AST) -> bool:
    return isinstance(node, (ast.DictComp, ast.GeneratorExp)) and any(
        ast_shapes.is_iterrows_call(generator.iter) for generator in node.generators
    )


def _ast_dict_build_loop(previous: ast.stmt, loop: ast.stmt) -> bool:
    """``is_dict_build_loop`` on the ast, looser: any subscript of a name is a store, any call without
    arguments may be ``dict()``."""
    if not (isinstance(loop, ast.For) and ast_shapes.is_iterrows_call(loop.iter) and len(loop.body) == 1):
        return False
    store = loop.body[0]
    if not (isinstance(store, ast.Assign) and len(store.targets) == 1 and isinstance(store.targets[0], ast.Subscript)):
        return False
    grown = store.targets[0].value
    if isinstance(previous, ast.Assign) and len(previous.targets) == 1:
        target, value = previous.targets[0], previous.value
    elif isinstance(previous, ast.AnnAssign) and previous.value is not None:
        target, value = previous.target, previous.value
    else:
        return False
    empty = (isinstance(value, ast.Dict) and not value.keys) or (isinstance(value, ast.Call) and ast_shapes.argument_count(value) == 0)
    return isinstance(grown, ast.Name) and isinstance(target, ast.Name) and target.id == grown.id and empty


def _has_inner_iterrows(for_in: cst.CompFor) -> bool:
    inner = for_in.inner_for_in
    while inner is not None:
        if iterrows_frame(inner.iter) is not None:
            return True
        inner = inner.inner_for_in
    return False


def _pair_of_names(target: cst.BaseExpression) -> Optional[tuple[cst.Name, cst.Name]]:
    """``(I, R)`` for a target ``I, R`` of two distinct names, else None."""
    if isinstance(target, (cst.Tuple, cst.List)) and len(target.elements) == 2:
        first, second = (element.value for element in target.elements)
        if isinstance(first, cst.Name) and isinstance(second, cst.Name) and first.value != second.value:
            return first, second
    return None


def _plain_column(node: cst.BaseExpression, index: str, row: str) -> Optional[_Column]:
    """``I`` -> the index; ``R["a"]`` / ``R.a`` -> column a (not a Series attribute such as ``R.name``)."""
    if isinstance(node, cst.Name) and node.value == index:
        return _Column(None, None, as_str=False)
    if isinstance(node, cst.Subscript) and isinstance(node.value, cst.Name) and node.value.value == row:
        if len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index):
            label = node.slice[0].slice.value
            text = literal_string(label)
            if text is not None and isinstance(label, cst.SimpleString):
                return _Column(text, label, as_str=False)
        return None
    if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value == row:
        attribute = node.attr.value
        if attribute.startswith("_") or attribute in SERIES_ATTRIBUTES:
            return None
        return _Column(attribute, None, as_str=False)
    return None


def _reusable_frame(frame: cst.BaseExpression, columns: tuple[_Column, _Column]) -> Optional[cst.BaseExpression]:
    """An expression that may be evaluated once per column: a dotted name, or ``Y`` for ``Y[[a, b]]``.

    ``Y[[a, b]][a]`` is ``Y[a]`` when the list has no duplicates and names exactly the columns used (an unused
    label would have raised KeyError when missing).
    """
    if dotted_name(frame) is not None:
        return frame
    if isinstance(frame, cst.Subscript) and dotted_name(frame.value) is not None and len(frame.slice) == 1:
        index = frame.slice[0].slice
        if isinstance(index, cst.Index) and isinstance(index.value, cst.List):
            labels = [literal_string(element.value) for element in index.value.elements]
            used = {column.label for column in columns if column.label is not None}
            if None not in labels and len(set(labels)) == len(labels) and set(labels) == used:
                return frame.value
    return None


def _zip_dict(frame: cst.BaseExpression, columns: tuple[_Column, _Column]) -> cst.Call:
    """``dict(zip(<key column>, <value column>))``."""
    key, value = (_column_expression(frame, column) for column in columns)
    return cst.Call(cst.Name("dict"), [cst.Arg(cst.Call(cst.Name("zip"), [cst.Arg(key), cst.Arg(value)]))])


def _column_expression(frame: cst.BaseExpression, column: _Column) -> cst.BaseExpression:
    """``X[a].tolist()`` (``map(str, ...)`` of it for ``str()``); ``X.index`` for the row label.

    ``.tolist()`` even without ``str()``: iterating a nullable (Int64, boolean) column yields numpy scalars,
    where iterrows and ``.tolist()`` yield Python ones. iterrows pairs rows with ``X.index`` itself.
    """
    if column.label is None:
        values: cst.BaseExpression = cst.Attribute(frame, cst.Name("index"))
        if not column.as_str:
            return values
    else:
        label = column.literal or cst.SimpleString(f'"{column.label}"')
        values = cst.Subscript(frame, [cst.SubscriptElement(cst.Index(label))])
    as_list = cst.Call(cst.Attribute(values, cst.Name("tolist")))
    return cst.Call(cst.Name("map"), [cst.Arg(cst.Name("str")), cst.Arg(as_list)]) if column.as_str else as_list
