"""PFL104 eval-loop-with-grad."""

from __future__ import annotations

import ast
from typing import Optional

import libcst as cst
from libcst.metadata import ParentNodeProvider, PositionProvider, QualifiedNameProvider, ScopeProvider

from perflint.analysis import ast_shapes
from perflint.analysis.names import dotted_name, is_call_to, literal_string
from perflint.analysis.syntax import TreeIndex, tree_index
from perflint.analysis.torch_context import SET_GRAD_ENABLED, GradMode, grad_context
from perflint.analysis.training_loop import (
    Loop,
    ScopeNode,
    backward_calls,
    enclosing_loops,
    enclosing_scope,
)
from perflint.rule import Invalid, Rewrite, Rule, Valid
from perflint.types import Applicability, FixSafety, MetricImpact

# Any of these in the function says it wants gradients (saliency maps, adversarial inputs, ...).
GRADIENT_METHODS = frozenset({"requires_grad_", "retain_grad"})


class EvalLoopWithGrad(Rule):
    """
    ## What it does
    Finds a loop that calls a model after `model.eval()` (or `model.train(False)`) with autograd still on:
    no `torch.no_grad()` / `torch.inference_mode()` around the call, no `@torch.no_grad()` on the
    function, no `torch.set_grad_enabled(...)` in it, and nothing in the function that uses gradients
    (`.backward()`, `torch.autograd.grad`, `.requires_grad_()`, `requires_grad=True`).

    ## Why is this bad?
    `model.eval()` only switches dropout and batch-norm to inference behaviour; it does not turn autograd
    off. Every forward pass still records a graph and saves the activations backward would need, which
    costs time and memory, and any output kept across batches (a list of predictions, a running loss)
    keeps its batch's whole graph and activations alive: the leak the seed report feared in
    `validate()`. Keeping the outputs of an MLP (256 -> 1024 x 2 -> 8, batches of 1,024) in eval mode
    held 885 MiB of GPU memory after 50 batches with grad on against 35 MiB under `torch.no_grad()`, and
    each batch was 1.07x faster without autograd (H200, torch 2.11); on a CPU, 20 batches held 352 MiB
    of RSS against 11 MiB (torch 2.13), with no measurable speed difference on that loaded 2-core machine
    (`benchmarks/bench_eval_no_grad.py`).

    ## Example
    ```python
    model.eval()
    for x in loader:
        predictions.append(model(x))
    ```

    ## Use instead
    ```python
    model.eval()
    with torch.no_grad():
        for x in loader:
            predictions.append(model(x))
    ```

    ## Fix safety
    Unsafe. Inside `torch.no_grad()` every tensor computed in the loop has `requires_grad=False` and no
    `grad_fn`: a caller that backpropagates through a returned or stored output now raises `element 0 of
    tensors does not require grad`, gradients through such an output silently stop, `requires_grad`
    checks change, and an in-place update of a leaf that requires grad, which raised before, now
    succeeds. The function itself never backpropagates (that is a condition of the rule), so the
    difference is only visible through values that leave the loop. The fix uses the module's own alias
    for `torch` (`import torch as T` gives `T.no_grad()`) and adds `import torch` when there is none.

    ## Metric impact
    May change, in the last bits: some modules take a different kernel when autograd is off. In eval
    mode, `nn.TransformerEncoder` / `nn.TransformerEncoderLayer` use their fused "fast path" only when
    grad is disabled (or no parameter requires grad); their outputs differed by up to 7.2e-7 from the
    grad-on outputs in `benchmarks/bench_eval_no_grad.py`, on CPU and on CUDA. `nn.Linear`, `nn.LSTM`, `nn.MultiheadAttention`
    and activations gave bit-identical outputs there.

    ## Known problems
    "After `model.eval()`" is decided by source position within one function: the last `M.eval()` /
    `M.train(...)` before the loop wins, even if it sits in a branch. A `no_grad` in a caller (grad mode
    is dynamic) is invisible, so a helper that is only ever called under `no_grad` is reported. Only
    calls of the very name `eval()` was called on (`model`, `self.model`) count as model calls. A loop
    that yields or awaits is reported without a fix: grad mode is per-thread state, so a `no_grad` block
    suspended at a `yield` would also disable autograd in the generator's consumer between items
    (`@torch.no_grad()` on a generator function handles that; a `with` block does not).

    ## Options
    None.

    ## References
    - `torch.no_grad`, `torch.inference_mode` and `nn.Module.eval` documentation (the last notes that
      `eval()` is not a replacement for `no_grad`).
    - PyTorch "Autograd mechanics": locally disabling gradient computation.
    """

    code = "PFL104"
    name = "eval-loop-with-grad"
    message = "model called in a loop after `.eval()` with autograd still on"
    fix_title = "Wrap the loop in `torch.no_grad()`"
    fix_safety = FixSafety.UNSAFE
    metric_impact = MetricImpact.MAY_CHANGE
    required_tokens = (".eval()", ".train(False)")
    METADATA_DEPENDENCIES = (PositionProvider, ParentNodeProvider, QualifiedNameProvider, ScopeProvider)

    valid = (
        Valid(
            """
            import torch
            def evaluate(model, loader):
                model.eval()
                with torch.no_grad():
                    return [model(x) for x in loader]
            """
        ),
        Valid(
            """
            import torch
            def evaluate(model, loader):
                model.eval()
                with torch.no_grad():
                    for x in loader:
                        print(model(x))
            """
        ),
        Valid(
            """
            def saliency(model, loader):
                model.eval()
                for x in loader:
                    x.requires_grad_()
                    model(x).sum().backward()
            """
        ),
        Valid(
            """
            def evaluate(model, loader):
                model.eval()
                model.train()
                for x in loader:
                    print(model(x))
            """
        ),
    )
    invalid = (
        Invalid(
            """
            import torch as T

            def evaluate(model, loader):
                model.eval()
                outputs = []
                # one forward per batch
                for x in loader:
                    outputs.append(model(x))
                return T.cat(outputs)
            """,
            fixed="""
            import torch as T

            def evaluate(model, loader):
                model.eval()
                outputs = []
                # one forward per batch
                with T.no_grad():
                    for x in loader:
                        outputs.append(model(x))
                return T.cat(outputs)
            """,
            applicability=Applicability.UNSAFE,
            message_contains="`model.eval()` does not disable autograd",
        ),
        Invalid(
            """
            from torch import nn

            class Runner:
                def score(self, batches):
                    self.net.eval()
                    total = 0
                    for batch in batches:
                        total += self.net(batch).sum().item()
                    return total
            """,
            fixed="""
            from torch import nn
            import torch

            class Runner:
                def score(self, batches):
                    self.net.eval()
                    total = 0
                    with torch.no_grad():
                        for batch in batches:
                            total += self.net(batch).sum().item()
                    return total
            """,
            applicability=Applicability.UNSAFE,
        ),
    )

    @classmethod
    def could_match(cls, tree: ast.Module) -> bool:
        """Whether ``tree`` puts some ``m`` in eval mode (``m.eval()`` / ``m.train(False)``) and calls ``m(...)``
        in a loop: ``_unguarded_model_call``'s shape, in any order and scope."""
        calls = ast_shapes.shapes(tree).calls()
        models = {model for site in calls if (model := _ast_eval_switch(site.node)) is not None}
        return bool(models) and any(
            ast_shapes.dotted_name(site.node.func) in models for site in ast_shapes.in_loops(calls)
        )

    def visit_Module(self, node: cst.Module) -> None:
        self._torch_alias = _torch_alias(node)

    def visit_For(self, node: cst.For) -> None:
        self._check(node)

    def visit_While(self, node: cst.While) -> None:
        self._check(node)

    def _check(self, loop: Loop) -> None:
        index = tree_index(self, loop)
        scope = enclosing_scope(self, loop)
        if index.memo(("PFL104 wants gradients", scope), lambda: self._wants_gradients(index, scope)):
            return
        call = self._unguarded_model_call(index, loop, scope)
        if call is None:
            return
        # Only the outermost such loop is reported: wrapping it covers the loops inside.
        if any(self._unguarded_model_call(index, outer, scope) is not None for outer in enclosing_loops(self, loop)):
            return
        model = dotted_name(call.func)
        message = (
            f"`{model}` is called in a loop after `{model}.eval()` with autograd on: `{model}.eval()` does not "
            "disable autograd, so every batch records a graph and saves activations; wrap the loop in "
            "`torch.no_grad()`"
        )
        if index.same_scope(loop, cst.Yield, cst.Await):
            # Grad mode is thread state: a `with no_grad()` suspended at a yield or await stays in force in
            # the caller (or other tasks) until the loop resumes, so the fix would disable their autograd.
            self.report(loop, message + " (no fix: the loop yields or awaits, and the block would stay in force outside)")
            return
        alias = self._torch_alias or "torch"
        imports = () if self._torch_alias else (("torch", None),)
        change = (loop, lambda updated: _wrapped(updated, alias))
        self.report(loop, message, rewrite=Rewrite(Applicability.UNSAFE, (change,), imports=imports))

    def _wants_gradients(self, index: TreeIndex, scope: ScopeNode) -> bool:
        """Whether the function uses autograd on purpose or sets the grad mode itself."""
        if backward_calls(self, scope):
            return True
        for node in index.same_scope(scope, cst.Call):
            if isinstance(node.func, cst.Attribute) and node.func.attr.value in GRADIENT_METHODS:
                return True
            if is_call_to(self, node, SET_GRAD_ENABLED):
                return True
            if any(_is_true_keyword(arg, "requires_grad") for arg in node.args):
                return True
        return False

    def _unguarded_model_call(self, index: TreeIndex, loop: Loop, scope: ScopeNode) -> Optional[cst.Call]:
        """A call, in ``loop``, of a model put in eval mode before the loop, where autograd may be on."""
        return index.memo(("PFL104 unguarded call", loop), lambda: self._first_unguarded_call(index, loop, scope))

    def _first_unguarded_call(self, index: TreeIndex, loop: Loop, scope: ScopeNode) -> Optional[cst.Call]:
        models = self._models_in_eval_mode(index, loop, scope)
        if not models:
            return None
        calls = index.same_scope_where(loop.body, cst.Call, "call of a dotted name", _calls_dotted_name)
        for node in calls:
            if dotted_name(node.func) in models and grad_context(self, node).mode is GradMode.UNKNOWN:
                return node
        return None

    def _models_in_eval_mode(self, index: TreeIndex, loop: Loop, scope: ScopeNode) -> set[str]:
        """Names whose last ``.eval()`` / ``.train(...)`` call before ``loop`` in its function is an eval."""
        loop_start = self._start(loop)
        latest: dict[str, tuple[tuple[int, int], bool]] = {}
        for node, model, is_eval in index.memo(("PFL104 mode switches", scope), lambda: self._mode_switches(index, scope)):
            position = self._start(node)
            if position < loop_start and (model not in latest or latest[model][0] < position):
                latest[model] = (position, is_eval)
        return {model for model, (_position, is_eval) in latest.items() if is_eval}

    def _mode_switches(self, index: TreeIndex, scope: ScopeNode) -> list[tuple[cst.Call, str, bool]]:
        """Every ``M.eval()`` / ``M.train(...)`` of ``scope`` (not in nested scopes), with ``M`` and whether it is an eval."""
        switches = []
        for node in index.same_scope(scope, cst.Call):
            mode = _mode_switch(node)
            if mode is not None:
                switches.append((node, *mode))
        return switches

    def _start(self, node: cst.CSTNode) -> tuple[int, int]:
        start = self.get_metadata(PositionProvider, node).start
        return (start.line, start.column)


