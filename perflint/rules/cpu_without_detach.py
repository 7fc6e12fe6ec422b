"""PFL101 cpu-without-detach."""

from __future__ import annotations

import ast
import sys
from bisect import bisect_left
from typing import Iterator, Optional

import libcst as cst
from libcst.metadata import ParentNodeProvider, PositionProvider, QualifiedNameProvider, ScopeProvider

from perflint.analysis import ast_shapes
from perflint.analysis.names import argument, is_call_to, literal_string, method_call, receiver
from perflint.analysis.syntax import tree_index
from perflint.analysis.torch_context import GradMode, grad_context, grad_disabled_on_ast
from perflint.analysis.bindings import reaching_value
from perflint.analysis.graph_free import (
    FLOAT_METHODS,
    PASS_THROUGH_METHODS,
    ast_is_detached,
    graph_roots,
    integer_valued,
    is_detached,
    proven_graph_free,
    proven_new,
)
from perflint.analysis.torch_values import ReceiverKind, receiver_kind
from perflint.analysis.training_loop import (
    BACKWARD_NAMES,
    backpropagated_names,
    backward_calls,
    enclosing_loops,
    enclosing_scope,
)
from perflint.import_table import imported_names
from perflint.rule import Invalid, Rewrite, Rule, RuleContext, Valid
from perflint.types import Applicability, FixSafety, MetricImpact

KEEPING_METHODS = frozenset({"append", "extend", "insert", "appendleft", "add"})
TORCH_DEVICE = frozenset({"torch.device"})



