"""Throughput: perflint against a bare LibCST parse, Fixit 2.2 and TorchFix 0.7, over the same files.

Every measurement runs one command in a fresh wrapper process that reports the command's CPU seconds
(user + system of the whole process tree, from ``getrusage(RUSAGE_CHILDREN)``), wall seconds and peak RSS
(of its largest process). Commands run interleaved, round after round, so that load from other jobs on the
machine hits every command alike; the table gives medians over the rounds, and the ratios are computed from
those medians within the same invocation.

Commands: ``perflint check`` with the default rules (cold: ``--no-cache``; with 1 job and with one per CPU;
warm: a cache filled by an untimed run first), a bare ``libcst.parse_module`` of every file, ``fixit lint``
(default rules) and ``torchfix`` (default rules). Fixit and TorchFix each get their own virtual environment
under ``benchmarks/.venvs/`` (git-ignored; TorchFix 0.7 pins libcst < 1.6), created on first use with pip.

Usage: ``python benchmarks/throughput.py FOLDER [--sample N] [--runs 3] [--baseline CHECKOUT] [--output F]``.
FOLDER is walked for ``*.py`` files (e.g. ``corpus/src`` from ``benchmarks/corpus/build_corpus.py``, or a
site-packages folder); ``--sample`` picks N of them at random (seeded), since the peers take ~20x the CPU
of a parse. The files are copied to a scratch folder outside any repository (Fixit skips git-ignored files,
and ``corpus/`` is git-ignored) and every tool is given the same explicit list of them. perflint runs from
a snapshot of its package taken at the start, so that edits made meanwhile neither mix versions nor
invalidate the warm cache. ``--baseline CHECKOUT`` (e.g. a ``git worktree`` of an earlier commit) adds that
checkout's perflint, cold with 1 job, to the same interleaved rounds, and its CPU ratio to this one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Optional, Sequence

REPO = Path(__file__).resolve().parent.parent
VENVS = REPO / "benchmarks" / ".venvs"
PEERS = {"fixit": "fixit==2.2.*", "torchfix": "torchfix==0.7.*"}
PARSE_PROGRAM = """
import sys
import libcst
for line in open(sys.argv[1], encoding="utf-8"):
    try:
        libcst.parse_module(open(line.rstrip("\\n"), "rb").read())
    except Exception:
        pass
"""
# Per default rule: files with a required token, files left after could_match, files left with a finding of the
# rule, CPU of a run with that rule alone (in all, and on the files left that end with no finding: wasted work).
PER_RULE_PROGRAM = """
import json, sys, time
from pathlib import Path
from perflint import api, engine
from perflint.config import Settings
datas = [(Path(line.rstrip("\\n")), Path(line.rstrip("\\n")).read_bytes()) for line in open(sys.argv[1], encoding="utf-8")]
settings = Settings(root=Path.cwd())
rows = []
for rule in settings.rules():
    tokens = sum(any(token.encode() in data for token in rule.required_tokens) for _, data in datas)
    alone = settings.with_overrides(select=(rule.code,))
    left = found = 0
    total = wasted = 0.0
    for path, data in datas:
        start = time.process_time()
        result = api.check_source(data, path, alone)
        spent = time.process_time() - start
        total += spent
        if engine.prefilter(data, (rule,)).rules:
            left += 1
            if result.violations:
                found += 1
            else:
                wasted += spent
    rows.append([rule.code, rule.name, tokens, left, found, total, wasted])
