"""Tensor or module? Every rule's answer to "what kind of torch object is this value?" lives here.

- ``is_tensor``: the evidence in a value's function says it is a tensor (every binding of a name).
- ``is_module``: evidently an ``nn.Module``; ``is_module_class``: a ``torch.nn`` class name.
- ``receiver_kind``: what the receiver of ``.cpu()`` is (tensor, module, PackedSequence or unknown).
- ``has_tensor_evidence``: *some* binding says tensor (PFL102's tensor-or-ndarray question).

Module evidence reads one list of torch method names (``MODULE_METHODS`` / ``NOT_TENSOR_METHODS``). Whether a
value carries an autograd graph is ``graph_free``'s question.

Visitors using these helpers must depend on ParentNodeProvider, QualifiedNameProvider and ScopeProvider.
"""

from __future__ import annotations

import enum
from functools import lru_cache
from typing import Iterator

import libcst as cst
from libcst import MetadataDependent
from libcst.metadata import ParentNodeProvider, Scope

from perflint.analysis.bindings import binding_statement, bound_value, scope_of
from perflint.analysis.graph_free import GRAPH_FREE_METHODS
from perflint.analysis.names import dotted_name, names_start_with, qualified_names
from perflint.analysis.syntax import tree_index, walk_all
from perflint.analysis.training_loop import (
    ScopeNode,
    backpropagated_names,
    binding_values,
    enclosing_scope,
)

PACKING_FUNCTIONS = frozenset(
    {
        "torch.nn.utils.rnn.pack_padded_sequence",
        "torch.nn.utils.rnn.pack_sequence",
        "torch.nn.utils.rnn.PackedSequence",
    }
)
MODULE_ANNOTATIONS = frozenset({"torch.nn.Module", "torch.nn.modules.module.Module"})
MODULE_ANNOTATION_PREFIX = "torch.nn."
# The one list of torch method names that tell a module from a tensor, in two tiers.
# Methods of nn.Module that neither a tensor nor an optimizer has: calling one is evidence of a module (`is_module`).
MODULE_METHODS = frozenset({"parameters", "named_parameters", "train", "eval", "modules"})
# Methods a tensor lacks: calling one says the receiver is no tensor (`receiver_kind` counts it a module).
# `zero_grad`, `state_dict` and `load_state_dict` are an optimizer's too, so `is_module` does not count them
# (`opt.zero_grad()` would make the optimizer a module); nor `children` (not counted there before either).
NOT_TENSOR_METHODS = MODULE_METHODS | {"children", "state_dict", "load_state_dict", "zero_grad"}


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



def has_tensor_evidence(visitor: MetadataDependent, scope: Scope, variable: str) -> bool:
    """Whether *some* binding of ``variable`` in ``scope`` says tensor: a parameter annotated ``torch.Tensor``, or
    ``x = torch.<anything>(...)``. Weaker than ``is_tensor`` (which needs every binding): PFL102 asks it only to
    tell a tensor from an ndarray for chains both have (``tolist``, ``reshape``...)."""
    for assignment in scope.assignments[variable]:
        node = getattr(assignment, "node", None)
        if isinstance(node, cst.Param) and node.annotation is not None:
            if "torch.Tensor" in qualified_names(visitor, node.annotation.annotation):
                return True
        # Only `x = value` (not `x: T = value` or a walrus): trusting more forms would change findings.
        value = bound_value(visitor, node, (cst.Assign,))
        if isinstance(value, cst.Call) and any(name.startswith("torch.") for name in qualified_names(visitor, value.func)):
            return True
    return False

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


def _bound_kinds(visitor: MetadataDependent, name: cst.Name) -> Iterator[ReceiverKind]:
    scope = scope_of(visitor, name)
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
    # `x = v` and `x: T = v` (not a walrus: trusting more forms would change findings).
    statement = binding_statement(visitor, target, (cst.Assign, cst.AnnAssign))
    if statement is None:
        return ReceiverKind.UNKNOWN
    if isinstance(statement, cst.AnnAssign):
        if not qualified_names(visitor, statement.annotation.annotation).isdisjoint(MODULE_ANNOTATIONS):
            return ReceiverKind.MODULE
    value = statement.value  # never None: binding_statement leaves out `x: T` without a value
    return ReceiverKind.UNKNOWN if value is None else _value_kind(visitor, value)


