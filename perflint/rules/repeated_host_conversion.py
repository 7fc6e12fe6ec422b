"""PFL102 repeated-host-conversion."""

from __future__ import annotations

import ast
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Iterable, Optional, Sequence, Union

import libcst as cst
from libcst.metadata import (
    FunctionScope,
    GlobalScope,
    ImportAssignment,
    ParentNodeProvider,
    PositionProvider,
    QualifiedNameProvider,
    ScopeProvider,
)

from perflint.analysis.dataflow import (
    Reach,
    Region,
    ancestors,
    bindings,
    declared_global,
    first_effect,
    fresh_name,
    hoist_region,
    introspects_frame,
    may_have_effects,
    mutually_exclusive,
    nonlocal_rebinders,
    parent,
    reach,
)
from perflint.analysis.conversion_helpers import (
    ParameterUse,
    assigned_value,
    converts_first,
    holds_array,
    is_docstring,
    parameter_use,
)
from perflint.analysis import ast_shapes
from perflint.analysis.host_conversions import (
    COPYING_VIEWS,
    STEPS,
    TERMINALS,
    VIEWS,
    Conversion,
    conversion_of,
    copies_are_unobservable,
    storage_change,
)
from perflint.analysis.local_calls import LocalFunction, called_function, is_private, only_called_directly, parameter_for
from perflint.analysis.names import qualified_names
from perflint.rule import Invalid, NodeChange, Rewrite, Rule, RuleContext, Valid
from perflint.types import Applicability, FixSafety, MetricImpact

Change = tuple[cst.CSTNode, NodeChange]


@dataclass(frozen=True)
class _Use:
    """One conversion of the tensor: written in place, or done by a helper the tensor is passed to.

    ``node`` is where it happens (the conversion, or the helper call); ``replaced`` what the new local replaces.
    """

    node: cst.CSTNode
    replaced: cst.BaseExpression
    helper: Optional[ParameterUse] = None


@dataclass(frozen=True)
class _Verdict:
    """Where the local goes, and how far the fix can be trusted (None: no fix, for ``reason``)."""

    region: Optional[Region]
    applicability: Optional[Applicability]
    reason: str = ""
    same_value: bool = True


