"""Check files on a pool of processes; results come back in input order whatever the scheduling."""

from __future__ import annotations

import gc
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Iterator, Sequence, TypeVar

from perflint import engine, registry

Item = TypeVar("Item")
Result = TypeVar("Result")
# Files per task: small enough to balance a few huge files across workers, large enough that the
# per-task pickling and wake-ups stay well under the cost of checking the files.
CHUNK_SIZE = 4


def default_jobs() -> int:
    """The number of CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def map_in_order(function: Callable[[Item], Result], items: Sequence[Item], jobs: int) -> Iterator[Result]:
    """``map(function, items)`` over ``jobs`` worker processes (in this process for one job or one item).

    ``function`` must be picklable (a module-level function or a ``functools.partial`` of one).
    """
    if jobs <= 1 or len(items) <= 1:
        yield from map(function, items)
        return
    _warm_up()
    # Spawned workers (not forked ones) would start with the default collector thresholds, not the caller's.
    pool = ProcessPoolExecutor(
        max_workers=min(jobs, len(items)), mp_context=_context(), initializer=gc.set_threshold, initargs=gc.get_threshold()
    )
    try:
        # Forked workers keep the objects made so far out of their garbage collector's reach: its passes
        # would otherwise write to every shared object's header and copy each page it is on.
        gc.freeze()
        try:
            results = pool.map(function, items, chunksize=CHUNK_SIZE)  # submits every task: forks the workers
        finally:
            gc.unfreeze()
        yield from results
    finally:
        # Also reached when the caller stops early or is interrupted: drop the work not started.
        pool.shutdown(wait=True, cancel_futures=True)


def _warm_up() -> None:
    """Import every rule and load LibCST's native parser once, before forking, instead of once per worker."""
    registry.all_rules()
    engine.parse(b"")


def _context() -> multiprocessing.context.BaseContext:
    # fork shares the warmed-up imports; macOS and Windows lack a safe fork, their workers import afresh.
    if sys.platform == "linux":
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")
