"""What names mean: qualified-name lookups for calls and expressions (aliases and ``from`` imports resolved)."""

from __future__ import annotations

from typing import Collection, Optional

import libcst as cst
from libcst import MetadataDependent
from libcst.helpers import get_full_name_for_node
from libcst.metadata import ParentNodeProvider, QualifiedNameProvider

from perflint.import_table import ImportedNames


def qualified_names(visitor: MetadataDependent, node: cst.CSTNode) -> frozenset[str]:
    """Every fully qualified name ``node`` may refer to, e.g. ``T.no_grad`` -> {"torch.no_grad"}.

    Names that only a module-level import binds, and names the module never binds, are answered from the
    rule context's import table (the same answer, without scope analysis); the rest from LibCST's
    QualifiedNameProvider.
    """
    return _qualified_names(visitor, node, _table_lookup(visitor, node))


def qualified_names_among(visitor: MetadataDependent, node: cst.CSTNode, targets: Collection[str]) -> frozenset[str]:
    """The names among ``targets`` that ``node`` may refer to; no scope analysis runs where the module's
    bindings already rule every target out."""
    lookup = _table_lookup(visitor, node)
    if lookup is not None and lookup[0].cannot_refer_to(lookup[1], targets):
        return frozenset()
    return _qualified_names(visitor, node, lookup).intersection(targets)


def _qualified_names(
    visitor: MetadataDependent, node: cst.CSTNode, lookup: Optional[tuple[ImportedNames, str]]
) -> frozenset[str]:
    if lookup is not None:
        table, dotted = lookup
        known = table.qualified_names(dotted)
        if known is not None:
            return known
    try:
        names = visitor.get_metadata(QualifiedNameProvider, node, set())
    except KeyError:
        return frozenset()
    return frozenset(name.name for name in names)


def refers_to(visitor: MetadataDependent, node: cst.CSTNode, targets: Collection[str]) -> bool:
    """Whether ``node`` may refer to one of ``targets`` (fully qualified names)."""
    return bool(qualified_names_among(visitor, node, targets))


def _table_lookup(visitor: MetadataDependent, node: cst.CSTNode) -> Optional[tuple[ImportedNames, str]]:
    """The import table and ``node``'s dotted spelling, where the table can speak for ``node``."""
    context = getattr(visitor, "context", None)
    table = getattr(context, "imported_names", None)
    if table is None or not isinstance(node, (cst.Name, cst.Attribute, cst.Call, cst.Subscript)):
        return None
    if ParentNodeProvider not in visitor.get_inherited_dependencies():
        return None
    # The provider's own spelling: through calls and subscripts, `np.array(x).sum` is "np.array.sum".
    dotted = get_full_name_for_node(node)
    if dotted is None or not _is_access(visitor, node):
        return None
    return table(), dotted


def _is_access(visitor: MetadataDependent, node: cst.CSTNode) -> bool:
    """Whether ``node`` reads a variable: not the ``b`` of ``a.b``, a keyword's name, or a module named by an
    import (the provider gives those no names)."""
    parent = visitor.get_metadata(ParentNodeProvider, node, None)
    if isinstance(parent, cst.Attribute) and parent.attr is node:
        return False
    if isinstance(parent, cst.Arg) and parent.keyword is node:
        return False
    while isinstance(parent, cst.Attribute):
        parent = visitor.get_metadata(ParentNodeProvider, parent, None)
    return parent is not None and not isinstance(parent, (cst.ImportAlias, cst.ImportFrom, cst.AsName))


def is_call_to(visitor: MetadataDependent, node: cst.CSTNode, targets: Collection[str]) -> bool:
    """Whether ``node`` is a call of one of ``targets``."""
    return isinstance(node, cst.Call) and refers_to(visitor, node.func, targets)


def method_call(node: cst.CSTNode, *method_names: str) -> Optional[cst.Call]:
    """``node`` if it is ``<receiver>.<method>(...)`` for one of ``method_names``, else None."""
    if (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Attribute)
        and node.func.attr.value in method_names
    ):
        return node
    return None


def receiver(call: cst.Call) -> cst.BaseExpression:
    """The object a method is called on: ``x`` in ``x.cpu()``."""
    assert isinstance(call.func, cst.Attribute)
    return call.func.value


def literal_string(node: cst.CSTNode) -> Optional[str]:
    """The value of a plain string literal, else None."""
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def argument(call: cst.Call, position: int, keyword: str) -> Optional[cst.BaseExpression]:
    """The argument passed at ``position`` or as ``keyword=``, else None."""
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == keyword:
            return arg.value
    positional = [arg for arg in call.args if arg.keyword is None and not arg.star]
    return positional[position].value if len(positional) > position else None


def callee_name(call: cst.Call) -> Optional[str]:
    """``f`` in ``f(...)`` and in ``x.f(...)``; None for other callees (``f()()``, ``xs[0](...)``)."""
    func = call.func
    if isinstance(func, cst.Name):
        return func.value
    return func.attr.value if isinstance(func, cst.Attribute) else None


def dotted_name(node: cst.CSTNode) -> Optional[str]:
    """``a.b.c`` for a chain of Names and Attributes, else None."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted_name(node.value)
        return None if base is None else f"{base}.{node.attr.value}"
    return None


def names_start_with(visitor: MetadataDependent, node: cst.CSTNode, prefix: str) -> bool:
    """Whether a call's callee, an annotation or an expression resolves to a name under ``prefix``."""
    if isinstance(node, cst.Annotation):
        node = node.annotation
    target = node.func if isinstance(node, cst.Call) else node
    return any(name.startswith(prefix) for name in qualified_names(visitor, target))
