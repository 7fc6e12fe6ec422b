"""PFL104: the fixes in the fixtures, executed against the original on small models.

Wrapping the loop in ``torch.no_grad()`` must leave the values bit-identical for ordinary modules and drop
``requires_grad`` from what the loop produces (the documented unsafe difference). The no-fix case for loops that
yield is backed by a test of the behaviour that makes the fix wrong there.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from torch import nn

from tests.support import fix, lint

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "PFL104"


@lru_cache(maxsize=None)
def _sources(case: str) -> tuple[str, str]:
    source = (FIXTURES / case).read_text()
    fixed = fix(source, select=["PFL104"], unsafe=True, path=case).fixed.decode()
    assert fixed != source
    return source, fixed


def _namespaces(case: str) -> list[dict[str, Any]]:
    namespaces = []
    for source in _sources(case):
        namespace: dict[str, Any] = {}
        exec(compile(source, "<fixture>", "exec"), namespace)
        namespaces.append(namespace)
    return namespaces


def _model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 16), nn.Dropout(0.5), nn.GELU(), nn.Linear(16, 2))


def _batches() -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return [torch.randn(3, 4, generator=generator) for _ in range(4)]


def test_seed_validate_same_values_without_graph() -> None:
    outputs = []
    for namespace in _namespaces("seed_validate_without_no_grad.py"):
        loader = [SimpleNamespace(x=x, targets=x[:, :2]) for x in _batches()]
        outputs.append(namespace["validate"](_model(), loader, nn.MSELoss(), torch.device("cpu")))
    (predictions_before, loss_before), (predictions_after, loss_after) = outputs
    assert torch.equal(predictions_before.detach(), predictions_after)
    assert loss_before.hex() == loss_after.hex()
    assert predictions_before.requires_grad and not predictions_after.requires_grad


@pytest.mark.parametrize("function", ["predict_while"])
def test_while_loop_same_values(function: str) -> None:
    results = [namespace[function](_model(), list(_batches())) for namespace in _namespaces("seed_validate_without_no_grad.py")]
    assert all(torch.equal(before.detach(), after) for before, after in zip(*results))
    assert all(not after.requires_grad for after in results[1])


def test_method_and_alias_cases_same_values() -> None:
    scores = []
    for namespace in _namespaces("seed_validate_without_no_grad.py"):
        evaluator = namespace["Evaluator"]()
        evaluator.model = _model()
        scores.append(evaluator.run([_batches(), _batches()]))
    assert [value.hex() for value in scores[0]] == [value.hex() for value in scores[1]]
    totals = [namespace["evaluate"](_model(), _batches()) for namespace in _namespaces("aliases_and_imports.py")]
    assert totals[0].hex() == totals[1].hex()


def test_no_grad_block_in_a_generator_leaks_to_the_consumer() -> None:
    """Why a loop that yields gets no fix: the block stays in force while the generator is suspended."""

    def wrapped(items):
        with torch.no_grad():
            for item in items:
                yield item

    generator = wrapped([1, 2])
    next(generator)
    try:
        assert not torch.is_grad_enabled()
    finally:
        generator.close()
    assert torch.is_grad_enabled()
    result = lint((FIXTURES / "no_torch_import.py").read_text(), select=["PFL104"])
    assert [violation.fix for violation in result.violations] == [None]
