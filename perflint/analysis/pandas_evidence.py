"""Is an expression a pandas DataFrame here, and what dtype does one of its columns have? Evidence only.

Evidence is what the code itself shows, resolved by qualified name (``import pandas as pd``, ``import pandas``,
``from pandas import DataFrame, read_csv``), never by spelling: a constructor or reader call, a DataFrame method
chain on a known DataFrame that returns a DataFrame, a ``pd.DataFrame`` annotation, or an enclosing
``if isinstance(X, pd.DataFrame):``. No evidence means "unknown", and rules that need a DataFrame then stay quiet.

Every function here needs a visitor that declares QualifiedNameProvider, ScopeProvider, ParentNodeProvider and
PositionProvider in its METADATA_DEPENDENCIES.
"""

from __future__ import annotations

import enum
import re
from typing import Callable, Optional, Union

import libcst as cst
from libcst import MetadataDependent
from libcst.metadata import Assignment, ParentNodeProvider, ScopeProvider

from perflint.analysis.bindings import bound_value
from perflint.analysis.dataflow import bindings
from perflint.analysis.names import argument, dotted_name, literal_string, method_call, qualified_names, receiver
from perflint.analysis.syntax import DEFERRED, start, walk_all

Label = Union[str, int]

DATAFRAME_TYPES = frozenset({"pandas.DataFrame", "pandas.core.frame.DataFrame"})
SERIES_TYPES = frozenset({"pandas.Series", "pandas.core.series.Series"})
# Calls that return a DataFrame whatever their arguments.
FRAME_FUNCTIONS = DATAFRAME_TYPES | frozenset(
    {
        "pandas.DataFrame.from_dict",
        "pandas.DataFrame.from_records",
        "pandas.merge",
        "pandas.merge_asof",
        "pandas.merge_ordered",
        "pandas.pivot_table",
        "pandas.crosstab",
        "pandas.get_dummies",
        "pandas.json_normalize",
    }
)
# Readers that return one DataFrame unless asked for an iterator (``chunksize=``, ``iterator=``); read_html
# (a list), read_pickle and read_hdf (any stored object) are left out on purpose.
READERS = frozenset(
    f"pandas.read_{kind}"
    for kind in (
        "csv", "table", "fwf", "parquet", "feather", "orc", "sql", "sql_query", "sql_table",
        "stata", "sas", "spss", "xml", "json", "excel", "clipboard",
    )
)
ITERATOR_KEYWORDS = frozenset({"chunksize", "iterator"})
# DataFrame methods that return a DataFrame when called on one (without ``inplace=``).
FRAME_METHODS = frozenset(
    {
        "abs", "assign", "astype", "bfill", "clip", "convert_dtypes", "copy", "diff", "drop", "drop_duplicates",
        "dropna", "explode", "ffill", "fillna", "filter", "head", "infer_objects", "interpolate", "isna", "join",
        "mask", "melt", "merge", "nlargest", "notna", "nsmallest", "pct_change", "pivot", "pivot_table", "query",
        "reindex", "rename", "rename_axis", "replace", "reset_index", "round", "sample", "select_dtypes",
        "set_index", "shift", "sort_index", "sort_values", "tail", "transpose", "where",
    }
)
# Methods that keep every column and its dtype (used to follow a column's dtype through a chain).
COLUMN_PRESERVING_METHODS = frozenset(
    {"copy", "dropna", "drop_duplicates", "head", "query", "reset_index", "sample", "sort_index", "sort_values", "tail"}
)
# DataFrameGroupBy reductions that return a DataFrame.
GROUPBY_REDUCTIONS = frozenset(
    {"agg", "aggregate", "count", "first", "last", "max", "mean", "median", "min", "nunique", "std", "sum", "var"}
)
LOCATORS = ("loc", "iloc")
MASK_METHODS = frozenset({"between", "duplicated", "isin", "isna", "isnull", "notna", "notnull"})
DATETIME_FUNCTIONS = frozenset({"pandas.to_datetime", "pandas.date_range", "pandas.bdate_range", "pandas.DatetimeIndex"})
DATETIME_ACCESSOR_METHODS = frozenset({"normalize", "floor", "ceil", "round", "tz_localize", "tz_convert"})
INT_TYPES = frozenset(
    {"builtins.int"}
    | {f"numpy.{kind}{bits}" for kind in ("int", "uint") for bits in (8, 16, 32, 64)}
)
STR_TYPES = frozenset({"builtins.str", "numpy.str_"})
INT_DTYPE_NAME = re.compile(r"^u?int(8|16|32|64)?$")
STR_DTYPE_NAMES = frozenset({"str", "string", "string[python]", "string[pyarrow]", "unicode"})
MAX_DEPTH = 12