def _calls_dotted_name(call: cst.Call) -> bool:
    return dotted_name(call.func) is not None


def _mode_switch(node: cst.CSTNode) -> Optional[tuple[str, bool]]:
    """``("model", True)`` for ``model.eval()`` / ``model.train(False)``, ``("model", False)`` for ``model.train()``."""
    if not (isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)):
        return None
    model = dotted_name(node.func.value)
    method = node.func.attr.value
    if model is None:
        return None
    if method == "eval" and not node.args:
        return (model, True)
    if method == "train":
        is_eval = len(node.args) == 1 and isinstance(node.args[0].value, cst.Name) and node.args[0].value.value == "False"
        return (model, is_eval)
    return None


def _ast_eval_switch(call: ast.Call) -> Optional[str]:
    """``"model"`` for ``model.eval()`` / ``model.train(False)`` (``_mode_switch``'s evals), else None."""
    method = ast_shapes.method_name(call)
    if method == "eval" and not ast_shapes.argument_count(call):
        return ast_shapes.dotted_name(call.func.value)
    if method == "train" and ast_shapes.argument_count(call) == 1:
        value = next(ast_shapes.argument_values(call))
        if isinstance(value, ast.Constant) and value.value is False:
            return ast_shapes.dotted_name(call.func.value)
    return None


