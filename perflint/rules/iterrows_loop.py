"""PFL203 iterrows-loop."""

from __future__ import annotations

import ast
import keyword
from typing import Optional

import libcst as cst
from libcst.metadata import ParentNodeProvider, PositionProvider, QualifiedNameProvider, ScopeProvider

from perflint.analysis import ast_shapes
from perflint.analysis.iterrows import is_dict_build_loop, iterrows_frame
from perflint.analysis.names import literal_string
from perflint.analysis.pandas_evidence import SERIES_ATTRIBUTES
from perflint.analysis.syntax import is_plain_read, variable_names
from perflint.rule import Invalid, Rule, Valid
from perflint.types import FixSafety, MetricImpact


class IterrowsLoop(Rule):
    """
    ## What it does
    Finds `for index, row in X.iterrows():` loops whose body only *reads* columns of `row` (`row["a"]`,
    `row.a`) and never uses `row` otherwise: not passed to a call, not written to, not rebound, no
    Series method or attribute (`row.name`, `row.to_dict()`). The dict-building form (`D = {}` right
    before a loop whose whole body is `D[K] = V`) is PFL201's and is not reported here.

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
    not a string literal (`row[col]`).

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
            message_contains="`row.Index`",
        ),
    )

    @classmethod
    def could_match(cls, tree: ast.Module) -> bool:
        """Whether ``tree`` has a ``for`` over ``X.iterrows()`` whose target is a pair of names."""
        return any(
            ast_shapes.is_iterrows_call(site.node.iter) and _ast_index_and_row(site.node.target)
            for site in ast_shapes.shapes(tree).of(ast.For)
        )

    def visit_For(self, node: cst.For) -> None:
        frame = iterrows_frame(node.iter)
        names = _index_and_row(node.target)
        if frame is None or names is None or node.asynchronous is not None or is_dict_build_loop(self, node):
            return
        index, row = names
        columns = self._columns_read(node, row)
        if columns is None:
            return
        self.report(node.iter, _message(frame, index, row, columns, self._index_used(node, index)))

    def _columns_read(self, loop: cst.For, row: str) -> Optional[list[str]]:
        """The column labels the loop reads from ``row``, or None if it uses ``row`` any other way."""
        columns: list[str] = []
        for block in (loop.body, loop.orelse):
            if block is None:
                continue
            for use in variable_names(block, row):
                label = self._read_label(use, loop)
                if label is None:
                    return None
                if label not in columns:
                    columns.append(label)
        return columns

    def _read_label(self, use: cst.Name, loop: cst.For) -> Optional[str]:
        """``"a"`` for a read ``row["a"]`` / ``row.a`` in a plain expression, else None."""
        parent = self.get_metadata(ParentNodeProvider, use)
        if isinstance(parent, cst.Subscript) and parent.value is use and len(parent.slice) == 1:
            index = parent.slice[0].slice
            label = literal_string(index.value) if isinstance(index, cst.Index) and index.star is None else None
        elif isinstance(parent, cst.Attribute) and parent.value is use:
            attribute = parent.attr.value
            label = None if attribute.startswith("_") or attribute in SERIES_ATTRIBUTES else attribute
        else:
            return None
        if label is None or not is_plain_read(self, parent, loop):
            return None
        return label

    def _index_used(self, loop: cst.For, index: str) -> bool:
        return index != "_" and any(variable_names(block, index) for block in (loop.body, loop.orelse) if block is not None)


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


def _message(frame: cst.BaseExpression, index: str, row: str, columns: list[str], index_used: bool) -> str:
    shown = cst.Module(body=[]).code_for_node(frame)
    if not columns:
        return f"`{shown}.iterrows()` builds a Series per row, but the loop reads only the index: iterate `{shown}.index`"
    fields = all(label.isidentifier() and not keyword.iskeyword(label) and not label.startswith("_") for label in columns)
    call = f"{shown}.itertuples()" if index_used else f"{shown}.itertuples(index=False)"
    suggestion = f"iterate `{call}`"
    if fields:
        suggestion += f" and read `{row}.{columns[0]}`" + (f", `{row}.Index`" if index_used else "")
    else:
        suggestion += " (some labels are not identifiers: unpack the tuple or `zip` the columns)"
    return (
        f"`{shown}.iterrows()` builds a Series per row, but the loop only reads columns "
        f"{', '.join(repr(label) for label in columns)}: {suggestion}, or vectorise"
    )
