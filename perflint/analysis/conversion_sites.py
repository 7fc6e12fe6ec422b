"""Host conversions of local names, per function: the sites PFL102 (repeats in one function) and PFL106
(helpers converting a parameter) share, and whether one local can stand for them.

A rule builds one ``ConversionSites`` with itself as the visitor, feeds it its ``FunctionDef`` and ``Call``
visits (PFL102 also its loops' and comprehensions', for ``loop_conversions``), and asks ``candidates(module)``
at ``leave_Module``: collection is by syntax only, and metadata is resolved only for files where one name is
converted twice in a def, or in a loop of a def, or a converting helper is called. The visitor must declare
PositionProvider, ParentNodeProvider, ScopeProvider and QualifiedNameProvider.
"""

from __future__ import annotations

import ast
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from functools import lru_cache
from dataclasses import dataclass
from typing import Callable, Iterable, Optional, Sequence

import libcst as cst
from libcst import MetadataDependent
from libcst.metadata import FunctionScope, GlobalScope, ScopeProvider

from perflint.analysis import ast_shapes
from perflint.analysis.conversion_helpers import ParameterUse, holds_array, parameter_use
from perflint.analysis.dataflow import (
    Reach,
    Region,
    ancestors,
    bindings,
    declarations,
    first_effect,
    hoist_region,
    introspects_frame,
    may_have_effects,
    mutually_exclusive,
    parent,
    reach,
)
from perflint.analysis.host_conversions import STEPS, TERMINALS, VIEWS, Conversion, conversion_of, storage_change
from perflint.analysis.loop_invariant_conversions import LoopConversion, LoopFacts, invariant_in_loop
from perflint.analysis.local_calls import LocalFunction, called_function, parameter_for
from perflint.analysis.names import callee_name
from perflint.analysis.syntax import tree_index
from perflint.analysis.torch_values import has_tensor_evidence
from perflint.types import Applicability

@dataclass(frozen=True)
class Use:
    """One conversion of the tensor: written in place, or done by a helper the tensor is passed to.

    ``node`` is where it happens (the conversion, or the helper call); ``replaced`` what the new local replaces.
    """

    node: cst.CSTNode
    replaced: cst.BaseExpression
    helper: Optional[ParameterUse] = None


@dataclass(frozen=True)
class Verdict:
    """Where the local goes, and how far the fix can be trusted (None: no fix)."""

    region: Optional[Region]
    applicability: Optional[Applicability]
    same_value: bool = True


@dataclass(frozen=True)
class Candidate:
    """Two or more uses of ``variable`` in the def of ``scope`` that may all run.

    ``through_helpers``: some uses are calls of helpers converting the parameter (PFL106); else every use is
    the same chain ``sample`` written in place (PFL102).
    """

    scope: FunctionScope
    variable: str
    uses: tuple[Use, ...]
    sample: Optional[Conversion]
    through_helpers: bool
    # Helper calls left out of ``uses``: those helpers cannot take an array (``p.mean(dim=1).numpy()``) and
    # keep receiving the tensor, while the others get the array (a partial fix beats none).
    kept: tuple[Use, ...] = ()


@dataclass(frozen=True)
class FunctionFacts:
    """One function's ``global``/``nonlocal`` declarations (its own, and ``nonlocal`` in nested functions),
    whether it may read its own frame (``exec``, ``locals()``...), and every identifier written in it."""

    declared: frozenset[str]
    nested_nonlocal: frozenset[str]
    introspects_frame: bool
    names: frozenset[str]


