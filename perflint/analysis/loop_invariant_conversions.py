"""Host conversions that a loop or comprehension repeats on a value it never changes (PFL102's loop case).

``x.cpu().numpy()`` in the body of ``for b in batches:`` or in the element of ``[f(x.cpu().numpy(), y) for y in
ys]`` runs once per iteration; when nothing in the loop can give ``x`` another value, every run converts the
same tensor. The visitor must declare ParentNodeProvider, ScopeProvider and QualifiedNameProvider.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Collection, Optional, Union

import libcst as cst
from libcst import MetadataDependent
from libcst.metadata import FunctionScope

from perflint.analysis.bindings import bound_value, target_leaves
from perflint.analysis.dataflow import BLOCKS, Reach, ancestors, enclosing_statements, mentions, parent, reach
from perflint.analysis.host_conversions import PURE_TENSOR_METHODS, Conversion, is_pure_method_call
from perflint.analysis.syntax import TreeIndex, tree_index

Loop = Union[cst.For, cst.While, cst.ListComp, cst.SetComp, cst.DictComp]
COMPREHENSIONS = (cst.ListComp, cst.SetComp, cst.DictComp)
# Calls in a loop that change tensors in place through references the loop does not show: an optimizer step
# updates the parameters a name may hold, ``backward`` their ``.grad``.
MUTATING_METHODS = frozenset({"step", "backward"})


@dataclass(frozen=True)
class LoopConversion:
    """A conversion ``conversion`` that ``loop`` repeats on an unchanged value; ``anchor`` is the statement
    before which one conversion could go (None: no place for it), ``guarded`` whether a ``try``/``with``/
    ``match`` between the loop and the conversion handles what it raises."""

    conversion: Conversion
    loop: Loop
    anchor: Optional[cst.CSTNode]
    guarded: bool


def repeating_loop(visitor: MetadataDependent, node: cst.CSTNode) -> Optional[Loop]:
    """The innermost loop of the enclosing function that evaluates ``node`` once per iteration, else None.

    None too when ``node`` runs later (a lambda, a generator expression) or the function ends first.
    """
    child = node
    for step in ancestors(visitor, node):
        if isinstance(step, (cst.FunctionDef, cst.ClassDef, cst.Lambda, cst.GeneratorExp, cst.Module)):
            return None  # `lambda: x.numpy()`, `(x.numpy() for _ in ys)`: runs at another time, or never
        if isinstance(step, cst.For) and child is step.body:
            return step
        if isinstance(step, cst.While) and (child is step.body or child is step.test):
            return step
        if isinstance(step, COMPREHENSIONS) and child is not step.for_in:
            return step  # the element (key, value)
        if isinstance(step, cst.CompFor) and not (child is step.iter and _outermost(visitor, step)):
            comprehension = _comprehension(visitor, step)
            return comprehension if isinstance(comprehension, COMPREHENSIONS) else None
        child = step
    return None


class LoopFacts:
    """What a loop (or statement) holds, read from the tree index: every mention of each name, and whether it
    calls an in-place method (``y.add_(...)``) or ``.step()``/``.backward()``. Kept per node by the caller, so
    that asking about several conversions in one loop reads it once."""

    def __init__(self, index: TreeIndex, node: cst.CSTNode) -> None:
        self.mentions: dict[str, list[cst.Name]] = {}
        for name in index.under(node, cst.Name):
            self.mentions.setdefault(name.value, []).append(name)
        # Names whose items or attributes are stored to (`view[i] = ...`, `view.data = ...`).
        self.stored_into: set[str] = set()
        targets = [holder.target for holder in index.under(node, cst.AssignTarget)]
        targets += [holder.target for holder in index.under(node, cst.AugAssign)]
        for leaf in (leaf for target in targets for leaf in target_leaves(target)):
            if isinstance(leaf, (cst.Subscript, cst.Attribute)) and isinstance(leaf.value, cst.Name):
                self.stored_into.add(leaf.value.value)
        self.mutates_in_place = any(_mutates_in_place(call) for call in index.under(node, cst.Call))


def _mutates_in_place(call: cst.Call) -> bool:
    if not isinstance(call.func, cst.Attribute):
        return False
    method = call.func.attr.value
    return method in MUTATING_METHODS or (method.endswith("_") and not method.startswith("_"))


def invariant_in_loop(
    visitor: MetadataDependent,
    conversion: Conversion,
    variable: str,
    scope: FunctionScope,
    function: cst.FunctionDef,
    facts: dict[int, LoopFacts],
) -> Optional[LoopConversion]:
    """``conversion`` (of the local ``variable`` of ``scope``) when its innermost loop cannot change the value.

    Loop-invariant means: the loop mentions ``variable`` only to read it (the conversion itself, an attribute
    read other than ``.data``, a pure method such as ``x.sum()``): so it binds it nowhere (targets,
    assignments, walrus, ``del``), stores no attribute of it (``x.data = ...``), calls no method that changes
    it (``x.add_(1)``, ``x.set_(...)``) and hands it to no call; it calls no in-place method on anything
    (``y.add_(...)``: ``y`` may be a view of ``x``) and no ``.step()``/``.backward()`` (an optimizer updates
    in place the parameters ``x`` may be) and stores no item or attribute of a name bound from ``x``
    (``view[i] = 0`` after ``view = x.view(-1)``); and ``variable`` is not bound from an attribute or an item
    (``w = model.weight``: the module can change it in place in any call). ``facts`` caches each loop's facts.
    """
    loop = repeating_loop(visitor, conversion.node)
    if loop is None:
        return None
    own = {id(step) for step in conversion.steps}
    loop_facts = _facts_of(visitor, loop, facts)
    if not _only_inspected(visitor, loop_facts, variable, own):
        return None  # `for b in bs: x = model(b); x.numpy()`, `update(x)`, `x.add_(1)`: a new value each pass
    if loop_facts.mutates_in_place:
        return None  # `for b in bs: loss.backward(); opt.step(); w.cpu().numpy()`: `w` may be a parameter
    if not _bound_to_fresh_values(visitor, scope, variable):
        return None  # `w = model.weight` before the loop: the module may change it in place
    if any(_derived_from(visitor, scope, name, variable) for name in loop_facts.stored_into):
        return None  # `view = x.view(-1)` before the loop, `view[i] = 0` in it: `x` changes through the view
    anchor = _anchor(visitor, loop, function)
    if anchor is not None and anchor is not loop:
        # `y = [f(x.numpy(), t) for t in ts]`: the conversion goes before the statement holding the
        # comprehension; nothing else there may change `x` either (its own `y = ...` store comes last).
        statement = anchor.body[0] if isinstance(anchor, cst.SimpleStatementLine) else anchor
        target = _assigned_name(statement)
        anchor_facts = _facts_of(visitor, anchor, facts)
        if not _only_inspected(visitor, anchor_facts, variable, own, allowed_node=target) or anchor_facts.mutates_in_place:
            anchor = None
    guarded = reach(visitor, conversion.node, loop) >= Reach.GUARDED
    return LoopConversion(conversion, loop, anchor, guarded)


def _facts_of(visitor: MetadataDependent, node: cst.CSTNode, facts: dict[int, LoopFacts]) -> LoopFacts:
    found = facts.get(id(node))
    if found is None:
        found = facts[id(node)] = LoopFacts(tree_index(visitor, node), node)
    return found


def _only_inspected(
    visitor: MetadataDependent, facts: LoopFacts, variable: str, allowed: Collection[int], allowed_node: Optional[cst.CSTNode] = None
) -> bool:
    return all(name is allowed_node or _inspected(visitor, name, allowed) for name in facts.mentions.get(variable, ()))


def _inspected(visitor: MetadataDependent, name: cst.Name, allowed: Collection[int]) -> bool:
    """``x`` as the receiver of a call in ``allowed``, of a pure tensor method, or of an attribute read
    (not ``.data``, another tensor on the same storage; not a store or ``del``)."""
    attribute = parent(visitor, name)
    if not (isinstance(attribute, cst.Attribute) and attribute.value is name) or attribute.attr.value == "data":
        return False
    above = parent(visitor, attribute)
    if isinstance(above, cst.Call) and above.func is attribute:
        return id(above) in allowed or is_pure_method_call(above, PURE_TENSOR_METHODS)
    return not isinstance(above, (cst.AssignTarget, cst.AugAssign, cst.AnnAssign, cst.Del, cst.Element, cst.StarredElement))


def _outermost(visitor: MetadataDependent, comp_for: cst.CompFor) -> bool:
    return not isinstance(parent(visitor, comp_for), cst.CompFor)


def _comprehension(visitor: MetadataDependent, comp_for: cst.CompFor) -> cst.CSTNode:
    node: cst.CSTNode = comp_for
    while isinstance(node, cst.CompFor):
        node = parent(visitor, node)
    return node


def _bound_to_fresh_values(visitor: MetadataDependent, scope: FunctionScope, variable: str) -> bool:
    """Every binding of ``variable`` in ``scope`` is a parameter or assigns a value that is not an attribute
    or item load (``x = model(b)``, ``x = torch.cat(...)``, ``x = a * b``, not ``x = self.x``)."""
    assignments = list(scope.assignments[variable])
    if not assignments:
        return False  # a global or closure name: any call may rebind it
    for assignment in assignments:
        node = assignment.node
        if isinstance(node, cst.Param):
            continue
        value = bound_value(visitor, node, (cst.Assign,))  # `x = value` only
        if value is None:
            continue  # `for x in ...`, `with ... as x`, tuple targets: checked against the loop by `bindings`
        if isinstance(value, (cst.Attribute, cst.Subscript, cst.Name)):
            return False
    return True


def _derived_from(visitor: MetadataDependent, scope: FunctionScope, name: str, variable: str) -> bool:
    """Whether some binding of ``name`` in ``scope`` assigns a value that mentions ``variable`` (a view or
    alias of it: ``view = x.view(-1)``, ``row = x[0]``), or is not a plain assignment (unknown)."""
    for assignment in scope.assignments[name]:
        node = getattr(assignment, "node", None)
        value = bound_value(visitor, node, (cst.Assign,))  # `x = value` only
        if value is None:
            if isinstance(node, cst.Param):
                continue  # another parameter: the caller's aliasing is documented, not seen
            return True
        if mentions(value, variable):
            return True
    return False


def _assigned_name(statement: cst.CSTNode) -> Optional[cst.Name]:
    """``x`` of ``x = [...]``: a plain single target, stored after the value is computed."""
    if isinstance(statement, cst.Assign) and len(statement.targets) == 1 and isinstance(statement.targets[0].target, cst.Name):
        return statement.targets[0].target
    return None


def _anchor(visitor: MetadataDependent, loop: cst.CSTNode, function: cst.FunctionDef) -> Optional[cst.CSTNode]:
    """The innermost statement holding ``loop`` that sits in a block (where a new statement can go)."""
    for statement in reversed(enclosing_statements(visitor, loop, function)):
        block = parent(visitor, statement)
        if isinstance(block, cst.SimpleStatementLine) and len(block.body) == 1:
            return block  # the line's only statement: insert a line, not `x_np = ...; return [...]`
        if isinstance(block, BLOCKS):
            return statement
    return None