class CpuWithoutDetach(Rule):
    """
    ## What it does
    Finds tensors copied to the host with `.cpu()` (or `.to("cpu")`) and *kept* (appended to a list, stored
    in a subscript or attribute, accumulated with `+=`, or bound to a name in a loop and read after the loop or
    appended in it) without `.detach()` first. Also finds `x.cpu().detach()` anywhere in a chain (before
    `.numpy()`, `.tolist()`, `.item()` too), and `x.cpu().numpy()` of a tensor that is backpropagated in the same
    function (which raises).

    ## Why is this bad?
    `model.eval()` does not turn autograd off. Outside `torch.no_grad()` / `torch.inference_mode()`, a kept
    `outputs.cpu()` holds the whole forward graph of its batch, so every batch's activations stay alive
    until the list is dropped: over 100 batches of an MLP that was 1.2 GB of RSS against 13 MB with
    `.detach().cpu()`, and the loop ran 1.08-1.41x faster without the graph (CPU, torch 2.13). In a training
    loop that calls `backward()` every batch the saved activations are freed by `backward()`: what stays alive is
    the graph's nodes, a small leak. On a GPU the graph pins device memory. Inside `torch.no_grad()` no new graph
    is recorded: the rewrite is defensive only and saves neither memory nor time (0.97-1.02x, +1-2 us per call).
    `x.cpu().detach()` records a `ToCopyBackward0` node before detaching when grad is on; `.detach().cpu()` never
    does. `.numpy()` of a tensor that requires grad raises `RuntimeError: Can't call numpy() on Tensor that
    requires grad`.

    ## Example
    ```python
    for batch in loader:
        predictions.append(model(batch).cpu())
        scores = model(batch).cpu().detach().numpy()
    ```

    ## Use instead
    ```python
    for batch in loader:
        predictions.append(model(batch).detach().cpu())
        scores = model(batch).detach().cpu().numpy()
    ```

    ## Fix safety
    Inserting `.detach()` is safe only where the kept value is proven not to require grad: it is computed by an
    op that always makes a new tensor (arithmetic, `softmax`, `sum`, `clone`, `torch.cat`, `torch.sigmoid`, ...;
    not a factory with `requires_grad=True`) inside a grad-disabled region (`with torch.no_grad():`,
    `torch.inference_mode()`, `torch.set_grad_enabled(False)`, or `@torch.no_grad()` / `@torch.inference_mode()`,
    resolved by qualified name, no nested `def`/`lambda`/class in between), possibly followed by ops that may
    return their receiver or a view of it (`.float()`, `.to()`, `.view()`, indexing). There `x.detach().cpu()`
    equals `x.cpu()` except for object identity. Measured (torch 2.13): under `no_grad`, `.float()`, `.to()`,
    `.cpu()`, `.contiguous()`, `.type()`, unary `+`, `torch.as_tensor`, `nn.Identity`, `F.dropout` in eval and
    in-place `*_` methods return the very object (a Parameter stays a Parameter), and views (`.view()`,
    `.reshape()`, `[i]`, `.T`) still require grad; so a module's or a user function's output, and anything passed
    through such ops from one, is not proven and the fix is unsafe: the kept value stops requiring grad and
    `.numpy()` on it succeeds where it raised. A region that holds a statement-form `torch.set_grad_enabled(...)`,
    `torch.autograd.set_grad_enabled(...)`, `torch._C._set_grad_enabled(...)` or `torch.enable_grad()` anywhere
    (before the site, or after it in a loop) proves nothing: `set_grad_enabled(True)` turns recording back on
    until the block ends (measured; a bare `torch.enable_grad()` does not, but is counted too). Unsafe elsewhere:
    with grad on, a loss built on the kept copy and backpropagated raises `RuntimeError: element 0 of tensors
    does not require grad` after the fix, an auxiliary loss term built on it silently stops contributing
    gradients, and `torch.stack(kept).requires_grad` changes from True to False. The `.detach()` inserted before
    `.cpu().numpy()` of a backpropagated tensor is unsafe: it turns that `RuntimeError` into an array. Reordering
    `x.cpu().detach()` to `x.detach().cpu()` is safe: measured, both give the same values, dtype,
    `requires_grad=False` and no `grad_fn`, with grad on or off.

    ## Metric impact
    Identical: the values copied to the host are the same bits.

    ## Known problems
    Not reported: values that cannot require grad, i.e. integer and bool tensors (`argmax`, `argsort`,
    comparisons, `.long()`, `.int()`, `.bool()`, `.nonzero()`, `topk(...).indices`, `max(1)[1]`, `.to(torch.long)`,
    constructors with an integer `dtype=`, followed through indexing and the one binding of a name that reaches
    the use, and past in-place `+=`-style updates of one made by a torch function); values provably outside autograd (detached, `.data`, `state_dict()` without
    `keep_vars=True` and what loops, subscripts and method calls reach from it, a local whose every binding is
    made inside a grad-disabling block or from such values); and, under a grad-off region, values that are not evidently computed
    by a call or arithmetic (indexed or unknown values there are often integer ids, labels and masks, and the
    finding would be defensive at best). The dtype of a name bound elsewhere is invisible, so an integer tensor
    without such evidence is reported. Grad mode is dynamic and thread-local: a `no_grad` in a caller, or a
    grad-mode change inside a called function, is invisible here. `.cpu().numpy()` is reported only for names
    backpropagated in the same function. `.detach()` does not exist on every object with `.cpu()`: receivers
    produced by `pack_padded_sequence` / `pack_sequence` are reported without a fix, and receivers that are
    evidently modules are not reported. Results stored into an attribute or bound to a name are reported only when
    the receiver is evidently a computed value, since `self.model = model.cpu()` is common.

    ## Options
    None.

    ## References
    - PyTorch FAQ, "My model reports cuda runtime error(2): out of memory": accumulating history across
      the training loop.
    - `torch.no_grad`, `torch.inference_mode`, `torch.set_grad_enabled` documentation.
    """

    code = "PFL101"
    name = "cpu-without-detach"
    message = "`.cpu()` result is kept without `.detach()`"
    fix_title = "Insert `.detach()` before `.cpu()`"
    fix_safety = FixSafety.SOMETIMES_SAFE
    unsafe_when = "gradients may need to flow through the kept value"
    metric_impact = MetricImpact.IDENTICAL
    required_tokens = (".cpu(", ".to(")
    METADATA_DEPENDENCIES = (PositionProvider, ParentNodeProvider, QualifiedNameProvider, ScopeProvider)

    valid = (
        Valid(
            """
            import torch
            with torch.no_grad():
                for x in loader:
                    preds.append(model(x).detach().cpu())
            """
        ),
        Valid(
            """
            import torch
            model = torch.nn.Linear(3, 3)
            model.cpu()
            model = model.cpu()
            """
        ),
        Valid(
            """
            import torch
            for x in loader:
                preds.append(model(x).cpu().numpy())
                scores.append(model(x).cpu().item())
            """
        ),
        Valid(
            """
            import torch
            def f(model: torch.nn.Module, models):
                models.append(model.cpu())
            """
        ),
        Valid(
            """
            import torch
            for x in loader:
                out = model(x)
                y = out.cpu()
            """
        ),
        Valid(
            """
            import torch
            for batch in loader:
                with torch.no_grad():
                    out = model(batch)
                out = out / out.norm(dim=-1, keepdim=True)
                kept.append(out.cpu())
            """
        ),
        Valid(
            """
            import torch
            for x in loader:
                out = model(x)
                labels.append(out.argmax(dim=-1).cpu())
                hits.append((out > 0).cpu())
                kept.append(out.topk(3).indices.cpu())
                ids.append(out.max(1)[1].cpu())
            """
        ),
    )
    invalid = (
        Invalid(
            """
            import torch
            with torch.no_grad():
                for x in loader:
                    outputs = model(x).softmax(dim=-1)
                    preds.append(outputs.cpu())
            """,
            fixed="""
            import torch
            with torch.no_grad():
                for x in loader:
                    outputs = model(x).softmax(dim=-1)
                    preds.append(outputs.detach().cpu())
            """,
            message_contains="inside torch.no_grad(): no graph is kept",
        ),
        Invalid(
            """
            import torch
            with torch.no_grad():
                for p in model.parameters():
                    kept.append(p.float().cpu())
            """,
            fixed="""
            import torch
            with torch.no_grad():
                for p in model.parameters():
                    kept.append(p.float().detach().cpu())
            """,
            applicability=Applicability.UNSAFE,
            message_contains="the value may require grad",
        ),
        Invalid(
            """
            import torch
            with torch.no_grad():
                torch.set_grad_enabled(True)
                for x in loader:
                    kept.append((model(x) * 2).cpu())
            """,
            fixed="""
            import torch
            with torch.no_grad():
                torch.set_grad_enabled(True)
                for x in loader:
                    kept.append((model(x) * 2).detach().cpu())
            """,
            applicability=Applicability.UNSAFE,
            message_contains="keeps the autograd graph",
        ),
        Invalid(
            """
            import torch as T
            from torch import inference_mode

            @inference_mode()
            def predict(model, loader):
                preds = {}
                for i, x in enumerate(loader):
                    preds[i] = model(x).to("cpu")
                return preds
            """,
            fixed="""
            import torch as T
            from torch import inference_mode

            @inference_mode()
            def predict(model, loader):
                preds = {}
                for i, x in enumerate(loader):
                    preds[i] = model(x).detach().to("cpu")
                return preds
            """,
            applicability=Applicability.UNSAFE,
            message_contains="@torch.inference_mode()",
        ),
        Invalid(
            """
            import torch
            model.eval()
            for x in loader:
                outputs = model(x)
                log.append(outputs.cpu())
            """,
            fixed="""
            import torch
            model.eval()
            for x in loader:
                outputs = model(x)
                log.append(outputs.detach().cpu())
            """,
            applicability=Applicability.UNSAFE,
            message_contains="keeps the autograd graph of every batch alive",
        ),
        Invalid(
            """
            import torch
            for x in loader:
                outputs = model(x)
                kept.append(outputs.cpu().detach())
            """,
            fixed="""
            import torch
            for x in loader:
                outputs = model(x)
                kept.append(outputs.detach().cpu())
            """,
            message_contains="records the copy",
        ),
        Invalid(
            """
            import torch
            def evaluate(model, x, y):
                return model(x).cpu().detach().numpy()
            """,
            fixed="""
            import torch
            def evaluate(model, x, y):
                return model(x).detach().cpu().numpy()
            """,
        ),
        Invalid(
            """
            import torch
            def train(model, loader, opt):
                for x in loader:
                    loss = model(x).sum()
                    loss.backward()
                    log(loss.cpu().numpy())
            """,
            fixed="""
            import torch
            def train(model, loader, opt):
                for x in loader:
                    loss = model(x).sum()
                    loss.backward()
                    log(loss.detach().cpu().numpy())
            """,
            applicability=Applicability.UNSAFE,
            message_contains="raises RuntimeError",
        ),
        Invalid(
            """
            import torch
            for x in loader:
                preds = model(x).cpu()
            report(preds)
            """,
            fixed="""
            import torch
            for x in loader:
                preds = model(x).detach().cpu()
            report(preds)
            """,
            applicability=Applicability.UNSAFE,
        ),
        Invalid(
            """
            import torch
            from torch.nn.utils.rnn import pack_sequence
            with torch.no_grad():
                packed = pack_sequence(seqs)
                kept.append(packed.cpu())
            """,
        ),
        Invalid(
            """
            import torch
            with torch.no_grad():
                for x in loader:
                    total += model(x).to(device=torch.device("cpu"))
            """,
            fixed="""
            import torch
            with torch.no_grad():
                for x in loader:
                    total += model(x).detach().to(device=torch.device("cpu"))
            """,
            applicability=Applicability.UNSAFE,
        ),
    )

    def __init__(self, context: RuleContext) -> None:
        super().__init__(context)
        # id(function) -> (function, names backpropagated in it, whether it calls backward): one walk per function.
        self._backprop_cache: dict[int, tuple[cst.CSTNode, frozenset[str], bool]] = {}

    @classmethod
    def could_match(cls, tree: ast.Module) -> bool:
        """Whether ``tree`` holds a kept host copy: the shape ``visit_Call`` + ``_is_kept`` report, on Python's ast,
        less the copies ``_report_copy`` certainly leaves alone (``_AstCopies``).

        Looser where ast cannot tell: any one-argument call counts as ``torch.device``. Keep it in step
        with ``_is_host_copy`` and ``_is_kept``: anything they accept must pass here.
        """
        shapes = ast_shapes.shapes(tree)
        copies = _AstCopies(tree)
        if any(_ast_may_be_reported(value) and not copies.left_alone(value) for value in _ast_kept_values(tree)):
            return True
        # `x.cpu().detach()` anywhere; `x.cpu().numpy()` (reported only where `x` is differentiated in the function).
        for site in shapes.calls():
            method = ast_shapes.method_name(site.node)
            if method == "detach" and _ast_is_host_copy(site.node.func.value):
                return True
            if method == "numpy" and _ast_is_reported_copy(site.node.func.value) and copies.may_require_grad(site):
                return True
        # `y = x.cpu()` in a loop body, with `y` read after the loop or handed to a keeping method.
        return any(
            site.loop is not None
            and len(site.node.targets) == 1
            and isinstance(site.node.targets[0], ast.Name)
            and _ast_is_reported_copy(site.node.value)
            and copies.may_outlive_loop(site)
            for site in shapes.of(ast.Assign)
        )

    def visit_Call(self, node: cst.Call) -> None:
        if method_call(node, "detach") and self._is_host_copy(receiver(node)):
            self._report_detach_after_copy(node)
        elif method_call(node, "numpy") and self._is_host_copy(receiver(node)):
            self._report_numpy_of_grad(node)
        elif self._is_host_copy(node):
            self._report_copy(node)

    def _is_host_copy(self, node: cst.CSTNode) -> bool:
        call = method_call(node, "cpu", "to")
        if call is None:
            return False
        if call.func.attr.value == "cpu":
            return not call.args
        device = argument(call, 0, "device")
        if len(call.args) != 1 or device is None:
            return False
        if is_call_to(self, device, TORCH_DEVICE) and len(device.args) == 1:
            device = device.args[0].value
        return literal_string(device) == "cpu"

    def _report_detach_after_copy(self, node: cst.Call) -> None:
        copy = receiver(node)
        source = receiver(copy)
        if _is_packed_or_module(self, source):
            # `packed.cpu().detach()`: a PackedSequence or module has no `.detach()`; the reorder would move the
            # AttributeError, not fix anything.
            return
        fixed = copy.with_changes(func=copy.func.with_changes(value=_detached(source)))
        self.report(
            node,
            "`.cpu().detach()` copies before detaching: with grad on, autograd records the copy",
            rewrite=Rewrite(Applicability.SAFE, (Rewrite.replace(node, fixed),), title="Move `.detach()` before `.cpu()`"),
        )

    def _report_numpy_of_grad(self, node: cst.Call) -> None:
        copy = receiver(node)
        source = receiver(copy)
        if not self._requires_grad(source, copy):
            # `out.cpu().numpy()` with no evidence that `out` requires grad (a caller's no_grad, data tensors).
            return
        self.report(
            copy,
            "`.numpy()` of a tensor that requires grad raises RuntimeError",
            rewrite=Rewrite(
                Applicability.UNSAFE,
                ((copy, lambda updated: updated.with_changes(func=updated.func.with_changes(value=_detached(updated.func.value)))),),
                title="Insert `.detach()` before `.cpu()` (turns the RuntimeError into an array)",
            ),
        )

    def _requires_grad(self, source: cst.BaseExpression, node: cst.CSTNode) -> bool:
        """Evidence that ``source`` requires grad: it is built from a name that is backpropagated in the same
        function (``loss.backward()`` ... ``loss.cpu().numpy()``), outside any grad-off context."""
        if grad_context(self, node).mode is GradMode.DISABLED or proven_graph_free(self, source):
            return False
        roots = graph_roots(source)
        return bool(roots) and not roots.isdisjoint(self._backpropagated(node))

    def _backpropagated(self, node: cst.CSTNode) -> frozenset[str]:
        """``backpropagated_names`` of ``node``'s function, computed once per function (linear cost)."""
        scope = enclosing_scope(self, node)
        cached = self._backprop_cache.get(id(scope))
        if cached is None:
            cached = self._backprop_cache[id(scope)] = (scope, backpropagated_names(self, scope), bool(backward_calls(self, scope)))
        return cached[1]

    def _has_backward(self, node: cst.CSTNode) -> bool:
        self._backpropagated(node)
        return self._backprop_cache[id(enclosing_scope(self, node))][2]

    def _report_copy(self, node: cst.Call) -> None:
        source = receiver(node)
        if is_detached(source) or not self._is_kept(node):
            return
        if integer_valued(self, source):
            # `x.argmax(-1).cpu()`, `(x > 0).cpu()`, `x.long().cpu()`: integer and bool tensors cannot require
            # grad, so nothing is kept and there is nothing to detach.
            return
        kind = receiver_kind(self, source)
        if kind is ReceiverKind.MODULE or (self._kept_by_assignment(node) and kind is not ReceiverKind.TENSOR):
            # `self.model = model.cpu()`, `net = net.cpu()` in a loop: the receiver is not evidently a computed value.
            return
        context = grad_context(self, node)
        if context.mode is not GradMode.DISABLED and proven_graph_free(self, source):
            # `with torch.no_grad(): out = model(x)` then `kept.append(out.cpu())` after the block, or a local
            # built from `w.data`: the value never had a graph, so nothing is kept.
            return
        if context.mode is GradMode.DISABLED and not self._float_evident(source):
            # `new_x.append(x[:n, i].cpu())`, `kept.append(pred_class.cpu())` under no_grad: the finding would be
            # defensive at best, and indexed or unknown values there are often integer ids, labels and masks.
            return
        title = "Insert `.detach()` before `.cpu()`"
        if context.mode is GradMode.DISABLED and kind is ReceiverKind.TENSOR and proven_new(self, source, True):
            message = f"`.cpu()` result kept inside {context.source}: no graph is kept; detach is defensive"
            applicability = Applicability.SAFE
        elif context.mode is GradMode.DISABLED:
            # `p.float().cpu()` over parameters, `nn.Identity()(x).cpu()`: the call may return a tensor that
            # already requires grad; detaching it changes `requires_grad` and makes `.numpy()` succeed.
            message = f"`.cpu()` result kept inside {context.source}: no new graph; the value may require grad"
            applicability = Applicability.UNSAFE
            title = "Insert `.detach()` before `.cpu()` (the kept value stops requiring grad)"
        elif self._kept_by_name(node):
            message = "`.cpu()` copy outlives its loop iteration while autograd may record: keeps its graph alive"
            applicability = Applicability.UNSAFE
        else:
            message = self._graph_message(node)
            applicability = Applicability.UNSAFE
        rewrite = None
        if kind is not ReceiverKind.PACKED_SEQUENCE:
            change = (node, lambda updated: updated.with_changes(func=updated.func.with_changes(value=_detached(updated.func.value))))
            rewrite = Rewrite(applicability, (change,), title=title)
        self.report(node, message, rewrite=rewrite)

    def _graph_message(self, node: cst.Call) -> str:
        # backward() frees the saved activations of the graph it walks: what stays alive then is the graph's
        # nodes, a smaller leak (measured: RSS unchanged in a training loop, 700 MiB kept without backward).
        if self._has_backward(node):
            return "`.cpu()` result kept with autograd on: keeps graph nodes alive and lets the copy reach backward"
        return "`.cpu()` result kept while autograd may be recording: keeps the autograd graph of every batch alive"

    def _float_evident(self, node: cst.BaseExpression, depth: int = 0) -> bool:
        """Evidently a computed value, likely floating: a call's result (a module or function output, a float
        conversion), arithmetic, a target unpacked from a call, or a pass-through of one. Not indexing and not an
        unknown name."""
        if depth > 8:
            return False
        if isinstance(node, cst.BinaryOperation):
            return True
        if isinstance(node, cst.Call):
            if isinstance(node.func, cst.Attribute) and node.func.attr.value in PASS_THROUGH_METHODS - FLOAT_METHODS:
                return self._float_evident(node.func.value, depth + 1)
            return True
        if isinstance(node, cst.Name):
            value = reaching_value(self, node, unpacked=True)
            return value is not None and self._float_evident(value, depth + 1)
        return False

    def _is_kept(self, node: cst.BaseExpression) -> bool:
        parent = self.get_metadata(ParentNodeProvider, node)
        if isinstance(parent, cst.Element):
            parent = self.get_metadata(ParentNodeProvider, self.get_metadata(ParentNodeProvider, parent))
        if isinstance(parent, cst.Arg):
            call = self.get_metadata(ParentNodeProvider, parent)
            return method_call(call, *KEEPING_METHODS) is not None
        if isinstance(parent, cst.AugAssign):
            return parent.value is node and isinstance(parent.operator, cst.AddAssign)
        if isinstance(parent, cst.Assign) and parent.value is node:
            # `a[i] = a[i].cpu()` puts the copy back where the tensor (and any graph of it) already was: it
            # keeps nothing that was not kept before (RNG states, `deparallelize`, a batch moved in place).
            source = receiver(node)
            if len(parent.targets) == 1 and isinstance(parent.targets[0].target, cst.Name):
                return self._name_outlives_loop(parent.targets[0].target, parent)
            return any(
                isinstance(target.target, (cst.Subscript, cst.Attribute)) and not target.target.deep_equals(source)
                for target in parent.targets
            )
        return False

    def _name_outlives_loop(self, name: cst.Name, statement: cst.Assign) -> bool:
        """``y = x.cpu()`` in a loop body, with ``y`` read after the loop or appended to a list in it: the copy
        of a batch outlives its iteration."""
        loops = enclosing_loops(self, statement)
        if not loops:
            # `y = out.cpu()` outside any loop: one value, dropped with the function.
            return False
        scope = self.get_metadata(ScopeProvider, name, None)
        if scope is None:
            return False
        index = tree_index(self, name)
        for access in scope.accesses[name.value]:
            if index.ends_before(loops[0], access.node):
                return True
            parent = self.get_metadata(ParentNodeProvider, access.node, None)
            if isinstance(parent, cst.Arg) and method_call(self.get_metadata(ParentNodeProvider, parent), *KEEPING_METHODS):
                return True
        return False

    def _kept_by_name(self, node: cst.BaseExpression) -> bool:
        """``y = v.cpu()`` (kept only because ``y`` outlives the loop iteration, see ``_name_outlives_loop``)."""
        parent = self.get_metadata(ParentNodeProvider, node)
        return isinstance(parent, cst.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0].target, cst.Name)

    def _kept_by_assignment(self, node: cst.BaseExpression) -> bool:
        """``self.x = v.cpu()`` or ``y = v.cpu()``: kept by a plain name or attribute, not in a container."""
        parent = self.get_metadata(ParentNodeProvider, node)
        return isinstance(parent, cst.Assign) and all(isinstance(t.target, (cst.Attribute, cst.Name)) for t in parent.targets)


