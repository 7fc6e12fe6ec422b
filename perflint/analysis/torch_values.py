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


# Tensor methods and torch functions whose result is always a new tensor, never an input or a view of one:
# under a grad-off context it does not require grad (measured on a Parameter under no_grad, torch 2.13).
NEW_TENSOR_METHODS = frozenset(
    {
        "clone", "sum", "mean", "std", "var", "prod", "softmax", "log_softmax", "sigmoid", "tanh", "exp", "log",
        "abs", "relu", "round", "sqrt", "add", "sub", "mul", "div", "matmul", "mm", "bmm", "norm", "cumsum",
        "clamp", "neg", "pow", "logsumexp", "amax", "amin", "square", "reciprocal", "floor", "ceil",
    }
)  # fmt: skip
NEW_TENSOR_FUNCTIONS = frozenset(
    {f"torch.{name}" for name in NEW_TENSOR_METHODS - {"clone"}}
    | {"torch.cat", "torch.stack", "torch.where", "torch.tensor", "torch.concat", "torch.concatenate", "torch.hstack",
       "torch.vstack", "torch.einsum", "torch.clone"}
    | {f"torch.nn.functional.{name}" for name in ("softmax", "log_softmax", "relu", "sigmoid", "normalize", "gelu",
                                                  "tanh", "silu", "elu", "leaky_relu", "linear", "cosine_similarity")}
)  # fmt: skip
# Methods and attributes that may return their receiver itself (`.float()` of a float tensor, `.to()` to where it
# already is, in-place `*_` methods) or a view that still requires grad (`.view()`, `[i]`, `.T`).
PASS_THROUGH_METHODS = frozenset(
    {
        "float", "double", "half", "bfloat16", "to", "cpu", "cuda", "contiguous", "type", "type_as", "view",
        "view_as", "reshape", "reshape_as", "flatten", "squeeze", "unsqueeze", "permute", "t", "transpose",
        "expand", "expand_as", "narrow", "select", "unflatten", "movedim", "swapaxes", "real", "resolve_conj",
        "resolve_neg", "ravel", "as_strided", "unfold", "diagonal",
    }
)  # fmt: skip
VIEW_ATTRIBUTES = frozenset({"T", "mT", "H", "mH", "real"})
# `topk(...).values`, `max(dim).values`: a new tensor, like the methods above.
VALUES_METHODS = frozenset({"topk", "sort", "max", "min", "kthvalue", "mode", "median", "cummax", "cummin"})

# Integer and bool tensors cannot require grad ("only Tensors of floating point dtype can require gradients"):
# a value of one keeps no graph whatever the grad mode.
INTEGER_METHODS = frozenset(
    {
        "argmax", "argmin", "argsort", "long", "int", "bool", "byte", "short", "char", "nonzero", "eq", "ne", "lt",
        "le", "gt", "ge", "isnan", "isinf", "isfinite", "isposinf", "isneginf", "logical_and", "logical_or",
        "logical_not", "logical_xor", "count_nonzero", "bincount", "greater", "less", "equal",
    }
)  # fmt: skip
INTEGER_FUNCTIONS = frozenset(
    {f"torch.{name}" for name in INTEGER_METHODS - {"long", "int", "bool", "byte", "short", "char"}}
    | {"torch.randint", "torch.randperm", "torch.bucketize", "torch.searchsorted", "torch.randint_like", "torch.multinomial"}
)
INTEGER_DTYPES = frozenset(
    f"torch.{name}"
    for name in (
        "long", "int64", "int", "int32", "int16", "short", "int8", "uint8", "bool", "uint16", "uint32", "uint64",
        "LongTensor", "IntTensor", "BoolTensor", "ByteTensor", "ShortTensor", "CharTensor",
        "cuda.LongTensor", "cuda.IntTensor", "cuda.BoolTensor", "cuda.ByteTensor",
    )
)  # fmt: skip
# Calls whose `dtype=` decides the result's dtype (constructors and `.to(dtype=...)`).
DTYPE_CONSTRUCTORS = frozenset(
    f"torch.{name}"
    for name in ("tensor", "as_tensor", "zeros", "ones", "full", "empty", "arange", "zeros_like", "ones_like",
                 "full_like", "empty_like", "from_numpy", "asarray", "LongTensor")
)  # fmt: skip


def cannot_require_grad(visitor: MetadataDependent, node: cst.BaseExpression) -> bool:
    """Whether ``node`` evidently evaluates to an integer or bool tensor (or a Python bool), which cannot
    require grad: ``x.argmax(-1)``, ``x > 0``, ``x.long()``, ``x.to(torch.long)``, ``topk(k).indices``,
    ``x.max(1)[1]``, ``torch.tensor(v, dtype=torch.long)``. The visitor must depend on QualifiedNameProvider."""
    if isinstance(node, cst.Comparison):
        return True
    if isinstance(node, cst.Attribute):
        return node.attr.value == "indices" and _is_values_call(visitor, node.value)
    if isinstance(node, cst.Subscript):
        # `outputs.max(1)[1]`, `torch.max(outputs, 1)[1]`: the indices of a (values, indices) pair.
        index = node.slice[0].slice if len(node.slice) == 1 else None
        return (
            isinstance(index, cst.Index)
            and isinstance(index.value, cst.Integer)
            and index.value.value == "1"
            and _is_values_call(visitor, node.value)
        )
    if not isinstance(node, cst.Call):
        return False
    if isinstance(node.func, cst.Attribute):
        method = node.func.attr.value
        if method in INTEGER_METHODS:
            return True
        if method in ("to", "type"):
            dtype = next((a.value for a in node.args if a.keyword is None or a.keyword.value == "dtype"), None)
            return dtype is not None and not qualified_names(visitor, dtype).isdisjoint(INTEGER_DTYPES)
    names = qualified_names(visitor, node.func)
    if not names.isdisjoint(INTEGER_FUNCTIONS):
        return True
    if not names.isdisjoint(DTYPE_CONSTRUCTORS):
        dtype = next((a.value for a in node.args if a.keyword is not None and a.keyword.value == "dtype"), None)
        return dtype is not None and not qualified_names(visitor, dtype).isdisjoint(INTEGER_DTYPES)
    return False


def _is_values_call(visitor: MetadataDependent, node: cst.BaseExpression) -> bool:
    if not isinstance(node, cst.Call):
        return False
    if isinstance(node.func, cst.Attribute) and node.func.attr.value in VALUES_METHODS:
        return True
    return not qualified_names(visitor, node.func).isdisjoint({f"torch.{name}" for name in VALUES_METHODS})
# Conversions whose result is a floating tensor.
FLOAT_METHODS = frozenset({"float", "double", "half", "bfloat16"})
