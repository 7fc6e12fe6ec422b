"""The safety sweep: check and fix every file of the real-world corpus with every rule on, and verify the fixes.

On a fresh COPY of the corpus (the corpus itself is never written), each file is:

1. fixed and written the way ``perflint fix --apply --unsafe-fixes --select ALL`` does (``api.check_file``);
2. if that changed it, checked as ``perflint check --select ALL`` sees it, with the text edits of every fix
   (``RunOptions(with_edits=True)``); an unchanged file's findings are those of step 1;
3. verified: the written file parses (LibCST) and compiles (CPython); a second fix changes nothing; and every
   line the fix changed lies inside the edits that the check reported.

A crash is an exception escaping perflint or a rule's internal error. Per-rule finding counts and a sample of
findings per rule (file:line and the source line, for reading) go to ``--report``; the process exits non-zero
when any crash, unparsable output, non-idempotent fix or change outside a reported fix is found.

Usage: ``python benchmarks/corpus/sweep.py [--corpus corpus/src] [--work corpus/sweep] [--jobs 2]``
(build the corpus first with ``build_corpus.py``).
"""

from __future__ import annotations

import argparse
import difflib
import json
import random
import re
import shutil
import sys
import time
import traceback
import warnings
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Iterable, Optional, Sequence

from perflint import api, engine
from perflint.config import Settings
from perflint.files import decode_source
from perflint.types import ErrorKind, FileResult

REPO = Path(__file__).resolve().parents[2]
PROBLEMS = ("crashes", "unparsable_outputs", "non_idempotent_fixes", "changes_outside_fixes")


