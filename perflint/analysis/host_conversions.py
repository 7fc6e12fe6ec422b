"""Tensor-to-host conversion chains (``x.detach().cpu().numpy()``...) and what could observe that one is shared.

Functions taking a visitor need ParentNodeProvider (and QualifiedNameProvider for the callee checks).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Collection, Optional, Sequence

import libcst as cst
from libcst import MetadataDependent

from perflint.analysis.names import qualified_names
from perflint.analysis.syntax import parent, start
from perflint.traversal import walk

# Value-preserving steps before the conversion. `view`/`squeeze` always share memory with the tensor;
# reshape/flatten/ravel return a view only when the strides allow one, otherwise a copy; `float()` returns the
# tensor itself when it is float32 and a converted copy otherwise.
VIEWS = frozenset({"view", "reshape", "flatten", "ravel", "squeeze", "float"})
COPYING_VIEWS = frozenset({"reshape", "flatten", "ravel", "float"})
TERMINALS = frozenset({"numpy", "tolist", "cpu"})
STEPS = VIEWS | TERMINALS | {"detach"}
NO_ARGUMENT_STEPS = frozenset({"detach", "cpu", "tolist", "float"})

PURE_NUMPY = frozenset(
    {
        "mean", "average", "median", "sum", "prod", "std", "var", "min", "max", "amin", "amax", "ptp",
        "nanmean", "nanmedian", "nansum", "nanstd", "nanvar", "nanmin", "nanmax", "percentile", "quantile",
        "nanpercentile", "nanquantile", "sqrt", "square", "abs", "absolute", "exp", "log", "log1p", "log2",
        "log10", "sign", "isnan", "isfinite", "isinf", "corrcoef", "cov", "correlate", "dot", "matmul", "inner",
        "outer", "argsort", "sort", "argmax", "argmin", "cumsum", "cumprod", "diff", "unique", "histogram",
        "bincount", "count_nonzero", "allclose", "isclose", "array_equal", "any", "all", "where", "clip", "round",
        "maximum", "minimum", "add", "subtract", "multiply", "divide", "true_divide", "power", "concatenate",
        "stack", "vstack", "hstack", "array", "searchsorted",
    }
)  # fmt: skip
PURE_FUNCTIONS = frozenset(
    {f"numpy.{name}" for name in PURE_NUMPY}
    | {
        f"builtins.{name}"
        for name in ("float", "int", "bool", "len", "abs", "round", "sum", "min", "max", "sorted", "list", "tuple", "str", "repr", "print")
    }
    | {f"math.{name}" for name in ("sqrt", "isnan", "isfinite", "log", "exp", "fabs", "isclose", "fsum")}
    | {
        f"scipy.stats.{name}"
        for name in ("pearsonr", "spearmanr", "kendalltau", "rankdata", "linregress", "describe", "zscore", "ttest_ind", "ttest_rel")
    }
)
PURE_FUNCTION_PREFIXES = ("sklearn.metrics.",)
# Keywords that make an otherwise pure numpy call write into, or alias, its input.
ALIASING_KEYWORDS = frozenset({"out", "copy"})
# ndarray methods that return a new object and leave the array alone (not sort: it sorts in place).
PURE_ARRAY_METHODS = frozenset(
    {"mean", "sum", "std", "var", "min", "max", "prod", "argmin", "argmax", "argsort", "all", "any", "item",
     "tolist", "copy", "astype", "cumsum", "cumprod", "ptp", "round", "nonzero", "dot", "flatten", "trace"}
)  # fmt: skip
# In-place tensor methods that swap the storage or change shape/strides/grad flag: after one of them a new
# conversion differs from the old array, whatever the device.
STORAGE_METHODS = frozenset(
    {"set_", "resize_", "resize_as_", "as_strided_", "t_", "transpose_", "squeeze_", "unsqueeze_", "swapdims_",
     "swapaxes_", "requires_grad_", "share_memory_"}
)  # fmt: skip
PLAIN_SMALL_STATEMENTS = (cst.Assign, cst.AnnAssign, cst.Expr, cst.Return, cst.Pass)
TEMPORARIES = (cst.Call, cst.Subscript, cst.BinaryOperation, cst.UnaryOperation)
# Tensor methods that read the tensor and return a new value.
PURE_TENSOR_METHODS = frozenset(
    {"size", "dim", "numel", "element_size", "is_contiguous", "mean", "sum", "std", "var", "min", "max", "norm",
     "item", "all", "any", "argmax", "argmin", "unique"}
)  # fmt: skip


@dataclass(frozen=True)
class Conversion:
    """``receiver.<step>()...`` ending in ``.numpy()``, ``.tolist()`` or ``.cpu()``; ``steps`` innermost first."""

    node: cst.Call
    receiver: cst.BaseExpression
    steps: tuple[cst.Call, ...]

    @property
    def receiver_name(self) -> Optional[str]:
        """The receiver's identifier when it is a plain name (``x`` in ``x.numpy()``), else None."""
        return self.receiver.value if isinstance(self.receiver, cst.Name) else None

    @property
    def methods(self) -> tuple[str, ...]:
        """The method names of the chain, innermost first."""
        return tuple(_method(step) for step in self.steps)

    @property
    def text(self) -> str:
        """The chain as written after the receiver, e.g. ``.cpu().numpy()``."""
        return "".join(f".{_method(step)}({_arguments(step)})" for step in self.steps)

    @property
    def copies(self) -> bool:
        """Whether the chain may copy (``.cpu()`` of a device tensor, a non-viewable reshape, a new list...).

        Only ``view``/``detach``/bare ``numpy`` always share memory with the tensor.
        """
        return any(
            method in COPYING_VIEWS or method in ("cpu", "tolist") or (method == "numpy" and step.args)
            for method, step in zip(self.methods, self.steps)
        )

    @property
    def bare_numpy(self) -> bool:
        """Whether the chain is exactly ``.numpy()``."""
        return self.text == ".numpy()"