# Public attributes of pandas.Series (pandas 3.1, plus those pandas 2.2 still had): on a row Series, `row.<name>`
# for these is the attribute, not the column of that name.
SERIES_ATTRIBUTES = frozenset(
    """
    T abs add add_prefix add_suffix agg aggregate align all any apply argmax argmin argsort array asfreq asof
    astype at at_time attrs autocorr axes backfill between between_time bfill bool case_when cat clip combine
    combine_first compare convert_dtypes copy corr count cov cummax cummin cumprod cumsum describe diff div divide
    divmod dot drop drop_duplicates droplevel dropna dt dtype dtypes duplicated empty eq equals ewm expanding
    explode factorize ffill fillna filter first first_valid_index flags floordiv from_arrow ge get groupby gt
    hasnans head hist iat idxmax idxmin iloc index infer_objects info interpolate is_monotonic_decreasing
    is_monotonic_increasing is_unique isin isna isnull item items keys kurt kurtosis last last_valid_index le list
    loc lt map mask max mean median memory_usage min mod mode mul multiply name nbytes ndim ne nlargest notna
    notnull nsmallest nunique pad pct_change pipe plot pop pow prod product quantile radd rank ravel rdiv rdivmod
    reindex reindex_like rename rename_axis reorder_levels repeat replace resample reset_index rfloordiv rmod rmul
    rolling round rpow rsub rtruediv sample searchsorted sem set_axis set_flags shape shift size skew sort_index
    sort_values sparse squeeze std str struct sub subtract sum swapaxes swaplevel tail take to_clipboard to_csv
    to_dict to_excel to_frame to_hdf to_json to_latex to_list to_markdown to_numpy to_period to_pickle to_sql
    to_string to_timestamp to_xarray tolist transform transpose truediv truncate tz_convert tz_localize unique
    unstack update value_counts values var view where xs
    """.split()
)


class KeyDtype(enum.Enum):
    """What the evidence says about a column's dtype (only the kinds whose grouping speed was measured)."""

    DATETIME = "datetime"
    INT = "int"
    STR = "str"
    UNKNOWN = "unknown"


def is_dataframe(visitor: MetadataDependent, node: cst.BaseExpression) -> bool:
    """Whether the code shows that ``node`` evaluates to a pandas DataFrame where it stands."""
    return _is_frame(visitor, node, frozenset(), 0)


def is_series(visitor: MetadataDependent, node: cst.BaseExpression) -> bool:
    """Whether the code shows that ``node`` evaluates to a pandas Series where it stands: ``F[label]`` of a known
    DataFrame (a literal label, or a name holding one), ``pd.Series(...)``, a name or ``self.<attr>`` bound only
    to those, or a name under ``isinstance(name, pd.Series)``."""
    return _is_series(visitor, node, frozenset(), 0)


def label_value(node: cst.CSTNode) -> Optional[Label]:
    """The value of a column label written as a plain string or integer literal, else None."""
    text = literal_string(node)
    if text is not None:
        return text
    if isinstance(node, cst.Integer):
        value = node.evaluated_value
        return value if isinstance(value, int) else None
    return None


def column_dtype(
    visitor: MetadataDependent, frame: cst.BaseExpression, label: Label, at: cst.CSTNode, proven: bool = False
) -> KeyDtype:
    """The evident dtype of column ``label`` of ``frame`` when ``at`` runs.

    For a name, the last ``frame[label] = ...`` or ``frame = ...`` before ``at`` in the text decides; then the
    expression that built the frame (``parse_dates=``, ``dtype=``, ``astype``, a column built with
    ``pd.to_datetime``...). That is an approximation of "the one that ran last", good enough for a message.
    With ``proven``, it must also be one that every path to ``at`` runs (a statement of a block enclosing
    ``at``, before it); mutation through calls (``f(frame)``, ``frame.update(...)``) is still not seen.
    """
    return _dtype_at(visitor, frame, label, at, 0, proven)


