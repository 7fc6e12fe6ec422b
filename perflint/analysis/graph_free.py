"""Graph-free? Whether a value carries an autograd graph, which graph it stays attached to, and the torch op
tables those answers read (which ops always make a new tensor, which may return their input, which give
integer tensors that cannot require grad; measured on torch 2.13).

Two strengths of the same question, kept apart on purpose because rules rely on each:

- ``is_graph_free``: evident from the expression alone (a number, ``.item()``, ``.detach()``, ``.data``,
  ``float()`` / ``len()``...). PFL103 and ``training_loop.may_carry_graph`` use it.
- ``proven_graph_free``: proven through the value's bindings and grad-mode contexts (a name every binding of
  which is made under ``no_grad`` or from graph-free values; detached chains; integer tensors; ``state_dict()``).
  ``proven_new`` says a value is a *new* tensor that does not require grad. PFL101 uses these.

The visitor must depend on ParentNodeProvider, QualifiedNameProvider and ScopeProvider.
"""

from __future__ import annotations

import ast
from typing import Any, Callable, Optional

import libcst as cst
from libcst import MetadataDependent
from libcst.metadata import ScopeProvider

from perflint.analysis.bindings import plain_assignment, reaching_value
from perflint.analysis.names import method_call, qualified_names, qualified_names_among
from perflint.analysis.syntax import parent_or_none
from perflint.analysis.torch_context import GradMode, grad_context

# Tensor methods whose result is still attached to the receiver's graph (and to their arguments' graphs).
GRAPH_KEEPING_METHODS = frozenset(
    {
        "sum", "mean", "float", "double", "half", "bfloat16", "to", "cpu", "cuda", "clone", "squeeze",
        "unsqueeze", "view", "reshape", "flatten", "abs", "neg", "sqrt", "exp", "log", "pow", "add", "sub",
        "mul", "div", "contiguous",
    }
)  # fmt: skip
GRAPH_KEEPING_OPERATORS = (cst.Add, cst.Subtract, cst.Multiply, cst.Divide, cst.Power, cst.MatrixMultiply)
# Conversions that leave autograd: their result has no graph (and, on a device, they copy to the host).
GRAPH_FREE_METHODS = frozenset({"item", "tolist", "numpy", "detach"})
GRAPH_FREE_BUILTINS = frozenset({"builtins.float", "builtins.int", "builtins.bool", "builtins.len"})
DETACHED_MARKERS = frozenset({"detach", "detach_"})
# Methods that keep an integer tensor integer (they change device, layout or shape, not the dtype).
INT_KEEPING_METHODS = frozenset({"cpu", "cuda", "contiguous", "view", "reshape", "flatten", "squeeze", "unsqueeze",
                                 "permute", "transpose", "clone", "detach", "repeat", "expand", "t", "flip"})

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
# Conversions whose result is a floating tensor.
FLOAT_METHODS = frozenset({"float", "double", "half", "bfloat16"})
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


def graph_roots(node: cst.CSTNode) -> frozenset[str]:
    """The names whose autograd graph the value of ``node`` stays attached to.

    Followed through arithmetic (``+ - * / ** @``, unary minus), indexing and graph-keeping tensor methods
    (``loss.mean()``, ``loss.to(device)``); anything else (a call of an unknown function, ``.item()``,
    ``.detach()``) yields nothing.
    """
    if isinstance(node, cst.Name):
        return frozenset({node.value})
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, GRAPH_KEEPING_OPERATORS):
        return graph_roots(node.left) | graph_roots(node.right)
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, (cst.Minus, cst.Plus)):
        return graph_roots(node.expression)
    if isinstance(node, cst.Subscript):
        return graph_roots(node.value)
    if (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Attribute)
        and node.func.attr.value in GRAPH_KEEPING_METHODS
    ):
        roots = graph_roots(node.func.value)
        for arg in node.args:
            roots |= graph_roots(arg.value)
        return roots
    return frozenset()


def is_graph_free(visitor: MetadataDependent, node: cst.BaseExpression) -> bool:
    """Whether ``node`` evidently evaluates to something without an autograd graph.

    Number literals, ``.item()`` / ``.tolist()`` / ``.numpy()`` / ``.detach()`` results, ``.data``, and
    ``float()`` / ``int()`` / ``bool()`` / ``len()`` results.
    """
    if isinstance(node, (cst.Integer, cst.Float)):
        return True
    if isinstance(node, cst.UnaryOperation):
        return is_graph_free(visitor, node.expression)
    if isinstance(node, cst.Attribute) and node.attr.value == "data":
        return True
    if isinstance(node, cst.Call):
        if isinstance(node.func, cst.Attribute) and node.func.attr.value in GRAPH_FREE_METHODS:
            return True
        return not qualified_names(visitor, node.func).isdisjoint(GRAPH_FREE_BUILTINS)
    return False