@dataclass
class FileReport:
    """What the sweep learned about one file (plain data: it crosses the process pool)."""

    path: str
    findings: list[tuple[str, int, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)
    unparsable_outputs: list[str] = field(default_factory=list)
    non_idempotent_fixes: list[str] = field(default_factory=list)
    changes_outside_fixes: list[str] = field(default_factory=list)
    fixes_applied: int = 0
    changed: bool = False
    seconds: float = 0.0


def sweep_settings(root: Path) -> Settings:
    """Every rule on, unsafe fixes on, no configuration file, nothing excluded."""
    return replace(Settings(root=root), select=("ALL",), unsafe_fixes=True, respect_gitignore=False, exclude=())


def sweep_file(path: Path, root: Path) -> FileReport:
    """Check, fix (writing ``path``) and verify one file of the copy; never raises."""
    report = FileReport(str(path.relative_to(root)))
    started = time.perf_counter()
    try:
        _sweep(path, root, report)
    except Exception:  # noqa: BLE001 - any exception escaping perflint is exactly what the sweep counts
        report.crashes.append(traceback.format_exc(limit=8))
    report.seconds = time.perf_counter() - started
    return report


def _sweep(path: Path, root: Path, report: FileReport) -> None:
    settings = sweep_settings(root)
    original = path.read_bytes()
    fixed_result = api.check_file(path, settings, api.RunOptions(fix=True, apply=True))
    written = path.read_bytes()
    report.changed = written != original
    report.fixes_applied = fixed_result.fixes_applied
    # An unchanged file's findings are those the fix run reports; a changed one is checked again (with
    # each fix's edits) as `perflint check` sees it, to compare the fixes' edits with the diff.
    checked = fixed_result
    if report.changed:
        checked = api.check_source(original, path, settings, api.RunOptions(with_edits=True))
    _record_errors(fixed_result, report)
    _record_errors(checked, report, skip_known=fixed_result)
    lines = _source_lines(original)
    for violation in checked.violations:
        row = violation.location.row
        report.findings.append((violation.code, row, lines[row - 1].strip() if row <= len(lines) else ""))
    if not report.changed:
        return
    _verify_output(written, path, report)
    if report.unparsable_outputs:
        return
    again = api.check_source(written, path, settings, api.RunOptions(fix=True))
    if again.fixes_applied or again.fixed != written:
        report.non_idempotent_fixes.append(f"a second fix applied {again.fixes_applied} more fix(es)")
    report.changes_outside_fixes.extend(changes_outside_edits(original, written, checked))


def _record_errors(result: FileResult, report: FileReport, skip_known: Optional[FileResult] = None) -> None:
    known = {error.describe() for error in skip_known.errors} if skip_known is not None else set()
    for error in result.errors:
        if error.describe() in known:
            continue
        if error.kind is ErrorKind.RULE:
            report.crashes.append(error.describe())
        elif error.kind is ErrorKind.FIX and error.reason.startswith("a fix produced code that does not parse"):
            # The safety net kept the file, but a rule's rewrite produced broken code: a bug all the same.
            report.unparsable_outputs.append(error.reason)
        elif error.kind is ErrorKind.FIX and "did not converge" in error.reason:
            report.non_idempotent_fixes.append(error.reason)
        else:
            report.errors.append(f"{error.kind.value}: {error.reason}")


def _source_lines(data: bytes) -> list[str]:
    """The file's lines as LibCST and perflint count them (str.splitlines would also split at form feeds)."""
    try:
        text = decode_source(data)
    except ValueError:
        text = data.decode("utf-8", "replace")
    return re.split(r"\r\n|\r|\n", text)


def _verify_output(written: bytes, path: Path, report: FileReport) -> None:
    try:
        engine.parse(written)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the corpus's own SyntaxWarnings are not the sweep's business
            compile(written, str(path), "exec", dont_inherit=True)
    except (engine.SourceError, SyntaxError, ValueError) as error:
        report.unparsable_outputs.append(f"{type(error).__name__}: {error}")


def changes_outside_edits(original: bytes, written: bytes, checked: FileResult) -> list[str]:
    """Diff hunks of ``original`` -> ``written`` not covered by the line ranges of the reported fixes' edits.

    Lines are split as ``perflint.fixes.edits_for`` splits them (LibCST's code of the module), so the
    edits' rows and the diff's rows count the same lines.
    """
    before = engine.parse(original).code.splitlines(keepends=True)
    after = engine.parse(written).code.splitlines(keepends=True)
    # 0-based half-open ranges of original lines that the reported edits replace.
    spans = [
        (edit.location.row - 1, edit.end_location.row - 1)
        for violation in checked.violations
        if violation.fix is not None
        for edit in violation.fix.edits
    ]
    outside = []
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    for tag, start, end, new_start, new_end in matcher.get_opcodes():
        if tag != "equal" and not _covered(start, end, spans):
            removed = "".join(before[start:end]).strip()[:120]
            added = "".join(after[new_start:new_end]).strip()[:120]
            outside.append(f"line {start + 1}: {removed!r} -> {added!r}")
    return outside


def _covered(start: int, end: int, spans: Sequence[tuple[int, int]]) -> bool:
    if start == end:  # a pure insertion before line ``start``: allowed at or inside an edit's range
        return any(low <= start <= high for low, high in spans)
    return all(any(low <= line < high for low, high in spans) for line in range(start, end))


def copy_corpus(corpus: Path, work: Path) -> None:
    """A fresh copy of ``corpus`` at ``work``."""
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(corpus, work)


def pending_files(corpus: Path, work: Path, done: set[str], seed: int = 0) -> list[Path]:
    """The ``.py`` files of the copy not swept yet, in a seeded shuffle (a partial run samples every package).

    Each is copied afresh from the corpus first: a run interrupted mid-file may have written it already.
    """
    files = [path for path in sorted(work.rglob("*.py")) if str(path.relative_to(work)) not in done]
    for path in files:
        shutil.copy2(corpus / path.relative_to(work), path)
    random.Random(seed).shuffle(files)
    return files


def run(files: Sequence[Path], root: Path, jobs: int, journal: Path) -> list[FileReport]:
    """Sweep ``files`` on ``jobs`` processes, appending each report to ``journal`` (JSON lines) as it comes."""
    reports: list[FileReport] = []
    with ProcessPoolExecutor(max_workers=jobs) as pool, journal.open("a") as stream:
        for index, report in enumerate(pool.map(sweep_file, files, [root] * len(files), chunksize=4), 1):
            reports.append(report)
            stream.write(json.dumps(asdict(report)) + "\n")
            stream.flush()
            if index % 250 == 0:
                print(f"  {index}/{len(files)} files", file=sys.stderr, flush=True)
    return reports


def load_journal(journal: Path) -> list[FileReport]:
    """The reports of an earlier (possibly interrupted) run."""
    if not journal.exists():
        return []
    reports = []
    for line in journal.read_text().splitlines():
        try:
            fields = json.loads(line)
        except json.JSONDecodeError:
            continue  # a run killed mid-write leaves a partial line: that file is swept again
        fields["findings"] = [tuple(finding) for finding in fields["findings"]]
        reports.append(FileReport(**fields))
    return reports


def summary(reports: Sequence[FileReport]) -> dict:
    """Totals of the sweep: files, problems, file errors by kind, findings by rule."""
    totals = {
        "files": len(reports),
        "files_changed": sum(report.changed for report in reports),
        "fixes_applied": sum(report.fixes_applied for report in reports),
        **{problem: sum(len(getattr(report, problem)) for report in reports) for problem in PROBLEMS},
        "file_errors": dict(Counter(error.split(":")[0] for report in reports for error in report.errors)),
        "findings_by_rule": dict(sorted(Counter(code for report in reports for code, _, _ in report.findings).items())),
        "seconds": round(sum(report.seconds for report in reports), 1),
    }
    return totals


def render(reports: Sequence[FileReport], totals: dict, samples: int, seed: int = 0) -> str:
    """The human-readable report: totals, every problem, slowest files, and a sample of findings per rule."""
    lines = ["# perflint corpus sweep", "", json.dumps(totals, indent=2), ""]
    for problem in PROBLEMS:
        for report in reports:
            for detail in getattr(report, problem):
                lines.append(f"{problem}: {report.path}: {detail}")
    lines += ["", "## slowest files"]
    lines += [f"{report.seconds:7.2f}s {report.path}" for report in sorted(reports, key=lambda r: -r.seconds)[:10]]
    lines += ["", "## file errors (first 30)"]
    lines += [f"{report.path}: {error}" for report in reports for error in report.errors][:30]
    chooser = random.Random(seed)
    for code in totals["findings_by_rule"]:
        found = [(report.path, row, text) for report in reports for c, row, text in report.findings if c == code]
        lines += ["", f"## {code}: {len(found)} findings, sample of {min(samples, len(found))}"]
        lines += [f"{path}:{row}: {text}" for path, row, text in sorted(chooser.sample(found, min(samples, len(found))))]
    return "\n".join(lines) + "\n"


def main(argv: Optional[Iterable[str]] = None) -> int:
    """Command-line entry point; the exit status is 1 when the sweep found a problem."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=REPO / "corpus" / "src")
    parser.add_argument("--work", type=Path, default=REPO / "corpus" / "sweep")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--limit", type=int, default=0, help="sweep only N files, a seeded sample (0: all)")
    parser.add_argument("--samples", type=int, default=40, help="findings shown per rule")
    parser.add_argument("--report", type=Path, default=REPO / "corpus" / "sweep_report.txt",
                        help="the readable report; each file's record goes to the same name with .jsonl")
    parser.add_argument("--resume", action="store_true",
                        help="keep the copy and the .jsonl records of an interrupted run, sweep the rest")
    parser.add_argument("--summarize", action="store_true",
                        help="sweep nothing: write the report from the .jsonl records so far (safe during a run)")
    arguments = parser.parse_args(None if argv is None else list(argv))
    if not arguments.corpus.is_dir():
        parser.error(f"no corpus at {arguments.corpus}: run benchmarks/corpus/build_corpus.py first")
    journal = arguments.report.with_suffix(".jsonl")
    arguments.report.parent.mkdir(parents=True, exist_ok=True)
    if arguments.summarize:
        reports = load_journal(journal)
    else:
        if not arguments.resume:
            copy_corpus(arguments.corpus, arguments.work)
            journal.unlink(missing_ok=True)
        earlier = load_journal(journal)
        files = pending_files(arguments.corpus, arguments.work, {report.path for report in earlier})
        if arguments.limit:
            files = files[: max(0, arguments.limit - len(earlier))]
        reports = earlier + run(files, arguments.work, arguments.jobs, journal)
    totals = summary(reports)
    arguments.report.write_text(render(reports, totals, arguments.samples))
    print(json.dumps(totals, indent=2))
    print(f"report: {arguments.report}")
    return 1 if any(totals[problem] for problem in PROBLEMS) else 0


if __name__ == "__main__":
    sys.exit(main())