class ConversionSites:
    """The conversions and local calls of one module, and the caller-side reasoning over them."""

    def __init__(self, visitor: MetadataDependent) -> None:
        self.visitor = visitor
        self._definitions: list[cst.FunctionDef] = []
        self._inner_steps: set[int] = set()
        self._found: list[tuple[Optional[cst.FunctionDef], Conversion]] = []
        self._found_calls: list[tuple[Optional[cst.FunctionDef], cst.Call]] = []
        # Loops and comprehensions open in the innermost def (one counter per def), and the conversions of
        # names met while one was open: the candidates of ``loop_conversions``.
        self._loop_depths: list[int] = [0]
        self._in_loops: list[Conversion] = []
        self._loop_facts: dict[int, LoopFacts] = {}
        self._conversions: dict[FunctionScope, list[Conversion]] = defaultdict(list)
        self._calls: dict[FunctionScope, list[cst.Call]] = defaultdict(list)
        self._local_calls: dict[FunctionScope, dict[str, list[tuple[cst.Call, cst.Arg, LocalFunction]]]] = {}
        self._helpers: dict[tuple[int, str], Optional[ParameterUse]] = {}
        self._function_facts: dict[cst.FunctionDef, FunctionFacts] = {}
        # Names given to new locals in this visit: two fixes applied in one pass must not pick the same one.
        self._handed_out: dict[FunctionScope, set[str]] = defaultdict(set)

    def enter_function(self, node: cst.FunctionDef) -> None:
        """Called from the rule's ``visit_FunctionDef``."""
        self._definitions.append(node)
        self._loop_depths.append(0)

    def leave_function(self) -> None:
        """Called from the rule's ``leave_FunctionDef``."""
        self._definitions.pop()
        self._loop_depths.pop()

    def enter_loop(self) -> None:
        """Called from the visits of ``for``/``while`` and list/set/dict comprehensions (PFL102 only)."""
        self._loop_depths[-1] += 1

    def leave_loop(self) -> None:
        """Called when leaving what ``enter_loop`` was called for."""
        self._loop_depths[-1] -= 1

    def call(self, node: cst.Call) -> None:
        """Called from the rule's ``visit_Call``: record a conversion of a name, or a call passing a name."""
        # Collected by syntax only: metadata is resolved lazily, and most files have nothing to report.
        if id(node) in self._inner_steps:
            return  # `x.cpu()` inside `x.cpu().numpy()`: the outer call was visited first
        definition = self._definitions[-1] if self._definitions else None
        conversion = conversion_of(node)
        if conversion is not None:
            self._inner_steps.update(id(step) for step in conversion.steps[:-1])
            if isinstance(conversion.receiver, cst.Name):
                self._found.append((definition, conversion))
                if definition is not None and self._loop_depths[-1]:
                    self._in_loops.append(conversion)
        elif isinstance(node.func, (cst.Name, cst.Attribute)) and any(isinstance(arg.value, cst.Name) for arg in node.args):
            self._found_calls.append((definition, node))

    def candidates(self, module: cst.Module) -> list[Candidate]:
        """Every candidate of the module, in the order the defs' scopes were first met."""
        if not self._may_report():
            return []
        for _definition, conversion in self._found:
            owner = _owner_scope(self.visitor, conversion.node)
            if owner is not None:
                self._conversions[owner].append(conversion)
        for _definition, call in self._found_calls:
            owner = _owner_scope(self.visitor, call)
            if owner is not None:
                self._calls[owner].append(call)
        found: list[Candidate] = []
        for scope in dict.fromkeys([*self._conversions, *self._calls]):
            self._local_calls[scope] = self._names_passed_to_local_functions(scope)
            for variable in self._variables(scope):
                found += self._check(scope, variable)
        return found

    def _may_report(self) -> bool:
        """A cheap syntactic test: one name converted twice in a def, or in a loop of a def, or a def converting
        its parameter called."""
        if self._in_loops:
            return True
        per_definition = Counter((id(definition), conversion.receiver_name) for definition, conversion in self._found)
        if any(count > 1 for count in per_definition.values()):
            return True
        helpers = {
            definition.name.value
            for definition, conversion in self._found
            if definition is not None and conversion.receiver_name in _parameter_names(definition)
        }
        return any(callee_name(call) in helpers for _definition, call in self._found_calls)

    def loop_conversions(self, candidates: Sequence[Candidate]) -> list[tuple[FunctionScope, LoopConversion]]:
        """Conversions of a def's local that a loop or comprehension repeats on an unchanged value
        (``invariant_in_loop``), other than the uses of ``candidates`` (asked after ``candidates``)."""
        taken = {id(use.node) for candidate in candidates for use in candidate.uses}
        found = []
        for conversion in self._in_loops:
            variable = conversion.receiver_name
            scope = _owner_scope(self.visitor, conversion.node)
            if scope is None or variable is None or id(conversion.node) in taken:
                continue
            if not _is_variable_of(self.visitor, conversion.receiver, scope) or holds_array(self.visitor, scope, variable):
                continue  # `[t.numpy() for t in ts]`: the comprehension's own name; `a = t.numpy()`: an array
            if _ndarray_has_chain(conversion) and not has_tensor_evidence(self.visitor, scope, variable):
                continue  # `for b in bs: a.tolist()`: an ndarray has `tolist` too
            function = definition_of(scope)
            facts = self._facts(function)
            if variable in facts.declared or variable in facts.nested_nonlocal:
                continue  # `global x` / a nested `nonlocal x`: a call in the loop may rebind it
            invariant = invariant_in_loop(self.visitor, conversion, variable, scope, function, self._loop_facts)
            if invariant is not None:
                found.append((scope, invariant))
        return found

    # -- what is converted where -------------------------------------------------------------------------

    def conversions(self, scope: FunctionScope) -> list[Conversion]:
        """The conversions of names written in the def of ``scope`` (after ``candidates``)."""
        return self._conversions[scope]

    def _names_passed_to_local_functions(self, scope: FunctionScope) -> dict[str, list[tuple[cst.Call, cst.Arg, LocalFunction]]]:
        passed: dict[str, list[tuple[cst.Call, cst.Arg, LocalFunction]]] = defaultdict(list)
        for call in self._calls[scope]:
            function = called_function(self.visitor, call, definition_of(scope))
            if function is not None:
                for arg in call.args:
                    if isinstance(arg.value, cst.Name):
                        passed[arg.value.value].append((call, arg, function))
        return passed

    def _variables(self, scope: FunctionScope) -> list[str]:
        names = [conversion.receiver_name for conversion in self._conversions[scope]]
        names += list(self._local_calls[scope])
        return [name for name in dict.fromkeys(names) if not holds_array(self.visitor, scope, name)]

    def _check(self, scope: FunctionScope, variable: str) -> list[Candidate]:
        found = []
        direct = [
            conversion
            for conversion in self._conversions[scope]
            if conversion.receiver_name == variable and _is_variable_of(self.visitor, conversion.receiver, scope)
        ]
        through_helpers = self._helper_uses(scope, variable)
        if through_helpers:
            kept = [use for use in through_helpers if use.helper is not None and use.helper.obstacle]
            convertible = [use for use in through_helpers if use not in kept]
            chain = _common_chain([use.helper for use in convertible or through_helpers])
            joined = [conversion for conversion in direct if chain is not None and conversion.text == chain]
            partial = self._sorted([*convertible, *(Use(c.node, c.node) for c in joined)])
            if kept and convertible and len(partial) > 1 and not self.exclusive(partial):
                found.append(Candidate(scope, variable, tuple(partial), None, True, tuple(kept)))
            else:
                chain = _common_chain([use.helper for use in through_helpers])
                joined = [conversion for conversion in direct if chain is not None and conversion.text == chain]
                uses = self._sorted([*through_helpers, *(Use(c.node, c.node) for c in joined)])
                if len(uses) > 1 and not self.exclusive(uses):
                    found.append(Candidate(scope, variable, tuple(uses), None, True))
            direct = [conversion for conversion in direct if conversion not in joined]
        for group in _by_chain(direct):
            if _ndarray_has_chain(group[0]) and not has_tensor_evidence(self.visitor, scope, variable):
                continue
            uses = self._sorted([Use(conversion.node, conversion.node) for conversion in group])
            if len(uses) > 1 and not self.exclusive(uses):
                found.append(Candidate(scope, variable, tuple(uses), group[0], False))
        return found

    def _helper_uses(self, scope: FunctionScope, variable: str) -> list[Use]:
        uses = []
        for call, arg, function in self._local_calls[scope].get(variable, ()):
            param = parameter_for(function, call, arg)
            helper = self._helper(function, param) if param is not None else None
            if helper is not None and _is_variable_of(self.visitor, arg.value, scope):
                uses.append(Use(call, arg.value, helper))
        return uses

    def _helper(self, function: LocalFunction, param: str) -> Optional[ParameterUse]:
        key = (id(function.definition), param)
        if key not in self._helpers:
            self._helpers[key] = parameter_use(self.visitor, function, param)
        return self._helpers[key]

    # -- safety ------------------------------------------------------------------------------------------

    def verdict(self, scope: FunctionScope, variable: str, uses: Sequence[Use]) -> Verdict:
        """Where one local serves every use, and whether hoisting is exact (before any copy question)."""
        function = definition_of(scope)
        nodes = [use.node for use in uses]
        region = hoist_region(self.visitor, nodes, function)
        if region is None:
            return Verdict(None, None)  # not in one block
        if self._changes_between(variable, region, nodes):
            return Verdict(None, None, same_value=False)
        first_reach = reach(self.visitor, nodes[0], region.anchor)
        if first_reach >= Reach.GUARDED:
            return Verdict(None, None)  # first one in `try`/`with`/lambda/generator
        if any(reach(self.visitor, node, function) is Reach.LATER for node in nodes[1:]):
            return Verdict(None, None)  # one runs later, in a lambda/generator
        facts = self._facts(function)
        if variable in facts.nested_nonlocal:
            return Verdict(None, None)  # a nested def may rebind the variable
        arms_first = False
        if first_reach is Reach.MAYBE:
            if any(reach(self.visitor, node, self._region_statement(node, region)) is Reach.ALWAYS for node in nodes[1:]):
                return Verdict(region, Applicability.UNSAFE)
            anchor = region.anchor
            if not (isinstance(anchor, cst.If) and len(region.statements) == 1):
                return Verdict(None, None)  # none runs unconditionally: `if a: x.numpy()` then `if b: x.numpy()`
            if any(reach(self.visitor, node, anchor) >= Reach.GUARDED for node in nodes):
                return Verdict(None, None)  # one in `try`/`with`/lambda/generator in an arm
            # Uses split across the arms of one `if`/`elif`/`else`: converted once before the `if`. Exact only
            # when every path through it starts by converting (so no path gains a conversion that may raise)
            # and the tests, now evaluated after the conversion, have no effects.
            arms_first = all(use.helper is None for use in uses) and self._every_arm_converts_first(anchor, nodes)
            if not arms_first:
                return Verdict(region, Applicability.UNSAFE)
        exact = (
            (arms_first or first_effect(self.visitor, nodes[0], region.anchor))
            and not (isinstance(nodes[0], cst.Call) and uses[0].helper and arguments_have_effects(nodes[0]))
            and bool(scope.assignments[variable])
            and variable not in facts.declared
            and not facts.introspects_frame
        )
        return Verdict(region, Applicability.SAFE if exact else Applicability.UNSAFE)

    def _every_arm_converts_first(self, branch: cst.If, nodes: Sequence[cst.CSTNode]) -> bool:
        """Whether every arm of ``branch`` (an ``else`` is required) converts before anything else runs in it:
        its first statement holds a use evaluated unconditionally and before any effect, or is itself such an
        ``if``; and no test of the chain has an effect (``x.ndim == 2``, not ``flag()``)."""
        if may_have_effects(branch.test) or branch.orelse is None:
            return False  # `if flag(): ...` / `if a: ... elif b: ...` with no `else`: a path without a conversion
        other = branch.orelse
        if isinstance(other, cst.If):
            return self._arm_converts_first(branch.body, nodes) and self._every_arm_converts_first(other, nodes)
        return self._arm_converts_first(branch.body, nodes) and self._arm_converts_first(other.body, nodes)

    def _arm_converts_first(self, block: cst.BaseSuite, nodes: Sequence[cst.CSTNode]) -> bool:
        statements = block.body if isinstance(block, cst.IndentedBlock) else ()
        if not statements:
            return False  # `if a: x.numpy(); ...` on one line: not worth the case
        first = statements[0]
        if isinstance(first, cst.If):
            return self._every_arm_converts_first(first, nodes)
        top = first.body[0] if isinstance(first, cst.SimpleStatementLine) else first
        return any(
            self._is_within(node, top)
            and reach(self.visitor, node, top) is Reach.ALWAYS
            and first_effect(self.visitor, node, top)
            for node in nodes
        )

    def _changes_between(self, variable: str, region: Region, nodes: Sequence[cst.CSTNode]) -> bool:
        """``x`` rebound, or its storage/shape swapped, between the conversions: they convert different values."""
        late = [node for node in bindings(self.visitor, region.statements, variable) if not self._after_last_use(node, region, nodes)]
        return bool(late) or storage_change(region.statements, variable)

    def _after_last_use(self, binding: cst.CSTNode, region: Region, nodes: Sequence[cst.CSTNode]) -> bool:
        """``x = x.numpy() ...`` as the last statement: the target is stored after every conversion ran."""
        statement = parent(self.visitor, binding) if isinstance(binding, cst.AssignTarget) else binding
        if not isinstance(statement, (cst.Assign, cst.AugAssign, cst.AnnAssign)) or statement.value is None:
            return False
        last = region.statements[-1]
        last_line_ends_with_it = isinstance(last, cst.SimpleStatementLine) and last.body[-1] is statement
        if statement is not last and not last_line_ends_with_it:
            return False
        inside = [node for node in nodes if self._is_within(node, statement)]
        index = tree_index(self.visitor, statement)
        return bool(inside) and all(self._is_within(node, statement.value) for node in inside) and all(
            index.ends_before(node, statement) for node in nodes if node not in inside
        )

    def _facts(self, function: cst.FunctionDef) -> FunctionFacts:
        """What ``verdict`` and ``new_local`` ask of the whole function, read from the tree index and kept: asking
        per candidate would walk a several-thousand-line ``main()`` once per converted name."""
        facts = self._function_facts.get(function)
        if facts is None:
            declared = declarations(self.visitor, function)
            introspects = introspects_frame(self.visitor, function)
            spelled = frozenset(name.value for name in tree_index(self.visitor, function).under(function, cst.Name))
            facts = FunctionFacts(declared.own, declared.nested_nonlocal, introspects, spelled)
            self._function_facts[function] = facts
        return facts

    def new_local(self, scope: FunctionScope, anchor: cst.CSTNode, base: str) -> str:
        """``fresh_name``'s answer (a name that shadows nothing visible from ``scope`` and is written nowhere
        in the function, nor handed out before), from the function's names gathered once."""
        taken = self._facts(definition_of(scope)).names | self._handed_out[scope]
        name, suffix = base, 0
        while name in taken or name in scope:
            suffix += 1
            name = f"{base}_{suffix}"
        self._handed_out[scope].add(name)
        return name


    # -- small queries -----------------------------------------------------------------------------------

    def _sorted(self, uses: Iterable[Use]) -> list[Use]:
        # Source order from the tree index, not positions (which cost a codegen of the module when no finding
        # needs them): the uses of one tensor never hold one another, so the two orders agree.
        return sorted(uses, key=lambda use: tree_index(self.visitor, use.node).order(use.node))

    def _is_within(self, node: cst.CSTNode, container: cst.CSTNode) -> bool:
        return tree_index(self.visitor, node).contains(container, node)

    def exclusive(self, uses: Sequence[Use]) -> bool:
        """Whether at most one of the uses can run: all in different arms of the same ifs, or each in a
        `return` of its own (the first `return` that runs ends the call: keras' `get_value`)."""
        returns = [self._own_return(use.node) for use in uses]
        if all(returns) and len({id(statement) for statement in returns}) == len(returns):
            return True
        return all(
            mutually_exclusive(self.visitor, first.node, second.node) for i, first in enumerate(uses) for second in uses[i + 1 :]
        )

    def _own_return(self, node: cst.CSTNode) -> Optional[cst.Return]:
        """The `return` statement whose value holds ``node``, if ``node`` runs as part of it (not later, in a
        lambda or a generator) and the function surely ends there: inside `try` / `with`, an exception raised
        after the conversion (`return float(x.numpy().sum())`) may be caught and the function go on, so there
        the conversion must be the whole returned value."""
        for ancestor in ancestors(self.visitor, node):
            if isinstance(ancestor, cst.Return):
                guarded = any(isinstance(outer, (cst.Try, cst.TryStar, cst.With)) for outer in self._ancestors_in_function(ancestor))
                return ancestor if ancestor.value is node or not guarded else None
            if isinstance(ancestor, (cst.BaseSmallStatement, cst.BaseCompoundStatement, cst.Lambda, cst.BaseComp)):
                return None
        return None

    def _ancestors_in_function(self, node: cst.CSTNode) -> Iterable[cst.CSTNode]:
        for ancestor in ancestors(self.visitor, node):
            if isinstance(ancestor, (cst.FunctionDef, cst.Lambda)):
                return
            yield ancestor

    def _region_statement(self, node: cst.CSTNode, region: Region) -> cst.CSTNode:
        for candidate in (node, *ancestors(self.visitor, node)):
            if any(candidate is statement for statement in region.statements):
                return candidate
        return region.anchor


