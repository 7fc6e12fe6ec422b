"""The proof behind perflint: its fixes, applied to a copy of the reference trainer, keep every metric identical.

A copy of ``reference_trainer/`` is checked (each intended finding at its intended site), fixed with the safe
fixes, then with the unsafe ones too; after each step the original and the fixed trainer run in separate
processes and their ``metrics.json`` files must be identical to the byte (every float is also written exactly,
as ``float.hex``). The fixed sampler must yield the very same batches and the fixed code maps must equal the
original ones.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from perflint.cli import cli

REPO = Path(__file__).resolve().parents[2]
SEED_RULES = ("PFL101", "PFL102", "PFL103", "PFL106", "PFL201", "PFL202")
# (code, file, text of the reported line): the mistakes the trainer carries on purpose (see TRAINER.md).
INTENDED = {
    ("PFL101", "train.py", "train_outputs.append(outputs.cpu())"),
    ("PFL101", "train.py", "val_predictions.append(outputs.cpu())"),
    ("PFL103", "train.py", "total_loss += loss"),
    # `point` and `targets`, each converted by the three metric helpers: two findings on one line.
    ("PFL106", "metrics.py", "daily_ic, pooled_ic = _compute_ic(point, targets, day_ids)"),
    ("PFL201", "data.py", 'code2market = {str(row["Code"]): str(row["MarketCode"])'),
    ("PFL201", "data.py", 'code2sector = {str(row["Code"]): str(row["Sector33Code"])'),
    ("PFL202", "sampler.py", 'for idx, date in enumerate(data["Date"]):'),
}
PROBE = """
import json, sys
import numpy as np
from reference_trainer import data, sampler
from reference_trainer.config import MODES

assert data.__file__.startswith(sys.argv[1]), data.__file__
config = MODES["test"]
panel = data.simulate_panel(config, seed=0)
split = data.make_samples(panel, config)
code2market, code2sector = data.build_code_maps(panel.listed_info)
batches = {}
for name, table in (("train", split.train), ("val", split.val)):
    day_sampler = sampler.DayBatchSampler(table, shuffle=name == "train", seed=0)
    for epoch in range(2):
        day_sampler.set_epoch(epoch)
        batches[f"{name}-{epoch}"] = [b.tolist() for b in day_sampler]
json.dump({"code2market": code2market, "code2sector": code2sector, "batches": batches}, sys.stdout)
"""


def _copy_trainer(destination: Path) -> Path:
    shutil.copytree(REPO / "reference_trainer", destination / "reference_trainer", ignore=shutil.ignore_patterns("__pycache__"))
    return destination


def _environment(root: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(root), "PYTHONHASHSEED": "0"}


def _train(root: Path, out: Path) -> bytes:
    subprocess.run(
        [sys.executable, "-m", "reference_trainer", "train", "--mode", "test", "--seed", "0", "--out", str(out)],
        cwd=root,
        env=_environment(root),
        check=True,
        capture_output=True,
    )
    return (out / "metrics.json").read_bytes()


def _probe(root: Path) -> dict:
    completed = subprocess.run(
        [sys.executable, "-c", PROBE, str(root)], cwd=root, env=_environment(root), check=True, capture_output=True, text=True
    )
    return json.loads(completed.stdout)


def _findings(root: Path) -> set[tuple[str, str, str]]:
    result = CliRunner().invoke(cli, ["check", str(root / "reference_trainer"), "--select", ",".join(SEED_RULES), "--output-format", "json"])
    found = set()
    for item in json.loads(result.stdout):
        path = Path(item["filename"])
        line = path.read_text().splitlines()[item["location"]["row"] - 1].strip()
        found.add((item["code"], path.name, line))
    return found


def _matches(found: set[tuple[str, str, str]], intended: tuple[str, str, str]) -> bool:
    code, name, text = intended
    return any(f[0] == code and f[1] == name and f[2].startswith(text) for f in found)


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = _copy_trainer(tmp_path_factory.mktemp("original"))
    return {"root": root, "metrics": _train(root, root / "out"), "probe": _probe(root)}


@pytest.fixture(scope="module")
def fixed_roots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    safe = _copy_trainer(tmp_path_factory.mktemp("safe"))
    CliRunner().invoke(cli, ["fix", "--apply", str(safe / "reference_trainer"), "--select", ",".join(SEED_RULES)])
    unsafe = _copy_trainer(tmp_path_factory.mktemp("unsafe"))
    CliRunner().invoke(cli, ["fix", "--apply", "--unsafe-fixes", str(unsafe / "reference_trainer"), "--select", ",".join(SEED_RULES)])
    return {"safe": safe, "unsafe": unsafe}


def test_every_intended_finding_is_reported_at_its_site(original: dict) -> None:
    found = _findings(original["root"])
    missing = [intended for intended in INTENDED if not _matches(found, intended)]
    assert missing == [], f"missing {missing}; found {sorted(found)}"
    unexpected = {f for f in found if not any(_matches({f}, i) for i in INTENDED)}
    assert unexpected == set()


def test_pfl106_names_the_three_helpers_for_both_tensors(original: dict) -> None:
    metrics = str(original["root"] / "reference_trainer" / "metrics.py")
    result = CliRunner().invoke(cli, ["check", metrics, "--select", "PFL106", "--output-format", "json"])
    assert sorted(item["message"].split("`")[1] for item in json.loads(result.stdout)) == ["point", "targets"]
    result = CliRunner().invoke(cli, ["check", metrics, "--select", "PFL106"])
    assert all(helper in result.stdout for helper in ("_compute_ic", "_compute_rank_ic", "_compute_sharpe")), result.stdout


@pytest.mark.parametrize("variant", ["safe", "unsafe"])
def test_fixed_trainer_gives_identical_metrics(original: dict, fixed_roots: dict[str, Path], variant: str) -> None:
    root = fixed_roots[variant]
    assert _changed_files(original["root"], root), "perflint changed nothing"
    assert _train(root, root / "out") == original["metrics"]


@pytest.mark.parametrize("variant", ["safe", "unsafe"])
def test_fixed_sampler_and_code_maps_are_the_same(original: dict, fixed_roots: dict[str, Path], variant: str) -> None:
    assert _probe(fixed_roots[variant]) == original["probe"]


def test_unsafe_fixed_copy_checks_clean(fixed_roots: dict[str, Path]) -> None:
    assert _findings(fixed_roots["unsafe"]) == set()


def test_unsafe_fixes_rewrote_every_intended_site(original: dict, fixed_roots: dict[str, Path]) -> None:
    changed = _changed_files(original["root"], fixed_roots["unsafe"])
    assert changed == {"train.py", "data.py", "sampler.py", "metrics.py"}


def test_a_second_fix_changes_nothing(fixed_roots: dict[str, Path]) -> None:
    package = fixed_roots["unsafe"] / "reference_trainer"
    before = {p.name: p.read_bytes() for p in package.glob("*.py")}
    CliRunner().invoke(cli, ["fix", "--apply", "--unsafe-fixes", str(package), "--select", ",".join(SEED_RULES)])
    assert {p.name: p.read_bytes() for p in package.glob("*.py")} == before


def _changed_files(first: Path, second: Path) -> set[str]:
    return {
        path.name
        for path in (first / "reference_trainer").glob("*.py")
        if path.read_bytes() != (second / "reference_trainer" / path.name).read_bytes()
    }