class RepeatedHostConversion(Rule):
    """
    ## What it does
    Finds a tensor converted to the host more than once: in one function, the same chain
    (`x.numpy()`, `x.cpu().numpy()`, `x.detach().cpu().numpy()`, `x.cpu()`, `x.tolist()`, also after
    `view(...)`, `reshape(...)`, `flatten()`, `ravel()`) applied two or more times to a name that is neither
    rebound nor given new storage (`x.data =`, `set_`, `resize_`...) in between; and, within a module, one
    tensor handed to two or more local helpers that each convert that parameter (the helpers are named in
    the message).

    ## Why is this bad?
    On a CUDA tensor every `.cpu()` is a device-to-host copy plus a synchronisation, and each one returns a
    fresh copy: on an H200 (torch 2.11) one `.cpu()` took ~15 us for 3,973 floats and ~0.5 ms for 1M, and
    converting predictions and targets once instead of twice each in an RMSE + IC block took it from 149 us
    to 106 us (1.4x) at n=3,973 and from 13.9 ms to 12.9 ms (1.08x) at n=1M. On a CPU tensor the cost is
    nil: `.numpy()` is zero-copy (1-2 us whatever the size; 3-4 us with `.detach().cpu()`), and hoisting the
    conversions out of a 2-3 ms metric block (RMSE, IC, rank IC) saved about 12 us, nothing measurable
    (torch 2.13, CPU). There the change is about reading one array instead of several. `.tolist()` builds a
    new Python list each time.

    ## Example
    ```python
    def metrics(predictions, targets):
        rmse = float(np.sqrt(np.mean((predictions.cpu().numpy() - targets.cpu().numpy()) ** 2)))
        ic = float(np.corrcoef(predictions.cpu().numpy(), targets.cpu().numpy())[0, 1])
        return rmse, ic
    ```

    ## Use instead
    ```python
    def metrics(predictions, targets):
        predictions_np = predictions.cpu().numpy()
        targets_np = targets.cpu().numpy()
        rmse = float(np.sqrt(np.mean((predictions_np - targets_np) ** 2)))
        ic = float(np.corrcoef(predictions_np, targets_np)[0, 1])
        return rmse, ic
    ```
    For helpers, the caller converts once (`point_np = point.numpy()`) and passes the array; each helper's
    `p.numpy()` becomes `np.asarray(p)`, which is zero-copy for a CPU tensor, the identity for an array and
    raises the same error for a tensor that requires grad, so the helper still accepts tensors from other
    callers. `p.detach().cpu().numpy()` becomes `(p if isinstance(p, np.ndarray) else p.detach().cpu().numpy())`,
    since `np.asarray` raises on CUDA and grad tensors.

    ## Fix safety
    The fix puts one local (`<name>_np`, a fresh name) right before the statement holding the first
    conversion and replaces every conversion with it. It is **safe** for a chain that never copies (bare
    `.numpy()`, `.detach().numpy()`, `.view(...).numpy()`) on a local name when the first conversion runs
    unconditionally, before anything with a side effect in its statement; the name is not rebound and its
    storage, shape or grad flag is not changed in place (`x.data =`, `set_`, `resize_`, `requires_grad_`...)
    between the conversions; no conversion sits in a lambda or generator; and the function does not use
    `exec`, `eval`, `locals()`, `vars()`, `dir()` or its frame. The array then aliases the tensor exactly as
    each conversion did. Remaining differences, left to the docs: `x.numpy() is x.numpy()` becomes true, and a
    callee that changes the array's *metadata* (`a.shape = ...`, `a.flags.writeable = False`) or swaps the
    tensor's storage through another reference now affects the later uses. A global or closure name gets at
    most an unsafe fix: a call in between may rebind it.
    A chain that may copy (`.cpu()`, `reshape`/`flatten`/`ravel`, `.tolist()`, `.numpy(force=True)`) gives one
    shared copy instead of fresh ones, so an in-place change of the tensor or of one copy becomes visible to
    the other uses (on an H200, `x.add_(1)` between two sums of `x.cpu().numpy()` gave 15.2 then 3988.2;
    with one hoisted copy, 15.2 twice). It is **safe** only when, in addition, each converted value is consumed at once by a
    known-pure callee (numpy reductions and element-wise functions, `np.corrcoef`, `scipy.stats`
    correlations, `sklearn.metrics`, `float`, `len`...), a pure array method (`.mean()`, `.sum()`...) or an
    arithmetic operator, and every call between the conversions is one of those; a call that does not
    receive the tensor can still mutate it through another reference (an optimizer step), so this is
    stricter than a check of the callees that receive it. Otherwise **unsafe**. Hoisting a conversion out of a
    branch, loop, comprehension or conditional expression (when a later conversion runs unconditionally) is
    unsafe: a conversion that raises (grad, bf16, CUDA) now raises where it did not, or earlier. No fix when
    the conversions are in different branches with none unconditional, in `try`/`with` bodies, lambdas or
    generators, or when a nested function may rebind the name (`nonlocal`). When the name is rebound or its
    storage swapped between the conversions they convert different values: nothing is reported.
    The interprocedural fix is **safe** for bare `.numpy()` helpers that are private module-level functions
    (not in `__all__`, undecorated, only ever called directly), that use the parameter only as the receiver of
    that conversion, when the caller's side meets the conditions above and the first helper converts before
    doing anything else. It is **unsafe** for methods (a subclass elsewhere may override them) and for
    copying chains (the helpers now share one copy). No fix when a helper uses the parameter otherwise
    (`p.std()`, `p.mean()`, `p.sort()`, `p.size()` mean other things on an array; `p.mean(dim=1).numpy()` would
    move a reduction from torch to numpy, which changed the seed's Sharpe ratio), or when helpers convert in
    different ways.

    ## Metric impact
    Identical: the values are the same bits; no reduction moves between torch and numpy.

    ## Known problems
    Only local names are tracked: `self.x.numpy()` twice is not reported, since any call in between may
    rebind the attribute. Different chains of one tensor (`x.cpu().numpy()` and `x.cpu().tolist()`) are two
    copies on a GPU but are neither merged nor reported. A conversion repeated by a loop is not reported
    (PFL105 covers host syncs in loops), and neither is module-level code. The receiver is taken to be a
    tensor when the chain has `.numpy()`, `.cpu()` or `.detach()`; chains an ndarray also has (`.tolist()`,
    `.reshape(...).tolist()`) are reported only with evidence: a parameter annotated `torch.Tensor` or a
    value built by a `torch.*` call. Helpers are followed one level deep, through plain calls and `self.`
    method calls with the tensor passed as a bare name. Type annotations of rewritten helpers still say
    `Tensor`: a runtime type checker would reject the array. The rule is on by default although on a CPU
    it is about tidiness: the seed's metric code is why it exists, and on a GPU each extra `.cpu()` is a
    real copy and sync.

    ## Options
    None.

    ## References
    - `torch.Tensor.numpy` (shares memory with the tensor) and `torch.Tensor.cpu` documentation.
    - PyTorch CUDA semantics: "Asynchronous execution" (device-to-host copies synchronise).
    """

    code = "PFL102"
    name = "repeated-host-conversion"
    message = "The same tensor is converted to the host more than once"
    fix_title = "Convert once into a local and reuse it"
    fix_safety = FixSafety.SOMETIMES_SAFE
    metric_impact = MetricImpact.IDENTICAL
    required_tokens = (".numpy(", ".cpu(", ".tolist(")
    METADATA_DEPENDENCIES = (PositionProvider, ParentNodeProvider, ScopeProvider, QualifiedNameProvider)

    valid = (
        Valid(
            """
            def f(x, y):
                return x.numpy().sum() + y.numpy().sum()
            """
        ),
        Valid(
            """
            def f(x):
                if x.ndim:
                    return x.numpy()
                else:
                    return x.numpy().reshape(1)
            """
        ),
        Valid(
            """
            def f(self):
                return self.x.numpy().sum() + self.x.numpy().mean()
            """
        ),
        Valid(
            """
            def f(x):
                return x.numpy(), x.tolist()
            """
        ),
        Valid(
            """
            def f(x):
                a = x.numpy().sum()
                x = x * 2
                return a + x.numpy().sum()
            """
        ),
    )
    invalid = (
        Invalid(
            """
            def f(x):
                total = x.numpy().sum()
                return total / x.numpy().size
            """,
            fixed="""
            def f(x):
                x_np = x.numpy()
                total = x_np.sum()
                return total / x_np.size
            """,
            message_contains="zero-copy",
        ),
        Invalid(
            """
            import numpy as np
            def metrics(p, t):
                rmse = float(np.sqrt(np.mean((p.cpu().numpy() - t) ** 2)))
                ic = float(np.corrcoef(p.cpu().numpy(), t)[0, 1])
                return rmse, ic
            """,
            fixed="""
            import numpy as np
            def metrics(p, t):
                p_np = p.cpu().numpy()
                rmse = float(np.sqrt(np.mean((p_np - t) ** 2)))
                ic = float(np.corrcoef(p_np, t)[0, 1])
                return rmse, ic
            """,
            message_contains="device-to-host copy",
        ),
        Invalid(
            """
            def f(x, log):
                a = x.cpu().numpy()
                log.append(a)
                return x.cpu().numpy()
            """,
            fixed="""
            def f(x, log):
                x_np = x.cpu().numpy()
                a = x_np
                log.append(a)
                return x_np
            """,
            applicability=Applicability.UNSAFE,
        ),
        Invalid(
            """
            import numpy as np

            def _ic(p, t):
                return np.corrcoef(p.numpy(), t)[0, 1]

            def _hit(p, t):
                return np.mean(np.sign(p.numpy()) == np.sign(t))

            def evaluate(point, t):
                return _ic(point, t), _hit(point, t)
            """,
            fixed="""
            import numpy as np

            def _ic(p, t):
                return np.corrcoef(np.asarray(p), t)[0, 1]

            def _hit(p, t):
                return np.mean(np.sign(np.asarray(p)) == np.sign(t))

            def evaluate(point, t):
                point_np = point.numpy()
                return _ic(point_np, t), _hit(point_np, t)
            """,
            message_contains="`_ic` and `_hit`",
        ),
    )

    @classmethod
    def could_match(cls, tree: ast.Module) -> bool:
        """``_check``'s reach on Python's ast, looser: a name's uses in a def are its conversions (every
        maximal chain of conversion steps with a terminal, ``numpy``/``tolist``/``cpu``, well formed or not,
        whatever the chain) and the calls passing it to a helper (any function of that name converting the
        parameter it lands on, with or without ``self``); a report needs two uses of the def's variable that
        may both run (``_ast_may_repeat``)."""
        calls = ast_shapes.shapes(tree).calls()
        inner = {id(site.node.func.value) for site in calls if ast_shapes.method_name(site.node) in STEPS}
        uses: dict[tuple[int, str], list[ast_shapes.Site]] = defaultdict(list)
        # Function name -> (its positional parameters, a parameter it converts), per def of that name.
        helpers: dict[str, list[tuple[list[str], str]]] = defaultdict(list)
        for site in calls:
            if ast_shapes.method_name(site.node) not in STEPS or id(site.node) in inner:
                continue
            start, methods = site.node, set()
            while ast_shapes.method_name(start) in STEPS:
                methods.add(ast_shapes.method_name(start))
                start = start.func.value
            # Every conversion ends in a terminal, and one chain holds at most one conversion.
            if not isinstance(start, ast.Name) or methods.isdisjoint(TERMINALS):
                continue
            uses[(id(site.function), start.id)].append(site)
            if site.function is not None and start.id in _ast_parameter_names(site.function):
                helpers[site.function.name].append((_ast_positional_names(site.function), start.id))
        for site in calls:
            for name in _ast_names_passed_to_converted_parameters(site.node, helpers):
                uses[(id(site.function), name)].append(site)
        return any(_ast_may_repeat(tree, name, sites) for (_definition, name), sites in uses.items())

    def __init__(self, context: RuleContext) -> None:
        super().__init__(context)
        self._definitions: list[cst.FunctionDef] = []
        self._inner_steps: set[int] = set()
        self._found: list[tuple[Optional[cst.FunctionDef], Conversion]] = []
        self._found_calls: list[tuple[Optional[cst.FunctionDef], cst.Call]] = []
        self._conversions: dict[FunctionScope, list[Conversion]] = defaultdict(list)
        self._calls: dict[FunctionScope, list[cst.Call]] = defaultdict(list)
        self._local_calls: dict[FunctionScope, dict[str, list[tuple[cst.Call, cst.Arg, LocalFunction]]]] = {}
        self._helpers: dict[tuple[int, str], Optional[ParameterUse]] = {}
        # Names given to new locals in this visit: two fixes applied in one pass must not pick the same one.
        self._handed_out: dict[FunctionScope, set[str]] = defaultdict(set)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._definitions.append(node)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._definitions.pop()

    def visit_Call(self, node: cst.Call) -> None:
        # Collected by syntax only: metadata is resolved lazily, and most files have nothing to report.
        if id(node) in self._inner_steps:
            return  # `x.cpu()` inside `x.cpu().numpy()`: the outer call was visited first
        definition = self._definitions[-1] if self._definitions else None
        conversion = conversion_of(node)
        if conversion is not None:
            self._inner_steps.update(id(step) for step in conversion.steps[:-1])
            if isinstance(conversion.receiver, cst.Name):
                self._found.append((definition, conversion))
        elif isinstance(node.func, (cst.Name, cst.Attribute)) and any(isinstance(arg.value, cst.Name) for arg in node.args):
            self._found_calls.append((definition, node))

    def leave_Module(self, original_node: cst.Module) -> None:
        if not self._may_report():
            return
        for _definition, conversion in self._found:
            owner = _owner_scope(self, conversion.node)
            if owner is not None:
                self._conversions[owner].append(conversion)
        for _definition, call in self._found_calls:
            owner = _owner_scope(self, call)
            if owner is not None:
                self._calls[owner].append(call)
        for scope in dict.fromkeys([*self._conversions, *self._calls]):
            self._local_calls[scope] = self._names_passed_to_local_functions(scope)
            for variable in self._variables(scope):
                self._check(original_node, scope, variable)

    def _may_report(self) -> bool:
        """A cheap syntactic test: one name converted twice in a def, or a def converting its parameter called."""
        per_definition = Counter((id(definition), conversion.receiver_name) for definition, conversion in self._found)
        if any(count > 1 for count in per_definition.values()):
            return True
        helpers = {
            definition.name.value
            for definition, conversion in self._found
            if definition is not None and conversion.receiver_name in _parameter_names(definition)
        }
        return any(_callee_name(call) in helpers for _definition, call in self._found_calls)

    # -- what is converted where -------------------------------------------------------------------------

    def _names_passed_to_local_functions(self, scope: FunctionScope) -> dict[str, list[tuple[cst.Call, cst.Arg, LocalFunction]]]:
        passed: dict[str, list[tuple[cst.Call, cst.Arg, LocalFunction]]] = defaultdict(list)
        for call in self._calls[scope]:
            function = called_function(self, call, _definition(scope))
            if function is not None:
                for arg in call.args:
                    if isinstance(arg.value, cst.Name):
                        passed[arg.value.value].append((call, arg, function))
        return passed

    def _variables(self, scope: FunctionScope) -> list[str]:
        names = [conversion.receiver_name for conversion in self._conversions[scope]]
        names += list(self._local_calls[scope])
        return [name for name in dict.fromkeys(names) if not holds_array(self, scope, name)]

    def _is_tensor(self, scope: FunctionScope, variable: str) -> bool:
        """Evidence for chains an ndarray also has (``tolist``, ``reshape``...): annotated or built by torch."""
        for assignment in scope.assignments[variable]:
            node = assignment.node
            if isinstance(node, cst.Param) and node.annotation is not None:
                if "torch.Tensor" in qualified_names(self, node.annotation.annotation):
                    return True
            value = assigned_value(self, node)
            if isinstance(value, cst.Call) and any(name.startswith("torch.") for name in qualified_names(self, value.func)):
                return True
        return False

    def _check(self, module: cst.Module, scope: FunctionScope, variable: str) -> None:
        direct = [
            conversion
            for conversion in self._conversions[scope]
            if conversion.receiver_name == variable and _is_variable_of(self, conversion.receiver, scope)
        ]
        through_helpers = self._helper_uses(scope, variable)
        if through_helpers:
            chain = _common_chain([use.helper for use in through_helpers])
            joined = [conversion for conversion in direct if chain is not None and conversion.text == chain]
            uses = self._sorted([*through_helpers, *(_Use(c.node, c.node) for c in joined)])
            if len(uses) > 1 and not self._exclusive(uses):
                self._report_helpers(module, scope, variable, uses)
            direct = [conversion for conversion in direct if conversion not in joined]
        for group in _by_chain(direct):
            if _ndarray_has_chain(group[0]) and not self._is_tensor(scope, variable):
                continue
            uses = self._sorted([_Use(conversion.node, conversion.node) for conversion in group])
            if len(uses) > 1 and not self._exclusive(uses):
                self._report_local(scope, variable, group[0], uses)

    def _helper_uses(self, scope: FunctionScope, variable: str) -> list[_Use]:
        uses = []
        for call, arg, function in self._local_calls[scope].get(variable, ()):
            param = parameter_for(function, call, arg)
            helper = self._helper(function, param) if param is not None else None
            if helper is not None and _is_variable_of(self, arg.value, scope):
                uses.append(_Use(call, arg.value, helper))
        return uses

    def _helper(self, function: LocalFunction, param: str) -> Optional[ParameterUse]:
        key = (id(function.definition), param)
        if key not in self._helpers:
            self._helpers[key] = parameter_use(self, function, param)
        return self._helpers[key]

    # -- safety ------------------------------------------------------------------------------------------

    def _verdict(self, scope: FunctionScope, variable: str, uses: Sequence[_Use]) -> _Verdict:
        """Where one local serves every use, and whether hoisting is exact (before any copy question)."""
        function = _definition(scope)
        nodes = [use.node for use in uses]
        region = hoist_region(self, nodes, function)
        if region is None:
            return _Verdict(None, None, "the conversions are not in one block")
        if self._changes_between(variable, region, nodes):
            return _Verdict(None, None, same_value=False)
        first_reach = reach(self, nodes[0], region.anchor)
        if first_reach >= Reach.GUARDED:
            return _Verdict(None, None, "the first conversion is inside `try`/`with`, a lambda or a generator")
        if any(reach(self, node, function) is Reach.LATER for node in nodes[1:]):
            return _Verdict(None, None, "a conversion runs later, inside a lambda or a generator")
        if nonlocal_rebinders(function, variable):
            return _Verdict(None, None, f"a nested function may rebind `{variable}`")
        if first_reach is Reach.MAYBE:
            if not any(reach(self, node, self._region_statement(node, region)) is Reach.ALWAYS for node in nodes[1:]):
                return _Verdict(None, None, "no conversion runs unconditionally")
            return _Verdict(region, Applicability.UNSAFE)
        exact = (
            first_effect(self, nodes[0], region.anchor)
            and not (isinstance(nodes[0], cst.Call) and uses[0].helper and _arguments_have_effects(nodes[0]))
            and bool(scope.assignments[variable])
            and not declared_global(function, variable)
            and not introspects_frame(self, function)
        )
        return _Verdict(region, Applicability.SAFE if exact else Applicability.UNSAFE)

    def _changes_between(self, variable: str, region: Region, nodes: Sequence[cst.CSTNode]) -> bool:
        """``x`` rebound, or its storage/shape swapped, between the conversions: they convert different values."""
        late = [node for node in bindings(region.statements, variable) if not self._after_last_use(node, region, nodes)]
        return bool(late) or storage_change(region.statements, variable)

    def _after_last_use(self, binding: cst.CSTNode, region: Region, nodes: Sequence[cst.CSTNode]) -> bool:
        """``x = x.numpy() ...`` as the last statement: the target is stored after every conversion ran."""
        statement = parent(self, binding) if isinstance(binding, cst.AssignTarget) else binding
        if not isinstance(statement, (cst.Assign, cst.AugAssign, cst.AnnAssign)) or statement.value is None:
            return False
        last = region.statements[-1]
        last_line_ends_with_it = isinstance(last, cst.SimpleStatementLine) and last.body[-1] is statement
        if statement is not last and not last_line_ends_with_it:
            return False
        inside = [node for node in nodes if self._is_within(node, statement)]
        return bool(inside) and all(self._is_within(node, statement.value) for node in inside) and all(
            self._ends_before(node, statement) for node in nodes if node not in inside
        )

    def _helpers_verdict(self, module: cst.Module, scope: FunctionScope, verdict: _Verdict, uses: Sequence[_Use]) -> _Verdict:
        """Narrow the caller's verdict by what rewriting the helpers needs."""
        helpers = [use.helper for use in uses if use.helper is not None]
        for helper in helpers:
            function = helper.function
            if helper.obstacle:
                return _Verdict(None, None, helper.obstacle)
            if not is_private(function, module):
                return _Verdict(None, None, f"`{function.name}` is public: its other callers are not all visible")
            if not only_called_directly(self, function, module):
                return _Verdict(None, None, f"`{function.name}` is used as a value, not only called")
            if function.definition.decorators:
                return _Verdict(None, None, f"`{function.name}` is decorated")
        if len({helper.chain for helper in helpers}) > 1:
            return _Verdict(None, None, "the helpers convert it in different ways")
        if verdict.applicability is not Applicability.SAFE:
            return verdict
        first = uses[0].helper
        exact = (
            all(helper.function.owner is None for helper in helpers)
            and all(helper.template is None or not helper.template.copies for helper in helpers)
            and (first is None or (isinstance(uses[0].node, cst.Call) and converts_first(self, first, uses[0].node, scope)))
        )
        return verdict if exact else _Verdict(verdict.region, Applicability.UNSAFE)

    # -- reports -----------------------------------------------------------------------------------------

    def _report_local(self, scope: FunctionScope, variable: str, sample: Conversion, uses: Sequence[_Use]) -> None:
        verdict = self._verdict(scope, variable, uses)
        if not verdict.same_value:
            return
        message = (
            f"`{variable}{sample.text}` is computed {len(uses)} times in `{_definition(scope).name.value}`"
            f"{_cost(sample)}; convert once and reuse the result"
        )
        region, applicability = verdict.region, verdict.applicability
        if region is None or applicability is None:
            self.report(uses[0].node, f"{message} (no fix: {verdict.reason})")
            return
        if applicability is Applicability.SAFE and sample.copies:
            steps = {id(step) for conversion in self._conversions[scope] for step in conversion.steps}
            if not copies_are_unobservable(self, region.statements, [use.replaced for use in uses], variable, steps):
                applicability = Applicability.UNSAFE
        name = self._new_local(scope, region.anchor, f"{variable}_{_suffix(sample)}")
        changes = [_insert_binding(region.anchor, name, sample.node.deep_clone())]
        changes += [Rewrite.replace(use.replaced, cst.Name(name)) for use in uses]
        title = f"Convert `{variable}` once into `{name}`"
        self.report(uses[0].node, message, rewrite=Rewrite(applicability, tuple(changes), title=title))

    def _report_helpers(self, module: cst.Module, scope: FunctionScope, variable: str, uses: Sequence[_Use]) -> None:
        helpers = list(dict.fromkeys(use.helper.function.name for use in uses if use.helper is not None))
        sample = next(use.helper for use in uses if use.helper is not None)
        caller = _definition(scope).name.value
        chain = sample.chain or ".numpy()"
        message = (
            f"`{variable}` is converted to the host separately by {_enumerate(helpers)} (`{chain}`)"
            f"{_cost_of_chain(chain)}; convert it once in `{caller}` and pass the array"
        )
        caller_verdict = self._verdict(scope, variable, uses)
        if not caller_verdict.same_value:
            return
        verdict = self._helpers_verdict(module, scope, caller_verdict, uses)
        region = verdict.region
        if region is None or verdict.applicability is None:
            self.report(uses[0].node, f"{message} (no fix: {verdict.reason})")
            return
        name = self._new_local(scope, region.anchor, f"{variable}_np")
        value = _rebased(sample.template, variable) if sample.template else _call(cst.Name(variable), "numpy")
        changes = [_insert_binding(region.anchor, name, value)]
        changes += [Rewrite.replace(use.replaced, cst.Name(name)) for use in uses]
        changes += self._polymorphic_helpers(module, [use.helper for use in uses if use.helper is not None])
        title = f"Convert `{variable}` once into `{name}` and let {_enumerate(helpers)} accept arrays"
        self.report(uses[0].node, message, rewrite=Rewrite(verdict.applicability, tuple(changes), title=title))

    def _new_local(self, scope: FunctionScope, anchor: cst.CSTNode, base: str) -> str:
        name = fresh_name(self, anchor, base, avoid=self._handed_out[scope])
        self._handed_out[scope].add(name)
        return name

    def _polymorphic_helpers(self, module: cst.Module, helpers: Iterable[ParameterUse]) -> list[Change]:
        """Rewrite each helper's conversions so that it accepts an array as well as a tensor."""
        distinct = list({(id(helper.function.definition), helper.param): helper for helper in helpers}.values())
        pending = [helper for helper in distinct if helper.conversions]
        if not pending:
            return []
        alias, import_change = self._numpy_alias(module, [helper.function.definition for helper in pending])
        changes = [import_change] if import_change is not None else []
        for helper in pending:
            for conversion in helper.conversions:
                spelled = _array_or_tensor(conversion, helper.param, alias, self._stands_alone(conversion.node))
                changes.append(Rewrite.replace(conversion.node, spelled))
        return changes

    def _stands_alone(self, node: cst.CSTNode) -> bool:
        """Whether ``node`` is a whole argument, assigned value or returned value (no parentheses needed)."""
        above = parent(self, node)
        return isinstance(above, (cst.Arg, cst.Assign, cst.Return)) and getattr(above, "value", None) is node

    def _numpy_alias(self, module: cst.Module, definitions: Sequence[cst.FunctionDef]) -> tuple[str, Optional[Change]]:
        """The module's own name for numpy if every helper sees it, else a free alias and the import to add."""
        for small in _module_imports(module):
            for alias in small.names:
                if _dotted(alias.name) != "numpy":
                    continue
                bound = _dotted(alias.asname.name) if alias.asname is not None else "numpy"
                if all(self._sees_import(definition, bound, small) for definition in definitions):
                    return bound, None
        name = fresh_name(self, module.body[0], "np")
        return name, _insert_import(module, name)

    def _sees_import(self, definition: cst.FunctionDef, bound: str, statement: cst.Import) -> bool:
        assignments = list(self.get_metadata(ScopeProvider, definition.body)[bound])
        return bool(assignments) and all(
            isinstance(assignment, ImportAssignment) and assignment.node is statement for assignment in assignments
        )

    # -- small queries -----------------------------------------------------------------------------------

    def _sorted(self, uses: Iterable[_Use]) -> list[_Use]:
        return sorted(uses, key=lambda use: self._start(use.node))

    def _start(self, node: cst.CSTNode) -> tuple[int, int]:
        start = self.get_metadata(PositionProvider, node).start
        return (start.line, start.column)

    def _ends_before(self, node: cst.CSTNode, other: cst.CSTNode) -> bool:
        end = self.get_metadata(PositionProvider, node).end
        return (end.line, end.column) <= self._start(other)

    def _is_within(self, node: cst.CSTNode, container: cst.CSTNode) -> bool:
        return node is container or any(ancestor is container for ancestor in ancestors(self, node))

    def _exclusive(self, uses: Sequence[_Use]) -> bool:
        """Whether at most one of the uses can run: all in different arms of the same ifs, or each in a
        `return` of its own (the first `return` that runs ends the call: keras' `get_value`)."""
        returns = [self._own_return(use.node) for use in uses]
        if all(returns) and len({id(statement) for statement in returns}) == len(returns):
            return True
        return all(
            mutually_exclusive(self, first.node, second.node) for i, first in enumerate(uses) for second in uses[i + 1 :]
        )

    def _own_return(self, node: cst.CSTNode) -> Optional[cst.Return]:
        """The `return` statement whose value holds ``node``, if ``node`` runs as part of it (not later, in a
        lambda or a generator) and the function surely ends there: inside `try` / `with`, an exception raised
        after the conversion (`return float(x.numpy().sum())`) may be caught and the function go on, so there
        the conversion must be the whole returned value."""
        for ancestor in ancestors(self, node):
            if isinstance(ancestor, cst.Return):
                guarded = any(isinstance(outer, (cst.Try, cst.TryStar, cst.With)) for outer in self._ancestors_in_function(ancestor))
                return ancestor if ancestor.value is node or not guarded else None
            if isinstance(ancestor, (cst.BaseSmallStatement, cst.BaseCompoundStatement, cst.Lambda, cst.BaseComp)):
                return None
        return None

    def _ancestors_in_function(self, node: cst.CSTNode) -> Iterable[cst.CSTNode]:
        for ancestor in ancestors(self, node):
            if isinstance(ancestor, (cst.FunctionDef, cst.Lambda)):
                return
            yield ancestor

    def _region_statement(self, node: cst.CSTNode, region: Region) -> cst.CSTNode:
        for candidate in (node, *ancestors(self, node)):
            if any(candidate is statement for statement in region.statements):
                return candidate
        return region.anchor