def could_repeat(tree: ast.Module, through_helpers: bool) -> bool:
    """``candidates``' reach as a shape check on Python's ast (a rule's ``could_match``), no flow reasoning.

    A conversion is any maximal chain of conversion steps holding a terminal (``numpy``/``tolist``/``cpu``).
    PFL102 (``through_helpers`` False): in one def, one name converted twice by chains of the same methods
    with no binding of it between some two (``_ast_rebound_between_each``, by position), or a name converted
    inside a loop or list/set/dict comprehension (``in_loop``). PFL106: in one def, a name
    passed to a function of the module's that converts one of its own parameters, and used that way or
    converted twice in all.
    """
    found = _ast_conversions(tree)
    if not _ast_imports_torch(tree):
        # `a.tolist()`, `a.reshape(-1).tolist()`: an ndarray has these too, and only torch evidence (an
        # annotation, a `torch.*` call: both need an import of torch) makes them a tensor's.
        found = [(site, name, methods) for site, name, methods in found if not VIEWS.union(["tolist"]).issuperset(methods)]
    # `[x.numpy() for x in xs]`, `lambda x: x.numpy()`: a name of the inner scope, not of the def.
    found = [(site, name, methods) for site, name, methods in found if name is None or not _ast_inner_name(tree, site, site.node, name)]
    if not through_helpers:
        # Per chain, whether each conversion rebinds its name (`codes = codes.tolist()`): the binding comes
        # between it and any conversion that runs after it, so two of those never convert the same value.
        rebinds = _ast_rebinding_values(tree)
        per_chain: dict[tuple[int, str, tuple[str, ...]], list[tuple[ast_shapes.Site, bool]]] = defaultdict(list)
        for site, name, methods in found:
            if name is not None and site.function is not None:
                per_chain[(id(site.function), name, methods)].append((site, name in rebinds.get(id(site.node), ())))
        for (_function, name, _methods), conversions in per_chain.items():
            if len(conversions) > 1 and not _ast_rebound_between_each(tree, name, conversions):
                return True
        return any(in_loop(tree, site, name) for site, name, _methods in found if name is not None and site.function is not None)
    # Functions converting their own parameter (`p.numpy()`, `p.mean(dim=1).numpy()`), by name: their
    # positional parameters and the parameter converted.
    helpers: dict[str, list[tuple[list[str], str]]] = defaultdict(list)
    for site, _name, _methods in found:
        base = _ast_base(site.node)
        if site.function is not None and base in ast_shapes.parameter_names(site.function):
            helpers[site.function.name].append((ast_shapes.positional_parameters(site.function), base))
    if not helpers:
        return False
    uses: Counter[tuple[int, str]] = Counter()
    passed: set[tuple[int, str]] = set()
    for site in ast_shapes.shapes(tree).calls():
        if not ast_shapes.may_call_local_function(site):
            continue  # `Loss.compute_ic(p, t)`: `called_function` resolves no such call
        for name in _ast_names_passed_to_converted_parameters(site.node, helpers):
            if _ast_inner_name(tree, site, site.node, name):
                continue
            uses[(id(site.function), name)] += 1
            passed.add((id(site.function), name))
    for site, name, _methods in found:
        if name is not None:
            uses[(id(site.function), name)] += 1
    return any(uses[key] > 1 for key in passed)


