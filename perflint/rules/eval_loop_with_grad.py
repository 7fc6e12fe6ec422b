"""PFL104 eval-loop-with-grad."""

from __future__ import annotations

import ast
from typing import Collection, Optional

import libcst as cst
from libcst.metadata import ParentNodeProvider, PositionProvider, QualifiedNameProvider, ScopeProvider

from perflint.analysis import ast_shapes
from perflint.analysis.names import callee_name, dotted_name, is_call_to, literal_string
from perflint.analysis.syntax import TreeIndex, tree_index
from perflint.analysis.local_calls import called_function, parameter_for
from perflint.analysis.torch_context import ENABLE_GRAD, SET_GRAD_ENABLED, GradMode, grad_context, grad_disabled_on_ast
from perflint.analysis.training_loop import (
    Loop,
    ScopeNode,
    backward_calls,
    enclosing_loops,
    enclosing_scope,
    optimizer_steps,
)
from perflint.import_table import imported_names
from perflint.rule import Invalid, Rewrite, Rule, Valid
from perflint.types import Applicability, FixSafety, MetricImpact

# Any of these in the function says it wants gradients (saliency maps, adversarial inputs, ...).
GRADIENT_METHODS = frozenset({"requires_grad_", "retain_grad"})
# Setting the grad mode by hand (as a statement, a `with` or a decorator) says the function manages it itself.
GRAD_MODE_SETTERS = SET_GRAD_ENABLED | ENABLE_GRAD
# How many calls deep local functions and methods are followed, for gradients and for model calls.
HELPER_DEPTH = 2
# Methods that run a module's forward pass: `model.forward(x)`, `model.predict(x)` (Lightning, sklearn-style).
INFERENCE_METHODS = frozenset({"forward", "predict"})
MESSAGE_LIMIT = 100