def _detached(value: cst.BaseExpression) -> cst.Call:
    return cst.Call(func=cst.Attribute(value=value, attr=cst.Name("detach")))


def _is_packed_or_module(visitor: Rule, node: cst.BaseExpression) -> bool:
    return receiver_kind(visitor, node) in (ReceiverKind.MODULE, ReceiverKind.PACKED_SEQUENCE)


class _AstCopies:
    """What Python's ast shows of a module's host copies, for ``could_match``: copies ``_report_copy`` certainly
    leaves alone. Read from the module's name occurrences (one walk, made when first asked)."""

    def __init__(self, tree: ast.Module) -> None:
        self._tree = tree
        self._shapes = ast_shapes.shapes(tree)
        self._calls: Optional[dict[int, ast_shapes.Site]] = None
        self._backward_calls: Optional[list[ast_shapes.Site]] = None
        self._differentiated_in: dict[int, set[str]] = {}
        self._without_grad: Optional[frozenset[int]] = None
        self._loops: Optional[dict[int, list[tuple[ast_shapes.Span, ast.AST]]]] = None

    def left_alone(self, value: ast.expr) -> bool:
        """A kept copy under a context that certainly disables grad, of a value that is not evidently computed
        (``_float_evident``): an index, an attribute, or a name whose reaching value cannot be one."""
        if not _ast_is_reported_copy(value):
            return False
        site = self._site_of(value)
        if site is None or id(value) not in self._copies_without_grad():
            return False
        source = value.func.value  # type: ignore[attr-defined]
        if isinstance(source, ast.Name):
            return self._reaches_nothing_computed(source, site)
        return not _ast_may_look_computed(source)

    def may_outlive_loop(self, site: ast_shapes.Site) -> bool:
        """Whether ``y`` of ``y = x.cpu()`` at ``site`` may be read after the innermost loop of its frame that
        runs the assignment, or handed to a keeping method (``_name_outlives_loop``): any spelling of ``y``
        in the frame (the module for module-level code) that is not a store counts, nested scopes included,
        and any string type hint naming it (LibCST's scope analysis reads names in those)."""
        name = site.node.targets[0].id  # type: ignore[attr-defined]
        loop = self._innermost_loop(site)
        if loop is None:
            return False  # outside any loop of its frame: one value, dropped with the frame
        first, last = ast_shapes.span(site.frame) if isinstance(site.frame, ast.stmt) else ((0, 0), (sys.maxsize, 0))
        occurrences = ast_shapes.name_occurrences(self._tree)
        after_loop = (max(ast_shapes.span(loop)[1], first), last)
        return (
            _any_within(occurrences.read_starts(name), after_loop)
            or _any_within(occurrences.read_starts(name, KEEPING_METHODS), (first, last))
            or _any_within(occurrences.hints_naming(name), after_loop)
        )

    def may_require_grad(self, site: ast_shapes.Site) -> bool:
        """Whether the copied value of ``x.cpu().numpy()`` at ``site`` spells a name that a backward call of its
        function spells (``_requires_grad``: a graph root of the value among the operands of what a backward
        call in the function's own code differentiates)."""
        copied = site.node.func.value.func.value  # type: ignore[attr-defined]
        return not ast_shapes.names_in(copied).isdisjoint(self._differentiated(site.function))

    def _differentiated(self, function: Optional[ast_shapes.Function]) -> set[str]:
        """The names spelled in the calls of ``backward`` / ``grad`` (any qualification, or an import alias of
        one) in ``function``'s own code (the module's, for None)."""
        if self._backward_calls is None:
            self._backward_calls = ast_shapes.calls_named(self._tree, BACKWARD_NAMES)
        key = id(function)
        if key not in self._differentiated_in:
            calls = [site.node for site in self._backward_calls if site.frame is function]
            self._differentiated_in[key] = {name for call in calls for name in ast_shapes.names_in(call)}
        return self._differentiated_in[key]

    def _copies_without_grad(self) -> frozenset[int]:
        """The reported copies certainly under a grad-disabling context (one reading for all of them)."""
        if self._without_grad is None:
            copies = [site for site in self._shapes.calls() if _ast_is_reported_copy(site.node)]  # type: ignore[arg-type]
            self._without_grad = grad_disabled_on_ast(self._tree, copies, imported_names(self._tree))
        return self._without_grad

    def _site_of(self, call: ast.expr) -> Optional[ast_shapes.Site]:
        if self._calls is None:
            self._calls = {id(site.node): site for site in self._shapes.calls()}
        return self._calls.get(id(call))

    def _innermost_loop(self, site: ast_shapes.Site) -> Optional[ast.AST]:
        """The innermost loop of ``site``'s frame that holds it (a statement: in the loop's body or ``else``)."""
        if self._loops is None:
            self._loops = {}
            for loop in self._shapes.of(*ast_shapes.LOOP_TYPES):
                self._loops.setdefault(id(loop.frame), []).append((ast_shapes.span(loop.node), loop.node))
        start, end = ast_shapes.span(site.node)
        holding = [(span, loop) for span, loop in self._loops.get(id(site.frame), []) if span[0] <= start and end <= span[1]]
        return max(holding, key=lambda pair: pair[0][0], default=(None, None))[1]

    def _reaches_nothing_computed(self, name: ast.Name, site: ast_shapes.Site) -> bool:
        """Whether ``reaching_value`` of ``name`` (read outside any comprehension) is certainly None or not evidently
        computed. It reads the last binding of the name's scope: here the last store to the name in its frame
        outside comprehensions. If that comes after the read, or binds no one value (a loop target, ``+=``),
        the reaching value is None; if it binds an index or an attribute, that is not evidently computed. A
        binding not seen here (a parameter, an import, a walrus in a comprehension) gives None when it is
        the last one."""
        occurrences = ast_shapes.name_occurrences(self._tree)
        use = (name.lineno, name.col_offset)
        if occurrences.in_comprehension_at(name.id, use):
            return False  # read in a comprehension's own scope
        last = occurrences.last_store(name.id, site.frame)
        return last is None or last.start > use or last.bound is None or not _ast_may_look_computed(last.bound)


