"""PFL102: three helpers that each convert the same tensor vs converting once and passing the array.

Part 1 (micro): ``.cpu().numpy()`` in each of three helpers vs one conversion at the call site and
``np.asarray`` in the helpers, for CPU tensors and, when present, CUDA tensors (where every ``.cpu()`` is a
device-to-host copy and a synchronisation).  Part 2: the reference trainer's ``compute_metrics`` before and
after the hand-applied PFL102 rewrite, on validation-sized CPU predictions, results checked bit-identical.

Usage: ``python benchmarks/bench_host_conversion.py [--sizes 1000 100000 1000000] [--repeats 15] [--inner 200]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from benchutil import cuda_available, interleaved, median, table
from hand_fixes import copy_and_fix

from reference_trainer.metrics import compute_metrics


def _helper_converts(tensor: torch.Tensor) -> float:
    array = tensor.cpu().numpy()
    return float(array[0, 0])


def _helper_accepts_array(array: np.ndarray) -> float:
    return float(np.asarray(array)[0, 0])


def three_conversions(predictions: torch.Tensor, targets: torch.Tensor) -> float:
    """Before: every helper converts both tensors itself."""
    return sum(_helper_converts(predictions) + _helper_converts(targets) for _ in range(3))


def one_conversion(predictions: torch.Tensor, targets: torch.Tensor) -> float:
    """After: convert once, hand the arrays to the helpers."""
    predictions_np = predictions.cpu().numpy()
    targets_np = targets.cpu().numpy()
    return sum(_helper_accepts_array(predictions_np) + _helper_accepts_array(targets_np) for _ in range(3))


def repeat(function: Callable[[], object], times: int) -> Callable[[], None]:
    """A callable that calls ``function`` ``times`` times (one timed unit)."""

    def run() -> None:
        for _ in range(times):
            function()

    return run


def micro(sizes: list[int], devices: list[str], repeats: int, inner: int) -> list[list[object]]:
    """Part 1 rows: per-call microseconds of both forms for every size and device."""
    rows = []
    for device in devices:
        for size in sizes:
            predictions = torch.randn(size, 4, device=device)
            targets = torch.randn(size, 4, device=device)
            three_conversions(predictions, targets)  # warm-up: first calls pay one-off costs
            one_conversion(predictions, targets)
            seconds = interleaved(
                {
                    "three": repeat(lambda: three_conversions(predictions, targets), inner),
                    "once": repeat(lambda: one_conversion(predictions, targets), inner),
                },
                repeats,
            )
            before, after = median(seconds["three"]) / inner * 1e6, median(seconds["once"]) / inner * 1e6
            rows.append([device, f"{size:,} x 4", before, after, before - after, before / after])
    return rows


def metric_block(n_days: int, n_stocks: int, repeats: int) -> list[object]:
    """Part 2 row: the trainer's compute_metrics before vs after the hand-applied rewrite."""
    with tempfile.TemporaryDirectory() as temporary:
        copy_and_fix(Path(temporary), package_name="fixed_trainer")
        sys.path.insert(0, temporary)
        from fixed_trainer.metrics import compute_metrics as compute_metrics_fixed

        generator = torch.Generator().manual_seed(0)
        targets = torch.randn(n_days * n_stocks, 4, generator=generator)
        predictions = 0.1 * targets[:, :, None] + torch.randn(n_days * n_stocks, 4, 5, generator=generator)
        day_ids = np.repeat(np.arange(n_days), n_stocks)
        before = compute_metrics(predictions, targets, day_ids, median_index=2)
        after = compute_metrics_fixed(predictions, targets, day_ids, median_index=2)
        identical = repr(before) == repr(after)
        seconds = interleaved(
            {
                "before": lambda: compute_metrics(predictions, targets, day_ids, median_index=2),
                "after": lambda: compute_metrics_fixed(predictions, targets, day_ids, median_index=2),
            },
            repeats,
        )
    before_ms, after_ms = median(seconds["before"]) * 1e3, median(seconds["after"]) * 1e3
    return [f"{n_days} days x {n_stocks} stocks", before_ms, after_ms, before_ms / after_ms, identical]


def main() -> None:
    """Print both parts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=15, help="interleaved timed runs of each form")
    parser.add_argument("--inner", type=int, default=200, help="calls per timed run (micro part)")
    parser.add_argument("--days", type=int, default=100, help="days of the metric-block part")
    parser.add_argument("--stocks", type=int, default=1000, help="stocks per day of the metric-block part")
    parser.add_argument("--device", nargs="+", default=None, help="devices (default: cpu, and cuda when present)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    devices = args.device or (["cpu", "cuda"] if cuda_available() else ["cpu"])

    print(f"Part 1: two tensors [N, 4] float32 handed to three helpers; {args.repeats} x {args.inner} calls")
    header = ["device", "tensor", "3 helpers convert (us)", "convert once (us)", "saved (us)", "ratio"]
    print(table(header, micro(args.sizes, devices, args.repeats, args.inner)))
    print(f"\nPart 2: reference_trainer compute_metrics, before vs after the PFL102 rewrite ({args.repeats} runs)")
    header = ["predictions", "before ms", "after ms", "ratio", "bit-identical"]
    print(table(header, [metric_block(args.days, args.stocks, args.repeats)]))


if __name__ == "__main__":
    main()
