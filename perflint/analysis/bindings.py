"""The value bound to a name: which statements bind a name to exactly one expression, decided here once.

``x = value`` (also ``a = x = value``), ``x: T = value`` and ``(x := value)`` bind ``x`` to ``value``. No other
binding does: a tuple or list target (``x, y = pair``), an augmented assignment (``x += v`` binds ``x + v``),
``x: T`` with no value, ``for`` / ``with`` / ``except`` / ``match`` targets, imports, parameters, definitions.

A rule that trusts fewer forms passes ``forms`` (and says why at the call); the reading of each form stays here.

Also here: ``scope_of`` (a node's LibCST scope); ``target_leaves`` / ``bound_names`` (what an assignment target
stores into); ``plain_assignment`` / ``unpacking_assignment`` (the statement of one binding); ``reaching_value``
(the value of the one binding that evidently reaches a use). The visitor must depend on ParentNodeProvider (and,
for ``reaching_value``, ScopeProvider).
"""

from __future__ import annotations

from typing import Optional, Union

import libcst as cst
from libcst import MetadataDependent
from libcst.metadata import Scope, ScopeProvider

from perflint.analysis.syntax import DEFERRED, parent_or_none, tree_index

Binding = Union[cst.Assign, cst.AnnAssign, cst.NamedExpr]
# Every statement form that binds a name to one expression.
BINDING_FORMS: tuple[type[Binding], ...] = (cst.Assign, cst.AnnAssign, cst.NamedExpr)


def scope_of(visitor: MetadataDependent, node: cst.CSTNode) -> Optional[Scope]:
    """The LibCST scope ``node`` is evaluated in, or None when the metadata has none for it (or the visitor does
    not depend on ScopeProvider)."""
    try:
        return visitor.get_metadata(ScopeProvider, node)
    except KeyError:
        return None


def target_leaves(target: cst.CSTNode) -> list[cst.CSTNode]:
    """What assigning to ``target`` stores into, one by one, through tuples, lists and starred elements:
    ``a``, ``b.c`` and ``d[0]`` in ``a, (b.c, *d[0]) = ...``."""
    if isinstance(target, (cst.Tuple, cst.List)):
        return [leaf for element in target.elements for leaf in target_leaves(element.value)]
    if isinstance(target, cst.StarredElement):
        return target_leaves(target.value)
    return [target]


def bound_names(target: cst.CSTNode) -> list[cst.Name]:
    """The names that assigning to ``target`` binds (attributes and items bind none): ``a`` and ``b`` in ``a, *b``."""
    return [leaf for leaf in target_leaves(target) if isinstance(leaf, cst.Name)]


def binding_statement(
    visitor: MetadataDependent, target: object, forms: tuple[type[Binding], ...] = BINDING_FORMS
) -> Optional[Binding]:
    """The statement (or walrus) that binds the Name ``target`` to one expression, if it is one of ``forms``.

    ``target`` is what LibCST's scope analysis records as the binding's node (``Assignment.node``); anything
    that is not a Name bound by one of the forms above gives None.
    """
    if not isinstance(target, cst.Name):
        return None  # parameters, imports, definitions, builtins
    holder = parent_or_none(visitor, target)
    if isinstance(holder, cst.AssignTarget):
        statement = parent_or_none(visitor, holder)
        return statement if isinstance(statement, cst.Assign) and cst.Assign in forms else None
    if isinstance(holder, cst.AnnAssign) and holder.target is target and holder.value is not None:
        return holder if cst.AnnAssign in forms else None
    if isinstance(holder, cst.NamedExpr) and holder.target is target:
        return holder if cst.NamedExpr in forms else None
    return None


def bound_value(
    visitor: MetadataDependent, target: object, forms: tuple[type[Binding], ...] = BINDING_FORMS
) -> Optional[cst.BaseExpression]:
    """The expression the Name ``target`` is bound to (see ``binding_statement``), else None."""
    statement = binding_statement(visitor, target, forms)
    return None if statement is None else statement.value


def plain_assignment(visitor: MetadataDependent, assignment: object) -> Optional[cst.Assign]:
    """The ``name = value`` statement of a binding; None for any other binding (loop target, parameter...)."""
    statement = binding_statement(visitor, getattr(assignment, "node", None), (cst.Assign,))
    if not isinstance(statement, cst.Assign) or len(statement.targets) != 1:
        return None  # `a = b = value`, `x: T = value`, `(x := value)`: not trusted here
    return statement


def reaching_value(
    visitor: MetadataDependent, name: cst.Name, unpacked: bool = False, skip_augmented: bool = False
) -> Optional[cst.BaseExpression]:
    """The value of the one binding of ``name`` that reaches this use, when that is evident: the last binding
    of the name in its scope is a plain ``name = value`` that ends before the use, in a block that encloses the
    use (so it runs before the use every time, and no other binding can come between). With ``skip_augmented``,
    augmented assignments (``name += value``, not ``@=``) are left out of the bindings.

    "Last" and "before" are the source order of the tree (``TreeIndex.order``), not lines: ``x = a; y = x.cpu()``
    on one line reads ``a``, and ``x = f(\n    x)`` reads an earlier ``x``, not ``f(x)``.
    """
    scope = scope_of(visitor, name)
    if scope is None or not scope.assignments[name.value]:
        return None
    index = tree_index(visitor, name)
    bindings = []
    for assignment in scope.assignments[name.value]:
        target = getattr(assignment, "node", None)
        if not isinstance(target, cst.CSTNode):
            return None
        if skip_augmented:
            holder = parent_or_none(visitor, target)
            if (
                isinstance(holder, cst.AugAssign)
                and holder.target is target
                and not isinstance(holder.operator, cst.MatrixMultiplyAssign)
            ):
                continue
        bindings.append((index.order(target), assignment))
    if not bindings:
        return None
    place, last = max(bindings, key=lambda pair: pair[0])
    if place >= index.order(name):
        return None  # a rebinding after the use: in a loop it reaches the use
    statement = plain_assignment(visitor, last)
    if statement is None and unpacked:
        # `a, b = model(x)`: the value the tuple is unpacked from stands for each of its elements.
        statement = unpacking_assignment(visitor, last)
    if statement is None or index.contains(statement, name):
        return None  # `x = f(x)`: the use reads an earlier binding
    block = parent_or_none(visitor, parent_or_none(visitor, statement))
    current = parent_or_none(visitor, name)
    while current is not None and current is not block:
        if isinstance(current, DEFERRED):
            return None
        current = parent_or_none(visitor, current)
    return statement.value if current is block else None


def unpacking_assignment(visitor: MetadataDependent, assignment: object) -> Optional[cst.Assign]:
    """The ``a, b = value`` statement of a binding made by unpacking a tuple or list target; else None."""
    target = getattr(assignment, "node", None)
    element = parent_or_none(visitor, target)
    sequence = parent_or_none(visitor, element) if isinstance(element, cst.Element) else None
    assign_target = parent_or_none(visitor, sequence) if isinstance(sequence, (cst.Tuple, cst.List)) else None
    statement = parent_or_none(visitor, assign_target) if isinstance(assign_target, cst.AssignTarget) else None
    return statement if isinstance(statement, cst.Assign) and len(statement.targets) == 1 else None