def value_dtype(visitor: MetadataDependent, value: cst.BaseExpression) -> KeyDtype:
    """The evident dtype of a column-valued expression (``pd.to_datetime(...)``, ``s.astype(str)``, a list...)."""
    if isinstance(value, cst.Call):
        if not qualified_names(visitor, value.func).isdisjoint(DATETIME_FUNCTIONS):
            # errors="ignore" (pandas < 3) hands back the input unparsed when parsing fails.
            errors = keyword_argument(value, "errors")
            return KeyDtype.DATETIME if errors is None or literal_string(errors) in ("raise", "coerce") else KeyDtype.UNKNOWN
        if not qualified_names(visitor, value.func).isdisjoint(SERIES_TYPES):
            dtype = argument(value, 2, "dtype")  # Series(data, index, dtype, ...)
            return dtype_of(visitor, dtype) if dtype is not None else _list_dtype(argument(value, 0, "data"))
        if method_call(value, "astype") and value.args:
            return dtype_of(visitor, value.args[0].value)
        if _is_datetime_accessor_call(value):
            return KeyDtype.DATETIME
        if method_call(value, "strftime") and _accessor(receiver(value)) == "dt":
            return KeyDtype.STR
    return _list_dtype(value)


def dtype_of(visitor: MetadataDependent, node: cst.BaseExpression) -> KeyDtype:
    """The kind of a dtype argument: ``str``, ``"int64"``, ``np.int32``, ``"datetime64[ns]"``..."""
    text = literal_string(node)
    if text is not None:
        if text in STR_DTYPE_NAMES:
            return KeyDtype.STR
        if INT_DTYPE_NAME.match(text.lower()):
            return KeyDtype.INT
        if text.startswith("datetime64"):
            return KeyDtype.DATETIME
        return KeyDtype.UNKNOWN
    names = qualified_names(visitor, node)
    if not names.isdisjoint(STR_TYPES):
        return KeyDtype.STR
    if not names.isdisjoint(INT_TYPES):
        return KeyDtype.INT
    if "numpy.datetime64" in names:
        return KeyDtype.DATETIME
    return KeyDtype.UNKNOWN


# ---------------------------------------------------------------------------------------------------- frames


def _is_frame(visitor: MetadataDependent, node: cst.BaseExpression, seen: frozenset[str], depth: int) -> bool:
    if depth > MAX_DEPTH:
        return False
    depth += 1
    if isinstance(node, cst.Name):
        return _name_is_frame(visitor, node, seen, depth)
    if isinstance(node, cst.Call):
        return _call_is_frame(visitor, node, seen, depth)
    if isinstance(node, cst.Subscript):
        return _selection_is_frame(visitor, node, seen, depth)
    if isinstance(node, cst.Attribute) and node.attr.value == "T":
        return _is_frame(visitor, node.value, seen, depth)
    if isinstance(node, cst.Attribute):
        return _attribute_is(visitor, node, _is_frame, depth)
    return False


Check = Callable[[MetadataDependent, cst.BaseExpression, frozenset[str], int], bool]


def _name_is_frame(visitor: MetadataDependent, name: cst.Name, seen: frozenset[str], depth: int) -> bool:
    return _name_is(visitor, name, seen, depth, _is_frame, DATAFRAME_TYPES)


def _name_is(
    visitor: MetadataDependent, name: cst.Name, seen: frozenset[str], depth: int, check: Check, types: frozenset[str]
) -> bool:
    if name.value in seen:
        # `df = df.dropna()`: while checking the bindings of `df`, assume `df` is a frame. Sound because the
        # first binding to run cannot read the name it binds (it would be unbound), so it is a frame on its own.
        return True
    if _guarded_by_isinstance(visitor, name, types):
        return True
    assignments = _assignments(visitor, name)
    inner = seen | {name.value}
    return bool(assignments) and all(
        _binding_is(visitor, assignment, inner, depth, check, types) for assignment in assignments
    )


def _binding_is(
    visitor: MetadataDependent, assignment: object, seen: frozenset[str], depth: int, check: Check, types: frozenset[str]
) -> bool:
    if not isinstance(assignment, Assignment):
        return False  # imports, builtins
    target = assignment.node
    if isinstance(target, cst.Param):
        return target.annotation is not None and _is_annotation(visitor, target.annotation.annotation, types)
    holder = visitor.get_metadata(ParentNodeProvider, target, None)
    if isinstance(holder, cst.AnnAssign) and holder.target is target:
        if _is_annotation(visitor, holder.annotation.annotation, types):
            return True
    value = bound_value(visitor, target)
    # for / with / except targets, tuple unpacking, augmented assignment: not evidence.
    return value is not None and check(visitor, value, seen, depth)


