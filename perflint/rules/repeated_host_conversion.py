"""PFL102 repeated-host-conversion: one tensor converted to the host several times in one function."""

from __future__ import annotations

import ast
from typing import Sequence

import libcst as cst
from libcst.metadata import FunctionScope, ParentNodeProvider, PositionProvider, QualifiedNameProvider, ScopeProvider

from perflint.analysis.conversion_sites import (
    Candidate,
    ConversionSites,
    Use,
    definition_of,
    insert_binding,
    could_repeat,
    short,
)
from perflint.analysis.loop_invariant_conversions import LoopConversion
from perflint.analysis.host_conversions import Conversion, conversion_of, copies_are_unobservable, only_read
from perflint.rule import Invalid, Rewrite, Rule, RuleContext, Valid
from perflint.types import Applicability, FixSafety, MetricImpact


class RepeatedHostConversion(Rule):
    """
    ## What it does
    Finds a tensor converted to the host more than once: in one function, the same chain
    (`x.numpy()`, `x.cpu().numpy()`, `x.detach().cpu().numpy()`, `x.cpu()`, `x.tolist()`, also after
    `view(...)`, `squeeze(...)`, `reshape(...)`, `flatten()`, `ravel()`, `float()`) applied two or more times to a name that is neither
    rebound nor given new storage (`x.data =`, `set_`, `resize_`...) in between; and one such conversion in
    the body of a `for`/`while` loop or the element of a list/set/dict comprehension that converts the same
    tensor in every pass (`[f(x.cpu().numpy(), y) for y in ys]`, `for b in batches: total += metric(
    preds.cpu().numpy(), b)`): the loop binds the name nowhere, mentions it only to read it (the conversion,
    `x.shape`, `x.sum()`; no `x.add_(1)`, no call receiving `x` or `x.data`), calls no in-place method on
    anything and no `.step()`/`.backward()` (an optimizer changes parameters in place), stores no item or
    attribute of a name bound from it (`view = x.view(-1)`, then `view[i] = 0`), and the name is bound
    only to parameters or computed values in the function (not `w = model.weight`, which a module call may
    change in place). A tensor handed to several helpers that each convert it is PFL106's.

    ## Why is this bad?
    On a CUDA tensor every `.cpu()` is a device-to-host copy plus a synchronisation, and each one returns a
    fresh copy: on an H200 (torch 2.11) one `.cpu()` took ~15 us for 3,973 floats and ~0.5 ms for 1M, and
    converting predictions and targets once instead of twice each in an RMSE + IC block took it from 149 us
    to 106 us (1.4x) at n=3,973 and from 13.9 ms to 12.9 ms (1.08x) at n=1M. On a CPU tensor the cost is
    nil: `.numpy()` is zero-copy (1-2 us whatever the size; 3-4 us with `.detach().cpu()`), and hoisting the
    conversions out of a 2-3 ms metric block (RMSE, IC, rank IC) saved about 12 us, nothing measurable
    (torch 2.13, CPU). There the change is about reading one array instead of several. `.tolist()` builds a
    new Python list each time; `reshape`/`flatten`/`ravel` copy when the tensor is not contiguous, and
    `.numpy(force=True)` may copy.

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

    ## Fix safety
    The fix puts one local (`<name>_np`, a fresh name) right before the statement holding the first
    conversion and replaces every conversion with it. It is **safe** for a chain that never copies (bare
    `.numpy()`, `.detach().numpy()`, `.view(...).numpy()`) on a local name when the first conversion runs
    unconditionally, before anything with a side effect in its statement; the name is not rebound and its
    storage, shape or grad flag is not changed in place (`x.data =`, `set_`, `resize_`, `requires_grad_`...)
    between the conversions; between them the tensor is only read (`x.shape`, `x.sum()`, an in-place value
    update such as `x.add_(1)`), never handed to a call or another name (a callee may call
    `x.requires_grad_()`, after which the later conversion raised; `y = x.cpu()`, `x.float()` or
    `x.contiguous()` return `x` itself when nothing needs converting, and `y.set_(...)` then swaps `x`'s
    storage): otherwise **unsafe**; no conversion sits in a lambda or generator; and the function does not use
    `exec`, `eval`, `locals()`, `vars()`, `dir()` or its frame. The array then aliases the tensor exactly as
    each conversion did. Remaining differences, left to the docs: `x.numpy() is x.numpy()` becomes true, and a
    callee that changes the array's *metadata* (`a.shape = ...`, `a.flags.writeable = False`) or swaps the
    tensor's storage through another reference now affects the later uses. A global or closure name gets at
    most an unsafe fix: a call in between may rebind it.
    A chain that may copy (`.cpu()`, `reshape`/`flatten`/`ravel`, `.float()` of a non-float32 tensor,
    `.tolist()`, `.numpy(force=True)`) gives one
    shared copy instead of fresh ones, so an in-place change of the tensor or of one copy becomes visible to
    the other uses (on an H200, `x.add_(1)` between two sums of `x.cpu().numpy()` gave 15.2 then 3988.2;
    with one hoisted copy, 15.2 twice). It is **safe** only when, in addition, each converted value is consumed at once by a
    known-pure callee (numpy reductions and element-wise functions, `np.corrcoef`, `scipy.stats`
    correlations, `sklearn.metrics`, `float`, `len`...), a pure array method (`.mean()`, `.sum()`...) or an
    arithmetic operator, and every call between the conversions is one of those; a call that does not
    receive the tensor can still mutate it through another reference (an optimizer step), so this is
    stricter than a check of the callees that receive it. Otherwise **unsafe**. Hoisting a conversion out of a
    branch, loop, comprehension or conditional expression (when a later conversion runs unconditionally) is
    unsafe: a conversion that raises (grad, bf16, CUDA) now raises where it did not, or earlier. Conversions
    split across the arms of one `if`/`elif`/`else` (at least two of them on one path) are converted once right
    before the `if`: **safe** (for a chain that never copies, with the conditions above) when there is an
    `else`, every arm's first statement converts before doing anything with an effect (or is itself such an
    `if`), and no test of the chain has an effect (`x.ndim == 2`, not `flag()`): the conversion then runs on
    exactly the paths it ran on, before the tests instead of after them, which nothing can observe.
    Otherwise **unsafe**: with no `else`, the path through no arm now converts (a 1-d tensor that requires
    grad made the hoisted `x.numpy()` raise where the original returned); an effect before an arm's conversion
    (`log.append(...)`) no longer happens when the conversion raises; a test with a call may change the
    tensor after the conversion. No fix when the conversions are in different `if` statements with none
    unconditional (`if a: ... x.numpy()` then `if b: ... x.numpy()`: hoisting adds a conversion to the path
    through neither, for no repeat on most paths), in `try`/`with` bodies, lambdas or generators, or when a
    nested function may rebind the name (`nonlocal`).
    A loop-invariant conversion is converted once right before the loop (before the statement holding the
    comprehension) into a fresh local, and the fix is always **unsafe**: the loop may run zero times, and the
    hoisted conversion then runs anyway: a 1-d tensor that requires grad made `preds.cpu().numpy()` raise
    before an empty loop where the original returned 0.0; on a CUDA tensor an empty loop now pays a copy and
    a sync. It also runs before the loop's iterable is evaluated and before the first pass's earlier
    statements, so an exception it raises comes first; and a copying chain (`.cpu()`, `.tolist()`...) gives
    every pass one shared copy, so a callee that changes its argument in place (`values.append(0)` on the
    list of `x.tolist()`) now sees its own earlier changes. No fix when a `try`/`with` in the loop holds the
    conversion, or when the comprehension sits where no statement can go before it. When the name is rebound or its
    storage swapped between the conversions they convert different values: nothing is reported.

    ## Metric impact
    Identical: the values are the same bits; no reduction moves between torch and numpy.

    ## Known problems
    Only local names are tracked: `self.x.numpy()` twice is not reported, since any call in between may
    rebind the attribute. Different chains of one tensor (`x.cpu().numpy()` and `x.cpu().tolist()`) are two
    copies on a GPU but are neither merged nor reported. Module-level code is not reported. In a loop, only
    the innermost loop is asked about (the fix does not go further out), generator expressions are left
    alone (they run later, or never), and a tensor changed in place through another reference that nothing
    in the loop visibly receives (a buffer a module call updates, held by a name bound from a call; a view of
    it passed in as another parameter) is taken to be unchanged. The receiver is taken to be a
    tensor when the chain has `.numpy()`, `.cpu()` or `.detach()`; chains an ndarray also has (`.tolist()`,
    `.reshape(...).tolist()`) are reported only with evidence: a parameter annotated `torch.Tensor` or a
    value built by a `torch.*` call. The rule is on by default although on a CPU
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
    unsafe_when = "a call between the conversions may change the tensor, or a loop runs zero times"
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
        Valid(
            """
            def f(model, loader):
                return [model(b).cpu().numpy() for b in loader] + [x.numpy() for x in loader]
            """
        ),
    )
    invalid = (
        Invalid(
            """
            def f(preds, batches, metric):
                total = 0.0
                for b in batches:
                    total += metric(preds.cpu().numpy(), b)
                return total
            """,
            fixed="""
            def f(preds, batches, metric):
                total = 0.0
                preds_np = preds.cpu().numpy()
                for b in batches:
                    total += metric(preds_np, b)
                return total
            """,
            message_contains="in every pass of a loop in `f`",
            applicability=Applicability.UNSAFE,
        ),
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
            message_contains="computed 2 times in `f`",
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
            message_contains="`p.cpu().numpy()` is computed 2 times",
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
    )

    @classmethod
    def could_match(cls, tree: ast.Module) -> bool:
        """One name converted twice in a def, or in a loop there (``could_repeat``: a shape check)."""
        return could_repeat(tree, through_helpers=False)

    def __init__(self, context: RuleContext) -> None:
        super().__init__(context)
        self._sites = ConversionSites(self)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._sites.enter_function(node)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._sites.leave_function()

    def visit_Call(self, node: cst.Call) -> None:
        self._sites.call(node)

    def visit_For(self, node: cst.For) -> None:
        self._sites.enter_loop()

    def leave_For(self, original_node: cst.For) -> None:
        self._sites.leave_loop()

    def visit_While(self, node: cst.While) -> None:
        self._sites.enter_loop()

    def leave_While(self, original_node: cst.While) -> None:
        self._sites.leave_loop()

    def visit_ListComp(self, node: cst.ListComp) -> None:
        self._sites.enter_loop()

    def leave_ListComp(self, original_node: cst.ListComp) -> None:
        self._sites.leave_loop()

    def visit_SetComp(self, node: cst.SetComp) -> None:
        self._sites.enter_loop()

    def leave_SetComp(self, original_node: cst.SetComp) -> None:
        self._sites.leave_loop()

    def visit_DictComp(self, node: cst.DictComp) -> None:
        self._sites.enter_loop()

    def leave_DictComp(self, original_node: cst.DictComp) -> None:
        self._sites.leave_loop()

    def leave_Module(self, original_node: cst.Module) -> None:
        candidates = self._sites.candidates(original_node)
        for candidate in candidates:
            # Handed to helpers that convert it: PFL106's finding (one fix rewrites caller and helpers).
            if not candidate.through_helpers:
                self._report(candidate)
        for scope, found in self._sites.loop_conversions(candidates):
            self._report_loop(scope, found)

    def _report(self, candidate: Candidate) -> None:
        scope, variable, uses, sample = candidate.scope, candidate.variable, candidate.uses, candidate.sample
        assert sample is not None
        verdict = self._sites.verdict(scope, variable, uses)
        if not verdict.same_value:
            return  # `a = x.numpy(); x = x * 2; b = x.numpy()`: two different values
        message = _message(f"{variable}{sample.text}", len(uses), definition_of(scope).name.value)
        region, applicability = verdict.region, verdict.applicability
        if region is None or applicability is None:
            # Why there is no fix is in the docs' Fix safety section, not the message.
            self.report(uses[0].node, message)
            return
        if applicability is Applicability.SAFE and sample.copies and not self._copies_unobservable(scope, variable, region.statements, uses):
            applicability = Applicability.UNSAFE
        own_steps = {id(step) for use in uses for step in conversion_of(use.node).steps}  # type: ignore[union-attr]
        if applicability is Applicability.SAFE and not only_read(self, region.statements, variable, own_steps):
            # `a = x.numpy(); g(x); b = x.numpy()` where `g` calls `x.requires_grad_()`: the second conversion
            # raised, the hoisted array does not (also through `y = x.cpu()`, which may return `x` itself).
            applicability = Applicability.UNSAFE
        name = self._sites.new_local(scope, region.anchor, f"{variable}_{_suffix(sample)}")
        changes = [insert_binding(region.anchor, name, sample.node.deep_clone())]
        changes += [Rewrite.replace(use.replaced, cst.Name(name)) for use in uses]
        title = f"Convert `{variable}` once into `{name}`"
        self.report(uses[0].node, message, rewrite=Rewrite(applicability, tuple(changes), title=title))

    def _report_loop(self, scope: FunctionScope, found: LoopConversion) -> None:
        conversion = found.conversion
        variable = conversion.receiver_name
        assert variable is not None
        kind = "loop" if isinstance(found.loop, (cst.For, cst.While)) else "comprehension"
        message = _loop_message(f"{variable}{conversion.text}", kind, definition_of(scope).name.value)
        if found.anchor is None or found.guarded:
            # `if [f(x.numpy(), t) for t in ts]:` in an `elif` test: no statement to put it before;
            # `for b in bs: try: f(x.numpy())`: the `try` handles what the conversion raises.
            self.report(conversion.node, message)
            return
        name = self._sites.new_local(scope, found.anchor, f"{variable}_{_suffix(conversion)}")
        changes = (insert_binding(found.anchor, name, conversion.node.deep_clone()), Rewrite.replace(conversion.node, cst.Name(name)))
        # Always unsafe: the loop may run zero times, and the hoisted conversion then runs (and may raise) anyway.
        rewrite = Rewrite(Applicability.UNSAFE, changes, title=f"Convert `{variable}` once before the {kind} into `{name}`")
        self.report(conversion.node, message, rewrite=rewrite)

    def _copies_unobservable(
        self, scope: FunctionScope, variable: str, statements: Sequence[cst.CSTNode], uses: Sequence[Use]
    ) -> bool:
        steps = {id(step) for conversion in self._sites.conversions(scope) for step in conversion.steps}
        return copies_are_unobservable(self, statements, [use.replaced for use in uses], variable, steps)


def _message(chain: str, times: int, function: str) -> str:
    """At most 100 characters: long spellings are cut, the function's name dropped before the chain."""
    message = f"`{short(chain, 48)}` is computed {times} times in `{short(function, 30)}`"
    return message if len(message) <= 100 else f"`{short(chain, 60)}` is computed {times} times in one function"


def _loop_message(chain: str, kind: str, function: str) -> str:
    """At most 100 characters, as ``_message``."""
    message = f"`{short(chain, 40)}` converts the same tensor in every pass of a {kind} in `{short(function, 24)}`"
    return message if len(message) <= 100 else f"`{short(chain, 40)}` converts the same tensor in every pass of a {kind}"


def _suffix(conversion: Conversion) -> str:
    return {"tolist": "list", "cpu": "cpu"}.get(conversion.methods[-1], "np")