def conversion_of(node: cst.CSTNode) -> Optional[Conversion]:
    """The conversion chain that ``node`` ends, whatever its receiver, else None."""
    steps: list[cst.Call] = []
    current: cst.CSTNode = node
    while isinstance(current, cst.Call) and isinstance(current.func, cst.Attribute) and current.func.attr.value in STEPS:
        steps.append(current)
        current = current.func.value
    steps.reverse()
    if not steps or steps[-1] is not node or not _well_formed(steps):
        return None
    assert isinstance(current, cst.BaseExpression)
    return Conversion(node, current, tuple(steps))


def maximal_conversion(visitor: MetadataDependent, node: cst.CSTNode) -> Optional[Conversion]:
    """The conversion ``node`` ends, unless ``node`` is only the start of a longer one (``x.cpu()`` in ``x.cpu().numpy()``)."""
    conversion = conversion_of(node)
    if conversion is None:
        return None
    attribute = parent(visitor, node)
    if isinstance(attribute, cst.Attribute) and attribute.value is node:
        call = parent(visitor, attribute)
        if isinstance(call, cst.Call) and call.func is attribute and conversion_of(call) is not None:
            return None
    return conversion


def is_pure_call(visitor: MetadataDependent, call: cst.Call) -> bool:
    """Whether ``call`` is a known function that neither mutates nor aliases its array arguments."""
    if any(arg.keyword is not None and arg.keyword.value in ALIASING_KEYWORDS for arg in call.args):
        return False
    names = qualified_names(visitor, call.func)
    return any(name in PURE_FUNCTIONS or name.startswith(PURE_FUNCTION_PREFIXES) for name in names)


def is_pure_method_call(call: cst.CSTNode, methods: frozenset[str] = PURE_ARRAY_METHODS) -> bool:
    """Whether ``call`` is ``<anything>.<m>(...)`` for a method ``m`` in ``methods`` without aliasing keywords."""
    return (
        isinstance(call, cst.Call)
        and isinstance(call.func, cst.Attribute)
        and call.func.attr.value in methods
        and not any(arg.keyword is not None and arg.keyword.value in ALIASING_KEYWORDS for arg in call.args)
    )


def copies_are_unobservable(
    visitor: MetadataDependent,
    statements: Sequence[cst.CSTNode],
    uses: Sequence[cst.CSTNode],
    variable: str,
    steps: Collection[int],
) -> bool:
    """Whether one shared copy of ``variable`` can stand for the fresh copy each of ``uses`` made.

    True when each converted value is consumed at once (by a known-pure callee, a pure array method or an
    operator) and nothing in ``statements`` can mutate the tensor or a copy: only plain assignments,
    expressions and returns; every call a conversion step (ids in ``steps``), a known-pure function, a pure
    method of a temporary or a pure tensor method of ``variable``; every other mention of ``variable`` an
    attribute read. A call that does not receive the tensor could still reach it through another reference
    (an optimizer step), hence "every call".
    """
    smalls = _small_statements(statements)
    if smalls is None or not all(_is_plain(small) for small in smalls):
        return False
    if not all(_consumed(visitor, use) for use in uses):
        return False
    if not all(_harmless_call(visitor, call, variable, steps) for small in smalls for call in _found(small, cst.Call)):
        return False
    return all(
        _harmless_mention(visitor, name, steps)
        for small in smalls
        for name in _found(small, cst.Name)
        if isinstance(name, cst.Name) and name.value == variable
    )


