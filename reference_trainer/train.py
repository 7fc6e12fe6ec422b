"""The training loop, ``validate()`` and :func:`run`, which writes ``metrics.json`` and ``timing.json``.

``metrics.json`` holds only values that are bit-identical between runs (every float also as ``float.hex``);
wall times and memory go to ``timing.json``.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from reference_trainer.config import HORIZONS, QUANTILES, ModeConfig
from reference_trainer.data import build_code_maps, group_ids, make_samples, simulate_panel
from reference_trainer.loader import DayBatchLoader, PanelTensors
from reference_trainer.losses import QuantileCorrelationLoss
from reference_trainer.memory import MemoryProbe
from reference_trainer.metrics import CrossSectionalMetrics, compute_metrics
from reference_trainer.model import ATFTLite
from reference_trainer.sampler import DayBatchSampler


@dataclass(frozen=True)
class RunOptions:
    """How to run one mode.

    Attributes:
        config: the mode's sizes and hyper-parameters.
        seed: seeds the data, the model's initialisation and the shuffles.
        out_dir: where ``metrics.json`` and ``timing.json`` go.
        device: ``"cpu"`` or ``"cuda"``.
        threads: CPU threads for torch (``None``: the mode's default, else torch's).
        max_batches: cap on the batches of every training and validation epoch (``None``: all).
    """

    config: ModeConfig
    seed: int
    out_dir: Path
    device: str
    threads: int | None = None
    max_batches: int | None = None


@dataclass(frozen=True)
class TrainLog:
    """What one training epoch reports: the mean loss and the metrics of the epoch's kept outputs."""

    loss: float
    metrics: CrossSectionalMetrics


@dataclass(frozen=True)
class ValidationResult:
    """What ``validate()`` reports: the mean loss over days and the cross-sectional metrics."""

    loss: float
    metrics: CrossSectionalMetrics


@dataclass
class EpochTiming:
    """Wall time and memory of one epoch (not deterministic: kept out of ``metrics.json``)."""

    epoch: int
    train_s: float
    validate_s: float
    memory: dict[str, float] = field(default_factory=dict)


def configure_determinism(seed: int, device: torch.device, threads: int | None) -> None:
    """Seed every generator and make torch deterministic.

    On CUDA this needs ``CUBLAS_WORKSPACE_CONFIG`` before the first cuBLAS call; it is set here if absent.
    """
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    if threads is not None:
        torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def train_epoch(
    model: ATFTLite,
    loader: DayBatchLoader,
    criterion: QuantileCorrelationLoss,
    optimizer: torch.optim.Optimizer,
    *,
    grad_clip: float,
    max_batches: int | None = None,
) -> TrainLog:
    """Train for one epoch (one batch per day) and log the loss and the metrics of the epoch's outputs."""
    model.train()
    device = loader.tensors.features.device
    train_outputs: list[torch.Tensor] = []
    train_targets: list[torch.Tensor] = []
    train_days: list[np.ndarray] = []
    total_loss = 0.0
    n_batches = 0
    for batch in loader:
        outputs = model(batch.x, batch.graph)
        loss = criterion(outputs, batch.targets.to(device))
        train_outputs.append(outputs.cpu())  # kept for the epoch log (train IC)
        train_targets.append(batch.targets)
        train_days.append(batch.day_ids)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        total_loss += loss
        n_batches += 1
        if n_batches == max_batches:
            break
    with torch.no_grad():
        predictions = torch.cat(train_outputs)
    metrics = compute_metrics(
        predictions, torch.cat(train_targets), np.concatenate(train_days), median_index=criterion.median_index
    )
    # `total_loss` is a tensor from the first `+= loss` on; mypy keeps the type of its `0.0` start. (Annotating it
    # instead would hide the accumulation from PFL103, which this trainer carries on purpose.)
    return TrainLog(loss=total_loss.item() / n_batches, metrics=metrics)  # type: ignore[attr-defined]


def validate(
    model: ATFTLite,
    loader: DayBatchLoader,
    criterion: QuantileCorrelationLoss,
    *,
    max_batches: int | None = None,
) -> ValidationResult:
    """Evaluate the model day by day; the loss is the mean of the daily losses."""
    model.eval()
    device = loader.tensors.features.device
    val_predictions: list[torch.Tensor] = []
    val_targets: list[torch.Tensor] = []
    val_days: list[np.ndarray] = []
    val_losses: list[torch.Tensor] = []
    with torch.no_grad():
        for batch in loader:
            val_targets.append(batch.targets)
            val_days.append(batch.day_ids)
            outputs = model(batch.x, batch.graph)
            val_predictions.append(outputs.cpu())
            val_losses.append(criterion(outputs, batch.targets.to(device)))
            if len(val_losses) == max_batches:
                break
        mean_loss = torch.stack(val_losses).mean().item()
    metrics = compute_metrics(
        torch.cat(val_predictions),
        torch.cat(val_targets),
        np.concatenate(val_days),
        median_index=criterion.median_index,
    )
    return ValidationResult(loss=mean_loss, metrics=metrics)