class EvalLoopWithGrad(Rule):
    """
    ## What it does
    Finds a loop that runs a model after `model.eval()` (or `model.train(False)`) with autograd still on:
    no `torch.no_grad()` / `torch.inference_mode()` around the call, no `@torch.no_grad()` on the
    function, no `torch.set_grad_enabled(...)` / `torch.enable_grad()` in it, and nothing in the function
    or in the local functions it calls that uses gradients (see *Fix safety*).

    The model runs when the loop calls it (`model(x)`), an inference entry point of it (`model.forward(x)`,
    `model.predict(x)`), or a function of the same module that does, up to two calls deep: a method of the
    same class called through `self` (`self._process_one_batch(x)` running `self.model(x)`), or a
    module-level function the model is passed to (`run(model, x)`). The `.eval()` may be in the loop's
    function, before the loop, or in the callers of that function: when every call of it in the module
    comes after an `.eval()` of the model it passes (`model.eval(); evaluate(model, loader)`, or
    `self.model.eval(); self._validate()`) and none runs under `no_grad`, its loop counts as an
    evaluation loop.

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
    `grad_fn`. The wrap changes behaviour in these ways:
    - code in the loop that needs gradients raises or changes: `.backward()` / `torch.autograd.backward`
      (`element 0 of tensors does not require grad`), `torch.autograd.grad` (the same error), an optimizer
      step (its parameters get no new gradients), `requires_grad_()` / `retain_grad()` on a computed
      tensor, `torch.enable_grad()` / `torch.set_grad_enabled(...)` regions (a grad mode set inside is no
      longer undone to "on" at the end). The rule reports nothing where it sees one of these in the loop's
      function (anywhere in it, not in nested functions) or in a local function or method that function
      calls, up to two calls deep (`f(...)` reaches every `def f` of the module outside a class body,
      `self.m(...)` every method `m` of the class): an FGSM-style attack helper using
      `torch.autograd.grad` inside an evaluation loop is not reported. It cannot see these in a function
      of another module, one reached through a variable, a callback or `getattr`, a subclass override, or
      a callee more than two calls deep: there the wrap can make the loop raise;
    - values that leave the loop have no graph: a caller that backpropagates through a returned or stored
      output now raises `element 0 of tensors does not require grad`, gradients through such an output
      silently stop, `requires_grad` checks change, and an in-place update of a leaf that requires grad,
      which raised before, now succeeds.
    The fix uses the module's own alias for `torch` (`import torch as T` gives `T.no_grad()`) and adds
    `import torch` when there is none.

    ## Metric impact
    May change, in the last bits: some modules take a different kernel when autograd is off. In eval
    mode, `nn.TransformerEncoder` / `nn.TransformerEncoderLayer` use their fused "fast path" only when
    grad is disabled (or no parameter requires grad); their outputs differed by up to 7.2e-7 from the
    grad-on outputs in `benchmarks/bench_eval_no_grad.py`, on CPU and on CUDA. `nn.Linear`, `nn.LSTM`, `nn.MultiheadAttention`
    and activations gave bit-identical outputs there.

    ## Known problems
    "After `model.eval()`" is decided by source position within one function: the last `M.eval()` /
    `M.train(...)` before the loop wins, even if it sits in a branch. A `no_grad` in a caller (grad mode
    is dynamic) is seen only for direct callers in the same module, and only when the `.eval()` evidence
    comes from those callers: a function that switches to eval itself and is only ever called under
    `no_grad` is reported. Only calls of the very name `eval()` was called on (`model`, `self.model`),
    its `forward` / `predict`, and the local functions above count as model calls. On eight held-out
    public repositories every real place where the wrap would have saved memory was missed before the
    helper, entry-point and caller evidence were added (issue #13). A loop
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
    fix_title = "Wrap the loop in `torch.no_grad()`"
    message = "a model runs in a loop after `.eval()` with autograd still on"
    fix_safety = FixSafety.UNSAFE
    unsafe_when = "code the loop calls may need gradients"
    metric_impact = MetricImpact.MAY_CHANGE
    # Not `.eval()` / `.train(False)`: `model.train(mode=False)` and `model.eval ()` switch too.
    required_tokens = (".eval", ".train")
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
        Valid(
            """
            import torch

            def attack(model, x):
                x = x.clone().requires_grad_()
                (grad,) = torch.autograd.grad(model(x).sum(), x)
                return x + 0.1 * grad.sign()

            def robust(model, loader):
                model.eval()
                for x in loader:
                    print(model(attack(model, x)))
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
            message_contains="`model` runs in a loop after `.eval()`",
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
        Invalid(
            """
            import torch

            class Experiment:
                def _process_one_batch(self, batch):
                    return self.model(batch)

                def vali(self, loader):
                    self.model.eval()
                    outputs = []
                    for batch in loader:
                        outputs.append(self._process_one_batch(batch))
                    return outputs
            """,
            fixed="""
            import torch

            class Experiment:
                def _process_one_batch(self, batch):
                    return self.model(batch)

                def vali(self, loader):
                    self.model.eval()
                    outputs = []
                    with torch.no_grad():
                        for batch in loader:
                            outputs.append(self._process_one_batch(batch))
                    return outputs
            """,
            applicability=Applicability.UNSAFE,
            message_contains="`self.model` runs in a loop",
        ),
    )

    @classmethod
    def could_match(cls, tree: ast.Module) -> bool:
        """Whether ``tree`` puts some ``m`` in eval mode (``m.eval()`` / ``m.train(False)``) and, in a loop of the
        call's own function, calls ``m`` (or ``m.forward`` / ``m.predict``), a function or method the module
        defines handing it a model (a helper with a call outside its own grad-disabling contexts that may run
        what it was handed or hand it on), or a model its callers may have evaluated and
        passed (a parameter of the loop's function, or ``self.<rest>`` where some evaluated name ends in
        ``.<rest>``).

        Only loops that can see an eval count: the loop's function (or the module) switches some model itself,
        or is called, by its name and as ``f(...)`` or ``self.f(...)`` (what ``called_function`` resolves), from
        a function that does (``_models_in_eval_mode``); and the function does not backpropagate in its own code
        (``_wants_gradients`` leaves such functions alone). A call that
        ``grad_context`` certainly finds under a grad-disabling context (``with torch.no_grad():``, a
        ``@torch.no_grad()`` def) does not count: ``_first_unguarded_call`` skips it."""
        calls = ast_shapes.shapes(tree).calls()
        switches = [(site.function, model) for site in calls if (model := _ast_eval_switch(site.node)) is not None]
        if not switches:
            return False
        models = {model for _function, model in switches}
        switching = {function for function, _model in switches}
        # Functions called, in a shape `called_function` resolves, from one that switches (`self.model.train()`
        # names no method of the module).
        called_after_eval = {
            ast_shapes.last_name(site.node.func)
            for site in calls
            if isinstance(site.node, ast.Call)
            and site.function is not None
            and site.function in switching
            and ast_shapes.may_call_local_function(site)
        }
        backpropagating = {site.frame for site in calls if ast_shapes.method_name(site.node) == "backward"}
        helpers = _AstHelpers(tree, calls)
        runs = [
            site
            for site in ast_shapes.in_frame_loops(calls)
            if (site.function in switching or (site.function is not None and site.function.name in called_after_eval))
            and site.function not in backpropagating
            and _ast_may_run_model(site, models, helpers)
        ]
        # A call under `torch.no_grad()` (or another grad-mode context) is one the rule leaves alone.
        return bool(runs) and len(grad_disabled_on_ast(tree, runs, imported_names(tree))) < len(runs)

    def visit_Module(self, node: cst.Module) -> None:
        self._torch_alias = _torch_alias(node)

    def visit_For(self, node: cst.For) -> None:
        self._check(node)

    def visit_While(self, node: cst.While) -> None:
        self._check(node)

    def _check(self, loop: Loop) -> None:
        index = tree_index(self, loop)
        scope = enclosing_scope(self, loop)
        if self._wants_gradients(index, scope, HELPER_DEPTH):
            # def attack(model, loader): model.eval(); for x in loader: ... torch.autograd.grad(...) ...
            return
        found = self._unguarded_model_call(index, loop, scope)
        if found is None:
            return
        # Only the outermost such loop is reported: wrapping it covers the loops inside.
        if any(self._unguarded_model_call(index, outer, scope) is not None for outer in enclosing_loops(self, loop)):
            return
        model = found[1]
        message = _message(f"`{model}` runs in a loop after `.eval()` with autograd still on")
        if index.same_scope(loop, cst.Yield, cst.Await):
            # Grad mode is thread state: a `with no_grad()` suspended at a yield or await stays in force in
            # the caller (or other tasks) until the loop resumes, so the fix would disable their autograd.
            self.report(loop, _message(f"`{model}` runs after `.eval()` with autograd on (no fix: the loop yields)"))
            return
        alias = self._torch_alias or "torch"
        imports = () if self._torch_alias else (("torch", None),)
        change = (loop, lambda updated: _wrapped(updated, alias))
        title = f"Wrap the loop in `{alias}.no_grad()`"
        self.report(loop, message, rewrite=Rewrite(Applicability.UNSAFE, (change,), title=title, imports=imports))

    # Gradients ----------------------------------------------------------------------------------------------

    def _wants_gradients(self, index: TreeIndex, function: ScopeNode, depth: int) -> bool:
        """Whether ``function`` (not its nested scopes) uses autograd on purpose or sets the grad mode, itself
        or through a local function or method it calls, up to ``depth`` calls deep."""
        return index.memo(("PFL104 wants gradients", function, depth), lambda: self._uses_autograd(index, function, depth))

    def _uses_autograd(self, index: TreeIndex, function: ScopeNode, depth: int) -> bool:
        if backward_calls(self, function) or optimizer_steps(self, function):
            return True
        calls = index.same_scope(function, cst.Call)
        for node in calls:
            if isinstance(node.func, cst.Attribute) and node.func.attr.value in GRADIENT_METHODS:
                return True
            if is_call_to(self, node, GRAD_MODE_SETTERS):
                return True
            if any(_is_true_keyword(arg, "requires_grad") for arg in node.args):
                return True
        if depth == 0:
            return False
        return any(
            self._wants_gradients(index, callee, depth - 1)
            for node in calls
            for callee in self._callees(index, node, function)
        )

    def _callees(self, index: TreeIndex, call: cst.Call, caller: ScopeNode) -> list[cst.FunctionDef]:
        """Every function of this module ``call`` may reach, by name: ``f(...)`` reaches each ``def f`` outside a
        class body, ``self.m(...)`` (``self`` the caller's first parameter) each method ``m`` of the caller's
        class. Over-approximated on purpose: this answers "may a callee need gradients?"."""
        functions, methods = index.memo(("PFL104 definitions by name",), lambda: self._definitions(index))
        if isinstance(call.func, cst.Name):
            return functions.get(call.func.value, [])
        if isinstance(call.func, cst.Attribute) and isinstance(caller, cst.FunctionDef):
            owner = self._owner(caller)
            if owner is not None and isinstance(call.func.value, cst.Name) and call.func.value.value == _first_parameter(caller):
                return methods.get((owner, call.func.attr.value), [])
        return []

    def _definitions(
        self, index: TreeIndex
    ) -> tuple[dict[str, list[cst.FunctionDef]], dict[tuple[cst.ClassDef, str], list[cst.FunctionDef]]]:
        functions: dict[str, list[cst.FunctionDef]] = {}
        methods: dict[tuple[cst.ClassDef, str], list[cst.FunctionDef]] = {}
        for definition in index.under(index.module, cst.FunctionDef):
            owner = self._owner(definition)
            if owner is None:
                functions.setdefault(definition.name.value, []).append(definition)
            else:
                methods.setdefault((owner, definition.name.value), []).append(definition)
        return functions, methods

    def _owner(self, function: cst.FunctionDef) -> Optional[cst.ClassDef]:
        """The class whose body defines ``function``, if any."""
        block = self.get_metadata(ParentNodeProvider, function)
        owner = self.get_metadata(ParentNodeProvider, block) if isinstance(block, cst.IndentedBlock) else None
        return owner if isinstance(owner, cst.ClassDef) else None

    # Model calls --------------------------------------------------------------------------------------------

    def _unguarded_model_call(self, index: TreeIndex, loop: Loop, scope: ScopeNode) -> Optional[tuple[cst.Call, str]]:
        """A call in ``loop`` that runs a model put in eval mode before the loop, where autograd may be on, and
        the model's name."""
        return index.memo(("PFL104 unguarded call", loop), lambda: self._first_unguarded_call(index, loop, scope))

    def _first_unguarded_call(self, index: TreeIndex, loop: Loop, scope: ScopeNode) -> Optional[tuple[cst.Call, str]]:
        models = self._models_in_eval_mode(index, loop, scope)
        if not models:
            return None
        for node in index.same_scope(loop.body, cst.Call):
            if grad_context(self, node).mode is not GradMode.UNKNOWN:
                continue
            model = self._model_run_by(index, node, models, scope, HELPER_DEPTH)
            if model is not None:
                return node, model
        return None

    def _model_run_by(
        self, index: TreeIndex, call: cst.Call, models: Collection[str], caller: ScopeNode, depth: int
    ) -> Optional[str]:
        """Which of ``models`` ``call`` runs: ``m(x)``, ``m.forward(x)``, ``m.predict(x)``, or a local function or
        method (up to ``depth`` calls deep) that runs it with autograd possibly on; else None."""
        spelled = dotted_name(call.func)
        if spelled in models:
            return spelled
        if isinstance(call.func, cst.Attribute) and call.func.attr.value in INFERENCE_METHODS:
            receiver = dotted_name(call.func.value)
            if receiver in models:
                return receiver
        if depth == 0 or not isinstance(caller, cst.FunctionDef):
            return None
        callee = called_function(self, call, caller)
        if callee is None:
            return None
        # Names the models have inside the callee: `self.model` stays `self.model` for a method called through
        # `self` (same first parameter name required), a model passed as an argument is the parameter's name.
        inside: dict[str, str] = {}
        if callee.owner is not None:
            own, theirs = _first_parameter(caller), _first_parameter(callee.definition)
            for model in models:
                if own is not None and theirs is not None and model.startswith(own + "."):
                    inside[theirs + model[len(own) :]] = model
        for arg in call.args:
            passed = dotted_name(arg.value)
            if passed is not None and passed in models:
                parameter = parameter_for(callee, call, arg)
                if parameter is not None:
                    inside[parameter] = passed
        if not inside or self._wants_gradients(index, callee.definition, 0):
            # def _step(self, x): out = self.model(x); out.sum().backward()  -- a training step, not inference
            return None
        key = ("PFL104 model run inside", callee.definition, frozenset(inside), depth)
        run = index.memo(key, lambda: self._model_run_inside(index, callee.definition, frozenset(inside), depth))
        return None if run is None else inside[run]

    def _model_run_inside(
        self, index: TreeIndex, function: cst.FunctionDef, models: frozenset[str], depth: int
    ) -> Optional[str]:
        """Which of ``models`` (names inside ``function``) a call of ``function`` runs with autograd possibly on."""
        for inner in index.same_scope(function, cst.Call):
            if grad_context(self, inner).mode is not GradMode.UNKNOWN:
                # @torch.no_grad() def _predict(self, x): return self.model(x)  -- already guarded
                continue
            run = self._model_run_by(index, inner, models, function, depth - 1)
            if run is not None:
                return run
        return None

    # Eval mode ----------------------------------------------------------------------------------------------

    def _models_in_eval_mode(self, index: TreeIndex, loop: Loop, scope: ScopeNode) -> set[str]:
        """Names whose last ``.eval()`` / ``.train(...)`` call before ``loop`` in its function is an eval; for a
        name the function never switches, an eval in a caller (same module) before every call of the function
        that passes the model counts as well."""
        latest = self._latest_switches(index, scope, index.order(loop))
        models = {model for model, is_eval in latest.items() if is_eval}
        if isinstance(scope, cst.FunctionDef):
            models |= {model for model in self._evaluated_by_callers(index, scope) if model not in latest}
        return models

    def _latest_switches(self, index: TreeIndex, scope: ScopeNode, before: int) -> dict[str, bool]:
        """Each name's last mode switch in ``scope`` before ``before``: True for an eval, False for ``train()``."""
        latest: dict[str, tuple[int, bool]] = {}
        for node, model, is_eval in index.memo(("PFL104 mode switches", scope), lambda: self._mode_switches(index, scope)):
            position = index.order(node)
            if position < before and (model not in latest or latest[model][0] < position):
                latest[model] = (position, is_eval)
        return {model: is_eval for model, (_position, is_eval) in latest.items()}

    def _mode_switches(self, index: TreeIndex, scope: ScopeNode) -> list[tuple[cst.Call, str, bool]]:
        """Every ``M.eval()`` / ``M.train(...)`` of ``scope`` (not in nested scopes), with ``M`` and whether it is an eval."""
        switches = []
        for node in index.same_scope(scope, cst.Call):
            mode = _mode_switch(node)
            if mode is not None:
                switches.append((node, *mode))
        return switches

    def _evaluated_by_callers(self, index: TreeIndex, function: cst.FunctionDef) -> set[str]:
        """The names, inside ``function``, of models that every caller in this module (at least one) has put
        in eval mode before the call, outside ``no_grad``: ``model.eval(); evaluate(model, loader)`` makes
        ``model`` evaluated in ``def evaluate(model, loader)``, ``self.model.eval(); self._validate()`` makes
        ``self.model`` evaluated in ``def _validate(self)``."""
        return index.memo(("PFL104 evaluated by callers", function), lambda: self._caller_evidence(index, function))

    def _caller_evidence(self, index: TreeIndex, function: cst.FunctionDef) -> set[str]:
        # Every call of a function named like this one, `f(...)` and `self.f(...)` alike.
        sites = []
        for call in index.grouped(cst.Call, callee_name, "callee name").get(function.name.value, []):
            caller = enclosing_scope(self, call)
            if isinstance(caller, cst.FunctionDef) and caller is not function:
                sites.append((call, caller, self._latest_switches(index, caller, index.order(call))))
        if not any(is_eval for _call, _caller, latest in sites for is_eval in latest.values()):
            # No caller has put any model in eval mode before its call: no evidence, whichever calls reach
            # `function` (decided before resolving them, which needs the module's scope analysis).
            return set()
        evaluated: Optional[set[str]] = None
        for call, caller, latest in sites:
            callee = called_function(self, call, caller)
            if callee is None or callee.definition is not function:
                continue
            if grad_context(self, call).mode is GradMode.DISABLED:
                # with torch.no_grad(): evaluate(model, loader)  -- this caller already guards it
                return set()
            here: set[str] = set()
            for arg in call.args:
                passed = dotted_name(arg.value)
                parameter = parameter_for(callee, call, arg) if passed is not None else None
                if parameter is not None and passed is not None and latest.get(passed):
                    here.add(parameter)
            if callee.owner is not None:
                own, theirs = _first_parameter(caller), _first_parameter(function)
                for model, is_eval in latest.items():
                    if is_eval and own is not None and theirs is not None and model.startswith(own + "."):
                        here.add(theirs + model[len(own) :])
            # A model counts only if every caller evaluated it (one caller in training mode is enough to doubt).
            evaluated = here if evaluated is None else evaluated & here
        return evaluated or set()


