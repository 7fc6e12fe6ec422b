"""What kind of object a receiver of ``.cpu()`` is, from the evidence in its function."""

from __future__ import annotations

import enum
from typing import Iterator

import libcst as cst
from libcst import MetadataDependent
from libcst.metadata import ParentNodeProvider, ScopeProvider

from perflint.analysis.names import qualified_names

PACKING_FUNCTIONS = frozenset(
    {
        "torch.nn.utils.rnn.pack_padded_sequence",
        "torch.nn.utils.rnn.pack_sequence",
        "torch.nn.utils.rnn.PackedSequence",
    }
)
MODULE_ANNOTATIONS = frozenset({"torch.nn.Module", "torch.nn.modules.module.Module"})
# Methods of nn.Module that a tensor lacks: calling one is evidence the receiver is a module.
MODULE_ONLY_METHODS = frozenset(
    {"eval", "train", "parameters", "named_parameters", "state_dict", "load_state_dict", "modules", "children", "zero_grad"}
)


class ReceiverKind(enum.Enum):
    """What the evidence says a receiver is."""

    TENSOR = "tensor"
    MODULE = "module"
    PACKED_SEQUENCE = "packed-sequence"
    UNKNOWN = "unknown"


def receiver_kind(visitor: MetadataDependent, node: cst.BaseExpression) -> ReceiverKind:
    """Classify ``node``; the visitor must depend on ScopeProvider, ParentNodeProvider and QualifiedNameProvider."""
    if not isinstance(node, cst.Name):
        return _value_kind(visitor, node)
    if _used_as_module(visitor, node):
        return ReceiverKind.MODULE
    kinds = set(_bound_kinds(visitor, node))
    if not kinds:
        return ReceiverKind.UNKNOWN
    for decisive in (ReceiverKind.MODULE, ReceiverKind.PACKED_SEQUENCE, ReceiverKind.UNKNOWN):
        if decisive in kinds:
            return decisive
    return ReceiverKind.TENSOR


def _value_kind(visitor: MetadataDependent, value: cst.BaseExpression) -> ReceiverKind:
    """The kind of a value expression: calls by their callee, arithmetic and indexing give tensors."""
    if isinstance(value, (cst.BinaryOperation, cst.Subscript)):
        return ReceiverKind.TENSOR
    if not isinstance(value, cst.Call):
        return ReceiverKind.UNKNOWN
    names = qualified_names(visitor, value.func)
    if not names.isdisjoint(PACKING_FUNCTIONS):
        return ReceiverKind.PACKED_SEQUENCE
    if any(is_module_class(name) for name in names):
        return ReceiverKind.MODULE
    return ReceiverKind.TENSOR


def is_module_class(qualified_name: str) -> bool:
    """Whether a qualified name is a ``torch.nn`` class (``torch.nn.Linear``), not a functional op."""
    parts = qualified_name.split(".")
    return qualified_name.startswith("torch.nn.") and "functional" not in parts and parts[-1][:1].isupper()


def _scope_entries(visitor: MetadataDependent, name: cst.Name):
    return visitor.get_metadata(ScopeProvider, name, None)


def _bound_kinds(visitor: MetadataDependent, name: cst.Name) -> Iterator[ReceiverKind]:
    scope = _scope_entries(visitor, name)
    if scope is None:
        yield ReceiverKind.UNKNOWN
        return
    for assignment in scope.assignments[name.value]:
        yield _assignment_kind(visitor, getattr(assignment, "node", None))


def _assignment_kind(visitor: MetadataDependent, target: object) -> ReceiverKind:
    if isinstance(target, cst.Param):
        annotation = target.annotation
        if annotation is not None and not qualified_names(visitor, annotation.annotation).isdisjoint(MODULE_ANNOTATIONS):
            return ReceiverKind.MODULE
        return ReceiverKind.UNKNOWN
    if not isinstance(target, cst.CSTNode):
        return ReceiverKind.UNKNOWN
    parent = visitor.get_metadata(ParentNodeProvider, target, None)
    if isinstance(parent, cst.AssignTarget):
        statement = visitor.get_metadata(ParentNodeProvider, parent, None)
        if isinstance(statement, cst.Assign) and parent.target is target:
            return _value_kind(visitor, statement.value)
    if isinstance(parent, cst.AnnAssign) and parent.value is not None:
        if not qualified_names(visitor, parent.annotation.annotation).isdisjoint(MODULE_ANNOTATIONS):
            return ReceiverKind.MODULE
        return _value_kind(visitor, parent.value)
    return ReceiverKind.UNKNOWN


def _used_as_module(visitor: MetadataDependent, name: cst.Name) -> bool:
    scope = _scope_entries(visitor, name)
    if scope is None:
        return False
    for access in scope.accesses[name.value]:
        parent = visitor.get_metadata(ParentNodeProvider, access.node, None)
        if isinstance(parent, cst.Call) and parent.func is access.node:
            return True
        if isinstance(parent, cst.Attribute) and parent.attr.value in MODULE_ONLY_METHODS:
            return True
    return False