def _ast_names_passed_to_converted_parameters(call: ast.Call, helpers: dict[str, list[tuple[list[str], str]]]) -> list[str]:
    """The names ``call`` passes where a function of its callee's name converts the parameter (a call with
    ``*``/``**`` arguments binds no parameter there)."""
    converting = helpers.get(ast_shapes.last_name(call.func) or "", [])
    if not converting or any(isinstance(arg, ast.Starred) for arg in call.args) or any(k.arg is None for k in call.keywords):
        return []
    passed = []
    for position, value in enumerate(call.args):
        # The parameter at this position, or the next one when the helper is a method called on an object.
        if isinstance(value, ast.Name) and any(param in positional[position : position + 2] for positional, param in converting):
            passed.append(value.id)
    for keyword in call.keywords:
        if isinstance(keyword.value, ast.Name) and any(keyword.arg == param for _positional, param in converting):
            passed.append(keyword.value.id)
    return passed


def _ast_conversions(tree: ast.Module) -> list[tuple[ast_shapes.Site, Optional[str], tuple[str, ...]]]:
    """Each outermost conversion chain: its site, its receiver's name (None unless a Name), its methods up to
    the conversion."""
    calls = ast_shapes.shapes(tree).calls()
    inner = {id(site.node.func.value) for site in calls if ast_shapes.method_name(site.node) in STEPS}
    found = []
    for site in calls:
        if ast_shapes.method_name(site.node) not in STEPS or id(site.node) in inner:
            continue
        start: ast.AST = site.node
        methods: list[str] = []
        while isinstance(start, ast.Call) and isinstance(start.func, ast.Attribute) and start.func.attr in STEPS:
            methods.append(start.func.attr)
            start = start.func.value
        if TERMINALS.isdisjoint(methods):
            continue  # `x.detach().float()`: no conversion
        # Innermost first, up to the conversion LibCST's side takes (``conversion_of`` of the outermost call
        # that is one): the first `numpy`/`tolist`, else the last `cpu` (`x.cpu().numpy().reshape(3)` and
        # `x.cpu().numpy()` are one chain).
        methods.reverse()
        ends = [i for i, method in enumerate(methods) if method in ("numpy", "tolist")]
        end = ends[0] if ends else max(i for i, method in enumerate(methods) if method == "cpu")
        found.append((site, start.id if isinstance(start, ast.Name) else None, tuple(methods[: end + 1])))
    return found