print(json.dumps(rows))
"""
# Targets of the task that asked for this benchmark, checked in the report.
TARGET_PEER_RATIO = 15.0
TARGET_PARSE_RATIO = 1.0
TARGET_JOBS_SPEEDUP = 1.7
TARGET_WARM_SPEEDUP = 20.0


@dataclass(frozen=True)
class Sample:
    """One measured run of one command."""

    cpu: float
    wall: float
    max_rss_kib: int
    returncode: int
    output_digest: str


@dataclass(frozen=True)
class Command:
    """A named command line; ``compare`` marks the perflint runs whose output must be identical."""

    name: str
    argv: tuple[str, ...]
    compare: bool = False
    role: str = "peer"  # cold_one, cold_many, warm, parse, baseline or peer
    package_root: str = ""  # the folder holding the perflint package it runs ("" for the snapshot)


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Parse arguments, set up the peers, measure, and write the markdown report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--sample", type=int, default=0, help="check N files chosen at random (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", type=int, default=3, help="interleaved rounds (medians are reported)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="perflint's parallel run (default: all CPUs)")
    parser.add_argument("--no-peers", action="store_true", help="skip Fixit and TorchFix")
    parser.add_argument("--no-per-rule", action="store_true", help="skip the per-rule table (one more pass per rule)")
    parser.add_argument("--cold-only", action="store_true",
                        help="only perflint cold with 1 job and the bare parse (no parallel or warm runs): half the time")
    parser.add_argument("--baseline", type=Path, help="a checkout of another perflint version to compare with")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "throughput.md")
    args = parser.parse_args(argv)

    originals = _files(args.folder, args.sample, args.seed)
    with tempfile.TemporaryDirectory(prefix="perflint-throughput-") as directory:
        scratch = Path(directory)
        files = _copy_files(originals, args.folder, scratch / "files")
        shutil.copytree(REPO / "perflint", scratch / "perflint", ignore=shutil.ignore_patterns("__pycache__"))
        if args.baseline:
            shutil.copytree(args.baseline / "perflint", scratch / "baseline" / "perflint",
                            ignore=shutil.ignore_patterns("__pycache__"))
        listing = scratch / "files.txt"
        listing.write_text("".join(f"{path}\n" for path in files), encoding="utf-8")
        commands = _commands(files, listing, scratch / "cache", args.jobs, peers=not args.no_peers, cold_only=args.cold_only)
        if args.baseline:
            commands.insert(1, Command(f"perflint, cold, 1 job: baseline {_revision(args.baseline)}",
                                       commands[0].argv, role="baseline", package_root=str(scratch / "baseline")))
        roles = {command.role: command for command in commands}
        if "warm" in roles:
            _measure(roles["warm"], scratch)  # fills the cache for the warm runs; not timed
        samples, loads = _rounds(commands, args.runs, scratch)
        per_rule = None if args.no_per_rule else _per_rule(listing, scratch)
    report = _report(args, originals, commands, samples, loads)
    if per_rule is not None:
        report += _per_rule_table(per_rule, samples[roles["parse"].name])
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report, encoding="utf-8")
    print(report)


def _files(folder: Path, sample: int, seed: int) -> list[Path]:
    files = sorted(path for path in folder.rglob("*.py") if path.is_file() and not path.is_symlink())
    if sample and sample < len(files):
        files = sorted(random.Random(seed).sample(files, sample))
    if not files:
        raise SystemExit(f"no .py files under {folder}")
    return files


def _copy_files(files: Sequence[Path], folder: Path, destination: Path) -> list[Path]:
    copies = []
    for path in files:
        copy = destination / path.relative_to(folder)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, copy)
        copies.append(copy)
    return copies


def _commands(files: Sequence[Path], listing: Path, cache_dir: Path, jobs: int, peers: bool,
              cold_only: bool = False) -> list[Command]:
    paths = tuple(str(path) for path in files)
    perflint = (sys.executable, "-m", "perflint", "check")
    commands = [
        Command("perflint, cold, 1 job", (*perflint, "--no-cache", "--jobs", "1", *paths), compare=True, role="cold_one"),
        Command(f"perflint, cold, {jobs} jobs", (*perflint, "--no-cache", "--jobs", str(jobs), *paths), compare=True,
                role="cold_many"),
        Command(f"perflint, warm cache, {jobs} jobs", (*perflint, "--cache-dir", str(cache_dir), "--jobs", str(jobs), *paths),
                compare=True, role="warm"),
        Command("libcst.parse_module of every file", (sys.executable, "-c", PARSE_PROGRAM, str(listing)), role="parse"),
    ]
    if cold_only:
        commands = [command for command in commands if command.role in ("cold_one", "parse")]
    if peers:
        commands.append(Command("fixit lint (Fixit 2.2, default rules)", (str(_peer("fixit")), "lint", *paths)))
        commands.append(Command("torchfix (TorchFix 0.7, default rules)", (str(_peer("torchfix")), *paths)))
    return commands


def _revision(checkout: Path) -> str:
    """The short commit of ``checkout``, or its path where git cannot tell."""
    done = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or str(checkout)


def _peer(name: str) -> Path:
    """The console script of peer ``name`` in its own virtual environment, created on first use."""
    environment = VENVS / name
    script = environment / "bin" / name
    if not script.exists():
        VENVS.mkdir(parents=True, exist_ok=True)
        # The folder holds installed packages, never to be committed (like ruff's cache folder).
        (VENVS / ".gitignore").write_text("*\n", encoding="utf-8")
        subprocess.run([sys.executable, "-m", "venv", str(environment)], check=True)
        subprocess.run([str(environment / "bin" / "python"), "-m", "pip", "install", "-q", PEERS[name]], check=True)
    return script


def _rounds(commands: Sequence[Command], runs: int, scratch: Path) -> tuple[dict[str, list[Sample]], list[float]]:
    samples: dict[str, list[Sample]] = {command.name: [] for command in commands}
    loads = [os.getloadavg()[0]]
    for round_number in range(runs):
        # Rotate the order each round so that no command always runs first after a pause or last.
        shift = round_number % len(commands)
        for command in [*commands[shift:], *commands[:shift]]:
            samples[command.name].append(_measure(command, scratch))
        loads.append(os.getloadavg()[0])
        print(f"round {round_number + 1}/{runs} done", file=sys.stderr)
    return samples, loads


def _measure(command: Command, scratch: Path) -> Sample:
    """Run ``command`` under a fresh wrapper process, so that its rusage covers that command's tree alone.

    It runs in ``scratch`` (or the command's package root), which is also first on PYTHONPATH: ``python -m
    perflint`` is the snapshot (or the baseline's).
    """
    wrapper = [sys.executable, str(Path(__file__).resolve()), "--wrapped", "--", *command.argv]
    folder = command.package_root or str(scratch)
    done = subprocess.run(wrapper, capture_output=True, check=True, cwd=folder, env={**os.environ, "PYTHONPATH": folder})
    return Sample(**json.loads(done.stdout))


def _wrapped(argv: Sequence[str]) -> None:
    """The wrapper: run argv, print its CPU, wall time, peak RSS, exit code and output digest as JSON."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(json.dumps({
        "cpu": cpu,
        "wall": wall,
        "max_rss_kib": after.ru_maxrss,
        "returncode": done.returncode,
        "output_digest": hashlib.sha256(done.stdout).hexdigest(),
    }))


