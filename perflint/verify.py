"""``fix --verify``: keep only the fixes that leave the user's own command's outputs unchanged.

The project is copied to a scratch directory and the command runs there twice on the original code: the
baseline is its exit status and the bytes of every compared file, and the two runs must agree (a command
that cannot be verified is an error, not a pass). The fixes are then applied to a fresh copy and the command
runs again. Identical outputs: the same fixed bytes go to the real tree. Different: delta debugging (by file,
then by fix, each trial on a fresh copy) finds the fixes responsible; the rest is confirmed by one more run and
written. The user's tree is written only at the very end, file by file atomically, and only with bytes that a
run verified; an interrupt before that leaves it as it was.

Nothing here prints: progress goes to a callback and the outcome is a frozen :class:`VerifyResult`.
"""

from __future__ import annotations

import contextlib
import difflib
import enum
import glob
import json
import math
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence

import libcst as cst

from perflint import api, fixes, notebook
from perflint.cache import DEFAULT_DIRECTORY as CACHE_DIRECTORY
from perflint.config import Settings
from perflint.files import FileChangedError, write_atomically
from perflint.rule import Finding
from perflint.types import ErrorKind, FileError

EXIT_STATUS = "<exit status>"
STDOUT = "<stdout>"
# Folders never copied: version control, virtual environments (also found by their pyvenv.cfg), caches.
SKIPPED_DIRECTORIES = frozenset(
    {".git", ".hg", ".svn", "__pycache__", ".venv", "venv", ".tox", ".nox", ".pytest_cache", ".mypy_cache",
     ".ruff_cache", ".hypothesis", ".ipynb_checkpoints", CACHE_DIRECTORY}
)
# Runs after the baseline get this limit when none is given: a fix that makes the command hang must not hang us.
TRIAL_TIMEOUT_FACTOR, TRIAL_TIMEOUT_MINIMUM = 5.0, 30.0
SEED_HINT = (
    "the command's outputs differ between two runs of the same code: fix its seeds (random, numpy, torch, "
    "PYTHONHASHSEED for set/dict order), leave timings out (--ignore-key with --compare-json) or compare "
    "only deterministic files"
)
DIFFERENCES_SHOWN = 10
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


class VerifyError(ValueError):
    """The verification cannot start (a path outside the project, a bad option); nothing was run."""


class Status(str, enum.Enum):
    NOTHING_TO_FIX = "nothing-to-fix"
    VERIFIED = "verified"
    REJECTED = "rejected"  # some fixes changed the outputs; the others were verified and written
    UNVERIFIABLE = "unverifiable"  # the command fails, is nondeterministic or timed out: nothing written


@dataclass(frozen=True)
class VerifyOptions:
    """The command, what to compare and how."""

    command: str
    compare: tuple[str, ...] = ()
    compare_json: bool = False
    ignore_keys: tuple[str, ...] = ()
    # Seconds per run; None: no limit for the baseline runs, and a limit derived from them for the others.
    timeout: Optional[float] = None
    unsafe_fixes: bool = False
    # The folder copied (and the command's working directory, as a copy); default: the current folder.
    project: Optional[Path] = None
    # Where the logs of each run go; default: a new folder in the system's temporary directory.
    log_dir: Optional[Path] = None


@dataclass(frozen=True, order=True)
class FixRef:
    """One fix: its rule and where it applies in the original file (path relative to the project)."""

    path: str
    row: int
    column: int
    code: str
    title: str = ""

    def describe(self) -> str:
        return f"{self.path}:{self.row}:{self.column}: {self.code}"


@dataclass(frozen=True)
class Difference:
    """The first thing that differs in one compared output: where, and the baseline's and the other run's values."""

    file: str
    where: str
    baseline: str
    candidate: str

    def describe(self) -> str:
        place = f"{self.file} {self.where}" if self.where else self.file
        return f"{place}: {self.baseline} (baseline) vs {self.candidate}"


@dataclass(frozen=True)
class RunRecord:
    """One run of the command: what ran, how it ended, and where its output was logged."""

    number: int
    label: str
    exit_status: Optional[int]
    timed_out: bool
    seconds: float
    stdout_log: Path
    stderr_log: Path


@dataclass(frozen=True)
class Rejection:
    fix: FixRef
    difference: Difference