def _ast_inner_name(tree: ast.Module, site: ast_shapes.Site, node: ast.AST, name: str) -> bool:
    """Whether ``name`` at ``node`` is bound by a comprehension or lambda around it (not the def's variable):
    ``node`` lies in one's span, outside the first iterable (evaluated in the enclosing scope)."""
    position = ast_shapes.span(node)[0]
    return any(
        start <= position < end and not hole[0] <= position < hole[1]
        for start, end, hole in _ast_inner_scopes(tree).get((id(site.function), name), ())
    )


@lru_cache(maxsize=1)
def _ast_inner_scopes(tree: ast.Module) -> dict[tuple[int, str], list[tuple[tuple[int, int], tuple[int, int], ast_shapes.Span]]]:
    """Per (def id, name): the spans where a comprehension or lambda binds ``name``, each with its hole."""
    scopes: dict[tuple[int, str], list[tuple[tuple[int, int], tuple[int, int], ast_shapes.Span]]] = defaultdict(list)
    no_hole: ast_shapes.Span = ((0, 0), (0, 0))
    shapes = ast_shapes.shapes(tree)
    for site in shapes.of(ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp):
        node = site.node
        assert isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp))
        start, end = ast_shapes.span(node)
        hole = ast_shapes.span(node.generators[0].iter)
        for generator in node.generators:
            for target in _ast_target_names(generator.target):
                scopes[(id(site.function), target.id)].append((start, end, hole))
    for site in shapes.of(ast.Lambda):
        node = site.node
        assert isinstance(node, ast.Lambda)
        start, end = ast_shapes.span(node.body)
        for param in ast_shapes.parameter_names(node):
            scopes[(id(site.function), param)].append((start, end, no_hole))
    return scopes


