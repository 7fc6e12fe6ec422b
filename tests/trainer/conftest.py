"""Shared fixtures of the reference trainer's tests: one batch of CLI runs reused by every test that needs one."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `pytest` (not `python -m pytest`) does not put the repository on the path
    sys.path.insert(0, str(REPO))


@dataclass(frozen=True)
class TrainerRun:
    """One ``python -m reference_trainer train --mode test`` subprocess and what it wrote.

    ``cpu_seconds`` (user + system time of the process) is what the speed test checks: unlike wall time it does
    not grow when other jobs share the machine.
    """

    out_dir: Path
    wall_seconds: float
    cpu_seconds: float
    returncode: int
    stderr: str

    @property
    def metrics_bytes(self) -> bytes:
        """The raw bytes of ``metrics.json``."""
        return (self.out_dir / "metrics.json").read_bytes()


@dataclass(frozen=True)
class TrainerRuns:
    """Two runs of the original trainer (different hash seeds) and one of the hand-fixed copy."""

    first: TrainerRun
    second: TrainerRun
    fixed: TrainerRun


def load_hand_fixes() -> ModuleType:
    """Import ``benchmarks/hand_fixes.py`` (benchmarks is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("hand_fixes", REPO / "benchmarks" / "hand_fixes.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _start(cwd: Path, out_dir: Path, hash_seed: str) -> tuple[subprocess.Popen[bytes], float]:
    """Start one test-mode run in a fresh process; its stderr goes to ``out_dir/stderr.txt``."""
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(cwd)}
    command = [sys.executable, "-m", "reference_trainer", "train", "--mode", "test", "--seed", "0"]
    command += ["--out", str(out_dir)]
    out_dir.mkdir(parents=True)
    with (out_dir / "stderr.txt").open("wb") as stderr:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    return process, time.perf_counter()


def _finish(process: subprocess.Popen[bytes], started: float, out_dir: Path) -> TrainerRun:
    """Reap a run started by :func:`_start`, with its CPU time (``os.wait4``)."""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return TrainerRun(
        out_dir=out_dir,
        wall_seconds=time.perf_counter() - started,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        returncode=process.returncode,
        stderr=(out_dir / "stderr.txt").read_text(),
    )


@pytest.fixture(scope="session")
def trainer_runs(tmp_path_factory: pytest.TempPathFactory) -> TrainerRuns:
    """Run test mode twice from the repository and once from a hand-fixed copy, side by side."""
    root = tmp_path_factory.mktemp("trainer_runs")
    fixed_copy = root / "fixed"
    load_hand_fixes().copy_and_fix(fixed_copy)
    plans = [(REPO, root / "first", "1"), (REPO, root / "second", "2"), (fixed_copy, root / "fixed_out", "3")]
    started = [(_start(cwd, out_dir, hash_seed), out_dir) for cwd, out_dir, hash_seed in plans]
    first, second, fixed = (_finish(process, start, out_dir) for (process, start), out_dir in started)
    return TrainerRuns(first, second, fixed)
