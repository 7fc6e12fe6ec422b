"""The trainer must keep its deliberate mistakes exactly where, and only where, TRAINER.md places them.

perflint's tests lint the trainer and expect these sites; a refactoring that drops or adds one must fail here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "reference_trainer"


def _source() -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(PACKAGE.glob("*.py"))}


@pytest.mark.parametrize(
    ("needle", "where"),
    [
        (".iterrows()", {"data.py": 2}),
        (".cpu()", {"train.py": 2}),
        ("train_outputs.append(outputs.cpu())", {"train.py": 1}),
        ("val_predictions.append(outputs.cpu())", {"train.py": 1}),
        ("total_loss += loss\n", {"train.py": 1}),
        ('for idx, date in enumerate(data["Date"]):', {"sampler.py": 1}),
        ("date_indices[date].append(idx)", {"sampler.py": 1}),
        (".numpy()", {"metrics.py": 6}),
    ],
)
def test_site_counts(needle: str, where: dict[str, int]) -> None:
    counts = {name: text.count(needle) for name, text in _source().items() if needle in text}
    assert counts == where


def test_metric_helpers_are_only_called_in_metrics_module() -> None:
    for name, text in _source().items():
        for helper in ("_compute_ic(", "_compute_rank_ic(", "_compute_sharpe("):
            assert (helper in text) == (name == "metrics.py"), (name, helper)


def test_no_perflint_import_and_no_hash() -> None:
    """The trainer imports nothing from perflint and never seeds by ``hash()`` (randomised per process)."""
    for name, text in _source().items():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Import):
                assert not any(alias.name.split(".")[0] == "perflint" for alias in node.names), name
            if isinstance(node, ast.ImportFrom):
                assert (node.module or "").split(".")[0] != "perflint", name
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id != "hash", name