def _ast_imports_torch(tree: ast.Module) -> bool:
    """Whether the module imports ``torch`` or anything from it (at any level)."""
    for site in ast_shapes.shapes(tree).of(ast.Import, ast.ImportFrom):
        node = site.node
        names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        if any(name == "torch" or name.startswith("torch.") for name in names):
            return True
    return False


def in_loop(tree: ast.Module, site: ast_shapes.Site, name: str) -> bool:
    """Whether ``site`` lies where a loop or list/set/dict comprehension of its def runs it once per pass
    (``repeating_loop``'s places: a ``for``'s body, a ``while``'s test and body, a comprehension but for its first
    iterable; a lambda or generator expression in between runs it at another time) and the loop stores ``name``
    nowhere (no assignment, ``for`` or comprehension target of it): spans of recorded nodes, by position."""
    position = ast_shapes.span(site.node)[0]
    holding = [region for region in _ast_loops(tree).get(id(site.function), ()) if region.runs_at(position)]
    if not holding:
        return False
    # The innermost: the one starting last, or, of two starting together, ending first.
    innermost = max(holding, key=lambda region: (region.runs[0], _negated(region.runs[1])))
    if innermost.loop is None:
        return False
    first, last = innermost.loop
    return not any(first <= where < last for where in _ast_stores(tree).get((id(site.function), name), ()))


