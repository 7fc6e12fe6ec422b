"""The real-world sweep (benchmarks/corpus/sweep.py) as a slow test: zero crashes, unparsable outputs,
non-idempotent fixes and changes outside reported fixes over the corpus that build_corpus.py downloads.

Skipped where the corpus has not been built. It takes hours on two cores; ``PERFLINT_SWEEP_LIMIT=N`` sweeps a
seeded sample of N files instead.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from perflint import api
from tests.safety.samples import FIXABLE, FIXED
from tests.support import settings_for

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "corpus" / "src"
SWEEP = REPO / "benchmarks" / "corpus" / "sweep.py"


def load_sweep():
    """The sweep script as a module (benchmarks/ is not a package)."""
    spec = importlib.util.spec_from_file_location("corpus_sweep", SWEEP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_sweep_accepts_the_fix_and_flags_a_stray_change() -> None:
    """The sweep's "changed lines lie inside a reported fix" check, on a real fix and on a stray edit."""
    sweep = load_sweep()
    original = ("# header\n" + FIXABLE).encode()
    checked = api.check_source(original, Path("x.py"), settings_for(["ALL"]), api.RunOptions(with_edits=True))
    fixed = ("# header\n" + FIXED).encode()
    assert sweep.changes_outside_edits(original, fixed, checked) == []
    stray = fixed.replace(b"# header", b"# HEADER")
    assert sweep.changes_outside_edits(original, stray, checked) == ["line 1: '# header' -> '# HEADER'"]
    inserted = fixed + b"print('extra')\n"
    assert len(sweep.changes_outside_edits(original, inserted, checked)) == 1


@pytest.mark.slow
@pytest.mark.skipif(not CORPUS.is_dir(), reason="no corpus: run benchmarks/corpus/build_corpus.py")
def test_corpus_sweep_finds_no_problem(tmp_path: Path) -> None:
    report = tmp_path / "sweep_report.txt"
    command = [sys.executable, str(SWEEP), "--corpus", str(CORPUS), "--work", str(tmp_path / "copy"), "--report", str(report)]
    limit = os.environ.get("PERFLINT_SWEEP_LIMIT")
    if limit:
        command += ["--limit", limit]
    completed = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    assert report.exists(), completed.stderr
    totals = json.loads(completed.stdout[: completed.stdout.rindex("}") + 1])
    assert totals["files"] > 0
    problems = {key: totals[key] for key in ("crashes", "unparsable_outputs", "non_idempotent_fixes", "changes_outside_fixes")}
    assert problems == dict.fromkeys(problems, 0), report.read_text()[:20_000]
    assert completed.returncode == 0, completed.stderr