def _used_as_module(visitor: MetadataDependent, name: cst.Name) -> bool:
    scope = scope_of(visitor, name)
    if scope is None:
        return False
    for access in scope.accesses[name.value]:
        parent = visitor.get_metadata(ParentNodeProvider, access.node, None)
        if isinstance(parent, cst.Call) and parent.func is access.node:
            return True
        if isinstance(parent, cst.Attribute) and parent.attr.value in NOT_TENSOR_METHODS:
            return True
    return False


def is_tensor(visitor: MetadataDependent, node: cst.BaseExpression, _depth: int = 0) -> bool:
    """Whether the evidence in ``node``'s function says it evaluates to a tensor.

    Evidence: a name that is backpropagated; the result of a ``torch.*`` function (not a ``torch.nn``
    class), of calling a module (bound from a ``torch.nn`` class, annotated with one, or used with
    ``.parameters()`` / ``.train()`` / ``.eval()`` ...), arithmetic, indexing or a tensor method on such a
    value; a name every binding of which in its scope is such a value.
    """
    if _depth > 8:
        return False
    if isinstance(node, cst.Name):
        return _is_tensor_name(visitor, node, _depth)
    if isinstance(node, cst.BinaryOperation):
        return is_tensor(visitor, node.left, _depth + 1) or is_tensor(visitor, node.right, _depth + 1)
    if isinstance(node, cst.UnaryOperation):
        return is_tensor(visitor, node.expression, _depth + 1)
    if isinstance(node, cst.Subscript):
        return is_tensor(visitor, node.value, _depth + 1)
    if not isinstance(node, cst.Call):
        return False
    if isinstance(node.func, cst.Attribute) and node.func.attr.value in GRAPH_FREE_METHODS - {"detach"}:
        return False
    if _is_torch_function(visitor, node.func) or is_module(visitor, node.func):
        return True
    return isinstance(node.func, cst.Attribute) and is_tensor(visitor, node.func.value, _depth + 1)


def _is_tensor_name(visitor: MetadataDependent, name: cst.Name, depth: int) -> bool:
    function = enclosing_scope(visitor, name)
    # The answer depends on the name's bindings (its scope) and the backward calls of its function only.
    key = ("is tensor name", function, scope_of(visitor, name), name.value, depth)
    return tree_index(visitor, name).memo(key, lambda: _is_tensor_name_uncached(visitor, name, function, depth))


def _is_tensor_name_uncached(visitor: MetadataDependent, name: cst.Name, function: ScopeNode, depth: int) -> bool:
    if name.value in backpropagated_names(visitor, function):
        return True
    values = binding_values(visitor, name)
    return bool(values) and all(value is not None and is_tensor(visitor, value, depth + 1) for value in values)


def _is_torch_function(visitor: MetadataDependent, func: cst.BaseExpression) -> bool:
    names = qualified_names(visitor, func)
    return any(name.startswith("torch.") and not is_module_class(name) for name in names)


def is_module(visitor: MetadataDependent, node: cst.BaseExpression) -> bool:
    """Whether ``node`` (a name or ``self.attr`` chain) is evidently an ``nn.Module`` in its module."""
    spelled = dotted_name(node)
    if spelled is None:
        return False
    if _has_module_method_calls(visitor, node, spelled):
        return True
    if not isinstance(node, cst.Name):
        return False
    values = binding_values(visitor, node)
    return bool(values) and all(value is not None and _is_nn_construction(visitor, value) for value in values)


def _has_module_method_calls(visitor: MetadataDependent, node: cst.CSTNode, spelled: str) -> bool:
    return spelled in _module_method_receivers(tree_index(visitor, node).module)


@lru_cache(maxsize=4)
def _module_method_receivers(module: cst.CSTNode) -> frozenset[str]:
    """Spellings of every ``X`` in ``X.parameters()``, ``X.train()``, ``X.eval()``... anywhere in ``module``."""
    receivers = set()
    for inner in walk_all(module):
        if (
            isinstance(inner, cst.Call)
            and isinstance(inner.func, cst.Attribute)
            and inner.func.attr.value in MODULE_METHODS
        ):
            spelled = dotted_name(inner.func.value)
            if spelled is not None:
                receivers.add(spelled)
    return frozenset(receivers)


def _is_nn_construction(visitor: MetadataDependent, value: cst.CSTNode) -> bool:
    if isinstance(value, cst.Annotation):
        return names_start_with(visitor, value.annotation, MODULE_ANNOTATION_PREFIX)
    if isinstance(value, cst.Call):
        return any(is_module_class(name) for name in qualified_names(visitor, value.func))
    return False