@dataclass(frozen=True)
class _Region:
    """Where a loop, comprehension, lambda or generator expression runs code (``runs``, less ``hole``: the first
    iterable of a comprehension, evaluated once before it), and the loop's whole span (None for a lambda or a
    generator expression, which run their code at another time)."""

    runs: ast_shapes.Span
    hole: Optional[ast_shapes.Span]
    loop: Optional[ast_shapes.Span]

    def runs_at(self, position: tuple[int, int]) -> bool:
        return self.runs[0] <= position < self.runs[1] and not (self.hole is not None and self.hole[0] <= position < self.hole[1])


def _negated(position: tuple[int, int]) -> tuple[int, int]:
    return (-position[0], -position[1])


@lru_cache(maxsize=1)
def _ast_loops(tree: ast.Module) -> dict[int, list[_Region]]:
    """The regions of the loops, comprehensions, lambdas and generator expressions of each def (by its id)."""
    loops: dict[int, list[_Region]] = defaultdict(list)
    kinds = (ast.For, ast.AsyncFor, ast.While, ast.ListComp, ast.SetComp, ast.DictComp, ast.Lambda, ast.GeneratorExp)
    for site in ast_shapes.shapes(tree).of(*kinds):
        if site.function is not None:
            loops[id(site.function)].append(_region(site.node))
    return loops


def _region(node: ast.AST) -> _Region:
    whole = ast_shapes.span(node)
    if isinstance(node, (ast.For, ast.AsyncFor)):
        return _Region((ast_shapes.span(node.body[0])[0], ast_shapes.span(node.body[-1])[1]), None, whole)
    if isinstance(node, ast.While):
        return _Region((ast_shapes.span(node.test)[0], ast_shapes.span(node.body[-1])[1]), None, whole)
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp)):
        return _Region(whole, ast_shapes.span(node.generators[0].iter), whole)
    return _Region(whole, None, None)


@lru_cache(maxsize=1)
def _ast_rebinding_values(tree: ast.Module) -> dict[int, set[str]]:
    """The names each assigned value is bound to as a plain name (``x = y = value``), by the value's id."""
    bound: dict[int, set[str]] = {}
    for site in ast_shapes.shapes(tree).of(ast.Assign):
        node = site.node
        assert isinstance(node, ast.Assign)
        names = {target.id for target in node.targets if isinstance(target, ast.Name)}
        if names:
            bound[id(node.value)] = names
    return bound


def _ast_rebound_between_each(tree: ast.Module, name: str, conversions: list[tuple[ast_shapes.Site, bool]]) -> bool:
    """Whether, between each two conversions of ``name`` in a def that come one after the other, ``name`` is
    bound again in the def's scope: by the first one's own assignment (``codes = codes.tolist()``), or by an
    assignment or ``for`` of the def's own code in between whose statement ends before the second starts
    (``verdict``'s ``_changes_between``, which leaves out only an assignment that holds the last conversion).
    Then no two of them convert the same value, whatever chains the rule groups them by."""
    function = conversions[0][0].function
    stores = _ast_statement_stores(tree).get((id(function), name), [])
    starts = [start for start, _end in stores]
    ordered = sorted((ast_shapes.span(site.node)[0], rebinds) for site, rebinds in conversions)

    def separated(first: tuple[int, int], second: tuple[int, int]) -> bool:
        between = stores[bisect_right(starts, first) : bisect_left(starts, second)]
        return any(end is None or end <= second for _start, end in between)

    return all(rebinds or separated(start, after) for (start, rebinds), (after, _) in zip(ordered, ordered[1:]))


@lru_cache(maxsize=1)
def _ast_statement_stores(tree: ast.Module) -> dict[tuple[int, str], list[tuple[tuple[int, int], Optional[tuple[int, int]]]]]:
    """Where each def's own code binds each plain name by a statement, in source order (by the def's id and the
    name): an assignment's or augmented assignment's target, with where the statement ends, or a ``for``
    target (with None: its binding is never the one ``_changes_between`` leaves out)."""
    stores: dict[tuple[int, str], list[tuple[tuple[int, int], Optional[tuple[int, int]]]]] = defaultdict(list)
    for site in ast_shapes.shapes(tree).of(ast.Assign, ast.AugAssign, ast.For, ast.AsyncFor):
        node = site.node
        if site.frame is None or site.frame is not site.function:
            continue  # module or class code
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]  # type: ignore[attr-defined]
        end = None if isinstance(node, (ast.For, ast.AsyncFor)) else ast_shapes.span(node)[1]
        for target in targets:
            for part in _ast_target_names(target):
                stores[(id(site.function), part.id)].append(((part.lineno, part.col_offset), end))
    for found in stores.values():
        found.sort(key=lambda store: store[0])
    return stores


