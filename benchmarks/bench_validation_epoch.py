"""A whole validation (or training) epoch of the reference trainer, before vs after perflint's fixes.

The "after" trainer is a copy with the listed rewrites applied by hand (``hand_fixes.py``), imported side by side
as ``fixed_trainer``.  Both epochs run on the same data, loader and model state, interleaved; the results are
checked bit-identical.  ``--phase train`` times ``train_epoch`` (grad on: PFL101 train log and PFL103) from
identical copies of the model and optimizer, and reports the RSS growth over the epoch.

Usage: ``python benchmarks/bench_validation_epoch.py [--mode test|smoke] [--phase validate|train]
[--repeats 5] [--device cpu|cuda] [--max-batches N]``
"""

from __future__ import annotations

import argparse
import copy
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
from benchutil import interleaved, median, rss_mib, table
from hand_fixes import copy_and_fix

from reference_trainer.config import HORIZONS, MODES, QUANTILES
from reference_trainer.data import build_code_maps, group_ids, make_samples, simulate_panel
from reference_trainer.loader import DayBatchLoader, PanelTensors
from reference_trainer.losses import QuantileCorrelationLoss
from reference_trainer.model import ATFTLite
from reference_trainer.sampler import DayBatchSampler
from reference_trainer.train import configure_determinism, train_epoch, validate


def build(
    mode: str, device: torch.device, seed: int
) -> tuple[DayBatchLoader, DayBatchLoader, ATFTLite, QuantileCorrelationLoss]:
    """The trainer's loaders, a freshly initialised model and its loss, as ``run()`` builds them."""
    config = MODES[mode]
    panel = simulate_panel(config, seed)
    samples = make_samples(panel, config)
    code2market, code2sector = build_code_maps(panel.listed_info)
    tensors = PanelTensors.from_panel(
        panel, group_ids(panel.codes, code2market), group_ids(panel.codes, code2sector), device
    )
    train_sampler = DayBatchSampler(samples.train, shuffle=True, seed=seed)
    train_sampler.set_epoch(1)
    train_loader = DayBatchLoader(tensors, samples.train, train_sampler, config.lookback, config.k_neighbors)
    val_sampler = DayBatchSampler(samples.val, shuffle=False)
    val_loader = DayBatchLoader(tensors, samples.val, val_sampler, config.lookback, config.k_neighbors)
    model = ATFTLite(config.n_features, config.hidden_size, config.heads, len(HORIZONS), len(QUANTILES)).to(device)
    criterion = QuantileCorrelationLoss(QUANTILES, config.corr_weight).to(device)
    return train_loader, val_loader, model, criterion


def epoch_runner(
    mode: str,
    phase: str,
    function: Callable[..., object],
    loaders: tuple[DayBatchLoader, DayBatchLoader],
    model: ATFTLite,
    criterion: QuantileCorrelationLoss,
    max_batches: int | None,
) -> Callable[[], object]:
    """One epoch of ``function`` (``validate`` or ``train_epoch``, before or after the fixes) as a callable.

    A training epoch starts from a copy of ``model`` and a fresh optimizer, so every run is the same epoch.
    """
    train_loader, val_loader = loaders
    if phase == "validate":
        return lambda: function(model, val_loader, criterion, max_batches=max_batches)
    config = MODES[mode]

    def train_once() -> object:
        fresh = copy.deepcopy(model)
        optimizer = torch.optim.AdamW(fresh.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
        return function(fresh, train_loader, criterion, optimizer, grad_clip=config.grad_clip, max_batches=max_batches)

    return train_once


def measured(function: Callable[[], object], results: list[object], growth: list[float]) -> Callable[[], None]:
    """Wrap ``function`` to record its result and the RSS growth over its call."""

    def run() -> None:
        before = rss_mib()
        results.append(function())
        growth.append(rss_mib() - before)

    return run


def main() -> None:
    """Time both versions of one epoch, interleaved, and print medians, ratio and identity."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("test", "smoke"), default="test")
    parser.add_argument("--phase", choices=("validate", "train"), default="validate")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved epochs of each version")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-batches", type=int, default=None, help="cap the batches of the epoch")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    device = torch.device(args.device)
    configure_determinism(args.seed, device, args.threads)
    fixed_root = Path(tempfile.mkdtemp(prefix="fixed_trainer_"))
    copy_and_fix(fixed_root, package_name="fixed_trainer")
    sys.path.insert(0, str(fixed_root))
    from fixed_trainer.train import train_epoch as train_epoch_fixed
    from fixed_trainer.train import validate as validate_fixed

    shutil.rmtree(fixed_root)  # every module of the copy is imported by now
    train_loader, val_loader, model, criterion = build(args.mode, device, args.seed)
    versions = {
        "before": validate if args.phase == "validate" else train_epoch,
        "after": validate_fixed if args.phase == "validate" else train_epoch_fixed,
    }
    results: dict[str, list[object]] = {name: [] for name in versions}
    growth: dict[str, list[float]] = {name: [] for name in versions}
    loaders = (train_loader, val_loader)
    candidates = {
        name: measured(
            epoch_runner(args.mode, args.phase, function, loaders, model, criterion, args.max_batches),
            results[name],
            growth[name],
        )
        for name, function in versions.items()
    }
    seconds = interleaved(candidates, args.repeats)
    identical = len({repr(result) for result in results["before"] + results["after"]}) == 1
    print(f"{args.phase} epoch, mode {args.mode} on {args.device} ({args.threads} thread(s)), {args.repeats} runs each")
    rows = [[name, median(seconds[name]), min(seconds[name]), median(growth[name])] for name in versions]
    print(table(["version", "median s", "min s", "median RSS growth MiB"], rows))
    ratio = median(seconds["before"]) / median(seconds["after"])
    print(f"ratio before / after (medians): {ratio:.3f}; results bit-identical: {identical}")


if __name__ == "__main__":
    main()