def run(options: RunOptions) -> dict[str, Any]:
    """Generate the data, train, validate every epoch, and write ``metrics.json`` and ``timing.json``.

    Returns:
        The content written to ``metrics.json``.
    """
    config = options.config
    device = torch.device(options.device)
    threads = options.threads if options.threads is not None else config.default_threads
    configure_determinism(options.seed, device, threads)
    probe = MemoryProbe(device)
    timing: dict[str, Any] = {"mode": config.name, "device": str(device), "threads": torch.get_num_threads()}

    started = time.perf_counter()
    panel = simulate_panel(config, options.seed)
    samples = make_samples(panel, config)
    code2market, code2sector = build_code_maps(panel.listed_info)
    tensors = PanelTensors.from_panel(
        panel, group_ids(panel.codes, code2market), group_ids(panel.codes, code2sector), device
    )
    timing["data_s"] = time.perf_counter() - started

    started = time.perf_counter()
    train_sampler = DayBatchSampler(samples.train, shuffle=True, seed=options.seed)
    val_sampler = DayBatchSampler(samples.val, shuffle=False)
    timing["sampler_build_s"] = time.perf_counter() - started

    train_loader = DayBatchLoader(tensors, samples.train, train_sampler, config.lookback, config.k_neighbors)
    val_loader = DayBatchLoader(tensors, samples.val, val_sampler, config.lookback, config.k_neighbors)
    model = ATFTLite(config.n_features, config.hidden_size, config.heads, len(HORIZONS), len(QUANTILES)).to(device)
    criterion = QuantileCorrelationLoss(QUANTILES, config.corr_weight).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)

    epochs: list[dict[str, Any]] = []
    epoch_timings: list[EpochTiming] = []
    for epoch in range(1, config.epochs + 1):
        train_sampler.set_epoch(epoch)
        probe.reset_peak()
        started = time.perf_counter()
        train_log = train_epoch(
            model, train_loader, criterion, optimizer, grad_clip=config.grad_clip, max_batches=options.max_batches
        )
        trained = time.perf_counter()
        result = validate(model, val_loader, criterion, max_batches=options.max_batches)
        finished = time.perf_counter()
        epoch_timings.append(EpochTiming(epoch, trained - started, finished - trained, probe.snapshot()))
        epochs.append(epoch_record(epoch, train_log, result))
        print(progress_line(config, epoch, train_log, result, finished - started), file=sys.stderr, flush=True)

    metrics = {
        "mode": config.name,
        "seed": options.seed,
        "device": device.type,
        "n_stocks": config.n_stocks,
        "n_days": config.n_days,
        "n_features": config.n_features,
        "n_train_samples": len(samples.train),
        "n_val_samples": len(samples.val),
        "max_batches": options.max_batches,
        "horizons": list(HORIZONS),
        "quantiles": list(QUANTILES),
        "epochs": epochs,
    }
    timing["epochs"] = [vars(item) for item in epoch_timings]
    timing["total_s"] = sum(item.train_s + item.validate_s for item in epoch_timings)
    write_json(options.out_dir / "metrics.json", metrics)
    write_json(options.out_dir / "timing.json", timing)
    return metrics


def epoch_record(epoch: int, train_log: TrainLog, result: ValidationResult) -> dict[str, Any]:
    """The deterministic part of one epoch's report; headline metrics are horizon 1."""
    headline = result.metrics.by_horizon[HORIZONS[0]]
    record: dict[str, Any] = {"epoch": epoch}
    record |= exact("train_loss", train_log.loss)
    record |= exact("train_ic", train_log.metrics.by_horizon[HORIZONS[0]].ic)
    record |= exact("val_loss", result.loss)
    record |= exact("ic", headline.ic)
    record |= exact("rank_ic", headline.rank_ic)
    record |= exact("icir", headline.icir)
    record |= exact("rank_icir", headline.rank_icir)
    record |= exact("sharpe", result.metrics.sharpe)
    record |= exact("pooled_ic", headline.pooled_ic)
    record |= exact("pooled_rank_ic", headline.pooled_rank_ic)
    record["val_days"] = result.metrics.n_days
    by_horizon = result.metrics.by_horizon.items()
    record["by_horizon"] = {str(horizon): exact_fields(vars(values)) for horizon, values in by_horizon}
    return record


def exact_fields(values: dict[str, float]) -> dict[str, float | str]:
    """:func:`exact` applied to every entry of ``values``."""
    fields: dict[str, float | str] = {}
    for name, value in values.items():
        fields |= exact(name, value)
    return fields


def exact(name: str, value: float) -> dict[str, float | str]:
    """``{name: value, name_hex: value.hex()}``: the float and its exact spelling."""
    return {name: value, f"{name}_hex": float(value).hex()}


def progress_line(
    config: ModeConfig, epoch: int, train_log: TrainLog, result: ValidationResult, seconds: float
) -> str:
    """One human-readable line per epoch."""
    headline = result.metrics.by_horizon[HORIZONS[0]]
    return (
        f"[{config.name}] epoch {epoch}/{config.epochs} train_loss={train_log.loss:.6f} "
        f"val_loss={result.loss:.6f} ic={headline.ic:+.4f} rank_ic={headline.rank_ic:+.4f} "
        f"icir={headline.icir:+.3f} sharpe={result.metrics.sharpe:+.3f} ({seconds:.1f}s)"
    )


def write_json(path: Path, content: dict[str, Any]) -> None:
    """Write ``content`` as indented JSON (floats in Python's shortest round-trip form)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, indent=2) + "\n")
