"""The value bound to a name: which statements bind a name to exactly one expression, decided here once.

``x = value`` (also ``a = x = value``), ``x: T = value`` and ``(x := value)`` bind ``x`` to ``value``. No other
binding does: a tuple or list target (``x, y = pair``), an augmented assignment (``x += v`` binds ``x + v``),
``x: T`` with no value, ``for`` / ``with`` / ``except`` / ``match`` targets, imports, parameters, definitions.

A rule that trusts fewer forms passes ``forms`` (and says why at the call); the reading of each form stays here.
The visitor must depend on ParentNodeProvider.
"""

from __future__ import annotations

from typing import Optional, Union

import libcst as cst
from libcst import MetadataDependent

from perflint.analysis.syntax import parent

Binding = Union[cst.Assign, cst.AnnAssign, cst.NamedExpr]
# Every statement form that binds a name to one expression.
BINDING_FORMS: tuple[type[Binding], ...] = (cst.Assign, cst.AnnAssign, cst.NamedExpr)


def binding_statement(
    visitor: MetadataDependent, target: object, forms: tuple[type[Binding], ...] = BINDING_FORMS
) -> Optional[Binding]:
    """The statement (or walrus) that binds the Name ``target`` to one expression, if it is one of ``forms``.

    ``target`` is what LibCST's scope analysis records as the binding's node (``Assignment.node``); anything
    that is not a Name bound by one of the forms above gives None.
    """
    if not isinstance(target, cst.Name):
        return None  # parameters, imports, definitions, builtins
    holder = parent(visitor, target)
    if isinstance(holder, cst.AssignTarget):
        statement = parent(visitor, holder)
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