def _parameter_names(definition: cst.FunctionDef) -> set[str]:
    params = definition.params
    return {param.name.value for param in (*params.posonly_params, *params.params, *params.kwonly_params)}


def _ast_names_passed_to_converted_parameters(call: ast.Call, helpers: dict[str, list[tuple[list[str], str]]]) -> list[str]:
    """The names ``call`` passes where a helper of its callee's name converts the parameter (``parameter_for``
    on the ast; a call with ``*``/``**`` arguments binds no parameter there)."""
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


def _ast_positional_names(definition: ast_shapes.Function) -> list[str]:
    return [arg.arg for arg in (*definition.args.posonlyargs, *definition.args.args)]


def _ast_parameter_names(definition: Union[ast_shapes.Function, ast.Lambda]) -> set[str]:
    arguments = definition.args
    return {arg.arg for arg in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs)}


def _ast_may_repeat(tree: ast.Module, name: str, sites: Sequence[ast_shapes.Site]) -> bool:
    """Whether two of the uses of ``name`` (sites in one def) may both run and read the def's variable: not
    in a comprehension's element or a lambda's body that binds ``name`` itself (``_is_variable_of``), and
    not in different arms of one ``if`` or conditional expression (``mutually_exclusive``)."""
    if len(sites) < 2:
        return False
    paths = ast_shapes.paths(sites[0].function or tree, [site.node for site in sites])
    chains = [paths[id(site.node)] for site in sites if not _ast_bound_on_the_way(paths[id(site.node)], name)]
    return any(not _ast_different_arms(first, second) for i, first in enumerate(chains) for second in chains[i + 1 :])