def proven_graph_free(
    visitor: MetadataDependent, node: cst.BaseExpression, seen: frozenset[str] = frozenset()
) -> bool:
    """Provably outside autograd: detached, a constant, or computed only from such values (a name counts
    when every binding of it is made under a grad-disabling context or from graph-free values)."""
    if is_detached(node) or isinstance(node, (cst.Integer, cst.Float, cst.SimpleString)):
        return True
    if integer_valued(visitor, node):
        return True
    if isinstance(node, cst.Name) and node.value in ("True", "False", "None"):
        return True
    if isinstance(node, cst.UnaryOperation):
        return proven_graph_free(visitor, node.expression, seen)
    if isinstance(node, cst.BinaryOperation):
        return proven_graph_free(visitor, node.left, seen) and proven_graph_free(visitor, node.right, seen)
    if _is_state_dict_call(node):
        # `model.state_dict()` / `opt.state_dict()`: detached tensors (keep_vars=False), and so is all it holds.
        return True
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        arguments = [argument.value for argument in node.args]
        return proven_graph_free(visitor, node.func.value, seen) and all(proven_graph_free(visitor, a, seen) for a in arguments)
    if isinstance(node, cst.Subscript):
        return proven_graph_free(visitor, node.value, seen)
    if isinstance(node, cst.Name):
        return node.value in seen or _bindings_graph_free(visitor, node, seen | {node.value})
    return False


def _bindings_graph_free(visitor: MetadataDependent, name: cst.Name, seen: frozenset[str]) -> bool:
    scope = visitor.get_metadata(ScopeProvider, name, None)
    if scope is None or not scope.assignments[name.value]:
        return False
    for assignment in scope.assignments[name.value]:
        loop = _loop_of_target(visitor, assignment)
        if loop is not None:
            # `for k, v in sd.items():` with `sd` graph-free: every value it binds is too.
            if not proven_graph_free(visitor, loop.iter, seen):
                return False
            continue
        statement = plain_assignment(visitor, assignment)
        if statement is None:
            return False
        if grad_context(visitor, statement).mode is not GradMode.DISABLED and not proven_graph_free(visitor, statement.value, seen):
            return False
    return True


def _loop_of_target(visitor: MetadataDependent, assignment: object) -> Optional[cst.For]:
    """The ``for`` loop whose target (a name, or a name in a tuple of them) makes this binding, else None."""
    node = parent_or_none(visitor, getattr(assignment, "node", None))
    while isinstance(node, (cst.Element, cst.Tuple, cst.List)):
        node = parent_or_none(visitor, node)
    return node if isinstance(node, cst.For) else None


def proven_new(
    visitor: MetadataDependent, node: cst.BaseExpression, disabled: bool, seen: frozenset[str] = frozenset()
) -> bool:
    """Provably a tensor that does not require grad: computed by an op that always makes a new tensor
    (never one of its inputs) where ``disabled`` (grad off), or passed through ops that may return their
    receiver or a view of it (``.float()``, ``.to()``, ``.view()``, indexing) from such a value.

    Measured (torch 2.13, a Parameter under no_grad): ``float to cpu contiguous type type_as``, unary
    ``+``, ``torch.as_tensor``, ``nn.Identity``, ``F.dropout`` in eval and in-place ``*_`` methods return
    the very object; views (``view reshape flatten squeeze unsqueeze permute [i] .T``) are new objects that
    still require grad. A module or user function call proves nothing.
    """
    if isinstance(node, (cst.Integer, cst.Float, cst.SimpleString)) or cannot_require_grad(visitor, node):
        return True
    if isinstance(node, cst.Call) and any(a.keyword is not None and a.keyword.value == "requires_grad" for a in node.args):
        # `torch.zeros(3, requires_grad=True)` makes a leaf that requires grad, even under no_grad.
        return False
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        method = node.func.attr.value
        if method in ("detach", "detach_"):
            return True
        if method in NEW_TENSOR_METHODS:
            return disabled
        if method in PASS_THROUGH_METHODS or (method.endswith("_") and method != "requires_grad_"):
            return proven_new(visitor, node.func.value, disabled, seen)
        if not qualified_names_among(visitor, node.func, NEW_TENSOR_FUNCTIONS):
            return False
        return disabled
    if isinstance(node, cst.Call):
        return disabled and bool(qualified_names_among(visitor, node.func, NEW_TENSOR_FUNCTIONS))
    if isinstance(node, cst.Attribute):
        if node.attr.value == "data":
            return True
        if node.attr.value == "values" and method_call(node.value, *VALUES_METHODS):
            return disabled
        if node.attr.value in VIEW_ATTRIBUTES:
            return proven_new(visitor, node.value, disabled, seen)
        return False
    if isinstance(node, cst.Subscript):
        return proven_new(visitor, node.value, disabled, seen)
    if isinstance(node, cst.BinaryOperation):
        return disabled
    if isinstance(node, cst.UnaryOperation):
        if isinstance(node.operator, cst.Plus):
            return proven_new(visitor, node.expression, disabled, seen)
        return disabled
    if isinstance(node, cst.Name):
        return node.value in seen or _bindings_proven_new(visitor, node, seen | {node.value})
    return False