def _is_frame_annotation(visitor: MetadataDependent, annotation: cst.BaseExpression) -> bool:
    return _is_annotation(visitor, annotation, DATAFRAME_TYPES)


def _is_annotation(visitor: MetadataDependent, annotation: cst.BaseExpression, types: frozenset[str]) -> bool:
    return not qualified_names(visitor, annotation).isdisjoint(types)


def _guarded_by_isinstance(visitor: MetadataDependent, name: cst.Name, types: frozenset[str] = DATAFRAME_TYPES) -> bool:
    """Inside the body of ``if isinstance(name, pd.DataFrame) [and ...]:`` (also an ``elif``) that never rebinds
    the name, or after ``if not isinstance(name, pd.DataFrame): raise / return`` in an enclosing block with no
    binding of the name between."""
    child: cst.CSTNode = name
    parent = visitor.get_metadata(ParentNodeProvider, child, None)
    while parent is not None and not isinstance(parent, DEFERRED):
        if isinstance(parent, cst.If) and child is parent.body and _tests_isinstance(visitor, parent.test, name.value, types):
            return not bindings(visitor, parent.body.body, name.value)
        if isinstance(parent, cst.IndentedBlock) and _after_negative_guard(visitor, parent, child, name.value, types):
            return True
        child, parent = parent, visitor.get_metadata(ParentNodeProvider, parent, None)
    return False


def _after_negative_guard(
    visitor: MetadataDependent, block: cst.IndentedBlock, statement: cst.CSTNode, name: str, types: frozenset[str]
) -> bool:
    """``if not isinstance(name, T): raise ...`` (or ``return``) earlier in ``block``, the name not bound between."""
    earlier = []
    for item in block.body:
        if item is statement:
            break
        earlier.append(item)
    else:
        return False
    for position in range(len(earlier) - 1, -1, -1):
        item = earlier[position]
        if (
            isinstance(item, cst.If)
            and item.orelse is None
            and isinstance(item.test, cst.UnaryOperation)
            and isinstance(item.test.operator, cst.Not)
            and _tests_isinstance(visitor, item.test.expression, name, types)
            and _leaves(item.body)
        ):
            return not bindings(visitor, earlier[position + 1 :], name)
    return False


def _leaves(body: cst.BaseSuite) -> bool:
    """The block's last statement is ``raise`` or ``return``."""
    if not isinstance(body, cst.IndentedBlock) or not body.body:
        return False
    last = body.body[-1]
    return isinstance(last, cst.SimpleStatementLine) and isinstance(last.body[-1], (cst.Raise, cst.Return))


def _tests_isinstance(visitor: MetadataDependent, test: cst.BaseExpression, name: str, types: frozenset[str] = DATAFRAME_TYPES) -> bool:
    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And):
        return _tests_isinstance(visitor, test.left, name, types) or _tests_isinstance(visitor, test.right, name, types)
    return (
        isinstance(test, cst.Call)
        and "builtins.isinstance" in qualified_names(visitor, test.func)
        and len(test.args) == 2
        and isinstance(test.args[0].value, cst.Name)
        and test.args[0].value.value == name
        and _is_annotation(visitor, test.args[1].value, types)
    )


# ---------------------------------------------------------------------------------------------------- attributes


def _attribute_is(visitor: MetadataDependent, node: cst.Attribute, check: Check, depth: int) -> bool:
    """``self.<attr>`` in a method, where every ``self.<attr> = value`` of the class passes ``check`` and one of
    them is in ``__init__`` (so the attribute is set before any other method runs)."""
    if not isinstance(node.value, cst.Name):
        return False
    found = _class_attribute_values(visitor, node).get((node.value.value, node.attr.value))
    if not found:
        return False
    values, in_init = found
    return in_init and all(value is not None and check(visitor, value, frozenset(), depth) for value in values)


AttributeValues = dict[tuple[str, str], tuple[list[Optional[cst.BaseExpression]], bool]]


