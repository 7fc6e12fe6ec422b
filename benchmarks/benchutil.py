"""Small helpers shared by the ``bench_*.py`` scripts (interleaved timing, RSS, subprocess workers, tables).

The scripts run from anywhere (``python benchmarks/bench_x.py``); importing this module puts the repository
root on ``sys.path`` so that ``reference_trainer`` imports without installation.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

MIB = 1024 * 1024


def interleaved(candidates: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Time every candidate ``repeats`` times, alternating their order each round (A B, B A, A B, ...).

    Interleaving spreads drift (other processes, thermal, allocator state) evenly over the candidates, so
    their ratio is measured side by side rather than across two separate runs.

    Returns:
        Seconds per run, per candidate name.
    """
    names = list(candidates)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(repeats):
        for name in names if round_index % 2 == 0 else reversed(names):
            started = time.perf_counter()
            candidates[name]()
            seconds[name].append(time.perf_counter() - started)
    return seconds


def median(values: Sequence[float]) -> float:
    """The median of ``values``."""
    return statistics.median(values)


def summary_row(label: str, seconds: Sequence[float], scale: float = 1e3) -> list[object]:
    """``[label, median, min, max]`` of ``seconds`` times ``scale`` (milliseconds by default)."""
    return [label, median(seconds) * scale, min(seconds) * scale, max(seconds) * scale]


def rss_mib() -> float:
    """Resident set size of this process now, in MiB (Linux ``/proc``; the peak RSS elsewhere)."""
    statm = Path("/proc/self/statm")
    if statm.exists():
        return int(statm.read_text().split()[1]) * resource.getpagesize() / MIB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_worker(script: Path, args: Sequence[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``python script *args`` in a fresh process and parse the JSON object its last stdout line holds."""
    full_env = {**os.environ, **(env or {})}
    completed = subprocess.run(
        [sys.executable, str(script), *args], env=full_env, capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"worker {args} failed:\n{completed.stderr}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table (also readable as plain text)."""
    cells = [[str(cell) for cell in header], *[[_cell(cell) for cell in row] for row in rows]]
    widths = [max(len(row[column]) for row in cells) for column in range(len(header))]
    lines = ["| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths)) + " |" for row in cells]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)


def _cell(value: object) -> str:
    """Format one table cell: floats with 4 significant digits."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def cuda_available() -> bool:
    """Whether torch sees a CUDA device (imports torch lazily)."""
    import torch

    return torch.cuda.is_available()
