"""PFL101: original and fixed code executed side by side with torch, every observable compared.

Observed for each kept value: the values (bit for bit), dtype, ``requires_grad``, whether it has a ``grad_fn``,
whether ``.numpy()`` raises, and whether ``torch.stack(kept).sum().backward()`` succeeds. A safe fix must leave
all of them unchanged; an unsafe one must show exactly the difference the rule's docs name.

The two counterexamples of issue #13 are here: under ``@torch.no_grad()`` a call may return a tensor that
already requires grad (``p.float().cpu()`` over parameters, ``nn.Identity()``), and a statement-form
``torch.set_grad_enabled(True)`` inside ``with torch.no_grad():`` turns recording back on.
"""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from perflint.analysis.graph_free import NEW_TENSOR_METHODS, PASS_THROUGH_METHODS
from perflint.types import Applicability
from tests.support import fix, lint


def observe(value: Any) -> Any:
    """Everything a program can see of ``value`` (a tensor, or a list/tuple/dict of them), but identity."""
    if isinstance(value, dict):
        return {key: observe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        seen = [observe(item) for item in value]
        tensors = [item for item in value if isinstance(item, torch.Tensor)]
        if tensors and len(tensors) == len(value) and all(t.is_floating_point() for t in tensors):
            seen.append(("backward", _outcome(lambda: torch.stack([t.reshape(-1) for t in tensors]).sum().backward())))
        return seen
    if isinstance(value, torch.Tensor):
        return (
            value.dtype,
            tuple(value.shape),
            value.detach().clone().reshape(-1).view(torch.uint8).tolist() if value.numel() else [],
            value.requires_grad,
            value.grad_fn is not None,
            _outcome(value.numpy),
        )
    if isinstance(value, np.ndarray):
        return ("ndarray", str(value.dtype), value.shape, value.tobytes())
    if isinstance(value, BaseException):
        return ("raised", type(value).__name__)
    return value


def _outcome(action) -> str:
    try:
        action()
    except Exception as error:  # the type is what a program observes
        return f"raises {type(error).__name__}"
    return "ok"


def run(source: str, function: str, *args: Any) -> Any:
    """Execute ``source`` and call ``function(*args)``; an exception is returned, not raised."""
    namespace: dict[str, Any] = {}
    exec(compile(textwrap.dedent(source), "<snippet>", "exec"), namespace)
    torch.set_grad_enabled(True)
    try:
        return namespace[function](*args)
    except Exception as error:
        return error
    finally:
        torch.set_grad_enabled(True)


def applicabilities(source: str) -> list[Applicability]:
    return [v.fix.applicability for v in lint(source, select=["PFL101"]).violations if v.fix is not None]


def fixed(source: str, unsafe: bool) -> str:
    return fix(source, select=["PFL101"], unsafe=unsafe).fixed.decode()


def _model_and_inputs() -> tuple[nn.Module, list[torch.Tensor]]:
    torch.manual_seed(0)
    return nn.Linear(3, 2), [torch.randn(4, 3) for _ in range(3)]


def assert_safe_fix_keeps_behaviour(source: str, function: str, make_args) -> None:
    """The safe fixes leave every observable unchanged (fresh arguments for each run)."""
    after = fixed(source, unsafe=False)
    assert observe(run(source, function, *make_args())) == observe(run(after, function, *make_args()))


PARAMETERS_UNDER_NO_GRAD = """
import torch

@torch.no_grad()
def keep(model):
    kept = []
    for p in model.parameters():
        kept.append(p.float().cpu())
    return kept
"""

IDENTITY_UNDER_NO_GRAD = """
import torch

def keep(model, batches):
    kept = []
    with torch.no_grad():
        for x in batches:
            out = model(x)
            kept.append(out.cpu())
    return kept
"""


def _identity_args() -> tuple[nn.Module, list[torch.Tensor]]:
    torch.manual_seed(0)
    return nn.Identity(), [torch.randn(2, 3, requires_grad=True) for _ in range(2)]


@pytest.mark.parametrize(
    "source, function, make_args",
    [
        (PARAMETERS_UNDER_NO_GRAD, "keep", lambda: (_model_and_inputs()[0],)),
        (IDENTITY_UNDER_NO_GRAD, "keep", _identity_args),
    ],
    ids=["parameters-float-cpu", "identity-module"],
)
def test_a_call_that_may_return_its_input_gets_no_safe_fix(source: str, function: str, make_args) -> None:
    """Issue #13 (a): `.float()`/`.cpu()`/a module may return a tensor that requires grad, even under no_grad."""
    assert applicabilities(source) == [Applicability.UNSAFE]
    assert_safe_fix_keeps_behaviour(source, function, make_args)
    # The unsafe fix changes exactly what the docs say: the kept value stops requiring grad and `.numpy()` works.
    before = run(source, function, *make_args())
    after = run(fixed(source, unsafe=True), function, *make_args())
    assert [t.requires_grad for t in before] == [True] * len(before)
    assert [t.requires_grad for t in after] == [False] * len(after)
    assert observe(before[0])[-1] == "raises RuntimeError" and observe(after[0])[-1] == "ok"


GRAD_STATEMENTS = [
    "torch.set_grad_enabled(True)",
    "torch.autograd.set_grad_enabled(True)",
    "torch.autograd.grad_mode.set_grad_enabled(True)",
    "torch._C._set_grad_enabled(True)",
    "set_grad_enabled(True)",
    "torch.enable_grad()",
]
REENABLED = """
import torch
from torch import set_grad_enabled

def keep(model, batches):
    kept = []
    with torch.no_grad():
        {statement}
        for x in batches:
            kept.append((model(x) * 2).cpu())
    return kept
"""
REENABLED_IN_LOOP = """
import torch
from torch import set_grad_enabled

@torch.no_grad()
def keep(model, batches):
    kept = []
    for x in batches:
        kept.append((model(x) * 2).cpu())
        if len(kept) == 1:
            {statement}
    return kept
"""


@pytest.mark.parametrize("template", [REENABLED, REENABLED_IN_LOOP], ids=["before", "later-in-loop"])
@pytest.mark.parametrize("statement", GRAD_STATEMENTS)
def test_a_grad_mode_statement_ends_the_grad_off_region(template: str, statement: str) -> None:
    """Issue #13 (b): a statement that may turn recording on inside no_grad: no safe fix, no 'no graph' claim."""
    source = template.format(statement=statement)
    found = lint(source, select=["PFL101"]).violations
    assert len(found) == 1 and "no graph is kept" not in found[0].message
    assert found[0].fix is not None and found[0].fix.applicability is Applicability.UNSAFE
    assert_safe_fix_keeps_behaviour(source, "keep", _model_and_inputs)


def test_recording_really_is_back_on_after_the_statement() -> None:
    """The measurement behind the test above: the unsafe fix then breaks the caller's backward."""
    source = REENABLED.format(statement="torch.set_grad_enabled(True)")
    before = observe(run(source, "keep", *_model_and_inputs()))
    after = observe(run(fixed(source, unsafe=True), "keep", *_model_and_inputs()))
    assert before[-1] == ("backward", "ok")
    assert after[-1] == ("backward", "raises RuntimeError")


PROVEN_NEW = """
import torch
import torch.nn.functional as F

def keep(model, batches):
    kept = {{}}
    with torch.no_grad():
        for i, x in enumerate(batches):
            out = model(x){step}
            kept[i] = out.cpu()
    return kept
"""
NEW_STEPS = [".softmax(dim=-1)", ".sum(dim=1)", " * 2", ".float().clone()", ".abs().float()", ".mean(0).view(-1)"]


@pytest.mark.parametrize("step", NEW_STEPS)
@pytest.mark.parametrize("make_args", [_model_and_inputs, _identity_args], ids=["linear", "identity"])
def test_a_value_newly_computed_under_no_grad_gets_a_safe_fix_that_keeps_behaviour(step: str, make_args) -> None:
    source = PROVEN_NEW.format(step=step)
    assert applicabilities(source) == [Applicability.SAFE]
    assert "detach().cpu()" in fixed(source, unsafe=False)
    assert_safe_fix_keeps_behaviour(source, "keep", make_args)


PASS_THROUGH = """
import torch

def keep(model, batches):
    kept = []
    with torch.no_grad():
        for x in batches:
            kept.append(model(x){step}.cpu())
    return kept
"""


@pytest.mark.parametrize("step", [".float()", ".view(-1)", ".contiguous()", ".to(torch.float32)", ".squeeze()"])
def test_a_pass_through_of_a_module_output_is_not_proven(step: str) -> None:
    """Measured: these return the receiver or a view that still requires grad under no_grad."""
    source = PASS_THROUGH.format(step=step)
    assert applicabilities(source) == [Applicability.UNSAFE]
    assert_safe_fix_keeps_behaviour(source, "keep", _identity_args)
    before = run(source, "keep", *_identity_args())
    assert before[0].requires_grad  # the measurement that makes the label right


def test_an_indexed_value_under_no_grad_is_not_reported() -> None:
    """`new_x.append(x[:n, i].cpu())` under no_grad: defensive at best, and often integer ids or masks."""
    assert not lint(PASS_THROUGH.format(step="[0]"), select=["PFL101"]).violations


def test_requires_grad_factory_is_not_proven() -> None:
    source = """
    import torch

    def keep():
        kept = []
        with torch.no_grad():
            kept.append(torch.zeros(3, requires_grad=True).cpu())
        return kept
    """
    assert applicabilities(source) == [Applicability.UNSAFE]
    assert run(textwrap.dedent(source), "keep")[0].requires_grad


REORDER = """
import torch

def convert(model, batches):
    return [model(x).cpu().detach(){tail} for x in batches]
"""


@pytest.mark.parametrize("tail", ["", ".numpy()", ".tolist()", "[0, 0].item()"])
@pytest.mark.parametrize("grad", [True, False], ids=["grad-on", "no-grad"])
def test_cpu_detach_reorder_is_exact(tail: str, grad: bool) -> None:
    """`x.cpu().detach()` -> `x.detach().cpu()`: same values, dtype, requires_grad (False), no grad_fn."""
    source = REORDER.format(tail=tail)
    assert applicabilities(source) == [Applicability.SAFE]
    after = fixed(source, unsafe=False)
    assert ".detach().cpu()" in after
    with torch.set_grad_enabled(grad):
        model, batches = _model_and_inputs()
        first = observe(run(source, "convert", model, batches))
        second = observe(run(after, "convert", model, batches))
    assert first == second


NUMPY_OF_GRAD = """
import torch

def train(model, batches):
    losses = []
    for x in batches:
        loss = model(x).pow(2).mean()
        loss.backward()
        losses.append(loss.cpu().numpy())
    return losses
"""


def test_numpy_of_a_backpropagated_tensor_is_reported_with_an_unsafe_fix() -> None:
    """Measured: `.cpu().numpy()` of a tensor that requires grad raises; `.detach()` turns that into success."""
    found = lint(NUMPY_OF_GRAD, select=["PFL101"]).violations
    assert len(found) == 1 and "raises RuntimeError" in found[0].message
    assert found[0].fix.applicability is Applicability.UNSAFE
    assert fixed(NUMPY_OF_GRAD, unsafe=False) == NUMPY_OF_GRAD
    before = run(NUMPY_OF_GRAD, "train", *_model_and_inputs())
    after = run(fixed(NUMPY_OF_GRAD, unsafe=True), "train", *_model_and_inputs())
    assert observe(before) == ("raised", "RuntimeError")
    assert isinstance(after, list) and len(after) == 3


KEPT_PAST_LOOP = """
import torch

def last(model, batches):
    for x in batches:
        preds = model(x).cpu()
    return preds
"""


def test_a_copy_kept_past_its_loop_is_reported_with_an_unsafe_fix() -> None:
    found = lint(KEPT_PAST_LOOP, select=["PFL101"]).violations
    assert len(found) == 1 and found[0].fix.applicability is Applicability.UNSAFE
    before = run(KEPT_PAST_LOOP, "last", *_model_and_inputs())
    after = run(fixed(KEPT_PAST_LOOP, unsafe=True), "last", *_model_and_inputs())
    assert observe(before)[3:5] == (True, True) and observe(after)[3:5] == (False, False)
    assert observe(before)[:3] == observe(after)[:3]


@pytest.mark.parametrize(
    "value",
    [
        "out.argmax(dim=-1)",
        "out.argmin(1)",
        "out.argsort(dim=1)",
        "out > 0",
        "out == out",
        "out.long()",
        "out.int()",
        "out.bool()",
        "out.nonzero()",
        "out.topk(1).indices",
        "out.max(1)[1]",
        "torch.max(out, 1)[1]",
        "out.to(torch.long)",
        "torch.tensor([1, 2], dtype=torch.long)",
        "torch.zeros(3, dtype=torch.bool)",
        "torch.argmax(out, dim=1)",
    ],
)
def test_integer_and_bool_results_are_not_reported(value: str) -> None:
    """They cannot require grad (measured: requires_grad False even from a tensor that requires grad)."""
    source = f"""
    import torch

    def keep(model, batches):
        kept = []
        for x in batches:
            out = model(x)
            kept.append(({value}).cpu())
        return kept
    """
    assert not lint(source, select=["PFL101"]).violations
    kept = run(textwrap.dedent(source), "keep", *_model_and_inputs())
    assert not any(t.requires_grad for t in kept)


def test_messages_are_short() -> None:
    sources = [PARAMETERS_UNDER_NO_GRAD, REENABLED.format(statement="torch.set_grad_enabled(True)"), NUMPY_OF_GRAD,
               KEPT_PAST_LOOP, REORDER.format(tail=""), PROVEN_NEW.format(step=" * 2")]  # fmt: skip
    for source in sources:
        for violation in lint(source, select=["PFL101"]).violations:
            assert len(violation.message) <= 100, violation.message


# The measurement behind the rule's op lists (perflint/analysis/torch_values.py), re-run against the installed torch.
ARGUMENTS = {"add": (1.0,), "sub": (1.0,), "mul": (2.0,), "div": (2.0,), "pow": (2,), "clamp": (-1.0, 1.0),
             "matmul": None, "mm": None, "bmm": None, "softmax": (-1,), "log_softmax": (-1,), "cumsum": (0,),
             "logsumexp": (0,), "amax": (0,), "amin": (0,)}  # fmt: skip


def _apply(method: str, tensor: torch.Tensor) -> torch.Tensor:
    if method in ("matmul", "mm"):
        return getattr(tensor, method)(tensor.t())
    if method == "bmm":
        return tensor.unsqueeze(0).bmm(tensor.t().unsqueeze(0))
    return getattr(tensor, method)(*ARGUMENTS.get(method, ()))


@pytest.mark.parametrize("method", sorted(NEW_TENSOR_METHODS))
def test_new_tensor_methods_never_return_an_input_under_no_grad(method: str) -> None:
    parameter = nn.Parameter(torch.rand(3, 3) + 0.5)
    with torch.no_grad():
        result = _apply(method, parameter)
    assert result is not parameter and not result.requires_grad


@pytest.mark.parametrize("method", ["float", "to", "cpu", "contiguous", "type_as", "view_as", "reshape_as", "squeeze", "t"])
def test_pass_through_methods_may_keep_requires_grad_under_no_grad(method: str) -> None:
    assert method in PASS_THROUGH_METHODS
    parameter = nn.Parameter(torch.rand(3, 3))
    arguments = {"to": (torch.float32,), "type_as": (parameter,), "view_as": (parameter,), "reshape_as": (parameter,)}
    with torch.no_grad():
        result = getattr(parameter, method)(*arguments.get(method, ()))
    assert result.requires_grad