@lru_cache(maxsize=1)
def _ast_stores(tree: ast.Module) -> dict[tuple[int, str], list[tuple[int, int]]]:
    """Where each def stores each plain name: assignment, augmented assignment, ``for`` and comprehension
    targets (by the def's id and the name)."""
    stores: dict[tuple[int, str], list[tuple[int, int]]] = defaultdict(list)
    shapes = ast_shapes.shapes(tree)
    for site in shapes.of(ast.Assign, ast.AugAssign, ast.For, ast.AsyncFor, ast.ListComp, ast.SetComp, ast.DictComp):
        node = site.node
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.For, ast.AsyncFor)):
            targets = [node.target]
        else:
            assert isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp))
            targets = [generator.target for generator in node.generators]
        for target in targets:
            for part in _ast_target_names(target):
                stores[(id(site.function), part.id)].append((part.lineno, part.col_offset))
    return stores


def _ast_target_names(target: ast.AST) -> list[ast.Name]:
    if isinstance(target, ast.Name):
        return [target]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [name for element in target.elts for name in _ast_target_names(element)]
    if isinstance(target, ast.Starred):
        return _ast_target_names(target.value)
    return []


def _ast_base(node: ast.AST) -> Optional[str]:
    """``p`` for ``p.mean(dim=1).numpy()``, ``p[:, 0].numpy()``: the name under attributes, calls and subscripts."""
    while isinstance(node, (ast.Attribute, ast.Call, ast.Subscript)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _parameter_names(definition: cst.FunctionDef) -> set[str]:
    params = definition.params
    return {param.name.value for param in (*params.posonly_params, *params.params, *params.kwonly_params)}


def _owner_scope(visitor: MetadataDependent, node: cst.CSTNode) -> Optional[FunctionScope]:
    """The scope of the ``def`` whose body evaluates ``node`` (lambdas, comprehensions and classes climbed)."""
    scope = visitor.get_metadata(ScopeProvider, node, None)
    while scope is not None and not isinstance(scope, GlobalScope):
        if isinstance(scope, FunctionScope) and isinstance(scope.node, cst.FunctionDef):
            return scope
        scope = scope.parent
    return None


def definition_of(scope: FunctionScope) -> cst.FunctionDef:
    """The ``def`` of a scope collected by ``_owner_scope`` (never a lambda's)."""
    assert isinstance(scope.node, cst.FunctionDef)
    return scope.node


def _is_variable_of(visitor: MetadataDependent, name: cst.BaseExpression, scope: FunctionScope) -> bool:
    """Whether ``name`` is a Name meaning the variable of ``scope`` (no lambda/comprehension/class binding between)."""
    if not isinstance(name, cst.Name):
        return False
    current = visitor.get_metadata(ScopeProvider, name, None)
    while current is not scope:
        if current is None or isinstance(current, GlobalScope) or current.assignments[name.value]:
            return False
        current = current.parent
    return True


def _common_chain(helpers: Iterable[Optional[ParameterUse]]) -> Optional[str]:
    chains = {helper.chain for helper in helpers if helper is not None}
    return chains.pop() if len(chains) == 1 else None


def _by_chain(conversions: Sequence[Conversion]) -> list[list[Conversion]]:
    groups: dict[str, list[Conversion]] = defaultdict(list)
    for conversion in conversions:
        groups[conversion.text].append(conversion)
    return list(groups.values())


def _ndarray_has_chain(conversion: Conversion) -> bool:
    """Whether an ndarray has every method of the chain (no ``numpy``/``cpu``/``detach``): not evidently a tensor."""
    return all(method in VIEWS or method == "tolist" for method in conversion.methods)


def insert_binding(anchor: cst.CSTNode, name: str, value: cst.BaseExpression) -> tuple[cst.CSTNode, Callable[[cst.CSTNode], cst.FlattenSentinel]]:
    """Put ``name = value`` right before ``anchor``, taking over its leading comments and blank lines."""
    assign = cst.Assign(targets=[cst.AssignTarget(cst.Name(name))], value=value)
    if isinstance(anchor, cst.BaseSmallStatement):
        return (anchor, lambda updated: cst.FlattenSentinel([assign, updated]))

    def change(updated: cst.CSTNode) -> cst.FlattenSentinel:
        assert isinstance(updated, (cst.SimpleStatementLine, cst.BaseCompoundStatement))
        line = cst.SimpleStatementLine([assign], leading_lines=updated.leading_lines)
        return cst.FlattenSentinel([line, updated.with_changes(leading_lines=())])

    return (anchor, change)


def arguments_have_effects(call: cst.Call) -> bool:
    return any(may_have_effects(arg.value) for arg in call.args)


def short(spelling: str, limit: int) -> str:
    """``spelling`` cut to at most ``limit`` characters (with ``...``), to keep a message on one line."""
    return spelling if len(spelling) <= limit else spelling[: limit - 3] + "..."
