"""The result cache: a warm run parses nothing and returns what a cold run returned; nothing stale is reused."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from perflint import api, cache
from perflint.cli import cli
from perflint.types import ErrorKind, FileError, FileResult
from tests.speed.samples import count_parses, every_rule, fixture_inputs

KEPT = b"import torch\nfor x in loader:\n    kept.append(model(x).cpu())\n"
CLEAN = b"import torch\nfor x in loader:\n    kept.append(model(x).detach().cpu())\n"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """The PFL101 fixtures and a file LibCST cannot parse, under ``tmp_path/src``."""
    source = tmp_path / "src"
    source.mkdir()
    for fixture in fixture_inputs():
        if fixture.parent.name == "PFL101":
            shutil.copyfile(fixture, source / fixture.name)
    (source / "broken.py").write_bytes(b"def f(:\n    kept.append(x.cpu())\n")
    return source


def _run(tree: Path, cache_dir: Path, options: api.RunOptions = api.RunOptions(), settings=None) -> list[FileResult]:
    execution = api.Execution(jobs=1, cache_dir=cache_dir)
    return list(api.check_paths([tree], settings or every_rule(), options, execution))


@pytest.mark.parametrize("options", [api.RunOptions(), api.RunOptions(with_edits=True)], ids=["plain", "edits"])
def test_warm_run_parses_nothing_and_returns_the_cold_results(tree: Path, tmp_path: Path, options, monkeypatch) -> None:
    cold = _run(tree, tmp_path / "cache", options)
    parsed = count_parses(monkeypatch)
    warm = _run(tree, tmp_path / "cache", options)
    assert parsed == []
    assert warm == cold
    assert any(result.violations for result in cold) and any(result.errors for result in cold)


def test_results_without_findings_are_stored_as_a_marker(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "clean.py").write_bytes(CLEAN)
    (source / "kept.py").write_bytes(KEPT)
    cold = _run(source, tmp_path / "cache")
    (stored,) = [json.loads(file.read_bytes()) for file in (tmp_path / "cache").glob("results-*.json")]
    assert stored[str(source / "clean.py")][1] == cache.CLEAN
    assert stored[str(source / "kept.py")][1] != cache.CLEAN
    assert _run(source, tmp_path / "cache") == cold


def test_changed_file_is_checked_again(tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tree / "a.py").write_bytes(KEPT)
    _run(tree, tmp_path / "cache")
    (tree / "a.py").write_bytes(CLEAN)
    parsed = count_parses(monkeypatch)
    results = {result.path.name: result for result in _run(tree, tmp_path / "cache")}
    assert parsed == [CLEAN]
    assert results["a.py"].violations == ()


def test_other_configuration_misses(tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _run(tree, tmp_path / "cache")
    parsed = count_parses(monkeypatch)
    only_pfl101 = every_rule().with_overrides(select=("PFL101",))
    _run(tree, tmp_path / "cache", settings=only_pfl101)
    assert parsed


def test_fix_runs_cache_only_files_with_nothing_to_fix(tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tree / "a.py").write_bytes(KEPT)
    (tree / "b.py").write_bytes(CLEAN)
    options = api.RunOptions(fix=True)
    first = {result.path.name: result for result in _run(tree, tmp_path / "cache", options, replace(every_rule(), unsafe_fixes=True))}
    assert first["a.py"].changed and not first["b.py"].changed
    parsed = count_parses(monkeypatch)
    second = {result.path.name: result for result in _run(tree, tmp_path / "cache", options, replace(every_rule(), unsafe_fixes=True))}
    assert KEPT in parsed and CLEAN not in parsed
    assert second == first


def test_read_errors_are_never_cached(tmp_path: Path) -> None:
    store = cache.ResultCache.open(tmp_path / "cache", "configuration")
    path = tmp_path / "gone.py"
    store.put(FileResult(path, errors=(FileError(path, ErrorKind.READ, "permission denied"),), original=b""))
    assert store.entries == {}


def test_entry_for_other_bytes_is_not_used(tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    path.write_bytes(KEPT)
    store = cache.ResultCache.open(tmp_path / "cache", "configuration")
    store.put(FileResult(path, original=KEPT, fixed=KEPT))
    assert store.get(path) == FileResult(path, original=KEPT, fixed=KEPT)
    path.write_bytes(CLEAN)
    assert store.get(path) is None


def test_damaged_cache_file_is_ignored(tree: Path, tmp_path: Path) -> None:
    cold = _run(tree, tmp_path / "cache")
    for file in (tmp_path / "cache").glob("results-*.json"):
        entries = json.loads(file.read_text())
        file.write_text(json.dumps({path: [digest, {"path": 3}, True] for path, (digest, *_) in entries.items()}))
    assert _run(tree, tmp_path / "cache") == cold
    for file in (tmp_path / "cache").glob("results-*.json"):
        file.write_text("{not json")
    assert _run(tree, tmp_path / "cache") == cold


def test_encoding_round_trips_every_field(tmp_path: Path) -> None:
    # With unsafe fixes on, KEPT's (unsafe) fix applies, so its edits are reported.
    settings = replace(every_rule(), unsafe_fixes=True)
    result = api.check_source(KEPT, tmp_path / "a.py", settings, api.RunOptions(with_edits=True))
    assert result.violations and result.violations[0].fix.edits and result.violations[0].fix.applies
    stored = replace(result, original=None, fixed=None)
    assert cache._decode(FileResult, json.loads(json.dumps(cache._encode(stored)))) == stored


def test_cli_caches_beside_the_configuration_unless_told_otherwise(tree: Path, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.perflint]\n")
    runner = CliRunner()
    runner.invoke(cli, ["check", str(tree), "--no-cache"])
    assert not (tmp_path / cache.DEFAULT_DIRECTORY).exists()
    first = runner.invoke(cli, ["check", str(tree), "--jobs", "2"])
    assert (tmp_path / cache.DEFAULT_DIRECTORY / cache.TAG_NAME).is_file()
    second = runner.invoke(cli, ["check", str(tree)])
    assert (second.exit_code, second.output) == (first.exit_code, first.output)
    elsewhere = tmp_path / "elsewhere"
    runner.invoke(cli, ["check", str(tree), "--cache-dir", str(elsewhere)])
    assert list(elsewhere.glob("results-*.json"))
    cleaned = runner.invoke(cli, ["clean", "--config", str(tmp_path / "pyproject.toml")])
    assert cleaned.exit_code == 0 and not (tmp_path / cache.DEFAULT_DIRECTORY).exists()


def test_clean_removes_only_a_perflint_cache(tree: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    cache_dir = tmp_path / "here"
    runner.invoke(cli, ["check", str(tree), "--cache-dir", str(cache_dir)])
    result = runner.invoke(cli, ["clean", "--cache-dir", str(cache_dir)])
    assert result.exit_code == 0 and not cache_dir.exists()
    assert "no cache" in runner.invoke(cli, ["clean", "--cache-dir", str(cache_dir)]).output
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    refused = runner.invoke(cli, ["clean", "--cache-dir", str(precious)])
    assert refused.exit_code != 0 and (precious / "notes.txt").exists()