def _message(text: str) -> str:
    """``text``, or the rule's generic message where a long model name would make it too long for a line."""
    return text if len(text) <= MESSAGE_LIMIT else EvalLoopWithGrad.message


def _first_parameter(function: cst.FunctionDef) -> Optional[str]:
    params = [*function.params.posonly_params, *function.params.params]
    return params[0].name.value if params else None


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


def _ast_may_run_model(site: ast_shapes.Site, models: Collection[str], helpers: _AstHelpers) -> bool:
    """Whether the call at ``site`` may run one of ``models`` (every name the module evaluates): it calls one (or
    its ``forward`` / ``predict``) or what its callers may have passed it as a model, or it calls a function or
    method named like one the module defines, hands it a model, and that function may run what it is handed
    (``_model_run_by``'s helpers)."""
    func = site.node.func  # type: ignore[attr-defined]
    if any(_ast_may_be_model(site, name, models) for name in _ast_run_names(func)):
        return True
    if site.function is None or not _ast_hands_model(site, models):
        return False
    return helpers.may_run_handed_model(site, models)


def _ast_run_names(func: ast.expr) -> tuple[Optional[str], Optional[str]]:
    """The names a call of ``func`` may run as a model: ``m`` of ``m(x)``, and ``m`` of ``m.forward(x)`` /
    ``m.predict(x)`` (``_model_run_by``'s direct runs)."""
    run = ast_shapes.dotted_name(func.value) if isinstance(func, ast.Attribute) and func.attr in INFERENCE_METHODS else None
    return ast_shapes.dotted_name(func), run


