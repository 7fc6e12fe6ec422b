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
from perflint.analysis.iterrows import (
    DictBuildLoop,
    Read,
    collecting_builtin,
    columns_of,
    dict_build_loop,
    iterrows_frame,
    only_column_reads,
    pair_of_names,
    read_values,
    reusable_frame,
    row_read,
    same_column_twice,
)
from perflint.rule import Invalid, Rewrite, Rule, Valid
from perflint.types import Applicability, FixSafety, MetricImpact

# Builtins the rewrite calls; where any is rebound the fix would call something else.
REWRITE_BUILTINS = ("dict", "zip", "map")


@dataclass(frozen=True)
class _Site:
    """One dict built from ``X.iterrows()``: the pieces the rule checks and the fix rewrites."""

    node: cst.CSTNode
    frame: cst.BaseExpression
    target: cst.BaseAssignTargetExpression
    key: cst.BaseExpression
    value: cst.BaseExpression


RewriteFor = Callable[[tuple[Read, Read]], tuple[Optional[Rewrite], Optional[str]]]


class IterrowsDictBuild(Rule):
    """
    ## What it does
    Finds dicts built row by row from `DataFrame.iterrows()`: `{K: V for I, R in X.iterrows()}`,
    `dict((K, V) for I, R in X.iterrows())`, and `for I, R in X.iterrows(): D[K] = V` when that store is the
    whole loop body and `D` is a dict (created as `{}` right before the loop, or every binding of `D` in scope
    makes a dict). `K` and `V` read one column of the row (`R["col"]`, `R[code_col]`, `R[self.code_col]`,
    `R.col`) or the index label `I`, maybe inside `str()`, `int()`, `float()` or `bool()`, or a tuple of those
    (`(R.a, R.b)`). The frame may be a column subset, `X[[a, b]].iterrows()`.

    ## Why is this bad?
    `iterrows()` builds a new Series for every row, from the frame's common-dtype 2-D array (and pandas 3
    re-infers each row's dtype). Reading two whole columns is a few vectorised calls: at 3,973 rows
    `dict(zip(map(str, X[a].tolist()), map(str, X[b].tolist())))` was 67-248x faster than the iterrows
    comprehension, and the seed's `astype(str)` version 29-134x (pandas 3.1 and 2.3, CPU). The seed's 3,973-row
    maps dropped from 0.3-0.6 s to 2-12 ms. The seed pipeline's spelling, labels in variables and a column
    subset (`{str(r[code_col]): str(r[m_use]) for _, r in X[[code_col, m_use]].iterrows()}`), took 439 ms
    against 1.3 ms for its fix, about 350x (pandas 3.1, loaded 2-core CPU; `benchmarks/bench_code_maps.py`).

    ## Example
    ```python
    code2market = {str(row["Code"]): str(row["MarketCode"]) for _, row in listed_info.iterrows()}
    ```

    ## Use instead
    ```python
    code2market = dict(zip(map(str, listed_info["Code"].tolist()), map(str, listed_info["MarketCode"].tolist())))
    ```
    `dict(zip(X[a].tolist(), X[b].tolist()))` without `str()`, `map(int, X[a].tolist())` for `int()`,
    `zip(X[a].tolist(), X[b].tolist())` for a tuple, and `X.index` for the row label `I`
    (`map(str, X.index.tolist())` for `str(I)`). A loop into a dict that already holds entries becomes
    `D.update(zip(<keys>, <values>))`: the same stores in the same order (an existing key keeps its place,
    the last row wins). `.tolist()` matters without `str()` too: iterating a nullable
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
    - **labels held in names**: `R[a]` and `R[b]` with names `a` and `b` read the same column when the names
      hold one label; without a subset the fix then reads that column twice, exactly as the loop does. With
      a subset `X[[a, b]]` the frame has that column twice, so `R[a]` is a Series (keys are its repr, or a
      `TypeError` for an unhashable key) where the fix reads `X[a]` once per name; a differential test shows
      both. A name holding a list of labels makes `R[a]` a Series too (the fix then raises
      `AttributeError`).
    - **`int()` / `float()` / `bool()`**: exact for upcast rows (`int(np.float64(1301.0))` is `1301`), but a
      missing value that row inference turned into NaN raises `ValueError` in `int()` instead of
      `TypeError`, and `float()` / `bool()` of it return `nan` / `True` where `float(pd.NA)` raises.
    - **errors**: a missing column raises `KeyError` even on an empty frame, where the loop built `{}`; in the
      loop form a failing loop left `D` bound to a partial dict.
    The seed's own target, `dict(zip(X[a].astype(str), X[b].astype(str)))`, is worse and is not used: it also
    renders all-midnight datetimes as `'2024-01-04'` instead of `'2024-01-04 00:00:00'`, timedeltas as
    `'1 days'` instead of `'1 days 00:00:00'`, float32 next to a string column as `'0.1'`, and under pandas 3
    keeps every missing value as a float NaN key or value instead of `'nan'` / `'None'` / `'NaT'`.

    The update form needs `D` to be a dict, not just any mapping: `dict.update` stores without calling an
    overridden `__setitem__` (`defaultdict` and `OrderedDict` do not override it).

    When `X` is a call (`pd.read_csv(path).iterrows()`), the fix binds it once to a fresh local (`frame`) on
    the line before, which keeps the frame alive until the function returns; where that would change the
    order of evaluation (the dict is not the whole value of an assignment or `return`) no fix is offered.
    `X[[a, b]]` as the receiver is read as `X` when the list names exactly the columns used, each once.

    ## Metric impact
    May change: identical on string-typed tables such as the reference trainer's listed-info table, but an
    int code column in an all-numeric table with a float column changes every key from `'1301.0'` to
    `'1301'`, so later lookups find different entries.

    ## Known problems
    Reported without a fix: an `if` filter, more than one `for`, the key and the value from the same column,
    a key or value computed from columns (`R["a"] + 1`, `f(R["a"])`, `R[0]`), loop
    variables read after the loop (a later loop that reuses the names counts), and `dict`/`zip`/`map` or a
    converter rebound in scope. Not reported: a comprehension that uses the row itself (`{R["id"]: R ...}`,
    `f(R)`, `R.name`, `R.to_dict()`, any attribute pandas.Series has). A loop into a dict of unknown kind (a parameter, `self.d`) or whose
    key or value is computed is left to PFL203. `X.iterrows()` is taken to
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
    message = "dict built row by row from `iterrows()`, which makes a Series per row"
    fix_title = "Build the dict from whole columns with `dict(zip(...))`"
    fix_safety = FixSafety.UNSAFE
    unsafe_when = "values depend on the column dtypes and the pandas version"
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
            message_contains="makes a Series per row",
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
        or a ``for`` over ``X.iterrows()`` whose body is one ``D[K] = V`` with ``D`` assigned a dict somewhere
        (a ``{...}`` display, a dict comprehension, or a call of something spelled ``*dict``)."""
        loops: list[str] = []
        dicts: set[str] = set()
        for node in ast.walk(tree):
            if _ast_comprehension_over_iterrows(node):
                return True
            stored = _ast_store_loop(node)
            if stored is not None:
                loops.append(stored)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)) and _ast_makes_dict(node.value):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                dicts.update(target.id for target in targets if isinstance(target, ast.Name))
        return any(name in dicts for name in loops)

    def visit_DictComp(self, node: cst.DictComp) -> None:
        self._check_comprehension(node, node.for_in, node.key, node.value)

    def visit_Call(self, node: cst.Call) -> None:
        if collecting_builtin(self, node) != "dict":
            return
        generator = node.args[0].value
        assert isinstance(generator, cst.GeneratorExp)
        pair = generator.elt
        if isinstance(pair, cst.Tuple) and len(pair.elements) == 2 and not any(
            isinstance(element, cst.StarredElement) for element in pair.elements
        ):
            self._check_comprehension(node, generator.for_in, pair.elements[0].value, pair.elements[1].value)
        elif iterrows_frame(generator.for_in.iter) is not None:
            self._report(node, "the generator does not yield `(key, value)` pairs")

    def visit_For(self, node: cst.For) -> None:
        loop = dict_build_loop(self, node)
        if loop is None:
            # `for ...: frame[r.a] = r.b` into something not shown to be a dict: PFL203's, or nobody's.
            return
        frame = iterrows_frame(node.iter)
        assert frame is not None
        site = _Site(node, frame, node.target, loop.key, loop.value)
        reason = self._loop_reason(node, loop)
        self._report_site(site, reason, lambda reads: self._loop_rewrite(site, loop, reads))

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
        names = pair_of_names(for_in.target)
        if names is not None and not only_column_reads(self, [key, value, *for_in.ifs], names[1].value):
            # {r["id"]: r for _, r in X.iterrows()}, {pool.submit(f, r): i for i, r in ...}: the rows themselves
            # are wanted, no column read to vectorise.
            return
        if for_in.inner_for_in is not None:
            self._report(node, "the comprehension has more than one `for`")
        elif for_in.ifs:
            self._report(node, "the comprehension has an `if` filter")
        else:
            site = _Site(node, frame, for_in.target, key, value)
            self._report_site(site, None, lambda reads: self._expression_rewrite(site, reads))

    # ------------------------------------------------------------------------------------------ checks

    def _report_site(self, site: _Site, reason: Optional[str], rewrite_for: RewriteFor) -> None:
        """Report ``site``: without a fix when ``reason`` (or a check here) says why, else with ``rewrite_for``'s."""
        reads = None
        if reason is None:
            reads, reason = self._reads(site)
        if reason is None and not self._builtins_visible(site.node, reads):
            reason = "a builtin the fix calls (`dict`, `zip`, `map`, `str`...) is rebound in this scope"
        rewrite = None
        if reason is None and reads is not None:
            rewrite, reason = rewrite_for(reads)
        self._report(site.node, reason, rewrite)

    def _reads(self, site: _Site) -> tuple[Optional[tuple[Read, Read]], Optional[str]]:
        names = pair_of_names(site.target)
        if names is None:
            return None, "the loop target is not a pair of names"
        index, row = (name.value for name in names)
        key = row_read(self, site.key, index, row)
        value = row_read(self, site.value, index, row)
        if key is None or value is None:
            return None, "the row is used other than as `row[<label>]`, `row.<label>` or `str()` of one"
        if same_column_twice((key, value)):
            return None, "the key and the value come from the same column"
        return (key, value), None

    def _loop_reason(self, loop: cst.For, build: DictBuildLoop) -> Optional[str]:
        dict_name = build.dict_name
        if loop.orelse is not None:
            return "the loop has an `else` clause"
        if mentions(loop.iter, dict_name):
            return f"the frame expression reads `{dict_name}`"
        if mentions(build.key, dict_name) or mentions(build.value, dict_name):
            return f"the key or the value reads `{dict_name}`"
        names = pair_of_names(loop.target)
        if names is not None and any(read_after(self, name, loop, credit_loop_rebinding=True) for name in names):
            return "the loop variables are read after the loop"
        return None

    def _builtins_visible(self, node: cst.CSTNode, reads: Optional[tuple[Read, Read]]) -> bool:
        scope = self.get_metadata(ScopeProvider, node, None)
        if scope is None or reads is None:
            return False
        used = {column.convert for read in reads for column in columns_of(read) if column.convert is not None}
        return all(
            all(isinstance(assignment, BuiltinAssignment) for assignment in scope[name])
            for name in (*REWRITE_BUILTINS, *used)
        )

    def _expression_rewrite(self, site: _Site, reads: tuple[Read, Read]) -> tuple[Optional[Rewrite], Optional[str]]:
        frame = reusable_frame(site.frame, reads)
        if frame is not None:
            return Rewrite(Applicability.UNSAFE, (Rewrite.replace(site.node, _zip_dict(frame, reads)),)), None
        statement = self._binding_statement(site.node)
        if statement is None:
            return None, "the frame expression would run twice, and binding it first would change the order of evaluation"
        local = cst.Name(fresh_name(self, statement, "frame"))
        binding = cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(local)], site.frame)])
        changes = (
            Rewrite.insert_before(statement, [binding]),
            Rewrite.replace(site.node, _zip_dict(local, reads)),
        )
        return Rewrite(Applicability.UNSAFE, changes), None

    def _loop_rewrite(
        self, site: _Site, build: DictBuildLoop, reads: tuple[Read, Read]
    ) -> tuple[Optional[Rewrite], Optional[str]]:
        assert isinstance(site.node, cst.For)
        if build.creation is None:
            return self._update_rewrite(site, build, reads)
        creation = build.creation
        if self._in_class_body(creation):
            return None, "the loop is in a class body"
        frame = reusable_frame(site.frame, reads)
        lines: list[cst.BaseStatement] = []
        if frame is None:
            frame = cst.Name(fresh_name(self, creation, "frame"))
            lines.append(cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(frame)], site.frame)]))
        creation_statement = creation.body[0]
        built = creation_statement.with_changes(value=_zip_dict(frame, reads))
        lines.append(creation.with_changes(body=[built], leading_lines=()))
        # The comments above the `D = {}` line and above the loop stay above the new statements.
        lines[0] = lines[0].with_changes(leading_lines=[*creation.leading_lines, *site.node.leading_lines])
        changes = (
            (creation, lambda _updated: cst.FlattenSentinel(lines)),
            (site.node, lambda _updated: cst.RemovalSentinel.REMOVE),
        )
        return Rewrite(Applicability.UNSAFE, changes), None

    def _update_rewrite(
        self, site: _Site, build: DictBuildLoop, reads: tuple[Read, Read]
    ) -> tuple[Optional[Rewrite], Optional[str]]:
        """``D.update(zip(K, V))`` in place of the loop: the same stores, in the same order, into any dict."""
        assert isinstance(site.node, cst.For)
        if self._in_class_body(site.node):
            return None, "the loop is in a class body"
        frame = reusable_frame(site.frame, reads)
        lines: list[cst.BaseStatement] = []
        if frame is None:
            frame = cst.Name(fresh_name(self, site.node, "frame"))
            lines.append(cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(frame)], site.frame)]))
        pairs = cst.Call(cst.Name("zip"), [cst.Arg(read_values(frame, read)) for read in reads])
        update = cst.Call(cst.Attribute(cst.Name(build.dict_name), cst.Name("update")), [cst.Arg(pairs)])
        lines.append(cst.SimpleStatementLine([cst.Expr(update)]))
        lines[0] = lines[0].with_changes(leading_lines=site.node.leading_lines)
        return Rewrite(Applicability.UNSAFE, ((site.node, lambda _updated: cst.FlattenSentinel(lines)),)), None

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


