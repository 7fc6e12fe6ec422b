"""The shapes of ``X.iterrows()`` builds that rules tell apart, and what a row expression reads.

One home for "what PFL201 handles" (``dict_build_loop`` / ``is_dict_build_loop``), so that PFL203 never
reports a loop that PFL201 reports; and for reading ``R[a]``, ``R.a``, ``I``, ``str(R[a])``, ``(R[a], R[b])``
off a row, which PFL201 (dicts) and PFL205 (lists and sets) rewrite to whole-column reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

import libcst as cst
from libcst import MetadataDependent
from libcst.metadata import Assignment, ParentNodeProvider, ScopeProvider

from perflint.analysis.bindings import bound_value
from perflint.analysis.dataflow import is_empty_dict, mentions, previous_statement
from perflint.analysis.names import dotted_name, literal_string, method_call, qualified_names, qualified_names_among, receiver
from perflint.analysis.pandas_evidence import SERIES_ATTRIBUTES
from perflint.analysis.syntax import sole_statement, variable_names

# Builtins that may wrap a column read: the fix maps them over the column's values.
CONVERTERS = ("str", "int", "float", "bool")
# Calls whose value is a dict (``d[k] = v`` on it is a plain store, ``d.update(pairs)`` the same stores).
DICT_FACTORIES = frozenset({"builtins.dict", "collections.defaultdict", "collections.OrderedDict"})


@dataclass(frozen=True)
class Column:
    """One value read off the row: column ``label`` (None: the row's index label ``I``), maybe converted.

    ``label`` is the label's expression: a string literal (``R["a"]``, or ``R.a`` written as ``"a"``), a name
    or a dotted name holding the label (``R[code_col]``, ``R[self.code_col]``).
    """

    label: Optional[cst.BaseExpression]
    convert: Optional[str]

    @property
    def identity(self) -> Optional[tuple[str, str]]:
        """What tells two labels apart statically: a literal's value, or a name's spelling; None for the index."""
        if self.label is None:
            return None
        text = literal_string(self.label)
        return ("literal", text) if text is not None else ("name", dotted_name(self.label) or "")

    @property
    def named(self) -> bool:
        """Whether the label is held in a name (its value is unknown here)."""
        return self.label is not None and literal_string(self.label) is None


@dataclass(frozen=True)
class Columns:
    """A tuple of row reads: ``(R[a], R[b])``."""

    items: tuple[Column, ...]


Read = Union[Column, Columns]


# The builtins that collect a generator over iterrows into a container: PFL205's (list, set, tuple), PFL201's (dict).
COLLECTING_BUILTINS = ("list", "set", "tuple", "dict")
_COLLECTING_NAMES = frozenset(f"builtins.{name}" for name in COLLECTING_BUILTINS)


def collecting_builtin(visitor: MetadataDependent, call: cst.Call) -> Optional[str]:
    """``"list"`` for ``list(V for ...)`` (also set, tuple, dict): the builtin called on one generator, else None."""
    if not (
        len(call.args) == 1
        and call.args[0].keyword is None
        and not call.args[0].star
        and isinstance(call.args[0].value, cst.GeneratorExp)
    ):
        return None
    names = qualified_names_among(visitor, call.func, _COLLECTING_NAMES)
    return next((name for name in COLLECTING_BUILTINS if f"builtins.{name}" in names), None)


def iterrows_frame(node: cst.BaseExpression) -> Optional[cst.BaseExpression]:
    """``X`` in ``X.iterrows()`` (no arguments), else None."""
    call = method_call(node, "iterrows")
    return receiver(call) if call is not None and not call.args else None


def pair_of_names(target: cst.BaseExpression) -> Optional[tuple[cst.Name, cst.Name]]:
    """``(I, R)`` for a target ``I, R`` of two distinct names, else None."""
    if isinstance(target, (cst.Tuple, cst.List)) and len(target.elements) == 2:
        first, second = (element.value for element in target.elements)
        if isinstance(first, cst.Name) and isinstance(second, cst.Name) and first.value != second.value:
            return first, second
    return None


def row_read(visitor: MetadataDependent, node: cst.BaseExpression, index: str, row: str) -> Optional[Read]:
    """What ``node`` reads off the row ``row`` (index label ``index``): a column, maybe converted, or a tuple
    of those; None for any other use of the row."""
    if isinstance(node, cst.Tuple) and len(node.elements) >= 2:
        items = []
        for element in node.elements:
            if isinstance(element, cst.StarredElement):
                return None  # (*R, R["a"]): the row itself is iterated
            item = _converted_column(visitor, element.value, index, row)
            if item is None:
                return None
            items.append(item)
        return Columns(tuple(items))
    return _converted_column(visitor, node, index, row)


def only_column_reads(visitor: MetadataDependent, roots: list[cst.CSTNode], row: str) -> bool:
    """Whether every use of ``row`` under ``roots`` reads one column (``row[<label>]``, ``row.<label>``): the
    row itself is never passed on, iterated or asked for a Series attribute. Needs ParentNodeProvider."""
    for root in roots:
        for use in variable_names(root, row):
            parent = visitor.get_metadata(ParentNodeProvider, use, None)
            if isinstance(parent, cst.Subscript) and parent.value is use:
                continue
            if (
                isinstance(parent, cst.Attribute)
                and parent.value is use
                and not parent.attr.value.startswith("_")
                and parent.attr.value not in SERIES_ATTRIBUTES
            ):
                continue
            return False
    return True


def columns_of(read: Read) -> tuple[Column, ...]:
    return read.items if isinstance(read, Columns) else (read,)


def same_column_twice(reads: tuple[Read, ...]) -> bool:
    """Whether two reads name one column by the same literal or the same name (``R["a"]`` and ``str(R["a"])``)."""
    identities = [column.identity for read in reads for column in columns_of(read) if column.label is not None]
    return len(set(identities)) != len(identities)


def reusable_frame(frame: cst.BaseExpression, reads: tuple[Read, ...]) -> Optional[cst.BaseExpression]:
    """An expression that may be evaluated once per column: a dotted name, or ``Y`` for ``Y[[a, b]]``.

    ``Y[[a, b]][a]`` is ``Y[a]`` when the list names exactly the columns used, each once (an unused label would
    have raised KeyError when missing). Labels held in names may be equal at run time; then ``Y[[a, a]]`` has
    duplicate columns and differs (documented in the rules' Fix safety).
    """
    if dotted_name(frame) is not None:
        return frame
    if isinstance(frame, cst.Subscript) and dotted_name(frame.value) is not None and len(frame.slice) == 1:
        index = frame.slice[0].slice
        if isinstance(index, cst.Index) and isinstance(index.value, cst.List):
            labels = [_label_identity(element.value) for element in index.value.elements]
            used = {column.identity for read in reads for column in columns_of(read) if column.label is not None}
            if None not in labels and len(set(labels)) == len(labels) and set(labels) == used:
                return frame.value
    return None


def selects_named_labels(frame: cst.BaseExpression) -> bool:
    """``Y[[a, b]]`` with a label held in a name: the names may hold one label (duplicate columns)."""
    if isinstance(frame, cst.Subscript) and len(frame.slice) == 1:
        index = frame.slice[0].slice
        if isinstance(index, cst.Index) and isinstance(index.value, cst.List):
            return any(literal_string(element.value) is None for element in index.value.elements)
    return False


def read_values(frame: cst.BaseExpression, read: Read) -> cst.BaseExpression:
    """An iterable of what ``read`` gives per row: ``X[a].tolist()``, ``map(str, X[a].tolist())``, ``X.index``,
    ``zip(<each>, ...)`` for a tuple.

    ``.tolist()`` for a column: iterating a nullable (Int64, boolean) column yields numpy scalars, where iterrows
    and ``.tolist()`` yield Python ones. iterrows pairs rows with ``X.index`` itself.
    """
    if isinstance(read, Columns):
        return _call("zip", *(read_values(frame, column) for column in read.items))
    if read.label is None:
        values: cst.BaseExpression = cst.Attribute(frame, cst.Name("index"))
        if read.convert is None:
            return values
    else:
        values = cst.Subscript(frame, [cst.SubscriptElement(cst.Index(read.label))])
    as_list = cst.Call(cst.Attribute(values, cst.Name("tolist")))
    return as_list if read.convert is None else _call("map", cst.Name(read.convert), as_list)


def _call(function: str, *arguments: cst.BaseExpression) -> cst.Call:
    return cst.Call(cst.Name(function), [cst.Arg(argument) for argument in arguments])


def _label_identity(node: cst.BaseExpression) -> Optional[tuple[str, str]]:
    text = literal_string(node)
    if text is not None:
        return ("literal", text)
    name = dotted_name(node)
    return ("name", name) if name is not None else None


def _converted_column(visitor: MetadataDependent, node: cst.BaseExpression, index: str, row: str) -> Optional[Column]:
    if (
        isinstance(node, cst.Call)
        and len(node.args) == 1
        and node.args[0].keyword is None
        and not node.args[0].star
    ):
        names = qualified_names(visitor, node.func)
        converter = next((name for name in CONVERTERS if f"builtins.{name}" in names), None)
        if converter is None:
            return None
        inner = _plain_column(node.args[0].value, index, row)
        return None if inner is None or inner.convert is not None else Column(inner.label, converter)
    return _plain_column(node, index, row)


def _plain_column(node: cst.BaseExpression, index: str, row: str) -> Optional[Column]:
    """``I`` -> the index; ``R["a"]`` / ``R[name]`` / ``R.a`` -> that column (not a Series attribute such as
    ``R.name``)."""
    if isinstance(node, cst.Name) and node.value == index:
        return Column(None, None)
    if isinstance(node, cst.Subscript) and isinstance(node.value, cst.Name) and node.value.value == row:
        if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index) or node.slice[0].slice.star:
            return None
        label = node.slice[0].slice.value
        if isinstance(label, cst.SimpleString) and literal_string(label) is not None:
            return Column(label, None)
        # R[code_col], R[self.code_col]: a label held in a name. Not R[I] or R[R.x] (the loop's own names),
        # and not R[0] (a positional fallback in pandas 2, a KeyError in pandas 3).
        if dotted_name(label) is not None and not (mentions(label, index) or mentions(label, row)):
            return Column(label, None)
        return None
    if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value == row:
        attribute = node.attr.value
        if attribute.startswith("_") or attribute in SERIES_ATTRIBUTES:
            return None
        return Column(cst.SimpleString(f'"{attribute}"'), None)
    return None


# ---------------------------------------------------------------------------------------------- statement forms


def single_subscript_store(loop: cst.For) -> Optional[tuple[str, cst.BaseExpression, cst.BaseExpression]]:
    """``(D, K, V)`` when the loop body is exactly ``D[K] = V`` with ``D`` a plain name."""
    statement = sole_statement(loop.body)
    if not isinstance(statement, cst.Assign) or len(statement.targets) != 1:
        return None
    target = statement.targets[0].target
    if not (isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name) and len(target.slice) == 1):
        return None
    index = target.slice[0].slice
    if not isinstance(index, cst.Index) or index.star is not None:
        return None
    return target.value.value, index.value, statement.value


def fresh_dict_before(visitor: MetadataDependent, loop: cst.For, dict_name: str) -> Optional[cst.SimpleStatementLine]:
    """The statement line right before ``loop`` if it is ``D = {}`` / ``D = dict()`` (one target, maybe annotated).

    The visitor must depend on ParentNodeProvider and QualifiedNameProvider.
    """
    previous = previous_statement(visitor, loop)
    if not isinstance(previous, cst.SimpleStatementLine) or len(previous.body) != 1:
        return None
    statement = previous.body[0]
    if isinstance(statement, cst.Assign) and len(statement.targets) == 1:
        target, value = statement.targets[0].target, statement.value
    elif isinstance(statement, cst.AnnAssign) and statement.value is not None:
        target, value = statement.target, statement.value
    else:
        return None
    if not (isinstance(target, cst.Name) and target.value == dict_name and is_empty_dict(visitor, value)):
        return None
    return previous


@dataclass(frozen=True)
class DictBuildLoop:
    """``for I, R in X.iterrows(): D[K] = V`` into a dict: ``creation`` is ``D = {}`` right before the loop (the
    fix then builds ``D`` at once), else None (``D`` is a dict by every binding; the fix is ``D.update(...)``)."""

    dict_name: str
    key: cst.BaseExpression
    value: cst.BaseExpression
    creation: Optional[cst.SimpleStatementLine]


def dict_build_loop(visitor: MetadataDependent, loop: cst.For) -> Optional[DictBuildLoop]:
    """PFL201's loop form, else None: the loop's whole body is one ``D[K] = V``, and ``D`` is created right
    before as ``{}`` / ``dict()``, or every binding of ``D`` in scope makes a dict (``{...}``, ``dict(...)``,
    ``defaultdict(...)``, a dict comprehension) and ``K`` and ``V`` are plain row reads (``row_read``).

    The visitor must depend on ParentNodeProvider, QualifiedNameProvider and ScopeProvider.
    """
    if iterrows_frame(loop.iter) is None or loop.asynchronous is not None:
        return None
    store = single_subscript_store(loop)
    if store is None:
        return None
    name, key, value = store
    creation = fresh_dict_before(visitor, loop, name)
    if creation is None:
        if not _always_a_dict(visitor, loop, name):
            # `for ...: frame[r.a] = r.b` on a DataFrame (adds columns), or on a mapping of unknown kind.
            return None
        names = pair_of_names(loop.target)
        if names is None or any(row_read(visitor, part, names[0].value, names[1].value) is None for part in (key, value)):
            # `adjusted[r.Code] = r.Close * f[r.Code]` into an existing dict: an update PFL201 cannot fix, so
            # PFL203's (itertuples) advice stands.
            return None
    return DictBuildLoop(name, key, value, creation)


def is_dict_build_loop(visitor: MetadataDependent, loop: cst.For) -> bool:
    """Whether PFL201 reports ``loop`` (see ``dict_build_loop``)."""
    return dict_build_loop(visitor, loop) is not None


def _always_a_dict(visitor: MetadataDependent, at: cst.CSTNode, name: str) -> bool:
    scope = visitor.get_metadata(ScopeProvider, at, None)
    if scope is None:
        return False
    assignments = list(scope[name])
    return bool(assignments) and all(_binds_a_dict(visitor, assignment) for assignment in assignments)


def _binds_a_dict(visitor: MetadataDependent, assignment: object) -> bool:
    if not isinstance(assignment, Assignment):
        return False  # builtins
    # `D = ...` and `D: T = ...` (not a walrus: trusting more forms would change findings); parameters, imports,
    # for targets... bind no known value.
    value = bound_value(visitor, assignment.node, (cst.Assign, cst.AnnAssign))
    if isinstance(value, (cst.Dict, cst.DictComp)):
        return True
    return isinstance(value, cst.Call) and not qualified_names(visitor, value.func).isdisjoint(DICT_FACTORIES)
