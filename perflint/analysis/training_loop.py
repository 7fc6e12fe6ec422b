"""Training-loop facts: which loops backpropagate or step an optimizer, and which names are backpropagated.

"Is this a tensor / a module?" is ``torch_values``'s question; "is this value graph-free?" is ``graph_free``'s.

Everything here is lexical and local to one function (or the module, for top-level code): code in a nested
``def``, ``lambda`` or class body runs later, under conditions this module cannot see, so it is never
counted as part of the enclosing loop. Visitors using these helpers must depend on ParentNodeProvider,
QualifiedNameProvider and ScopeProvider.

Each fact about a subtree is answered from the module's ``syntax.TreeIndex`` (the calls of a function are
filtered once, then a loop's share is found by binary search) and kept per module, so asking it for every
loop or candidate of a long function costs no walk of that function per question.
"""

from __future__ import annotations

from typing import Optional, Union

import libcst as cst
from libcst import MetadataDependent
from libcst.metadata import Scope

from perflint.analysis.bindings import bound_value, scope_of
from perflint.analysis.graph_free import GRAPH_KEEPING_METHODS, is_graph_free
from perflint.analysis.names import names_start_with, qualified_names_among
from perflint.analysis.syntax import DEFERRED, parent_or_none, tree_index

Loop = Union[cst.For, cst.While]
ScopeNode = Union[cst.FunctionDef, cst.Module]

LOOPS = (cst.For, cst.While)

AUTOGRAD_BACKWARD = frozenset({"torch.autograd.backward", "torch.autograd.grad"})
# The last names of ``E.backward()`` and of AUTOGRAD_BACKWARD: what a prefilter on Python's ast looks for.
BACKWARD_NAMES = frozenset({"backward", "grad"})
OPTIMIZER_PREFIX = "torch.optim."
# Under torch.optim, but not optimizers: `sched.step()` of a learning-rate scheduler updates no weights.
NOT_OPTIMIZER_PREFIXES = ("torch.optim.lr_scheduler.", "torch.optim.swa_utils.")


def enclosing_scope(visitor: MetadataDependent, node: cst.CSTNode) -> ScopeNode:
    """The function whose body holds ``node`` (lambdas and class bodies are skipped over), or the module."""
    current = parent_or_none(visitor, node)
    while current is not None:
        if isinstance(current, (cst.FunctionDef, cst.Module)):
            return current
        current = parent_or_none(visitor, current)
    raise ValueError("node is not inside a module")


def enclosing_loops(visitor: MetadataDependent, node: cst.CSTNode) -> list[Loop]:
    """The loops that run ``node`` on each iteration, innermost first, up to the enclosing function.

    A loop counts only when ``node`` is in its body (or ``else``), not in its iterable or condition.
    """
    loops: list[Loop] = []
    child, current = node, parent_or_none(visitor, node)
    while current is not None and not isinstance(current, (*DEFERRED, cst.Module)):
        if isinstance(current, LOOPS) and child in (current.body, current.orelse):
            loops.append(current)
        child, current = current, parent_or_none(visitor, current)
    return loops


def backward_calls(visitor: MetadataDependent, node: cst.CSTNode) -> list[cst.Call]:
    """``E.backward(...)``, ``torch.autograd.backward(E)`` and ``torch.autograd.grad(E, ...)`` under ``node``."""

    def is_backward(call: cst.Call) -> bool:
        if isinstance(call.func, cst.Attribute) and call.func.attr.value == "backward":
            return True
        # Asked of every call: `qualified_names_among` needs no scope analysis where no binding can match.
        return bool(qualified_names_among(visitor, call.func, AUTOGRAD_BACKWARD))

    return tree_index(visitor, node).same_scope_where(node, cst.Call, "backward call", is_backward)


def backpropagated_names(visitor: MetadataDependent, node: cst.CSTNode) -> frozenset[str]:
    """Names whose value may be differentiated by a backward call under ``node``.

    ``loss`` in ``loss.backward()``, ``loss.mean().backward()``, ``(loss / steps).backward()``,
    ``scaler.scale(loss).backward()`` and ``torch.autograd.backward(loss)``. A name counts when it is an
    operand of the differentiated expression (through arithmetic, indexing, graph-keeping tensor methods, or
    as an argument of a call such as ``scaler.scale``) and may hold a graph: some binding of it in its scope
    is not evidently graph-free (so ``steps = 4`` in ``(loss / steps)`` does not count).
    """
    index = tree_index(visitor, node)
    return index.memo(("backpropagated names", node), lambda: _backpropagated_names(visitor, node))


def _backpropagated_names(visitor: MetadataDependent, node: cst.CSTNode) -> frozenset[str]:
    names: set[str] = set()
    for call in backward_calls(visitor, node):
        if qualified_names_among(visitor, call.func, AUTOGRAD_BACKWARD):
            differentiated: Optional[cst.CSTNode] = call.args[0].value if call.args else None
        else:
            assert isinstance(call.func, cst.Attribute)
            differentiated = call.func.value
        if differentiated is not None:
            names |= {name.value for name in _operands(differentiated) if may_carry_graph(visitor, name)}
    return frozenset(names)


