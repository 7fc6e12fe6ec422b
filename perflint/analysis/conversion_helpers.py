"""Local functions that convert a parameter to the host: how they use it, and what a caller may hand them instead.

The visitor must declare ScopeProvider, ParentNodeProvider, PositionProvider and QualifiedNameProvider.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import libcst as cst
from libcst import MetadataDependent
from libcst.metadata import FunctionScope, ScopeProvider

from perflint.analysis.bindings import bound_value
from perflint.analysis.dataflow import Reach, enclosing_statements, first_effect, parent, reach
from perflint.analysis.host_conversions import STEPS, Conversion, conversion_of, maximal_conversion
from perflint.analysis.local_calls import LocalFunction, parameter_for
from perflint.analysis.names import qualified_names
from perflint.analysis.syntax import tree_index

@dataclass(frozen=True)
class ParameterUse:
    """How a local function uses one of its parameters that it converts to the host.

    ``conversions`` are the clean conversions (receiver exactly the parameter) a fix would rewrite;
    ``converting`` every node that converts it, including forms that already accept arrays
    (``np.asarray(p)``, ``p if isinstance(p, np.ndarray) else ...``), in source order; ``chain`` the
    conversion as written (``.cpu().numpy()``) and ``template`` one conversion spelling it; ``obstacle``
    why the function cannot be made to accept an array instead, if it cannot.
    """

    function: LocalFunction
    param: str
    conversions: tuple[Conversion, ...]
    converting: tuple[cst.CSTNode, ...]
    chain: Optional[str]
    template: Optional[Conversion]
    obstacle: Optional[str]


def parameter_use(visitor: MetadataDependent, function: LocalFunction, param: str) -> Optional[ParameterUse]:
    """How ``function`` uses ``param``; None when it never converts it to the host."""
    scope = visitor.get_metadata(ScopeProvider, function.definition.body)
    assignments = list(scope.assignments[param])
    conversions: list[Conversion] = []
    converting: dict[int, cst.CSTNode] = {}
    chains: dict[str, Optional[Conversion]] = {}
    obstacles: list[str] = []
    derived_conversions = False
    for access in (access for assignment in assignments for access in assignment.references):
        node = access.node
        site = _array_or_tensor_site(visitor, node, param)
        if site is not None:
            converting[id(site[0])] = site[0]
            chains.setdefault(site[1].text if site[1] else ".numpy()", site[1])
            continue
        conversion = conversion_with_receiver(visitor, node)
        if conversion is not None:
            converting[id(conversion.node)] = conversion.node
            conversions.append(conversion)
            chains.setdefault(conversion.text, conversion)
            continue
        derived = _derived_conversion(visitor, node)
        derived_conversions |= derived is not None
        obstacles.append(_other_use(function.name, param, node, parent(visitor, node), derived))
    if not converting and not derived_conversions:
        return None
    if len(assignments) != 1:
        obstacles.append(f"`{function.name}` rebinds `{param}`")
    if len(chains) > 1:
        obstacles.append(f"`{function.name}` converts `{param}` differently")
    chain, template = next(iter(chains.items()), (None, None))
    if chain is not None and not _has_array_or_tensor_form(chain):
        obstacles.append(f"`{chain}` has no array form")
    # Source order from the tree index (no positions): the sites of different accesses never hold one another.
    index = tree_index(visitor, function.definition)
    nodes = tuple(sorted(converting.values(), key=index.order))
    return ParameterUse(function, param, tuple(conversions), nodes, chain, template, obstacles[0] if obstacles else None)


def conversion_with_receiver(visitor: MetadataDependent, node: cst.CSTNode) -> Optional[Conversion]:
    """The longest conversion whose receiver is exactly ``node`` (``p.numpy()`` in ``p.numpy().ravel()``)."""
    calls: list[cst.Call] = []
    current = node
    while True:
        attribute = parent(visitor, current)
        call = parent(visitor, attribute) if isinstance(attribute, cst.Attribute) else None
        if not (isinstance(call, cst.Call) and call.func is attribute and attribute.attr.value in STEPS):
            break
        calls.append(call)
        current = call
    for call in reversed(calls):
        conversion = conversion_of(call)
        if conversion is not None and conversion.receiver is node:
            return conversion
    return None


def holds_array(visitor: MetadataDependent, scope: FunctionScope, variable: str) -> bool:
    """``x = t.numpy()`` (every binding of ``x`` in ``scope`` a conversion): ``x`` is already on the host."""
    # Only `x = value` (not `x: T = value` or a walrus): trusting more forms would change findings.
    values = [bound_value(visitor, assignment.node, (cst.Assign,)) for assignment in scope.assignments[variable]]
    return bool(values) and all(value is not None and conversion_of(value) is not None for value in values)


def converts_first(visitor: MetadataDependent, use: ParameterUse, call: cst.Call, scope: FunctionScope) -> bool:
    """Whether converting the parameter is the function's first act that can fail or be seen, unconditionally.

    Only a docstring and conversions of parameters that ``call`` (made in ``scope``) fills with arrays may
    come before it: an earlier conversion of another tensor could raise first, and a caller-side
    conversion would move ours ahead of it.
    """
    node = use.converting[0]
    top = enclosing_statements(visitor, node, use.function.definition)[0]
    statements = list(use.function.definition.body.body)
    before = statements[: next(i for i, statement in enumerate(statements) if statement is top)]
    quiet = all(is_docstring(statement) or _converts_arrays_only(visitor, statement, use, call, scope) for statement in before)
    return quiet and reach(visitor, node, top) is Reach.ALWAYS and first_effect(visitor, node, top)


def is_docstring(statement: cst.BaseStatement) -> bool:
    """A statement that is only a string literal."""
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def _converts_arrays_only(
    visitor: MetadataDependent, statement: cst.BaseStatement, use: ParameterUse, call: cst.Call, scope: FunctionScope
) -> bool:
    """``a = p.numpy()`` / ``a, b = np.asarray(p), q.numpy()`` where ``call`` passes arrays for ``p`` and ``q``."""
    if not isinstance(statement, cst.SimpleStatementLine):
        return False
    for small in statement.body:
        if not isinstance(small, cst.Assign) or not all(_only_names(target.target) for target in small.targets):
            return False
        values = [element.value for element in small.value.elements] if isinstance(small.value, cst.Tuple) else [small.value]
        converted = [_converted_name(visitor, value) for value in values]
        if not all(name is not None and _passes_array(visitor, use.function, call, scope, name) for name in converted):
            return False
    return True


def _converted_name(visitor: MetadataDependent, value: cst.BaseExpression) -> Optional[str]:
    """``p`` for ``p.<conversion>`` or ``np.asarray(p)``, else None."""
    conversion = conversion_of(value)
    if conversion is not None:
        return conversion.receiver.value if isinstance(conversion.receiver, cst.Name) else None
    if isinstance(value, cst.Call) and len(value.args) == 1 and isinstance(value.args[0].value, cst.Name):
        return value.args[0].value.value if "numpy.asarray" in qualified_names(visitor, value.func) else None
    return None


def _passes_array(
    visitor: MetadataDependent, function: LocalFunction, call: cst.Call, scope: FunctionScope, param: str
) -> bool:
    for arg in call.args:
        if parameter_for(function, call, arg) == param:
            return isinstance(arg.value, cst.Name) and holds_array(visitor, scope, arg.value.value)
    return False


def _derived_conversion(visitor: MetadataDependent, node: cst.CSTNode) -> Optional[Conversion]:
    """A conversion of something computed from ``node`` by methods, attributes or indexing (``p.mean(1).numpy()``)."""
    current = node
    while True:
        above = parent(visitor, current)
        if isinstance(above, cst.Call) and above.func is current:
            conversion = maximal_conversion(visitor, above)
            if conversion is not None:
                return conversion
        elif not (isinstance(above, (cst.Attribute, cst.Subscript)) and above.value is current):
            return None
        current = above


def _array_or_tensor_site(
    visitor: MetadataDependent, node: cst.CSTNode, param: str
) -> Optional[tuple[cst.CSTNode, Optional[Conversion]]]:
    """``np.asarray(p)`` or ``(p if isinstance(p, np.ndarray) else <conversion of p>)`` around ``node``."""
    above = parent(visitor, node)
    if isinstance(above, cst.Arg):
        call = parent(visitor, above)
        if isinstance(call, cst.Call) and _is_asarray_of(visitor, call, param):
            return (call, None)
        above = parent(visitor, call)
    elif not isinstance(above, cst.IfExp):
        conversion = conversion_with_receiver(visitor, node)
        above = parent(visitor, conversion.node) if conversion is not None else None
    if isinstance(above, cst.IfExp):
        orelse = _array_or_tensor_branch(visitor, above, param)
        if orelse is not None:
            return (above, orelse)
    return None


def _array_or_tensor_branch(visitor: MetadataDependent, node: cst.IfExp, param: str) -> Optional[Conversion]:
    test = node.test
    if not (isinstance(test, cst.Call) and "builtins.isinstance" in qualified_names(visitor, test.func)):
        return None
    if len(test.args) != 2 or not _is_name(test.args[0].value, param) or not _is_name(node.body, param):
        return None
    if "numpy.ndarray" not in qualified_names(visitor, test.args[1].value):
        return None
    conversion = conversion_of(node.orelse)
    return conversion if conversion is not None and _is_name(conversion.receiver, param) else None


def _is_asarray_of(visitor: MetadataDependent, call: cst.Call, param: str) -> bool:
    return (
        len(call.args) == 1
        and call.args[0].keyword is None
        and _is_name(call.args[0].value, param)
        and "numpy.asarray" in qualified_names(visitor, call.func)
    )


def _other_use(helper: str, param: str, node: cst.CSTNode, above: cst.CSTNode, derived: Optional[Conversion]) -> str:
    if derived is not None and isinstance(above, cst.Attribute):
        return f"`{helper}` computes `{param}.{above.attr.value}(...)` in torch first"
    if derived is not None:
        return f"`{helper}` uses `{param}` as a tensor first"
    if isinstance(above, cst.Attribute) and above.value is node:
        return f"`{helper}` also uses `{param}.{above.attr.value}`"
    return f"`{helper}` also uses `{param}` otherwise"


def _has_array_or_tensor_form(chain: str) -> bool:
    """A chain ending in ``.numpy(...)``: ``p if isinstance(p, np.ndarray) else p.<chain>`` lets an array that
    the caller converted with the same chain pass through unchanged (an array has no ``.numpy()``, so no
    caller passed one before). ``.tolist()`` / ``.cpu()`` ends have no such form (their result is no array)."""
    return chain.endswith(".numpy()") or chain.endswith(")") and ".numpy(" in chain.rsplit(".", 1)[-1]


def _only_names(target: cst.CSTNode) -> bool:
    if isinstance(target, (cst.Tuple, cst.List)):
        return all(_only_names(element.value) for element in target.elements)
    return isinstance(target, cst.Name)


def _is_name(node: cst.CSTNode, name: str) -> bool:
    return isinstance(node, cst.Name) and node.value == name
