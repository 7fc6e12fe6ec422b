"""Cost of ``perflint fix --verify``: its wall time on the reference trainer vs one plain run of the trainer.

``fix --verify`` runs the command at least three times (two baseline runs of the original code, one with all
fixes), each on a fresh copy of the project, plus the time to compute the fixes; on the trainer every fix
keeps ``metrics.json`` identical, so no delta-debugging trials follow. Both sides run in fresh processes on a
fresh copy of ``reference_trainer/`` (test mode), interleaved round after round; the table gives medians.

Usage: ``python benchmarks/bench_verify.py [--mode test] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchutil import REPO, interleaved, median, table


def _copy(destination: Path) -> Path:
    shutil.rmtree(destination, ignore_errors=True)
    shutil.copytree(REPO / "reference_trainer", destination / "reference_trainer", ignore=shutil.ignore_patterns("__pycache__"))
    return destination


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", default="test", choices=["test", "smoke"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    command = f"PYTHONPATH=. PYTHONHASHSEED=0 {shlex.quote(sys.executable)} -m reference_trainer train --mode {args.mode} --seed 0 --out out"
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    scratch = Path(tempfile.mkdtemp(prefix="bench-verify-"))
    reports: list[dict] = []

    def plain() -> None:
        project = _copy(scratch / "plain")
        subprocess.run(command, shell=True, cwd=project, check=True, capture_output=True)

    def verified() -> None:
        project = _copy(scratch / "verified")
        completed = subprocess.run(
            [sys.executable, "-m", "perflint", "fix", "--unsafe-fixes", "--verify", command, "--compare", "out/metrics.json",
             "--output-format", "json", "reference_trainer"],
            cwd=project, env=environment, capture_output=True, text=True,
        )
        if completed.returncode != 0:
            raise SystemExit(f"fix --verify failed ({completed.returncode}): {completed.stdout}{completed.stderr}")
        reports.append(json.loads(completed.stdout))

    try:
        seconds = interleaved({"plain run": plain, "fix --verify": verified}, args.repeats)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    runs = sorted({len(report["runs"]) for report in reports})
    fixes = sorted({len(report["applied"]) for report in reports})
    base = median(seconds["plain run"])
    rows = [[name, f"{median(values):.1f}", f"{median(values) / base:.2f}x", " ".join(f"{v:.1f}" for v in values)] for name, values in seconds.items()]
    print(f"reference trainer, --mode {args.mode}, {args.repeats} rounds; fix --verify: {fixes} fixes verified in {runs} runs of the command")
    print(table(["what", "median s", "vs plain run", "each round (s)"], rows))


if __name__ == "__main__":
    main()