def _per_rule(listing: Path, scratch: Path) -> list[list]:
    """Run PER_RULE_PROGRAM with the perflint snapshot (one run, in one process: a guide, not a figure)."""
    environment = {**os.environ, "PYTHONPATH": str(scratch)}
    done = subprocess.run([sys.executable, "-c", PER_RULE_PROGRAM, str(listing)], capture_output=True, check=True,
                          cwd=scratch, env=environment)
    return json.loads(done.stdout)


def _per_rule_table(rows: Sequence[list], parse_samples: Sequence[Sample]) -> str:
    parse_cpu = _median(parse_samples, "cpu")
    lines = [
        "",
        "Where the time goes, per default rule (each rule run alone over the same files in one process, once;",
        "a file is LibCST-parsed for a rule only if it holds one of the rule's tokens and `could_match` keeps it):",
        "",
        "| rule | files with a token | files left after `could_match` | of those, with a finding | left, no finding |"
        " CPU s alone | of it on files left with no finding | ÷ bare parse CPU |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for code, name, tokens, left, found, cpu, wasted in rows:
        lines.append(f"| {code} {name} | {tokens} | {left} | {found} | {left - found} | {cpu:.2f} | {wasted:.2f} | "
                     f"{cpu / parse_cpu:.2f} |")
    return "\n".join(lines) + "\n"


def _median(samples: Sequence[Sample], attribute: str) -> float:
    return statistics.median(getattr(sample, attribute) for sample in samples)


def _report(args: argparse.Namespace, files: Sequence[Path], commands: Sequence[Command],
            samples: dict[str, list[Sample]], loads: Sequence[float]) -> str:
    names = {command.role: command.name for command in commands}
    cold_one, parse = names["cold_one"], names["parse"]
    base_cpu = _median(samples[cold_one], "cpu")
    size = sum(path.stat().st_size for path in files)
    lines = [
        "# perflint throughput",
        "",
        f"{len(files)} files ({size / 1e6:.1f} MB) from `{args.folder}`"
        + (f" (a seeded random sample, seed {args.seed})" if args.sample else "")
        + f"; {args.runs} interleaved rounds, medians. Machine: {os.cpu_count()} CPUs, {platform.python_implementation()} "
        f"{platform.python_version()}, libcst {metadata.version('libcst')}; load average "
        f"{min(loads):.1f}-{max(loads):.1f} during the rounds (other jobs shared the CPUs: wall times suffer "
        "most, CPU seconds less).",
        "",
        "| command | CPU s | wall s | files/s (wall) | peak RSS MiB (largest process) | CPU ÷ perflint cold 1 job | exit codes |",
        "|---|---|---|---|---|---|---|",
    ]
    for command in commands:
        runs = samples[command.name]
        cpu, wall = _median(runs, "cpu"), _median(runs, "wall")
        codes = ",".join(sorted({str(run.returncode) for run in runs}))
        lines.append(
            f"| {command.name} | {cpu:.2f} | {wall:.2f} | {len(files) / wall:.0f} | "
            f"{_median(runs, 'max_rss_kib') / 1024:.0f} | {cpu / base_cpu:.2f} | {codes} |"
        )
    lines += ["", "| check | measured | target |", "|---|---|---|"]
    if "baseline" in names:
        ratio = _median(samples[names["baseline"]], "cpu") / base_cpu
        lines.append(f"| {names['baseline']} CPU ÷ perflint cold 1 job | {ratio:.2f}x | |")
        same = {run.output_digest for run in samples[names["baseline"]]} == {run.output_digest for run in samples[cold_one]}
        lines.append(f"| output identical to the baseline's | {'yes' if same else 'no'} | |")
    for command in (command for command in commands if command.role == "peer"):
        ratio = _median(samples[command.name], "cpu") / base_cpu
        lines.append(f"| {command.name} CPU ÷ perflint cold 1 job | {ratio:.1f}x | >= {TARGET_PEER_RATIO:.0f}x |")
    lines.append(
        f"| perflint cold 1 job CPU ÷ bare parse CPU | {base_cpu / _median(samples[parse], 'cpu'):.2f} | "
        f"<= {TARGET_PARSE_RATIO:.1f} |"
    )
    if "cold_many" in names and "warm" in names:  # not with --cold-only
        cold_many, warm = names["cold_many"], names["warm"]
        speedup = _median(samples[cold_one], "wall") / _median(samples[cold_many], "wall")
        lines.append(f"| wall: cold 1 job ÷ cold {args.jobs} jobs | {speedup:.2f}x | >= {TARGET_JOBS_SPEEDUP}x |")
        for kind in ("cpu", "wall"):
            ratio = _median(samples[cold_many], kind) / _median(samples[warm], kind)
            lines.append(f"| {kind}: cold {args.jobs} jobs ÷ warm {args.jobs} jobs | {ratio:.1f}x | >= {TARGET_WARM_SPEEDUP:.0f}x |")
        digests = {run.output_digest for command in commands if command.compare for run in samples[command.name]}
        lines.append(f"| perflint output identical across 1 / {args.jobs} jobs, cold / warm | {'yes' if len(digests) == 1 else 'NO'} | yes |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if sys.argv[1:2] == ["--wrapped"]:
        _wrapped(sys.argv[3:])
    else:
        main()