class _AstHelpers:
    """The functions and methods of a module a helper call may reach, read from Python's ast for ``could_match``:
    does one of them run what the call hands it as a model, where autograd may be on (``_model_run_inside``,
    one call deep; a call it makes of another local function counts as a run)?"""

    def __init__(self, tree: ast.Module, calls: list[ast_shapes.Site]) -> None:
        self._tree = tree
        # Each def's own calls (not those of lambdas, classes or defs inside it), by the def's name: a def that
        # makes no call runs no model.
        self._calls_of: dict[ast_shapes.Function, list[ast_shapes.Site]] = {}
        for site in calls:
            if site.function is not None and site.frame is site.function:
                self._calls_of.setdefault(site.function, []).append(site)
        self._named: dict[str, list[ast_shapes.Function]] = {}
        for function in self._calls_of:
            self._named.setdefault(function.name, []).append(function)
        self._unguarded: dict[int, list[ast_shapes.Site]] = {}

    def may_run_handed_model(self, site: ast_shapes.Site, models: Collection[str]) -> bool:
        call = site.node
        assert isinstance(call, ast.Call)
        # `f(...)` reaches a module-level function, `self.m(...)` a method (whose `self` no argument fills).
        method = isinstance(call.func, ast.Attribute)
        for function in self._named.get(ast_shapes.last_name(call.func) or "", []):
            handed = _ast_handed_names(site, function, models, method)
            if handed and any(self._may_run(inner, handed, method) for inner in self._unguarded_calls(function)):
                return True
        return False

    def _unguarded_calls(self, function: ast_shapes.Function) -> list[ast_shapes.Site]:
        """The calls of ``function``'s own code that are not certainly under a grad-disabling context."""
        if id(function) not in self._unguarded:
            own = self._calls_of[function]
            off = grad_disabled_on_ast(self._tree, own, imported_names(self._tree))
            self._unguarded[id(function)] = [site for site in own if id(site.node) not in off]
        return self._unguarded[id(function)]

    def _may_run(self, site: ast_shapes.Site, handed: Collection[str], method: bool) -> bool:
        """Whether the call at ``site``, inside the helper, may run one of the ``handed`` names (for a method, any
        ``self.<rest>`` as well) or hand one on to another local function."""
        call = site.node
        assert isinstance(call, ast.Call)
        own = ast_shapes.first_parameter(site.function) if method and site.function is not None else None

        def is_handed(name: Optional[str]) -> bool:
            return name is not None and (name in handed or (own is not None and name.startswith(own + ".")))

        if any(is_handed(name) for name in _ast_run_names(call.func)):
            return True
        if not (ast_shapes.may_call_local_function(site) and ast_shapes.last_name(call.func) in self._named):
            return False
        passed = [ast_shapes.dotted_name(value) for value in ast_shapes.argument_values(call)]
        return (own is not None and isinstance(call.func, ast.Attribute)) or any(is_handed(name) for name in passed)