def _class_attribute_values(visitor: MetadataDependent, node: cst.CSTNode) -> AttributeValues:
    """For the class of the method holding ``node``: ``(self name, attr) -> (values assigned, one in __init__)``;
    a value is None where the attribute is bound another way (augmented, unpacked). Cached per class."""
    method: Optional[cst.CSTNode] = node
    while method is not None and not isinstance(method, cst.FunctionDef):
        method = visitor.get_metadata(ParentNodeProvider, method, None)
    if method is None:
        return {}
    block = visitor.get_metadata(ParentNodeProvider, method, None)
    owner = visitor.get_metadata(ParentNodeProvider, block, None) if block is not None else None
    if not isinstance(owner, cst.ClassDef):
        return {}
    cache = visitor.__dict__.setdefault("_perflint_class_attributes", {})
    key = id(owner)
    if key not in cache:
        cache[key] = (owner, _collect_attribute_values(owner))
    return cache[key][1]


def _collect_attribute_values(owner: cst.ClassDef) -> AttributeValues:
    found: AttributeValues = {}
    for method in owner.body.body:
        if not isinstance(method, cst.FunctionDef) or not method.params.params:
            continue
        self_name = method.params.params[0].name.value
        in_init = method.name.value == "__init__"
        for node in walk_all(method.body):
            targets: list[tuple[cst.BaseExpression, Optional[cst.BaseExpression]]] = []
            if isinstance(node, cst.Assign):
                for target in node.targets:
                    if isinstance(target.target, (cst.Tuple, cst.List)):
                        targets.extend((element.value, None) for element in target.target.elements)
                    else:
                        targets.append((target.target, node.value))
            elif isinstance(node, cst.AnnAssign):
                targets.append((node.target, node.value))
            elif isinstance(node, cst.AugAssign):
                targets.append((node.target, None))
            for target, value in targets:
                if isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name) and target.value.value == self_name:
                    values, seen_in_init = found.get((self_name, target.attr.value), ([], False))
                    found[(self_name, target.attr.value)] = ([*values, value], seen_in_init or in_init)
    return found


# ---------------------------------------------------------------------------------------------------- series


SERIES_METHODS = frozenset(
    {"astype", "copy", "dropna", "fillna", "head", "reset_index", "sort_index", "sort_values", "tail"}
)


def _is_series(visitor: MetadataDependent, node: cst.BaseExpression, seen: frozenset[str], depth: int) -> bool:
    if depth > MAX_DEPTH:
        return False
    depth += 1
    if isinstance(node, cst.Name):
        return _name_is(visitor, node, seen, depth, _is_series, SERIES_TYPES)
    if isinstance(node, cst.Attribute):
        return _attribute_is(visitor, node, _is_series, depth)
    if isinstance(node, cst.Call):
        if not qualified_names(visitor, node.func).isdisjoint(SERIES_TYPES):
            return True
        method = method_call(node, *SERIES_METHODS)
        if method is not None and keyword_argument(method, "inplace") is None:
            if method.func.attr.value == "reset_index" and keyword_argument(method, "drop") is None:
                return False  # Series.reset_index() without drop=True is a DataFrame
            return _is_series(visitor, receiver(method), seen, depth)
        return False
    if isinstance(node, cst.Subscript) and len(node.slice) == 1:
        index = node.slice[0].slice
        return (
            isinstance(index, cst.Index)
            and index.star is None
            # a name or `self.name` holding a label (a list there would select a DataFrame: documented by the rules)
            and (label_value(index.value) is not None or dotted_name(index.value) is not None)
            and _is_frame(visitor, node.value, seen, depth)
        )
    return False


def _call_is_frame(visitor: MetadataDependent, call: cst.Call, seen: frozenset[str], depth: int) -> bool:
    names = qualified_names(visitor, call.func)
    if not names.isdisjoint(FRAME_FUNCTIONS):
        return True
    if not names.isdisjoint(READERS):
        return _reader_returns_frame(call)
    if "pandas.concat" in names:
        return _concat_is_frame(visitor, call, seen, depth)
    method = method_call(call, *FRAME_METHODS)
    if method is not None:
        return not _in_place(call) and _is_frame(visitor, receiver(method), seen, depth)
    if method_call(call, *GROUPBY_REDUCTIONS):
        return _is_frame_groupby(visitor, receiver(call), seen, depth)
    return False


