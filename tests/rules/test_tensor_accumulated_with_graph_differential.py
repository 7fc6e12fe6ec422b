"""PFL103: the fixes in the fixtures, executed against the original on a small model.

Safe fixes must return the same bits and train the model identically; the unsafe cases must show the difference
the rule documents (a total that no longer requires grad). A last test checks that the reference trainer's
``total_loss += loss`` is found and gets a safe fix.
"""

from __future__ import annotations

import subprocess
import sys
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from torch import nn

from perflint.types import Applicability
from tests.support import fix, lint

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "PFL103"
TRAINER = Path(__file__).resolve().parents[2] / "reference_trainer" / "train.py"


def _modules(case: str, unsafe: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """The fixture ``case`` executed as written and as perflint fixes it."""
    source, fixed = _sources(case, unsafe)
    return _execute(source), _execute(fixed)


@lru_cache(maxsize=None)
def _sources(case: str, unsafe: bool) -> tuple[str, str]:
    source = (FIXTURES / case).read_text()
    fixed = fix(source, select=["PFL103"], unsafe=unsafe, path=case).fixed.decode()
    assert fixed != source
    return source, fixed


def _execute(source: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    exec(compile(source, "<fixture>", "exec"), namespace)
    return namespace


def _setup(seed: int = 0) -> tuple[nn.Module, torch.optim.Optimizer, list[torch.Tensor]]:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    batches = [torch.randn(5, 4) for _ in range(6)]
    return model, optimizer, batches


def _parameters(model: nn.Module) -> list[torch.Tensor]:
    return [parameter.detach().clone() for parameter in model.parameters()]


def _same_bits(first: Any, second: Any) -> bool:
    if isinstance(first, torch.Tensor):
        return isinstance(second, torch.Tensor) and torch.equal(first, second) and first.dtype == second.dtype
    if isinstance(first, (list, tuple)):
        return type(first) is type(second) and len(first) == len(second) and all(map(_same_bits, first, second))
    if isinstance(first, float):
        return isinstance(second, float) and first.hex() == second.hex()
    return type(first) is type(second) and first == second


def test_reference_train_epoch_same_loss_and_weights() -> None:
    original, fixed = _modules("reference_train_epoch.py", unsafe=False)
    results = []
    for namespace in (original, fixed):
        model, optimizer, batches = _setup()
        loader = [SimpleNamespace(x=x, targets=x.sum(dim=1, keepdim=True)) for x in batches]
        returned = namespace["train_epoch"](model, loader, nn.MSELoss(), optimizer, grad_clip=1.0)
        results.append((returned, _parameters(model)))
    assert _same_bits(results[0], results[1])


@pytest.mark.parametrize("function", ["logged", "subtraction"])
def test_safe_consumers_same_results(function: str) -> None:
    original, fixed = _modules("safe_consumers.py", unsafe=False)
    results = []
    for namespace in (original, fixed):
        model, optimizer, batches = _setup()
        arguments = (model, batches, optimizer) if function == "logged" else (model, batches)
        returned = namespace[function](*arguments)
        results.append((returned, _parameters(model)))
    assert _same_bits(results[0], results[1])


def test_amp_style_accumulation_same_result() -> None:
    original, fixed = _modules("safe_consumers.py", unsafe=False)
    scaler = SimpleNamespace(scale=lambda loss: loss, step=lambda optimizer: optimizer.step())
    results = []
    for namespace in (original, fixed):
        model, optimizer, batches = _setup()
        results.append((namespace["scaled_and_amp"](model, batches, optimizer, scaler, 2), _parameters(model)))
    assert _same_bits(results[0], results[1])


def test_unsafe_fix_changes_what_escapes() -> None:
    """The documented difference: a returned total requires grad (a graph as long as the loop) before, not after."""
    original, fixed = _modules("unsafe_escapes.py", unsafe=True)
    totals = []
    for namespace in (original, fixed):
        model, _optimizer, batches = _setup()
        totals.append(namespace["returned"](model, batches))
    before, after = totals
    assert torch.equal(before.detach(), after)
    assert before.requires_grad and before.grad_fn is not None
    assert not after.requires_grad and after.grad_fn is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        after.backward()


def test_unsafe_fix_changes_printed_repr(capsys: pytest.CaptureFixture[str]) -> None:
    original, fixed = _modules("unsafe_escapes.py", unsafe=True)
    printed = []
    for namespace in (original, fixed):
        model, _optimizer, batches = _setup()
        namespace["printed"](model, batches)
        printed.append(capsys.readouterr().out)
    assert "grad_fn" in printed[0] and "grad_fn" not in printed[1]


def test_format_spec_reads_zero_dim_tensors_through_item() -> None:
    """Why an f-string field with a spec is a graph-blind read, and one without is not."""
    with_graph = torch.tensor(1.25, requires_grad=True) * 2
    assert f"{with_graph:.3f}" == f"{with_graph.detach():.3f}"
    assert f"{with_graph!s}" != f"{with_graph.detach()!s}"


def test_float_of_a_graph_tensor_warns_but_item_does_not() -> None:
    """Why ``float(total)`` makes the fix unsafe while ``total.item()`` does not: under ``-W error`` the warning
    is an exception. Run in a fresh process, since torch emits this warning once per process."""
    program = "import torch\nt = torch.tensor(1.25, requires_grad=True) * 2\nt.item()\nfloat({})\n"
    item_only = subprocess.run([sys.executable, "-W", "error", "-c", program.format("t.detach()")], capture_output=True)
    assert item_only.returncode == 0, item_only.stderr
    with_float = subprocess.run([sys.executable, "-W", "error", "-c", program.format("t")], capture_output=True, text=True)
    assert with_float.returncode != 0 and "requires_grad=True" in with_float.stderr


def test_reference_trainer_total_loss_gets_a_safe_fix() -> None:
    result = lint(TRAINER.read_text(), select=["PFL103"], path="train.py")
    found = [violation for violation in result.violations if violation.code == "PFL103"]
    assert len(found) == 1, found
    assert "`total_loss` accumulates `loss`" in found[0].message
    assert found[0].fix is not None and found[0].fix.applicability is Applicability.SAFE


@pytest.mark.parametrize("function", ["identity_conversions", "grad_off_by_statement", "grad_on_by_statement_inside_no_grad"])
def test_identity_calls_and_grad_mode_statements_same_results(function: str) -> None:
    """The safe-fix audit's shapes (issue #13): an added loss passed through calls that return it unchanged, and
    grad mode set by a statement. Same bits, same weights, and the grad mode restored afterwards."""
    original, fixed = _modules("identity_calls_and_grad_mode.py", unsafe=False)
    results = []
    for namespace in (original, fixed):
        model, optimizer, batches = _setup()
        returned = namespace[function](model, batches, optimizer)
        assert torch.is_grad_enabled()
        results.append((returned, _parameters(model)))
    assert _same_bits(results[0], results[1])


def test_identity_calls_return_their_receiver() -> None:
    """What the shapes above exercise: on a float32 CPU tensor these calls return the very same object."""
    loss = torch.ones((), requires_grad=True) * 2
    assert loss.float() is loss and loss.cpu() is loss and loss.contiguous() is loss and loss.to(torch.float32) is loss