def only_read(
    visitor: MetadataDependent,
    statements: Sequence[cst.CSTNode],
    variable: str,
    allowed: Collection[int],
    last: Optional[cst.CSTNode] = None,
) -> bool:
    """Whether every mention of ``variable`` in ``statements`` reads it without handing the tensor on: the
    receiver of a step in ``allowed`` (ids of the conversions' own calls), of a pure tensor method
    (``x.sum()``, ``x.size()``), of an attribute read (``x.shape``) or of an in-place value update whose
    result is dropped (``x.add_(1)``); an assignment target; or an ``allowed`` node itself. Mentions that
    start after ``last`` (the last conversion) are not asked about.

    Anything else may end in an in-place change of the tensor's storage, shape or grad flag that a later
    conversion would see and one hoisted array would not: ``f(x)`` whose body calls ``x.requires_grad_()``,
    or ``y = x.cpu()`` / ``x.float()`` / ``x.contiguous()``, which return ``x`` itself when nothing needs
    converting, followed by ``y.set_(...)``.
    """
    finder = _MentionFinder(variable)
    for statement in statements:
        walk(statement, finder)
    end = start(visitor, last) if last is not None else None
    return all(
        id(name) in allowed
        or (end is not None and start(visitor, name) > end)
        or _harmless_mention(visitor, name, allowed)
        or isinstance(parent(visitor, name), cst.AssignTarget)  # a rebinding: the caller's own question
        or _discarded_value_update(visitor, name)
        for name in finder.found
    )



def _discarded_value_update(visitor: MetadataDependent, name: cst.CSTNode) -> bool:
    """``x.add_(1)`` as a statement: values change in place (shared with the array either way); the tensor,
    its storage and grad flag stay (STORAGE_METHODS are ``storage_change``'s)."""
    attribute = parent(visitor, name)
    call = parent(visitor, attribute) if isinstance(attribute, cst.Attribute) and attribute.value is name else None
    if not (isinstance(call, cst.Call) and call.func is attribute and isinstance(parent(visitor, call), cst.Expr)):
        return False
    method = attribute.attr.value
    return method.endswith("_") and not method.startswith("_") and method not in STORAGE_METHODS


def storage_change(statements: Sequence[cst.CSTNode], variable: str) -> bool:
    """``x.<attr> = ...``, ``del x.<attr>`` or ``x.set_(...)``-like calls (STORAGE_METHODS) in ``statements``."""
    finder = _StorageChangeFinder(variable)
    for statement in statements:
        walk(statement, finder)
    return finder.found


def _consumed(visitor: MetadataDependent, node: cst.CSTNode) -> bool:
    above = parent(visitor, node)
    if isinstance(above, cst.Arg):
        call = parent(visitor, above)
        return isinstance(call, cst.Call) and is_pure_call(visitor, call)
    if isinstance(above, (cst.BinaryOperation, cst.UnaryOperation, cst.Comparison, cst.ComparisonTarget)):
        return True
    if isinstance(above, cst.Attribute) and above.value is node:
        call = parent(visitor, above)
        return isinstance(call, cst.Call) and call.func is above and is_pure_method_call(call)
    return False


def _harmless_call(visitor: MetadataDependent, call: cst.Call, variable: str, steps: Collection[int]) -> bool:
    if id(call) in steps or is_pure_call(visitor, call):
        return True
    if not isinstance(call.func, cst.Attribute):
        return False
    receiver = call.func.value
    if isinstance(receiver, TEMPORARIES) and is_pure_method_call(call):
        return True
    return isinstance(receiver, cst.Name) and receiver.value == variable and is_pure_method_call(call, PURE_TENSOR_METHODS)