def _ast_bound_on_the_way(path: list[ast.AST], name: str) -> bool:
    """Whether a comprehension or lambda on ``path`` binds ``name`` for the part of it the path goes through."""
    for node, child in zip(path, path[1:]):
        if isinstance(node, ast.Lambda) and child is node.body:
            if name in _ast_parameter_names(node):
                return True
        elif isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            elements = (node.key, node.value) if isinstance(node, ast.DictComp) else (node.elt,)
            targets = [target for generator in node.generators for target in ast.walk(generator.target)]
            if any(child is element for element in elements) and any(
                isinstance(target, ast.Name) and target.id == name for target in targets
            ):
                return True
    return False


def _ast_different_arms(first: list[ast.AST], second: list[ast.AST]) -> bool:
    """Whether the nodes at the ends of two root paths meet at an ``if`` / conditional expression, one in its
    body and the other in its ``else`` (or ``elif``) arm."""
    common = 0
    while common < min(len(first), len(second)) and first[common] is second[common]:
        common += 1
    if common in (0, len(first), len(second)):
        return False  # one node holds the other
    fork, one, other = first[common - 1], first[common], second[common]
    if isinstance(fork, ast.If):
        arms = {id(node): "body" for node in fork.body} | {id(node): "orelse" for node in fork.orelse}
    elif isinstance(fork, ast.IfExp):
        arms = {id(fork.body): "body", id(fork.orelse): "orelse"}
    else:
        return False
    return id(one) in arms and id(other) in arms and arms[id(one)] != arms[id(other)]


