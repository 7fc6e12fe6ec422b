"""Checking on a process pool gives the results of checking in this process, in the same order."""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import shutil
import time
from pathlib import Path

import pytest

from perflint import api, cli, parallel
from tests.speed.samples import every_rule, fixture_inputs


def _slow_echo(item: float) -> float:
    time.sleep(item)
    return item


def test_results_keep_input_order_whatever_finishes_first() -> None:
    # Early items sleep longest, so workers finish them last.
    items = [0.2, 0.15, 0.1, 0.0, 0.0, 0.05, 0.0, 0.0, 0.0, 0.01]
    assert list(parallel.map_in_order(_slow_echo, items, jobs=3)) == items


def test_one_job_or_one_item_runs_in_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_pool(*args, **kwargs):
        raise AssertionError("a process pool was started")

    monkeypatch.setattr(parallel, "ProcessPoolExecutor", no_pool)
    assert list(parallel.map_in_order(abs, [-1, -2], jobs=1)) == [1, 2]
    assert list(parallel.map_in_order(abs, [-3], jobs=4)) == [3]


def _collector_thresholds(_: int) -> tuple[int, int, int]:
    return gc.get_threshold()


@pytest.fixture
def restored_thresholds():
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_workers_collect_garbage_as_the_caller_does(start_method: str, restored_thresholds, monkeypatch) -> None:
    monkeypatch.setattr(parallel, "_context", lambda: multiprocessing.get_context(start_method))
    gc.set_threshold(12_345, 6, 7)
    assert set(parallel.map_in_order(_collector_thresholds, [1, 2, 3], jobs=2)) == {(12_345, 6, 7)}


def test_the_command_line_relaxes_the_collector(restored_thresholds, monkeypatch) -> None:
    monkeypatch.setattr("sys.argv", ["perflint", "--version"])
    with contextlib.suppress(SystemExit):
        cli.main()
    assert gc.get_threshold() == cli.GC_THRESHOLDS != (700, 10, 10)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """Two fixture inputs of every folder copied under one folder, plus a file LibCST cannot parse."""
    folders: dict[str, int] = {}
    for source in fixture_inputs():
        folders[source.parent.name] = folders.get(source.parent.name, 0) + 1
        if folders[source.parent.name] > 2:
            continue
        target = tmp_path / source.parent.name / source.name
        target.parent.mkdir(exist_ok=True)
        shutil.copyfile(source, target)
    (tmp_path / "broken.py").write_bytes(b"def f(:\n    kept.append(x.cpu())\n")
    return tmp_path


def test_one_and_three_jobs_give_the_same_results(tree: Path) -> None:
    settings, options = every_rule(), api.RunOptions(with_edits=True)
    serial = list(api.check_paths([tree], settings, options, api.Execution(jobs=1)))
    pooled = list(api.check_paths([tree], settings, options, api.Execution(jobs=3)))
    assert pooled == serial
    assert any(result.violations for result in serial) and any(result.errors for result in serial)


def test_fixes_are_written_by_workers(tree: Path) -> None:
    options = api.RunOptions(fix=True, apply=True)
    results = list(api.check_paths([tree], every_rule(), options, api.Execution(jobs=2)))
    written = [result for result in results if result.written]
    assert written
    assert all(result.path.read_bytes() == result.fixed for result in written)