@dataclass(frozen=True)
class Progress:
    """A run starting (``result`` None) or finished; ``planned`` grows while delta debugging finds more to try."""

    run: int
    planned: int
    label: str
    elapsed: float
    result: Optional[str] = None


@dataclass(frozen=True)
class VerifyResult:
    status: Status
    message: str
    applied: tuple[FixRef, ...] = ()
    rejected: tuple[Rejection, ...] = ()
    compared: tuple[str, ...] = ()
    differences: tuple[Difference, ...] = ()  # why the command could not be verified, when it differs from itself
    runs: tuple[RunRecord, ...] = ()
    log_dir: Optional[Path] = None
    written: tuple[Path, ...] = ()
    errors: tuple[FileError, ...] = ()
    skipped: tuple[Path, ...] = ()  # files found but not fixed under verification (notebooks)
    elapsed: float = 0.0


OnProgress = Callable[[Progress], None]


# --- the fixes, per file, with per-fix control ---------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    path: Path  # as discovered, used for the settings' per-file rules
    relative: str  # posix, relative to the project
    original: bytes


class _Recorder:
    """A ``fix_filter`` that names each fix by its place in the original file and keeps the chosen ones.

    Fixes found in later passes of the fixpoint loop sit in rewritten code: their line is mapped back to the
    original through a line diff (exact for untouched lines, the start of the rewritten stretch otherwise).
    """

    def __init__(self, relative: str, allowed: Optional[frozenset[FixRef]]) -> None:
        self.relative = relative
        self.allowed = allowed
        self.origin: Optional[list[str]] = None
        self.passes: dict[int, tuple[cst.Module, list[int], list[tuple[Finding, FixRef]]]] = {}

    def __call__(self, finding: Finding, module: cst.Module) -> bool:
        if id(module) not in self.passes:
            lines = module.code.splitlines(keepends=True)
            # The first module asked about is the parse of the original: the loop stops at a pass with no fix.
            if self.origin is None:
                self.origin = lines
            self.passes[id(module)] = (module, _line_map(self.origin, lines), [])
        _, rows, wanted = self.passes[id(module)]
        start = finding.range.start
        row = rows[start.line - 1] if start.line - 1 < len(rows) else start.line
        ref = FixRef(self.relative, row, start.column + 1, finding.code, finding.fix_title or "")
        if self.allowed is not None and ref not in self.allowed:
            return False
        wanted.append((finding, ref))
        return True

    def applied(self) -> list[FixRef]:
        """The fixes that went in: per pass, the wanted ones the loop chose (it picks non-overlapping ones)."""
        refs: list[FixRef] = []
        for _, _, wanted in self.passes.values():
            by_id = {id(finding): ref for finding, ref in wanted}
            refs.extend(by_id[id(finding)] for finding in fixes.choose_non_overlapping([f for f, _ in wanted]))
        return refs


