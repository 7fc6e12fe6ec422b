"""The shapes of ``for I, R in X.iterrows():`` loops that rules tell apart."""

from __future__ import annotations

from typing import Optional

import libcst as cst
from libcst import MetadataDependent

from perflint.analysis.dataflow import is_empty_dict, previous_statement
from perflint.analysis.names import method_call, receiver


def iterrows_frame(node: cst.BaseExpression) -> Optional[cst.BaseExpression]:
    """``X`` in ``X.iterrows()`` (no arguments), else None."""
    call = method_call(node, "iterrows")
    return receiver(call) if call is not None and not call.args else None


def single_subscript_store(loop: cst.For) -> Optional[tuple[str, cst.BaseExpression, cst.BaseExpression]]:
    """``(D, K, V)`` when the loop body is exactly ``D[K] = V`` with ``D`` a plain name."""
    body = loop.body
    if not isinstance(body, cst.IndentedBlock) or len(body.body) != 1:
        return None
    line = body.body[0]
    if not isinstance(line, cst.SimpleStatementLine) or len(line.body) != 1:
        return None
    statement = line.body[0]
    if not isinstance(statement, cst.Assign) or len(statement.targets) != 1:
        return None
    target = statement.targets[0].target
    if not (isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name) and len(target.slice) == 1):
        return None
    index = target.slice[0].slice
    if not isinstance(index, cst.Index) or index.star is not None:
        return None
    return target.value.value, index.value, statement.value


def fresh_dict_before(visitor: MetadataDependent, loop: cst.For, dict_name: str) -> Optional[cst.SimpleStatementLine]:
    """The statement line right before ``loop`` if it is ``D = {}`` / ``D = dict()`` (one target, maybe annotated).

    The visitor must depend on ParentNodeProvider and QualifiedNameProvider.
    """
    previous = previous_statement(visitor, loop)
    if not isinstance(previous, cst.SimpleStatementLine) or len(previous.body) != 1:
        return None
    statement = previous.body[0]
    if isinstance(statement, cst.Assign) and len(statement.targets) == 1:
        target, value = statement.targets[0].target, statement.value
    elif isinstance(statement, cst.AnnAssign) and statement.value is not None:
        target, value = statement.target, statement.value
    else:
        return None
    if not (isinstance(target, cst.Name) and target.value == dict_name and is_empty_dict(visitor, value)):
        return None
    return previous


def is_dict_build_loop(visitor: MetadataDependent, loop: cst.For) -> bool:
    """``D = {}`` then ``for I, R in X.iterrows(): D[K] = V`` (the body that one store): PFL201's loop form."""
    store = single_subscript_store(loop)
    return (
        iterrows_frame(loop.iter) is not None
        and loop.asynchronous is None
        and store is not None
        and fresh_dict_before(visitor, loop, store[0]) is not None
    )