def _operands(node: cst.CSTNode) -> list[cst.Name]:
    """The Name operands a value is computed from: ``loss`` and ``steps`` in ``(loss / steps).mean()``."""
    if isinstance(node, cst.Name):
        return [node]
    if isinstance(node, cst.BinaryOperation):
        return _operands(node.left) + _operands(node.right)
    if isinstance(node, cst.UnaryOperation):
        return _operands(node.expression)
    if isinstance(node, cst.Subscript):
        return _operands(node.value)
    if isinstance(node, cst.Call):
        operands = [name for arg in node.args for name in _operands(arg.value)]
        if isinstance(node.func, cst.Attribute) and node.func.attr.value in GRAPH_KEEPING_METHODS:
            operands += _operands(node.func.value)
        return operands
    return []


def may_carry_graph(visitor: MetadataDependent, name: cst.Name) -> bool:
    """Whether some binding of ``name`` in its scope may give it an autograd graph.

    A binding whose value is evidently graph-free (a number, ``len()``, ``.item()``...) or a parameter (whose
    value this function cannot see) is not evidence; a loop or ``with`` target, or any other value, is.
    """
    scope = scope_of(visitor, name)
    if scope is None or name.value not in scope:
        return False
    key = ("may carry graph", scope, name.value)
    return tree_index(visitor, name).memo(key, lambda: _may_carry_graph(visitor, scope, name.value))


def _may_carry_graph(visitor: MetadataDependent, scope: Scope, name: str) -> bool:
    for assignment in scope.assignments[name]:
        target = getattr(assignment, "node", None)
        if isinstance(target, cst.Param) or not isinstance(target, cst.CSTNode):
            continue
        value = _assigned_value(visitor, target)
        if value is None or not is_graph_free(visitor, value):
            return True
    return False


def optimizer_steps(visitor: MetadataDependent, node: cst.CSTNode) -> list[cst.Call]:
    """``opt.step()`` calls under ``node`` where ``opt`` is evidently a ``torch.optim`` optimizer.

    Evidence: ``opt`` is bound from a ``torch.optim.*`` constructor or annotated with a ``torch.optim``
    type; ``scaler.step(opt)`` (AMP) counts through its argument.
    """

    def is_step(call: cst.Call) -> bool:
        if isinstance(call.func, cst.Attribute) and call.func.attr.value == "step":
            candidates = [call.func.value, *(arg.value for arg in call.args)]
            return any(_is_optimizer(visitor, candidate) for candidate in candidates)
        return False

    return tree_index(visitor, node).same_scope_where(node, cst.Call, "optimizer step", is_step)


def _is_optimizer(visitor: MetadataDependent, node: cst.BaseExpression) -> bool:
    if not isinstance(node, cst.Name):
        return False
    values = binding_values(visitor, node)
    return bool(values) and all(
        value is not None
        and names_start_with(visitor, value, OPTIMIZER_PREFIX)
        and not any(names_start_with(visitor, value, prefix) for prefix in NOT_OPTIMIZER_PREFIXES)
        for value in values
    )


def is_training_loop(visitor: MetadataDependent, loop: Loop) -> bool:
    """Whether each iteration of ``loop`` backpropagates or steps an optimizer (in its body or a loop inside)."""
    return bool(backward_calls(visitor, loop.body) or optimizer_steps(visitor, loop.body))


def runs_step_itself(visitor: MetadataDependent, loop: Loop) -> bool:
    """Whether ``loop``'s own body backpropagates or steps an optimizer: not only a loop inside it.

    ``for epoch in ...: for batch in loader: loss.backward()`` runs the step in the batch loop; the epoch loop
    runs it only through that loop, so it is not a training step loop itself.
    """

    def own() -> bool:
        steps = [*backward_calls(visitor, loop.body), *optimizer_steps(visitor, loop.body)]
        return any(enclosing_loops(visitor, step)[:1] == [loop] for step in steps)

    return tree_index(visitor, loop).memo(("runs step itself", loop), own)


def binding_values(visitor: MetadataDependent, name: cst.Name) -> list[Optional[cst.CSTNode]]:
    """What each binding of ``name`` in its scope assigns: the assigned expression, a parameter's annotation,
    or None for a binding whose value is not one expression (a loop target, an import, ``with ... as``)."""
    scope = scope_of(visitor, name)
    if scope is None or name.value not in scope:
        return []
    values: list[Optional[cst.CSTNode]] = []
    for assignment in scope.assignments[name.value]:
        values.append(_assigned_value(visitor, getattr(assignment, "node", None)))
    return values


def _assigned_value(visitor: MetadataDependent, target: object) -> Optional[cst.CSTNode]:
    """A parameter's annotation, or the value a binding assigns (``x = v`` and ``x: T = v``: a walrus binding
    is not trusted here; trusting more forms would change findings)."""
    if isinstance(target, cst.Param):
        return target.annotation
    return bound_value(visitor, target, (cst.Assign, cst.AnnAssign))