def _any_within(starts: list[tuple[int, int]], bounds: tuple[tuple[int, int], tuple[int, int]]) -> bool:
    """Whether some of ``starts`` (in order) lies within ``bounds``, both ends included."""
    first = bisect_left(starts, bounds[0])
    return first < len(starts) and starts[first] <= bounds[1]


def _ast_may_look_computed(node: ast.expr) -> bool:
    """Whether ``_float_evident`` may accept ``node``: only a name, arithmetic or a call can be."""
    return isinstance(node, (ast.Name, ast.BinOp, ast.Call))


def _ast_kept_values(tree: ast.Module) -> Iterator[ast.expr]:
    """Values in the places ``_is_kept`` accepts: keeping-method arguments (or their list/tuple/set
    elements), ``+=`` values, values assigned to a subscript or attribute."""
    for site in ast_shapes.shapes(tree).of(ast.Call, ast.AugAssign, ast.Assign):
        node = site.node
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in KEEPING_METHODS:
            for value in (*node.args, *(keyword.value for keyword in node.keywords)):
                value = value.value if isinstance(value, ast.Starred) else value
                yield value
                if isinstance(value, (ast.List, ast.Tuple, ast.Set)):
                    yield from value.elts
        elif isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Add):
            yield node.value
        elif isinstance(node, ast.Assign) and any(isinstance(t, (ast.Subscript, ast.Attribute)) for t in node.targets):
            yield node.value