def _reader_returns_frame(call: cst.Call) -> bool:
    for arg in call.args:
        if arg.star:
            return False  # **options may hold chunksize=
        keyword = arg.keyword.value if arg.keyword else None
        if keyword in ITERATOR_KEYWORDS:
            return False
        # read_json(typ="series") is a Series; read_excel(sheet_name=None or a list) is a dict of frames.
        if keyword == "typ" and literal_string(arg.value) != "frame":
            return False
        if keyword == "sheet_name" and label_value(arg.value) is None:
            return False
    return True


def _concat_is_frame(visitor: MetadataDependent, call: cst.Call, seen: frozenset[str], depth: int) -> bool:
    """pd.concat returns a Series only when it joins Series along the rows; say so only when that is visible."""
    axis = argument(call, 1, "axis")
    if axis is not None and (label_value(axis) in (1, "columns")):
        return True
    objs = argument(call, 0, "objs")
    if isinstance(objs, (cst.List, cst.Tuple)) and objs.elements:
        values = [element.value for element in objs.elements]
        if any(_is_frame(visitor, value, seen, depth) for value in values):
            return True
        return not all(_is_literal_series(visitor, value, seen, depth) for value in values)
    return True


def _is_literal_series(visitor: MetadataDependent, node: cst.BaseExpression, seen: frozenset[str], depth: int) -> bool:
    if isinstance(node, cst.Call):
        return not qualified_names(visitor, node.func).isdisjoint(SERIES_TYPES)
    if isinstance(node, cst.Subscript) and len(node.slice) == 1:
        index = node.slice[0].slice
        return (
            isinstance(index, cst.Index)
            and label_value(index.value) is not None
            and _is_frame(visitor, node.value, seen, depth)
        )
    return False


def _in_place(call: cst.Call) -> bool:
    """``inplace=`` anything but a literal False: the call may return None."""
    value = keyword_argument(call, "inplace")
    return value is not None and not (isinstance(value, cst.Name) and value.value == "False")


def _is_frame_groupby(visitor: MetadataDependent, node: cst.BaseExpression, seen: frozenset[str], depth: int) -> bool:
    """``F.groupby(...)`` or ``F.groupby(...)[[a, b]]`` of a known DataFrame ``F`` (a DataFrameGroupBy)."""
    if isinstance(node, cst.Subscript):
        if len(node.slice) != 1 or not _is_list_index(node.slice[0]):
            return False
        node = node.value
    call = method_call(node, "groupby")
    return call is not None and _is_frame(visitor, receiver(call), seen, depth)


def _selection_is_frame(visitor: MetadataDependent, node: cst.Subscript, seen: frozenset[str], depth: int) -> bool:
    """``F[[a, b]]``, ``F[mask]``, ``F[i:j]``, ``F.loc[rows]``, ``F.loc[rows, [a, b]]`` (``iloc`` alike)."""
    value = node.value
    elements = node.slice
    if isinstance(value, cst.Attribute) and value.attr.value in LOCATORS:
        if not _is_frame(visitor, value.value, seen, depth):
            return False
        if len(elements) == 1:
            return _selects_rows(elements[0])
        return (
            len(elements) == 2
            and _selects_rows(elements[0])
            and (_is_list_index(elements[1]) or isinstance(elements[1].slice, cst.Slice))
        )
    return len(elements) == 1 and _selects_rows(elements[0]) and _is_frame(visitor, value, seen, depth)


def _selects_rows(element: cst.SubscriptElement) -> bool:
    """A slice, a list or a boolean mask: the selection keeps the frame two-dimensional."""
    index = element.slice
    if isinstance(index, cst.Slice):
        return True
    if not isinstance(index, cst.Index) or index.star is not None:
        return False
    return isinstance(index.value, cst.List) or _is_mask(index.value)


def _is_list_index(element: cst.SubscriptElement) -> bool:
    index = element.slice
    return isinstance(index, cst.Index) and isinstance(index.value, cst.List)


def _is_mask(node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.Comparison):
        return True
    if isinstance(node, cst.UnaryOperation):
        return isinstance(node.operator, cst.BitInvert)
    if isinstance(node, cst.BinaryOperation):
        return isinstance(node.operator, (cst.BitAnd, cst.BitOr, cst.BitXor))
    return method_call(node, *MASK_METHODS) is not None