def _ast_store_loop(node: ast.AST) -> Optional[str]:
    """``D`` for a ``for`` over ``X.iterrows()`` whose body is one ``D[K] = V`` (``dict_build_loop`` on the ast,
    looser: the dict evidence is the prefilter's ``_ast_makes_dict``, then the rule's)."""
    if not (isinstance(node, ast.For) and ast_shapes.is_iterrows_call(node.iter) and len(node.body) == 1):
        return None
    store = node.body[0]
    if (
        isinstance(store, ast.Assign)
        and len(store.targets) == 1
        and isinstance(store.targets[0], ast.Subscript)
        and isinstance(store.targets[0].value, ast.Name)
    ):
        return store.targets[0].value.id
    return None


def _ast_makes_dict(value: Optional[ast.expr]) -> bool:
    if isinstance(value, (ast.Dict, ast.DictComp)):
        return True
    if not isinstance(value, ast.Call):
        return False
    function = value.func
    name = function.id if isinstance(function, ast.Name) else function.attr if isinstance(function, ast.Attribute) else ""
    return name.lower().endswith("dict")


def _has_inner_iterrows(for_in: cst.CompFor) -> bool:
    inner = for_in.inner_for_in
    while inner is not None:
        if iterrows_frame(inner.iter) is not None:
            return True
        inner = inner.inner_for_in
    return False


def _zip_dict(frame: cst.BaseExpression, reads: tuple[Read, Read]) -> cst.Call:
    """``dict(zip(<keys>, <values>))``."""
    pairs = cst.Call(cst.Name("zip"), [cst.Arg(read_values(frame, read)) for read in reads])
    return cst.Call(cst.Name("dict"), [cst.Arg(pairs)])