def _is_true_keyword(arg: cst.Arg, keyword: str) -> bool:
    return (
        arg.keyword is not None
        and arg.keyword.value == keyword
        and not (isinstance(arg.value, cst.Name) and arg.value.value == "False")
        and literal_string(arg.value) is None
    )


def _torch_alias(module: cst.Module) -> Optional[str]:
    """The name a module-level ``import torch`` / ``import torch as T`` / ``import torch.nn`` binds, if any."""
    for statement in module.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if not isinstance(small, cst.Import):
                continue
            for alias in small.names:
                imported = dotted_name(alias.name)
                if alias.asname is None and imported is not None and imported.split(".")[0] == "torch":
                    return "torch"
                if alias.asname is not None and imported == "torch" and isinstance(alias.asname.name, cst.Name):
                    return alias.asname.name.value
    return None


def _wrapped(loop: cst.CSTNode, alias: str) -> cst.With:
    """``with <alias>.no_grad():`` around ``loop``, which keeps its comments inside and its blank lines outside."""
    assert isinstance(loop, (cst.For, cst.While))
    blank = [line for line in loop.leading_lines if line.comment is None]
    comments = [line for line in loop.leading_lines if line.comment is not None]
    context = cst.Call(func=cst.Attribute(value=cst.Name(alias), attr=cst.Name("no_grad")))
    return cst.With(
        items=[cst.WithItem(item=context)],
        body=cst.IndentedBlock(body=[loop.with_changes(leading_lines=[])]),
        leading_lines=[*blank, *comments],
    )