def _callee_name(call: cst.Call) -> Optional[str]:
    if isinstance(call.func, cst.Name):
        return call.func.value
    return call.func.attr.value if isinstance(call.func, cst.Attribute) else None


def _owner_scope(visitor: Rule, node: cst.CSTNode) -> Optional[FunctionScope]:
    """The scope of the ``def`` whose body evaluates ``node`` (lambdas, comprehensions and classes climbed)."""
    scope = visitor.get_metadata(ScopeProvider, node, None)
    while scope is not None and not isinstance(scope, GlobalScope):
        if isinstance(scope, FunctionScope) and isinstance(scope.node, cst.FunctionDef):
            return scope
        scope = scope.parent
    return None


def _definition(scope: FunctionScope) -> cst.FunctionDef:
    """The ``def`` of a scope collected by ``_owner_scope`` (never a lambda's)."""
    assert isinstance(scope.node, cst.FunctionDef)
    return scope.node


def _is_variable_of(visitor: Rule, name: cst.BaseExpression, scope: FunctionScope) -> bool:
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


def _array_or_tensor(conversion: Conversion, param: str, numpy: str, stands_alone: bool) -> cst.BaseExpression:
    """``np.asarray(p)`` for a bare ``p.numpy()``, else ``(p if isinstance(p, np.ndarray) else <conversion>)``."""
    if conversion.bare_numpy:
        return cst.Call(cst.Attribute(cst.Name(numpy), cst.Name("asarray")), [cst.Arg(cst.Name(param))])
    test = cst.Call(
        cst.Name("isinstance"), [cst.Arg(cst.Name(param)), cst.Arg(cst.Attribute(cst.Name(numpy), cst.Name("ndarray")))]
    )
    parentheses = {} if stands_alone else {"lpar": [cst.LeftParen()], "rpar": [cst.RightParen()]}
    return cst.IfExp(test=test, body=cst.Name(param), orelse=conversion.node.deep_clone(), **parentheses)