def _ast_may_be_reported(node: ast.expr) -> bool:
    """A host copy of a value not detached already, or ``.detach()`` of any host copy."""
    if ast_shapes.method_name(node) == "detach":
        return _ast_is_host_copy(node.func.value)
    return _ast_is_reported_copy(node)


def _ast_is_reported_copy(node: ast.expr) -> bool:
    """A host copy whose source is not detached already: ``_report_copy`` and ``_requires_grad`` leave
    ``x.detach().float().cpu()`` alone (``is_detached``)."""
    return _ast_is_host_copy(node) and not ast_is_detached(node.func.value)  # type: ignore[attr-defined]


def _ast_is_host_copy(node: ast.expr) -> bool:
    """``x.cpu()`` or ``x.to(<one argument>)`` whose device is the literal "cpu", possibly inside a call."""
    method = ast_shapes.method_name(node)
    if method == "cpu":
        return not node.args and not node.keywords
    if method != "to" or len(node.args) + len(node.keywords) != 1:
        return False
    if node.args:
        device = node.args[0]
        if isinstance(device, ast.Starred):
            return False
    elif node.keywords[0].arg == "device":
        device = node.keywords[0].value
    else:
        return False
    if isinstance(device, ast.Call) and len(device.args) + len(device.keywords) == 1:
        inner = device.args[0] if device.args else device.keywords[0].value
        device = inner.value if isinstance(inner, ast.Starred) else inner
    return isinstance(device, ast.Constant) and device.value == "cpu"
