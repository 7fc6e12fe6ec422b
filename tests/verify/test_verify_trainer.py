"""``fix --verify`` on the reference trainer (test mode): every unsafe fix keeps metrics.json identical, so every
fix is kept and written, the same bytes as ``fix --apply --unsafe-fixes``. Three trainer runs: slow."""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from perflint.cli import cli

REPO = Path(__file__).resolve().parents[2]
COMMAND = f"PYTHONPATH=. PYTHONHASHSEED=0 {shlex.quote(sys.executable)} -m reference_trainer train --mode test --seed 0 --out out"


def _copy_trainer(destination: Path) -> Path:
    shutil.copytree(REPO / "reference_trainer", destination / "reference_trainer", ignore=shutil.ignore_patterns("__pycache__"))
    return destination


@pytest.mark.slow
def test_verify_keeps_every_fix_of_the_reference_trainer(tmp_path, monkeypatch):
    verified = _copy_trainer(tmp_path / "verified")
    plain = _copy_trainer(tmp_path / "plain")
    runner = CliRunner()
    monkeypatch.chdir(plain)
    assert runner.invoke(cli, ["fix", "--apply", "--unsafe-fixes", "--no-cache", "reference_trainer"]).exit_code == 0
    monkeypatch.chdir(verified)
    arguments = ["fix", "--unsafe-fixes", "--verify", COMMAND, "--compare", "out/metrics.json", "--output-format", "json", "reference_trainer"]
    result = runner.invoke(cli, arguments, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["status"] == "verified" and report["rejected"] == []
    assert report["compared"] == ["out/metrics.json"]
    assert len(report["runs"]) == 3 and all(run["exit_status"] == 0 for run in report["runs"])
    assert {fix["code"] for fix in report["applied"]} >= {"PFL101", "PFL103", "PFL201", "PFL202"}
    assert report["message"] == f"verified: {len(report['applied'])} fixes, outputs identical: out/metrics.json"
    # The verified tree is the tree a plain fix writes: the same fixes, the same bytes.
    for path in sorted((plain / "reference_trainer").glob("*.py")):
        assert (verified / "reference_trainer" / path.name).read_bytes() == path.read_bytes(), path.name
    assert sorted(Path(p).name for p in report["written"]) == ["data.py", "metrics.py", "sampler.py", "train.py"]
    assert not (verified / "out").exists()