def _rebased(template: Conversion, variable: str) -> cst.BaseExpression:
    """The chain of ``template`` applied to ``variable``."""
    value: cst.BaseExpression = cst.Name(variable)
    for step in template.steps:
        assert isinstance(step.func, cst.Attribute)
        value = step.with_changes(func=step.func.with_changes(value=value))
    return value


def _call(receiver: cst.BaseExpression, method: str) -> cst.Call:
    return cst.Call(cst.Attribute(receiver, cst.Name(method)))


def _insert_binding(anchor: cst.CSTNode, name: str, value: cst.BaseExpression) -> Change:
    """Put ``name = value`` right before ``anchor``, taking over its leading comments and blank lines."""
    assign = cst.Assign(targets=[cst.AssignTarget(cst.Name(name))], value=value)
    if isinstance(anchor, cst.BaseSmallStatement):
        return (anchor, lambda updated: cst.FlattenSentinel([assign, updated]))

    def change(updated: cst.CSTNode) -> cst.FlattenSentinel:
        assert isinstance(updated, (cst.SimpleStatementLine, cst.BaseCompoundStatement))
        line = cst.SimpleStatementLine([assign], leading_lines=updated.leading_lines)
        return cst.FlattenSentinel([line, updated.with_changes(leading_lines=())])

    return (anchor, change)