def _ast_handed_names(site: ast_shapes.Site, function: ast_shapes.Function, models: Collection[str], method: bool) -> set[str]:
    """The parameters of ``function`` the call at ``site`` binds to arguments that may be models
    (``parameter_for``), and, for a method, its ``self`` (which carries the caller's ``self.<rest>``)."""
    call = site.node
    assert isinstance(call, ast.Call)
    positional = ast_shapes.positional_parameters(function)[1 if method else 0 :]
    keywords = ast_shapes.parameter_names(function)
    handed = set()
    for position, value in enumerate(call.args):
        if position < len(positional) and _ast_may_be_model(site, ast_shapes.dotted_name(value), models):
            handed.add(positional[position])
    for keyword in call.keywords:
        if keyword.arg in keywords and _ast_may_be_model(site, ast_shapes.dotted_name(keyword.value), models):
            handed.add(keyword.arg)
    if method and any("." in model for model in models):
        first = ast_shapes.first_parameter(function)
        if first is not None:
            handed.add(first)
    return handed


def _ast_may_be_model(site: ast_shapes.Site, name: Optional[str], models: Collection[str]) -> bool:
    """Whether ``name``, spelled at ``site``, may name a model the loop's function sees in eval mode: one the
    module evaluates, or, inside a function, what a caller that evaluated it passed (``_caller_evidence``): a
    parameter's name, or ``self.<rest>`` for a caller's ``self.<rest>.eval()``."""
    if name is None:
        return False
    if name in models:
        return True
    if site.function is None:
        return False
    head, _, rest = name.partition(".")
    return head in ast_shapes.parameter_names(site.function) and (not rest or any(model.endswith("." + rest) for model in models))


def _ast_hands_model(site: ast_shapes.Site, models: Collection[str]) -> bool:
    """Whether the helper call at ``site`` gives its callee a model under some name (``_model_run_by``'s
    ``inside``): an argument that may be a model, or, for ``self.m(...)``, the caller's ``self.<rest>``."""
    call = site.node
    assert isinstance(call, ast.Call)
    if not ast_shapes.may_call_local_function(site):
        return False
    if isinstance(call.func, ast.Attribute) and any("." in model for model in models):
        return True
    if any(isinstance(arg, ast.Starred) for arg in call.args) or any(k.arg is None for k in call.keywords):
        return False  # `parameter_for` binds no parameter through `*args` / `**kwargs`
    return any(_ast_may_be_model(site, ast_shapes.dotted_name(value), models) for value in ast_shapes.argument_values(call))


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
