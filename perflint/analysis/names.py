"""What names mean: qualified-name lookups for calls and expressions (aliases and ``from`` imports resolved)."""

from __future__ import annotations

from typing import Collection, Optional

import libcst as cst
from libcst import MetadataDependent
from libcst.metadata import QualifiedNameProvider


def qualified_names(visitor: MetadataDependent, node: cst.CSTNode) -> frozenset[str]:
    """Every fully qualified name ``node`` may refer to, e.g. ``T.no_grad`` -> {"torch.no_grad"}."""
    try:
        names = visitor.get_metadata(QualifiedNameProvider, node, set())
    except KeyError:
        return frozenset()
    return frozenset(name.name for name in names)


def refers_to(visitor: MetadataDependent, node: cst.CSTNode, targets: Collection[str]) -> bool:
    """Whether ``node`` may refer to one of ``targets`` (fully qualified names)."""
    return not qualified_names(visitor, node).isdisjoint(targets)


def callee_names(visitor: MetadataDependent, node: cst.CSTNode) -> frozenset[str]:
    """Qualified names of the function called by ``node`` (empty if ``node`` is not a call)."""
    return qualified_names(visitor, node.func) if isinstance(node, cst.Call) else frozenset()


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


def dotted_name(node: cst.CSTNode) -> Optional[str]:
    """``a.b.c`` for a chain of Names and Attributes, else None."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted_name(node.value)
        return None if base is None else f"{base}.{node.attr.value}"
    return None