def _bindings_proven_new(visitor: MetadataDependent, name: cst.Name, seen: frozenset[str]) -> bool:
    scope = visitor.get_metadata(ScopeProvider, name, None)
    if scope is None or not scope.assignments[name.value]:
        return False
    for assignment in scope.assignments[name.value]:
        statement = plain_assignment(visitor, assignment)
        if statement is None:
            return False
        disabled = grad_context(visitor, statement).mode is GradMode.DISABLED
        if not proven_new(visitor, statement.value, disabled, seen):
            return False
    return True


def integer_valued(visitor: MetadataDependent, node: cst.BaseExpression, depth: int = 0) -> bool:
    """An integer or bool tensor, which cannot require grad: ``x.argmax(1)``, ``x > 0``, indexing or a
    pass-through method of one, or a name whose only reaching binding is one (``m = torch.as_tensor(m,
    dtype=torch.uint8)`` then ``kept.append(m[:15].cpu())``)."""
    if cannot_require_grad(visitor, node):
        return True
    if depth > 8:
        return False
    if isinstance(node, cst.Subscript):
        return integer_valued(visitor, node.value, depth + 1)
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value in INT_KEEPING_METHODS:
        return integer_valued(visitor, node.func.value, depth + 1)
    if isinstance(node, cst.Name):
        value = reaching_value(visitor, node)
        if value is not None:
            return integer_valued(visitor, value, depth + 1)
        # `rank = torch.zeros(n, dtype=torch.long)` then `rank += hits.sum(1)` in a loop: an augmented
        # assignment to a tensor is in place and keeps its dtype (or raises), so an integer tensor made by a
        # torch function stays one (measured: `long += float_with_grad` raises). Only torch functions:
        # `c = arr.argmax(); c += loss` rebinds `c` to a tensor that requires grad (a numpy scalar's `+=`).
        value = reaching_value(visitor, node, skip_augmented=True)
        return value is not None and _torch_integer_call(visitor, value)
    return False


def _torch_integer_call(visitor: MetadataDependent, node: cst.BaseExpression) -> bool:
    """An integer tensor made by a torch function (``torch.zeros(n, dtype=torch.long)``, ``torch.argmax(x)``),
    which always returns a new tensor."""
    return (
        isinstance(node, cst.Call)
        and bool(qualified_names_among(visitor, node.func, INTEGER_FUNCTIONS | DTYPE_CONSTRUCTORS))
        and cannot_require_grad(visitor, node)
    )


def _is_state_dict_call(node: cst.BaseExpression) -> bool:
    """``x.state_dict()`` without ``keep_vars=True`` (which would hand out the Parameters themselves)."""
    call = method_call(node, "state_dict")
    if call is None:
        return False
    return all(not (arg.keyword is not None and arg.keyword.value == "keep_vars") for arg in call.args) and not call.args


def is_detached(node: cst.BaseExpression) -> bool:
    """``x.detach()...``, ``x.data`` or a chain starting from one: already outside the graph."""
    return _detached_chain(node, _cst_link)


def ast_is_detached(node: ast.expr) -> bool:
    """``is_detached`` on Python's ast, for prefilters: the same chain, read from the same shapes."""
    return _detached_chain(node, _ast_link)


# One link of a chain of attributes and method calls: whether it is a method call, its name, and the node below.
Link = Optional[tuple[bool, str, Any]]


def _detached_chain(node: Any, link: Callable[[Any], Link]) -> bool:
    """Whether the chain under ``node`` (its links read by ``link``) reads ``.data`` or calls a detaching method."""
    step = link(node)
    while step is not None:
        is_call, name, below = step
        if (name in DETACHED_MARKERS) if is_call else (name == "data"):
            return True
        step = link(below)
    return False


def _cst_link(node: cst.CSTNode) -> Link:
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        return True, node.func.attr.value, node.func.value
    if isinstance(node, cst.Attribute):
        return False, node.attr.value, node.value
    return None


def _ast_link(node: ast.AST) -> Link:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return True, node.func.attr, node.func.value
    if isinstance(node, ast.Attribute):
        return False, node.attr, node.value
    return None
