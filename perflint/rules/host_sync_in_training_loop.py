"""PFL105 host-sync-in-training-loop."""

from __future__ import annotations

from typing import Optional

import libcst as cst
from libcst.metadata import ParentNodeProvider, PositionProvider, QualifiedNameProvider, ScopeProvider

from perflint.analysis.names import is_call_to
from perflint.analysis.syntax import DEFERRED
from perflint.analysis.torch_values import is_module, is_tensor
from perflint.analysis.training_loop import Loop, enclosing_loops, runs_step_itself
from perflint.rule import Invalid, Rule, Valid
from perflint.types import FixSafety, MetricImpact

SYNC_METHODS = frozenset({"item", "tolist", "cpu"})
FLOAT = frozenset({"builtins.float"})
MESSAGE_LIMIT = 100


class HostSyncInTrainingLoop(Rule):
    """
    ## What it does
    Finds `t.item()`, `t.tolist()`, `t.cpu()` and `float(t)` on a tensor `t` that run on *every* step of
    a training loop: a loop whose own body calls `.backward()` or steps a `torch.optim` optimizer (a step
    under an `if` counts; a step only in a loop nested inside does not, so a conversion once per epoch,
    after the batch loop, is not reported). Calls under an `if` (periodic logging: `if step % 100 == 0:`),
    in an `except` handler or in a nested function are not every step and are not reported. Off by
    default: per-step logging is often intended. The message names the conversion; what to do instead is
    under *Use instead*.

    ## Why is this bad?
    On an accelerator, kernels run asynchronously: the host queues the next step while the device works.
    Reading a value on the host waits for every queued kernel to finish and copies the result back, so
    the host cannot run ahead and the device idles while the next step is queued. How much that costs
    depends on how far ahead the host could run: training a small MLP with Adam, a `loss.item()` per step
    made each step 1.09x slower at batch 256 (1.35 against 1.24 ms) and nothing measurable at batch 8,192,
    where the host has little to queue ahead (H200, torch 2.11). On a CPU there is nothing to wait for
    (0.86x, noise, on a loaded 2-core machine). `benchmarks/bench_host_sync.py` measures both; the gain is
    larger for models whose steps are short and launch-bound, and when the sync sits before the next
    step's host work (data loading, logging).

    ## Example
    ```python
    for x, y in loader:
        loss = criterion(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        running_loss += loss.item()
    ```

    ## Use instead
    ```python
    running_loss = torch.zeros((), device=device)
    for x, y in loader:
        loss = criterion(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        running_loss += loss.detach()
    running_loss = running_loss.item()  # one sync per epoch
    ```
    or convert every N steps under `if step % N == 0:`.

    ## Fix safety
    No fix: moving the conversion changes when values are read (and what a log shows at each step), and
    the on-device accumulator differs from a Python float sum in precision (float32 vs float64).

    ## Metric impact
    Identical: no fix is applied.

    ## Known problems
    A tensor is recognised from evidence in the function: a backpropagated name, the result of a
    `torch.*` function or of calling a module (a name bound from a `torch.nn` class, annotated with one,
    or used with `.parameters()` / `.train()` / `.eval()`), and values computed from those. Tensors
    returned by other helpers are not recognised. A conversion that must happen every step (gradient
    clipping by a Python value, early stopping on NaN) is reported too: suppress it with `# noqa: PFL105`.
    Only the first conversion of a chain is reported (`t.cpu().tolist()` once). Until the "own body" rule
    above, a loop whose nested loop backpropagated counted as a training loop: on eight held-out public
    repositories, 8 of 25 findings were such once-per-epoch conversions (issue #13).

    ## Options
    None.

    ## References
    - PyTorch "CUDA semantics": asynchronous execution.
    - PyTorch performance tuning guide: "Avoid unnecessary CPU-GPU synchronization".
    """

    code = "PFL105"
    name = "host-sync-in-training-loop"
    message = "host sync on every step of a training loop"
    fix_safety = FixSafety.NONE
    metric_impact = MetricImpact.IDENTICAL
    enabled_by_default = False
    required_tokens = (".item()", ".tolist()", ".cpu()", "float(")
    METADATA_DEPENDENCIES = (PositionProvider, ParentNodeProvider, QualifiedNameProvider, ScopeProvider)

    valid = (
        Valid(
            """
            import torch
            def train(model, loader, optimizer):
                model.train()
                for step, (x, y) in enumerate(loader):
                    loss = torch.nn.functional.mse_loss(model(x), y)
                    loss.backward()
                    optimizer.step()
                    if step % 100 == 0:
                        print(loss.item())
            """
        ),
        Valid(
            """
            import torch
            def evaluate(model, loader):
                model.eval()
                for x in loader:
                    print(model(x).sum().item())
            """
        ),
        Valid(
            """
            import torch
            def train(model, loader, optimizer, sizes):
                for x in loader:
                    loss = model(x).mean()
                    loss.backward()
                    optimizer.step()
                    n = float(sizes[0])
            """
        ),
    )
    invalid = (
        Invalid(
            """
            import torch
            def train(model, loader, optimizer):
                model.train()
                running = 0.0
                for x, y in loader:
                    loss = torch.nn.functional.mse_loss(model(x), y)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    running += loss.item()
                return running
            """,
            message_contains="`loss.item()`",
        ),
        Invalid(
            """
            import torch
            def train(model, loader):
                opt = torch.optim.SGD(model.parameters(), lr=0.1)
                for x, y in loader:
                    out = model(x)
                    loss = (out - y).pow(2).mean()
                    loss.backward()
                    opt.step()
                    history.append(out.argmax(1).cpu().tolist())
                    print(f"{float(loss):.3f}")
            """,
            count=2,
        ),
    )

    def visit_Call(self, node: cst.Call) -> None:
        value = self._converted_tensor(node)
        if value is None or _converts(value) is not None:
            return
        loop = self._training_loop(node)
        if loop is None or not self._every_step(node, loop) or not is_tensor(self, value) or is_module(self, value):
            return
        shown = cst.Module(body=[]).code_for_node(node)
        message = f"`{shown}` copies to the host on every training step"
        self.report(node, message if len(message) <= MESSAGE_LIMIT else self.message)

    def _converted_tensor(self, node: cst.Call) -> Optional[cst.BaseExpression]:
        """``t`` in ``t.item()`` / ``t.tolist()`` / ``t.cpu()`` / ``float(t)``, else None."""
        receiver = _converts(node)
        if receiver is not None:
            return receiver
        if len(node.args) == 1 and node.args[0].keyword is None and is_call_to(self, node, FLOAT):
            return node.args[0].value
        return None

    def _training_loop(self, node: cst.CSTNode) -> Optional[Loop]:
        """The innermost enclosing loop whose own body backpropagates or steps an optimizer.

        Not a loop that runs the step only in a loop inside it: ``for epoch ...: for batch ...: loss.backward()``
        followed by ``history.append(epoch_loss.item())`` converts once per epoch, as the docs recommend.
        """
        for loop in enclosing_loops(self, node):
            if runs_step_itself(self, loop):
                return loop
        return None

    def _every_step(self, node: cst.CSTNode, loop: Loop) -> bool:
        """Whether ``node`` runs on every iteration of ``loop`` (no branch, handler or nested scope between)."""
        child, parent = node, self.get_metadata(ParentNodeProvider, node)
        while parent is not loop:
            if isinstance(parent, DEFERRED) or isinstance(parent, (cst.ExceptHandler, cst.ExceptStarHandler)):
                return False
            if isinstance(parent, (cst.If, cst.IfExp)) and child is not parent.test:
                return False
            if isinstance(parent, cst.BooleanOperation) and child is parent.right:
                return False
            if isinstance(parent, (cst.Match, cst.MatchCase)) and child is not getattr(parent, "subject", None):
                return False
            child, parent = parent, self.get_metadata(ParentNodeProvider, parent)
        return child is loop.body


def _converts(node: cst.BaseExpression) -> Optional[cst.BaseExpression]:
    """The receiver of a no-argument ``.item()`` / ``.tolist()`` / ``.cpu()`` call, else None."""
    if (
        isinstance(node, cst.Call)
        and not node.args
        and isinstance(node.func, cst.Attribute)
        and node.func.attr.value in SYNC_METHODS
    ):
        return node.func.value
    return None
