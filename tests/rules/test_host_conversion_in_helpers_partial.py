"""PFL106's partial fix on the seed's real metric helpers: `.view(-1).numpy()` helpers take the caller's array,
the `mean(dim=1)` helper keeps the tensor, and every metric stays bit-identical (executed on seeded float32
panels, the dtype where numpy's mean differs from torch's)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from tests.support import lint

CASE = Path(__file__).resolve().parents[2] / "fixtures" / "PFL106" / "view_helpers_and_a_reduction"


def _load(path: Path) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": path.stem}
    exec(compile(path.read_text(), str(path), "exec"), namespace)  # noqa: S102 - the code under test
    return namespace


def test_view_helpers_get_the_array_and_the_reducing_helper_keeps_the_tensor() -> None:
    [predictions, targets] = [v for v in lint(CASE.with_suffix(".py").read_text(), select=["PFL106"]).violations]
    assert predictions.fix is not None and targets.fix is not None
    assert "`_sharpe` keeps the tensor" in predictions.fix.message
    fixed = CASE.with_suffix(".unsafe.fixed.py").read_text()
    assert "_sharpe(predictions, targets)" in fixed and "predictions.mean(dim=1).numpy()" in fixed


def test_partial_fix_keeps_every_metric_bit_identical() -> None:
    original = _load(CASE.with_suffix(".py"))["compute_metrics"]
    fixed = {
        kind: _load(CASE.with_name(CASE.name + f".{kind}fixed.py"))["compute_metrics"] for kind in ("", "unsafe.")
    }
    for seed in range(5):
        generator = torch.Generator().manual_seed(seed)
        predictions = torch.randn(3973, 3, generator=generator)
        targets = torch.randn(3973, 3, generator=generator) * 0.01
        expected = original(predictions, targets)
        for run in fixed.values():
            assert run(predictions, targets) == expected
    # Why `_sharpe` keeps the tensor: numpy's float32 mean differs from torch's.
    differs = any(
        not np.array_equal(p.mean(dim=1).numpy(), np.mean(p.numpy(), axis=1))
        for p in (torch.randn(3973, 9, generator=torch.Generator().manual_seed(s)) for s in range(5))
    )
    assert differs