def keyword_argument(call: cst.Call, keyword: str) -> Optional[cst.BaseExpression]:
    """The value passed as ``keyword=`` to ``call``, else None."""
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == keyword:
            return arg.value
    return None


def _assignments(visitor: MetadataDependent, name: cst.Name) -> list[object]:
    scope = visitor.get_metadata(ScopeProvider, name, None)
    if scope is None:
        return []
    return list(scope[name.value])


# ---------------------------------------------------------------------------------------------------- dtypes


def _dtype_at(
    visitor: MetadataDependent, frame: cst.BaseExpression, label: Label, at: cst.CSTNode, depth: int, proven: bool
) -> KeyDtype:
    """See column_dtype."""
    if depth > MAX_DEPTH:
        return KeyDtype.UNKNOWN
    if not isinstance(frame, cst.Name):
        return _built_column_dtype(visitor, frame, label, at, depth + 1, proven)
    events = [event for event in _events(visitor, frame, label) if event[0] < start(visitor, at)]
    if not events:
        return KeyDtype.UNKNOWN
    _, kind, value, node = max(events, key=lambda event: event[0])
    if value is None or (proven and not _runs_before(visitor, node, at)):
        return KeyDtype.UNKNOWN
    if kind == "column":
        return value_dtype(visitor, value)
    return _built_column_dtype(visitor, value, label, node, depth + 1, proven)


def _runs_before(visitor: MetadataDependent, node: cst.CSTNode, at: cst.CSTNode) -> bool:
    """Whether the statement holding ``node`` runs on every path to ``at``: it sits in a block that encloses
    ``at``, before the statement of that block holding ``at``."""
    statement, block = _statement_in_block(visitor, node)
    if block is None:
        return False
    child = at
    while child is not None and visitor.get_metadata(ParentNodeProvider, child, None) is not block:
        child = visitor.get_metadata(ParentNodeProvider, child, None)
    if child is None:
        return False
    positions = {id(item): i for i, item in enumerate(block.body)}
    return positions[id(statement)] < positions[id(child)]


def _statement_in_block(visitor: MetadataDependent, node: cst.CSTNode) -> tuple[cst.CSTNode, Optional[cst.CSTNode]]:
    """The statement holding ``node`` and the block (module or indented block) whose body lists it."""
    child, parent = node, visitor.get_metadata(ParentNodeProvider, node, None)
    while parent is not None and not isinstance(parent, (cst.Module, cst.IndentedBlock)):
        child, parent = parent, visitor.get_metadata(ParentNodeProvider, parent, None)
    return child, parent


Event = tuple[tuple[int, int], str, Optional[cst.BaseExpression], cst.CSTNode]


def _events(visitor: MetadataDependent, frame: cst.Name, label: Label) -> list[Event]:
    """Bindings of ``frame`` ("frame", value) and stores ``frame[label] = value`` ("column", value) in its scope."""
    scope = visitor.get_metadata(ScopeProvider, frame, None)
    if scope is None:
        return []
    events: list[Event] = []
    for assignment in scope[frame.value]:
        node = getattr(assignment, "node", None)
        if isinstance(node, cst.CSTNode):
            events.append((start(visitor, node), "frame", bound_value(visitor, node), node))
    for access in scope.accesses[frame.value]:
        statement = _column_store(visitor, access.node, label)
        if statement is not None:
            events.append((start(visitor, statement), "column", statement.value, statement))
    return events


def _column_store(visitor: MetadataDependent, name: cst.CSTNode, label: Label) -> Optional[cst.Assign]:
    """The statement ``name[label] = value`` that ``name`` is the frame of, else None."""
    subscript = visitor.get_metadata(ParentNodeProvider, name, None)
    if not isinstance(subscript, cst.Subscript) or subscript.value is not name or len(subscript.slice) != 1:
        return None
    index = subscript.slice[0].slice
    if not isinstance(index, cst.Index) or label_value(index.value) != label:
        return None
    target = visitor.get_metadata(ParentNodeProvider, subscript, None)
    statement = visitor.get_metadata(ParentNodeProvider, target, None) if isinstance(target, cst.AssignTarget) else None
    return statement if isinstance(statement, cst.Assign) else None