def _line_map(origin: list[str], current: list[str]) -> list[int]:
    """For each line of ``current`` (0-based index), its 1-based line in ``origin``."""
    if origin is current or origin == current:
        return list(range(1, len(current) + 1))
    rows = [0] * len(current)
    matcher = difflib.SequenceMatcher(None, origin, current, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        for j in range(j1, j2):
            rows[j] = (i1 + j - j1 if tag == "equal" else min(i1 + j - j1, max(i1, i2 - 1))) + 1
    return rows


@dataclass(frozen=True)
class _Fixed:
    data: bytes
    refs: tuple[FixRef, ...]
    errors: tuple[FileError, ...]


def _fix(target: _Target, settings: Settings, unsafe: bool, allowed: Optional[frozenset[FixRef]]) -> _Fixed:
    recorder = _Recorder(target.relative, allowed)
    options = api.RunOptions(fix=True, fix_filter=recorder)
    result = api.check_source(target.original, target.path, replace(settings, unsafe_fixes=unsafe), options)
    fix_errors = tuple(error for error in result.errors)
    if not result.changed:
        return _Fixed(target.original, (), fix_errors)
    return _Fixed(result.fixed or target.original, tuple(recorder.applied()), fix_errors)


# --- comparing outputs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
    exit_status: Optional[int]
    timed_out: bool
    files: dict  # compared name -> bytes, or None when missing
    unmatched: tuple[str, ...] = ()  # --compare globs that matched no file


def _shown(value, limit: int = 80) -> str:
    if isinstance(value, bytes):
        text = value.decode("utf-8", "replace")
    elif isinstance(value, float):
        text = repr(value)
    else:
        text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _ignored(path: str, key: str, ignore_keys: Sequence[str]) -> bool:
    """``--ignore-key K``: K without a dot drops that key at any depth; with dots, the key at that path."""
    dotted = f"{path}.{key}".lstrip(".")
    return any(key == k if "." not in k else dotted == k for k in ignore_keys)


def _child(path: str, key: str) -> str:
    """``a.b`` for plain names, ``a["1301.0"]`` for keys that are not."""
    if _PLAIN_KEY.fullmatch(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"


def _json_differences(a, b, path: str, ignore_keys: Sequence[str], found: list[tuple[str, str, str]]) -> None:
    if len(found) >= DIFFERENCES_SHOWN:
        return
    where = path or "(top level)"
    if isinstance(a, dict) and isinstance(b, dict):
        for key in [k for k in a if not _ignored(path, k, ignore_keys)] + [k for k in b if k not in a and not _ignored(path, k, ignore_keys)]:
            child = _child(path, key)
            if key not in b:
                found.append((child, _shown(a[key]), "(missing)"))
            elif key not in a:
                found.append((child, "(missing)", _shown(b[key])))
            else:
                _json_differences(a[key], b[key], child, ignore_keys, found)
        return
    if isinstance(a, list) and isinstance(b, list):
        for index, (x, y) in enumerate(zip(a, b)):
            _json_differences(x, y, f"{path}[{index}]", ignore_keys, found)
        if len(a) != len(b):
            found.append((where, f"{len(a)} items", f"{len(b)} items"))
        return
    if not _same_value(a, b):
        found.append((where, _shown(a), _shown(b)))


def _same_value(a, b) -> bool:
    """Exactly equal values: numbers by value (1 and 1.0 alike, no tolerance), NaN equal to NaN, but true is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


def _byte_difference(name: str, a: bytes, b: bytes) -> Difference:
    offset = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    line = a.count(b"\n", 0, offset) + 1
    start = a.rfind(b"\n", 0, offset) + 1
    line_a = a[start:].split(b"\n", 1)[0]
    line_b = b[start:].split(b"\n", 1)[0] if b[:start] == a[:start] else b[offset:].split(b"\n", 1)[0]
    return Difference(name, f"line {line} (byte {offset})", _shown(line_a) or "(end of file)", _shown(line_b) or "(end of file)")


def compare_outcomes(baseline: _Outcome, other: _Outcome, compare_json: bool, ignore_keys: Sequence[str]) -> list[Difference]:
    """What differs between two runs, exit status first, then the compared files in name order."""
    found: list[Difference] = []
    if baseline.timed_out or other.timed_out or baseline.exit_status != other.exit_status:
        found.append(Difference(EXIT_STATUS, "", _status_text(baseline), _status_text(other)))
    for name in sorted(set(baseline.files) | set(other.files)):
        a, b = baseline.files.get(name), other.files.get(name)
        if a == b:
            continue
        if a is None or b is None:
            found.append(Difference(name, "", "(missing)" if a is None else "present", "(missing)" if b is None else "present"))
            continue
        if compare_json:
            try:
                parsed_a, parsed_b = json.loads(a), json.loads(b)
            except (ValueError, RecursionError):
                pass
            else:
                keys: list[tuple[str, str, str]] = []
                _json_differences(parsed_a, parsed_b, "", ignore_keys, keys)
                found.extend(Difference(name, f"key {where}", x, y) for where, x, y in keys)
                continue
        found.append(_byte_difference(name, a, b))
    return found


def _status_text(outcome: _Outcome) -> str:
    return "timed out" if outcome.timed_out else f"exit {outcome.exit_status}"


# --- running the command on copies ---------------------------------------------------------------------------


def project_files(project: Path) -> list[str]:
    """Files to copy, relative posix paths: git's tracked and untracked-not-ignored files in a repository,
    else every file; never version control, virtual environments or caches."""
    try:
        listing = subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=project, capture_output=True, timeout=60, check=True
        ).stdout
        names = [entry.decode("utf-8", "surrogateescape") for entry in listing.split(b"\0") if entry]
    except (OSError, subprocess.SubprocessError):
        names = [str(path.relative_to(project).as_posix()) for path in _walk(project)]
    is_venv: dict[str, bool] = {}
    kept = []
    for name in sorted(set(names)):
        parts = name.split("/")
        if any(part in SKIPPED_DIRECTORIES for part in parts[:-1]) or parts[-1].endswith((".pyc", ".pyo")):
            continue
        folders = ["/".join(parts[:i]) for i in range(1, len(parts))]
        for folder in folders:
            if folder not in is_venv:
                is_venv[folder] = (project / folder / "pyvenv.cfg").is_file()
        if any(is_venv[folder] for folder in folders):
            continue
        if (project / name).is_file():
            kept.append(name)
    return kept


def _walk(project: Path) -> Iterator[Path]:
    for root, directories, files in os.walk(project):
        directories[:] = sorted(d for d in directories if d not in SKIPPED_DIRECTORIES and not (Path(root) / d / "pyvenv.cfg").is_file())
        for name in sorted(files):
            yield Path(root) / name


def _kill(process: subprocess.Popen) -> None:
    with contextlib.suppress(OSError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        process.kill()
    process.wait()


class _Runner:
    def __init__(self, project: Path, files: list[str], options: VerifyOptions, scratch: Path, logs: Path,
                 on_progress: Optional[OnProgress], started: float) -> None:
        self.project, self.files, self.options = project, files, options
        self.scratch, self.logs = scratch, logs
        self.on_progress = on_progress
        self.started = started
        self.records: list[RunRecord] = []
        self.planned = 3
        self.timeout = options.timeout

    def run(self, label: str, replaced: dict[str, bytes]) -> _Outcome:
        number = len(self.records) + 1
        self.planned = max(self.planned, number)
        self._report(Progress(number, self.planned, label, time.monotonic() - self.started))
        copy = self.scratch / f"run-{number}"
        try:
            self._copy(copy, replaced)
            stdout_log, stderr_log = self.logs / f"run-{number}.stdout", self.logs / f"run-{number}.stderr"
            began = time.monotonic()
            exit_status, timed_out = self._execute(copy, stdout_log, stderr_log)
            seconds = time.monotonic() - began
            outcome = _Outcome(exit_status, timed_out, *self._read_compared(copy, stdout_log))
        finally:
            shutil.rmtree(copy, ignore_errors=True)
        self.records.append(RunRecord(number, label, exit_status, timed_out, seconds, stdout_log, stderr_log))
        return outcome

    def finished(self, outcome: _Outcome, verdict: str) -> None:
        record = self.records[-1]
        self._report(Progress(record.number, self.planned, record.label, time.monotonic() - self.started,
                              f"{_status_text(outcome)} in {record.seconds:.1f} s, {verdict}"))

    def _report(self, progress: Progress) -> None:
        if self.on_progress is not None:
            self.on_progress(progress)

    def _copy(self, copy: Path, replaced: dict[str, bytes]) -> None:
        for name in self.files:
            destination = copy / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(self.project / name, destination)
        for name, data in replaced.items():
            (copy / name).write_bytes(data)

    def _execute(self, copy: Path, stdout_log: Path, stderr_log: Path) -> tuple[Optional[int], bool]:
        with open(stdout_log, "wb") as out, open(stderr_log, "wb") as err:
            # A session of its own: a time-out or an interrupt ends the command's whole process group.
            process = subprocess.Popen(
                self.options.command, shell=True, cwd=copy, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                start_new_session=True,
            )
            try:
                status = process.wait(timeout=self.timeout)
                # Children it left running in the background would go on writing into the copy.
                with contextlib.suppress(OSError):
                    os.killpg(process.pid, signal.SIGKILL)
                return status, False
            except subprocess.TimeoutExpired:
                _kill(process)
                return None, True
            except BaseException:
                _kill(process)
                raise

    def _read_compared(self, copy: Path, stdout_log: Path) -> tuple[dict[str, Optional[bytes]], tuple[str, ...]]:
        """The compared files' bytes (None: missing) and the globs that matched nothing; without --compare,
        the command's stdout."""
        if not self.options.compare:
            return {STDOUT: stdout_log.read_bytes()}, ()
        found: dict[str, Optional[bytes]] = {}
        unmatched = []
        for pattern in self.options.compare:
            if glob.has_magic(pattern):
                matches = [m for m in sorted(glob.glob(pattern, root_dir=copy, recursive=True)) if (copy / m).is_file()]
                found.update((Path(match).as_posix(), (copy / match).read_bytes()) for match in matches)
                if not matches:
                    unmatched.append(pattern)
            else:
                path = copy / pattern
                found[Path(pattern).as_posix()] = path.read_bytes() if path.is_file() else None
        return found, tuple(unmatched)


# --- the verification ----------------------------------------------------------------------------------------


def verify_fixes(
    paths: Sequence[Path],
    settings: Settings,
    options: VerifyOptions,
    on_progress: Optional[OnProgress] = None,
) -> VerifyResult:
    """Find the fixes for ``paths``, verify them with ``options.command`` and write those that keep its outputs.

    Raises VerifyError before running anything when a path lies outside the project, and KeyboardInterrupt
    (after ending the running command and removing the copies) with the user's tree untouched.
    """
    started = time.monotonic()
    project = (options.project or Path.cwd()).resolve()
    if options.ignore_keys and not options.compare_json:
        raise VerifyError("--ignore-key needs --compare-json")
    targets, skipped = _targets(paths, settings, project)
    unsafe = options.unsafe_fixes or settings.unsafe_fixes
    full: dict[str, _Fixed] = {target.relative: _fix(target, settings, unsafe, None) for target in targets}
    errors = tuple(error for fixed in full.values() for error in fixed.errors)
    candidates = {name: fixed.refs for name, fixed in full.items() if fixed.refs}
    if not candidates:
        return VerifyResult(Status.NOTHING_TO_FIX, "nothing to fix", errors=errors, skipped=skipped, elapsed=time.monotonic() - started)
    if options.log_dir is not None:
        options.log_dir.mkdir(parents=True, exist_ok=True)
    logs = options.log_dir or Path(tempfile.mkdtemp(prefix="perflint-verify-logs-"))
    scratch = Path(tempfile.mkdtemp(prefix="perflint-verify-"))
    runner = _Runner(project, project_files(project), options, scratch, logs, on_progress, started)
    try:
        session = _Session(runner, {t.relative: t for t in targets}, full, settings, unsafe, options)
        outcome = session.verify(candidates)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return VerifyResult(
        status=outcome.status,
        message=outcome.message,
        applied=outcome.applied,
        rejected=outcome.rejected,
        compared=outcome.compared,
        differences=outcome.differences,
        runs=tuple(runner.records),
        log_dir=logs,
        written=outcome.written,
        errors=errors + outcome.errors,
        skipped=skipped,
        elapsed=time.monotonic() - started,
    )


def _targets(paths: Sequence[Path], settings: Settings, project: Path) -> tuple[list[_Target], tuple[Path, ...]]:
    targets, skipped = [], []
    for path in api.files_to_check(paths, settings):
        resolved = path.resolve()
        if not resolved.is_relative_to(project):
            raise VerifyError(f"{path} is outside the project folder {project} (the folder that is copied and run)")
        if notebook.is_notebook(path):
            skipped.append(path)
            continue
        try:
            data = resolved.read_bytes()
        except OSError:
            continue  # reported by the plain run as a read error; nothing to verify
        targets.append(_Target(path, resolved.relative_to(project).as_posix(), data))
    return targets, tuple(skipped)


@dataclass(frozen=True)
class _Verdict:
    status: Status
    message: str
    applied: tuple[FixRef, ...] = ()
    rejected: tuple[Rejection, ...] = ()
    compared: tuple[str, ...] = ()
    differences: tuple[Difference, ...] = ()
    written: tuple[Path, ...] = ()
    errors: tuple[FileError, ...] = ()


class _Session:
    """One verification: the baseline, the trials of fix sets, and the final writes."""

    def __init__(self, runner: _Runner, targets: dict[str, _Target], full: dict[str, _Fixed], settings: Settings,
                 unsafe: bool, options: VerifyOptions) -> None:
        self.runner, self.targets, self.settings, self.unsafe, self.options = runner, targets, settings, unsafe, options
        self.every = frozenset(ref for fixed in full.values() for ref in fixed.refs)
        # Fixed bytes per (file, the fixes allowed in it): trials and the final writes use the same bytes.
        self.fixed: dict[tuple[str, frozenset[FixRef]], _Fixed] = {
            (name, frozenset(fixed.refs)): fixed for name, fixed in full.items() if fixed.refs
        }
        self.baseline: Optional[_Outcome] = None

    def verify(self, candidates: dict[str, tuple[FixRef, ...]]) -> _Verdict:
        first = self.runner.run("baseline 1 (original code)", {})
        if first.timed_out or first.exit_status != 0:
            self.runner.finished(first, "failed")
            return _Verdict(Status.UNVERIFIABLE, f"the command fails on the original code ({_status_text(first)}); nothing written")
        missing = [name for name, data in first.files.items() if data is None] + list(first.unmatched)
        if missing:
            self.runner.finished(first, "missing outputs")
            return _Verdict(Status.UNVERIFIABLE, f"--compare {', '.join(missing)}: no such file after the command ran; nothing written")
        self.runner.finished(first, "baseline")
        compared = tuple(sorted(first.files))
        second = self.runner.run("baseline 2 (original code)", {})
        differences = compare_outcomes(first, second, self.options.compare_json, self.options.ignore_keys)
        self.runner.finished(second, "different" if differences else "identical")
        if differences:
            return _Verdict(Status.UNVERIFIABLE, f"{SEED_HINT}; nothing written", compared=compared, differences=tuple(differences))
        self.baseline = first
        if self.options.timeout is None:
            slowest = max(record.seconds for record in self.runner.records)
            self.runner.timeout = max(TRIAL_TIMEOUT_MINIMUM, TRIAL_TIMEOUT_FACTOR * slowest)

        everything = self.trial(self.every, f"all {len(self.every)} fixes")
        if everything is None:
            return self._write(self.every, (), compared)
        # Delta debugging: files first, then the fixes of each file found responsible.
        units = [candidates[name] for name in sorted(candidates)]
        self.runner.planned += 2 * math.ceil(math.log2(len(self.every) + 1)) + 1
        kept: set[FixRef] = set()
        rejected: list[Rejection] = []
        self._bisect(units, kept, everything, rejected, by_file=True)
        if kept:
            final = self.trial(frozenset(kept), f"final: the {len(kept)} kept fixes")
            if final is not None:
                return _Verdict(Status.UNVERIFIABLE, f"the kept fixes did not reproduce the baseline ({final.describe()}); nothing written", compared=compared, differences=(final,))
        return self._write(frozenset(kept), tuple(sorted(rejected, key=lambda r: r.fix)), compared)

    def trial(self, allowed: frozenset[FixRef], label: str) -> Optional[Difference]:
        """Run the command with exactly the ``allowed`` fixes applied; the first difference, or None."""
        outcome = self.runner.run(label, {name: self._fixed(name, allowed).data for name in self._files(allowed)})
        assert self.baseline is not None
        differences = compare_outcomes(self.baseline, outcome, self.options.compare_json, self.options.ignore_keys)
        self.runner.finished(outcome, "different" if differences else "identical")
        return differences[0] if differences else None

    def _files(self, allowed: frozenset[FixRef]) -> list[str]:
        return sorted({ref.path for ref in allowed})

    def _fixed(self, name: str, allowed: frozenset[FixRef]) -> _Fixed:
        mine = frozenset(ref for ref in allowed if ref.path == name)
        key = (name, mine)
        if key not in self.fixed:
            self.fixed[key] = _fix(self.targets[name], self.settings, self.unsafe, mine)
        return self.fixed[key]

    def _bisect(self, units: list[tuple[FixRef, ...]], kept: set[FixRef], difference: Difference,
                rejected: list[Rejection], by_file: bool) -> None:
        """Sort ``units`` into ``kept`` and ``rejected``, given that ``kept`` plus all of them gives ``difference``.

        Each half is tried on top of what is kept so far; a half that keeps the outputs is kept whole. A unit
        found responsible alone is, at file level, split into its fixes and searched again.
        """
        if len(units) == 1:
            unit = units[0]
            if by_file and len(unit) > 1:
                self._bisect([(ref,) for ref in unit], kept, difference, rejected, by_file=False)
            else:
                rejected.extend(Rejection(ref, difference) for ref in unit)
            return
        half = len(units) // 2
        first, second = units[:half], units[half:]
        first_difference = self._try(first, kept)
        if first_difference is None:
            kept.update(ref for unit in first for ref in unit)
            # kept + second is the set that gave ``difference``: no need to run it again.
            self._bisect(second, kept, difference, rejected, by_file)
            return
        self._bisect(first, kept, first_difference, rejected, by_file)
        second_difference = self._try(second, kept)
        if second_difference is None:
            kept.update(ref for unit in second for ref in unit)
        else:
            self._bisect(second, kept, second_difference, rejected, by_file)

    def _try(self, units: list[tuple[FixRef, ...]], kept: set[FixRef]) -> Optional[Difference]:
        added = [ref for unit in units for ref in unit]
        files = sorted({ref.path for ref in added})
        what = ", ".join(files) if len(files) <= 2 else f"{len(files)} files"
        label = f"trying {len(added)} fix{'es' if len(added) != 1 else ''} in {what}" + (f" on top of {len(kept)} kept" if kept else "")
        if len(added) == 1:
            label = f"trying {added[0].describe()}" + (f" on top of {len(kept)} kept" if kept else "")
        return self.trial(frozenset(kept) | frozenset(added), label)

    def _write(self, kept: frozenset[FixRef], rejected: tuple[Rejection, ...], compared: tuple[str, ...]) -> _Verdict:
        """Write the verified bytes of every file with kept fixes. Nothing is written when one of them changed
        meanwhile or is read-only (a part of a verified set is not verified); a Ctrl-C during the writes (a few
        milliseconds) is ignored, so that the tree holds either none or all of them."""
        planned = [(self.targets[name], self._fixed(name, kept)) for name in self._files(kept)]
        applied = tuple(sorted(ref for _, fixed in planned for ref in fixed.refs))
        changed = [target.path for target, _ in planned if target.path.resolve().read_bytes() != target.original]
        if changed:
            names = ", ".join(str(path) for path in changed)
            return _Verdict(Status.UNVERIFIABLE, f"{names} changed during the verification; nothing written", compared=compared, rejected=rejected)
        locked = [target.path for target, _ in planned if not os.access(target.path.resolve(), os.W_OK) or not target.path.resolve().stat().st_mode & 0o222]
        if locked:
            names = ", ".join(str(path) for path in locked)
            return _Verdict(Status.UNVERIFIABLE, f"{names}: read-only; nothing written", compared=compared, rejected=rejected)
        written, errors = [], []
        with _interrupts_ignored():
            for target, fixed in planned:
                try:
                    write_atomically(target.path, fixed.data, target.original)
                except (FileChangedError, OSError) as error:
                    errors.append(FileError(target.path, ErrorKind.WRITE, error.strerror or str(error)))
                else:
                    written.append(target.path)
        files = ", ".join(compared)
        if rejected:
            message = f"{len(rejected)} fix{'es' if len(rejected) != 1 else ''} rejected (outputs differ); {len(applied)} verified and applied, outputs identical: {files}"
            status = Status.REJECTED
        else:
            message = f"verified: {len(applied)} fix{'es' if len(applied) != 1 else ''}, outputs identical: {files}"
            status = Status.VERIFIED
        return _Verdict(status, message, applied, rejected, compared, written=tuple(written), errors=tuple(errors))


@contextlib.contextmanager
def _interrupts_ignored() -> Iterator[None]:
    """Let the block finish whatever SIGINT arrives (main thread only: elsewhere no handler can be set)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def report_document(result: VerifyResult) -> dict:
    """The result as plain JSON values (``--output-format json``)."""

    def fix(ref: FixRef) -> dict:
        return {"code": ref.code, "filename": ref.path, "location": {"row": ref.row, "column": ref.column}, "title": ref.title}

    def difference(item: Difference) -> dict:
        return {"file": item.file, "where": item.where, "baseline": item.baseline, "candidate": item.candidate}

    return {
        "status": result.status.value,
        "message": result.message,
        "applied": [fix(ref) for ref in result.applied],
        "rejected": [{**fix(r.fix), "difference": difference(r.difference)} for r in result.rejected],
        "compared": list(result.compared),
        "differences": [difference(item) for item in result.differences],
        "runs": [
            {"number": r.number, "label": r.label, "exit_status": r.exit_status, "timed_out": r.timed_out,
             "seconds": round(r.seconds, 3), "stdout_log": str(r.stdout_log), "stderr_log": str(r.stderr_log)}
            for r in result.runs
        ],
        "log_dir": str(result.log_dir) if result.log_dir is not None else None,
        "written": [str(path) for path in result.written],
        "errors": [error.describe() for error in result.errors],
        "skipped": [str(path) for path in result.skipped],
        "elapsed_seconds": round(result.elapsed, 3),
    }