def _insert_import(module: cst.Module, alias: str) -> Change:
    """``import numpy as <alias>`` after the module's docstring and leading imports."""
    body = list(module.body)
    index = 1 if body and is_docstring(body[0]) else 0
    while index < len(body) - 1 and _is_import_line(body[index]):
        index += 1
    names = [cst.ImportAlias(cst.Name("numpy"), asname=cst.AsName(cst.Name(alias)) if alias != "numpy" else None)]
    line = cst.SimpleStatementLine([cst.Import(names)])
    return (body[index], lambda updated: cst.FlattenSentinel([line, updated]))


def _module_imports(module: cst.Module) -> Iterable[cst.Import]:
    for statement in module.body:
        if isinstance(statement, cst.SimpleStatementLine):
            yield from (small for small in statement.body if isinstance(small, cst.Import))


def _is_import_line(statement: cst.BaseStatement) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and all(
        isinstance(small, (cst.Import, cst.ImportFrom)) for small in statement.body
    )


def _dotted(node: cst.CSTNode) -> str:
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    return node.value if isinstance(node, cst.Name) else ""


def _arguments_have_effects(call: cst.Call) -> bool:
    return any(may_have_effects(arg.value) for arg in call.args)


def _suffix(conversion: Conversion) -> str:
    return {"tolist": "list", "cpu": "cpu"}.get(conversion.methods[-1], "np")


def _cost(conversion: Conversion) -> str:
    if conversion.methods[-1] == "tolist" and "cpu" not in conversion.methods:
        return _cost_of_chain(conversion.text)
    if "numpy" in conversion.methods and conversion.steps[-1].args:
        return ": each `.numpy(force=True)` may copy"
    if not COPYING_VIEWS.isdisjoint(conversion.methods) and "cpu" not in conversion.methods:
        return ": each `reshape`/`flatten`/`ravel` copies when the tensor is not contiguous"
    return _cost_of_chain(conversion.text)


def _cost_of_chain(chain: str) -> str:
    if ".cpu()" in chain:
        return (
            ": on a CUDA tensor each `.cpu()` is a device-to-host copy and a sync (~15 us for 4k floats on an"
            " H200); on a CPU tensor it costs ~1-3 us and the change is not measurable"
        )
    if chain.endswith(".tolist()"):
        return ": each `.tolist()` builds a new Python list"
    return ": `.numpy()` of a CPU tensor is zero-copy (~1-2 us), so this is tidiness, not speed"


def _enumerate(names: Sequence[str]) -> str:
    quoted = [f"`{name}`" for name in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