def _built_column_dtype(
    visitor: MetadataDependent, frame: cst.BaseExpression, label: Label, at: cst.CSTNode, depth: int, proven: bool
) -> KeyDtype:
    """The dtype of column ``label`` as fixed by the expression that built ``frame`` (evaluated at ``at``)."""
    if isinstance(frame, cst.Name):
        return _dtype_at(visitor, frame, label, at, depth, proven)
    if isinstance(frame, cst.Subscript) and isinstance(frame.value, cst.Attribute) and frame.value.attr.value in LOCATORS:
        return _dtype_at(visitor, frame.value.value, label, at, depth, proven)
    if isinstance(frame, cst.Subscript):
        return _dtype_at(visitor, frame.value, label, at, depth, proven)
    if not isinstance(frame, cst.Call):
        return KeyDtype.UNKNOWN
    names = qualified_names(visitor, frame.func)
    if not names.isdisjoint(READERS):
        return _reader_column_dtype(visitor, frame, label)
    if not names.isdisjoint(DATAFRAME_TYPES):
        return _constructor_column_dtype(visitor, frame, label)
    if method_call(frame, "astype") and frame.args:
        return _astype_column_dtype(visitor, frame, label, at, depth, proven)
    assigned = next((arg.value for arg in frame.args if arg.keyword and arg.keyword.value == label), None)
    if method_call(frame, "assign") and assigned is not None:
        return value_dtype(visitor, assigned)
    if method_call(frame, *COLUMN_PRESERVING_METHODS):
        return _dtype_at(visitor, receiver(frame), label, at, depth, proven)
    return KeyDtype.UNKNOWN


def _reader_column_dtype(visitor: MetadataDependent, call: cst.Call, label: Label) -> KeyDtype:
    parse_dates = keyword_argument(call, "parse_dates")
    if isinstance(parse_dates, (cst.List, cst.Tuple)) and any(
        label_value(element.value) == label for element in parse_dates.elements
    ):
        return KeyDtype.DATETIME
    dtype = keyword_argument(call, "dtype")
    return _dtype_for_column(visitor, dtype, label) if dtype is not None else KeyDtype.UNKNOWN


def _constructor_column_dtype(visitor: MetadataDependent, call: cst.Call, label: Label) -> KeyDtype:
    dtype = argument(call, 3, "dtype")
    if dtype is not None:
        return dtype_of(visitor, dtype)
    data = argument(call, 0, "data")
    if isinstance(data, cst.Dict):
        for element in data.elements:
            if isinstance(element, cst.DictElement) and label_value(element.key) == label:
                return value_dtype(visitor, element.value)
    return KeyDtype.UNKNOWN


def _astype_column_dtype(
    visitor: MetadataDependent, call: cst.Call, label: Label, at: cst.CSTNode, depth: int, proven: bool
) -> KeyDtype:
    dtype = call.args[0].value
    if isinstance(dtype, cst.Dict):
        if any(isinstance(e, cst.DictElement) and label_value(e.key) == label for e in dtype.elements):
            return _dtype_for_column(visitor, dtype, label)
        return _dtype_at(visitor, receiver(call), label, at, depth, proven)
    return dtype_of(visitor, dtype)


def _dtype_for_column(visitor: MetadataDependent, dtype: cst.BaseExpression, label: Label) -> KeyDtype:
    """``dtype=str`` applies to every column; ``dtype={label: T}`` to one."""
    if not isinstance(dtype, cst.Dict):
        return dtype_of(visitor, dtype)
    for element in dtype.elements:
        if isinstance(element, cst.DictElement) and label_value(element.key) == label:
            return dtype_of(visitor, element.value)
    return KeyDtype.UNKNOWN


def _list_dtype(node: Optional[cst.BaseExpression]) -> KeyDtype:
    """A list literal of string (or integer) literals only."""
    if not isinstance(node, (cst.List, cst.Tuple)) or not node.elements:
        return KeyDtype.UNKNOWN
    values = [label_value(element.value) for element in node.elements]
    if all(isinstance(value, str) for value in values):
        return KeyDtype.STR
    if all(isinstance(value, int) and not isinstance(value, bool) for value in values):
        return KeyDtype.INT
    return KeyDtype.UNKNOWN


def _accessor(node: cst.BaseExpression) -> Optional[str]:
    return node.attr.value if isinstance(node, cst.Attribute) else None


def _is_datetime_accessor_call(call: cst.Call) -> bool:
    return method_call(call, *DATETIME_ACCESSOR_METHODS) is not None and _accessor(receiver(call)) == "dt"
