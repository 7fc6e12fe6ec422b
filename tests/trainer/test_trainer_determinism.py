"""Test mode end to end: bit-identical metrics between processes, speed, and the shape of metrics.json."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import TrainerRuns

HEADLINE = (
    "train_loss", "train_ic", "val_loss", "ic", "rank_ic", "icir", "rank_icir", "sharpe", "pooled_ic", "pooled_rank_ic",
)


def test_runs_succeed(trainer_runs: TrainerRuns) -> None:
    for run in (trainer_runs.first, trainer_runs.second, trainer_runs.fixed):
        assert run.returncode == 0, run.stderr


def test_two_processes_give_byte_identical_metrics(trainer_runs: TrainerRuns) -> None:
    assert trainer_runs.first.metrics_bytes == trainer_runs.second.metrics_bytes


def test_test_mode_runs_under_a_minute(trainer_runs: TrainerRuns) -> None:
    """CPU time, imports included (wall time is not comparable: three runs share the machine, and others may)."""
    assert trainer_runs.first.cpu_seconds < 60
    assert trainer_runs.second.cpu_seconds < 60
    assert trainer_runs.first.wall_seconds < 300


def test_one_progress_line_per_epoch_on_stderr(trainer_runs: TrainerRuns) -> None:
    progress = [line for line in trainer_runs.first.stderr.splitlines() if line.startswith("[test] epoch")]
    assert len(progress) == 2


def test_every_float_has_its_exact_hex(trainer_runs: TrainerRuns) -> None:
    metrics = json.loads(trainer_runs.first.metrics_bytes)
    assert [epoch["epoch"] for epoch in metrics["epochs"]] == [1, 2]
    for epoch in metrics["epochs"]:
        for name in HEADLINE:
            assert isinstance(epoch[name], float)
            assert float.fromhex(epoch[f"{name}_hex"]) == epoch[name] or math.isnan(epoch[name])
        for values in epoch["by_horizon"].values():
            assert float.fromhex(values["ic_hex"]) == values["ic"]
        assert set(epoch["by_horizon"]) == {"1", "5", "10", "20"}


def test_timing_is_kept_out_of_metrics(trainer_runs: TrainerRuns) -> None:
    metrics_text = trainer_runs.first.metrics_bytes.decode()
    assert "_s\"" not in metrics_text and "rss" not in metrics_text
    timing = json.loads((trainer_runs.first.out_dir / "timing.json").read_text())
    assert sorted(path.name for path in trainer_runs.first.out_dir.iterdir()) == [
        "metrics.json", "stderr.txt", "timing.json"
    ]
    assert len(timing["epochs"]) == 2
    assert timing["epochs"][0]["memory"]["peak_rss_mib"] > 0


def test_hand_fixed_copy_gives_byte_identical_metrics(trainer_runs: TrainerRuns) -> None:
    """perflint's intended rewrites (applied by hand) must not change a single bit of the metrics."""
    assert trainer_runs.fixed.metrics_bytes == trainer_runs.first.metrics_bytes


def test_the_model_learns_something(trainer_runs: TrainerRuns) -> None:
    last = json.loads(trainer_runs.first.metrics_bytes)["epochs"][-1]
    assert last["ic"] > 0 and last["rank_ic"] > 0