def _harmless_mention(visitor: MetadataDependent, name: cst.CSTNode, steps: Collection[int]) -> bool:
    """``x`` as the receiver of a conversion step, of a pure tensor method, or of an attribute read."""
    attribute = parent(visitor, name)
    if not (isinstance(attribute, cst.Attribute) and attribute.value is name):
        return False
    call = parent(visitor, attribute)
    if not (isinstance(call, cst.Call) and call.func is attribute):
        return True
    return id(call) in steps or is_pure_method_call(call, PURE_TENSOR_METHODS)


def _small_statements(statements: Sequence[cst.CSTNode]) -> Optional[list[cst.BaseSmallStatement]]:
    """The small statements of simple lines; None if a compound statement is among them."""
    smalls: list[cst.BaseSmallStatement] = []
    for statement in statements:
        if isinstance(statement, cst.SimpleStatementLine):
            smalls.extend(statement.body)
        elif isinstance(statement, cst.BaseSmallStatement):
            smalls.append(statement)
        else:
            return None
    return smalls


def _is_plain(small: cst.BaseSmallStatement) -> bool:
    """Assignments to plain names, expressions and returns: nothing stored into an object."""
    if not isinstance(small, PLAIN_SMALL_STATEMENTS):
        return False
    if isinstance(small, cst.Assign):
        return all(_only_names(target.target) for target in small.targets)
    if isinstance(small, cst.AnnAssign):
        return isinstance(small.target, cst.Name)
    return True


def _only_names(target: cst.CSTNode) -> bool:
    if isinstance(target, (cst.Tuple, cst.List)):
        return all(_only_names(element.value) for element in target.elements)
    return isinstance(target, cst.Name)


def _found(node: cst.CSTNode, kind: type) -> list[cst.CSTNode]:
    finder = _NodeFinder(kind)
    walk(node, finder)
    return finder.nodes


class _NodeFinder(cst.CSTVisitor):
    def __init__(self, kind: type) -> None:
        super().__init__()
        self.kind = kind
        self.nodes: list[cst.CSTNode] = []

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, self.kind):
            self.nodes.append(node)
        return True


class _MentionFinder(cst.CSTVisitor):
    def __init__(self, variable: str) -> None:
        super().__init__()
        self.variable = variable
        self.found: list[cst.Name] = []

    def visit_Name(self, node: cst.Name) -> None:
        if node.value == self.variable:
            self.found.append(node)


class _StorageChangeFinder(cst.CSTVisitor):
    def __init__(self, variable: str) -> None:
        super().__init__()
        self.variable = variable
        self.found = False

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self.found |= _stores_attribute_of(node.target, self.variable)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self.found |= _stores_attribute_of(node.target, self.variable)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self.found |= _stores_attribute_of(node.target, self.variable)

    def visit_Del(self, node: cst.Del) -> None:
        self.found |= _stores_attribute_of(node.target, self.variable)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in STORAGE_METHODS:
            self.found |= isinstance(func.value, cst.Name) and func.value.value == self.variable


def _stores_attribute_of(target: cst.CSTNode, variable: str) -> bool:
    if isinstance(target, cst.Attribute):
        return isinstance(target.value, cst.Name) and target.value.value == variable
    if isinstance(target, (cst.Tuple, cst.List)):
        return any(_stores_attribute_of(element.value, variable) for element in target.elements)
    if isinstance(target, cst.StarredElement):
        return _stores_attribute_of(target.value, variable)
    return False


def _well_formed(steps: list[cst.Call]) -> bool:
    """views, ``detach`` and ``cpu`` in any order (each of the last two at most once), then a terminal."""
    methods = [_method(step) for step in steps]
    if methods[-1] not in TERMINALS or methods.count("cpu") > 1 or methods.count("detach") > 1:
        return False
    if any(method in ("numpy", "tolist") for method in methods[:-1]):
        return False
    for method, step in zip(methods, steps):
        if any(arg.star for arg in step.args):
            return False
        if method in NO_ARGUMENT_STEPS and step.args:
            return False
        if method == "numpy" and any(arg.keyword is None or arg.keyword.value != "force" for arg in step.args):
            return False
    return True


def _method(call: cst.Call) -> str:
    assert isinstance(call.func, cst.Attribute)
    return call.func.attr.value


def _arguments(call: cst.Call) -> str:
    module = cst.Module(body=[])
    return ", ".join(module.code_for_node(arg.with_changes(comma=cst.MaybeSentinel.DEFAULT)) for arg in call.args)
