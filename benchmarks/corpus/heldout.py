"""The held-out precision sweep (issue #13): every finding of every rule on ML repositories perflint never saw.

The repositories below are not in the PyPI corpus of ``build_corpus.py``: research model repositories,
trainers, a forecasting library, a CLIP trainer, an LLM fine-tuning script, a quant library, examples. Their
snapshots are brought onto this machine by the session's ``fetch`` tool (``fetch github:<owner>/<name>``), which
writes a bare git directory to ``/work/.mirror/<owner>+<name>/repo``; this script extracts the pinned commit of
each from there (``git archive <commit> -- '**/*.py' | tar -x``: the Python files only; a snapshot may
lack its largest files, notebooks and data among them) into ``heldout/src/<owner>+<name>`` (git-ignored), checks
every file with every rule (``--select ALL``: off-by-default rules too) and writes every finding to
``heldout/findings.tsv`` (repo, path, line, code, fix kind, message, source line).

Each finding is then read by hand and labelled in ``benchmarks/corpus/heldout_labels.tsv`` (repo, path, line,
code, right|wrong, reason). The script joins the two: ``heldout/report.txt`` gives the per-rule table (findings,
right, wrong, precision) and lists the findings that carry no label yet (after a rule changed, or after the
branches were merged), so only those need reading.

Usage: ``python benchmarks/corpus/heldout.py [--mirror /work/.mirror] [--out heldout] [--jobs 2]``
(``--no-extract`` reuses folders already extracted).
"""

from __future__ import annotations

import argparse
import csv
import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

from perflint import api
from perflint.config import Settings
from perflint.files import decode_source

REPO = Path(__file__).resolve().parents[2]
LABELS = Path(__file__).resolve().with_name("heldout_labels.tsv")

# owner/name -> the commit swept (the newest snapshot the fetch tool brought, December 2026).
REPOSITORIES: tuple[tuple[str, str], ...] = (
    ("karpathy/nanoGPT", "3adf61e154c3fe3fca428ad6bc3818b27a3b8291"),
    ("karpathy/minGPT", "37baab71b9abea1b76ab957409a1cc2fbfba8a26"),
    ("zhouhaoyi/Informer2020", "29f2a739226a509202a092b464163da81fa74960"),
    ("thuml/Time-Series-Library", "4e938a1767106324dd753b2a44832bf870a0252e"),
    ("mlfoundations/open_clip", "89fb801f1e6087880e951fc8354b8a2077b79c6d"),
    ("lucidrains/denoising-diffusion-pytorch", "faed4db28e724735323fa91c70aa9b28a6e1cbac"),
    ("lucidrains/x-transformers", "9252ed7838021ee61e6c5be0930b3a9a88efdf06"),
    ("tloen/alpaca-lora", "8bb8579e403dc78e37fe81ffbb253c413007323f"),
    ("AI4Finance-Foundation/FinRL", "220f9e490996a6e5c84cfad914ff14f2e0c42d22"),
    ("microsoft/qlib", "d5379c520f66a39953bad76234a7019a72796fd0"),
    ("pytorch/examples", "77f55b912142e11fcfdf5b530231fb9c52f181e8"),
)

FIELDS = ("repo", "path", "line", "code", "fix", "message", "source")


def folder_name(repo: str) -> str:
    """The mirror's (and the extraction's) folder name for ``owner/name``."""
    return repo.replace("/", "+")


def extract(mirror: Path, src: Path, repositories: tuple[tuple[str, str], ...] = REPOSITORIES) -> None:
    """Extract each pinned commit from its bare mirror into ``src/<owner>+<name>`` (afresh).

    ``benchmarks/corpus/build_training_sample.py`` extracts its repositories through this function too.
    """
    for repo, commit in repositories:
        git_dir = mirror / folder_name(repo) / "repo"
        if not git_dir.is_dir():
            sys.exit(f"{repo}: no snapshot at {git_dir} (bring it with the fetch tool: fetch github:{repo})")
        target = src / folder_name(repo)
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        archive = subprocess.run(
            ["git", f"--git-dir={git_dir}", "archive", commit, "--", ":(glob)**/*.py"], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)


def sweep_settings(root: Path) -> Settings:
    """Every rule on (``--select ALL``), unsafe fixes counted, nothing excluded, no configuration file."""
    return replace(Settings(root=root), select=("ALL",), unsafe_fixes=True, respect_gitignore=False, exclude=())


def findings(src: Path, jobs: int) -> tuple[list[dict[str, str]], Counter]:
    """Every finding under ``src`` as rows of FIELDS, and the files checked per repository."""
    rows: list[dict[str, str]] = []
    files: Counter = Counter()
    settings = sweep_settings(src)
    execution = api.Execution(jobs=jobs)
    for result in api.check_paths([src], settings, api.RunOptions(), execution):
        relative = result.path.resolve().relative_to(src.resolve())
        repo, path = relative.parts[0], "/".join(relative.parts[1:])
        files[repo] += 1
        lines = _lines(result.path) if result.violations else []
        for violation in result.violations:
            row = violation.location.row
            rows.append({
                "repo": repo,
                "path": path,
                "line": str(row),
                "code": violation.code,
                "fix": violation.fix.applicability.value if violation.fix is not None else "none",
                "message": violation.message,
                "source": lines[row - 1].strip() if 0 < row <= len(lines) and violation.cell is None else "",
            })
    rows.sort(key=lambda row: (row["repo"], row["path"], int(row["line"]), row["code"]))
    return rows, files


def _lines(path: Path) -> list[str]:
    data = path.read_bytes()
    try:
        text = decode_source(data)
    except ValueError:
        text = data.decode("utf-8", "replace")
    return re.split(r"\r\n|\r|\n", text)


def read_labels(path: Path = LABELS) -> dict[tuple[str, str, str, str], tuple[str, str]]:
    """(repo, path, line, code) -> (right|wrong, reason) from the hand-labelled TSV."""
    labels = {}
    if not path.exists():
        return labels
    with path.open(newline="") as stream:
        for row in csv.DictReader(stream, delimiter="\t"):
            labels[(row["repo"], row["path"], row["line"], row["code"])] = (row["label"], row["reason"])
    return labels


def report(rows: list[dict[str, str]], files: Counter, labels: dict) -> str:
    """The per-rule table and the unlabelled findings, as text."""
    total: Counter = Counter()
    right: Counter = Counter()
    wrong: Counter = Counter()
    unlabelled = []
    for row in rows:
        code = row["code"]
        total[code] += 1
        label = labels.get((row["repo"], row["path"], row["line"], code))
        if label is None:
            unlabelled.append(row)
        elif label[0] == "right":
            right[code] += 1
        else:
            wrong[code] += 1
    out = [f"files checked: {sum(files.values())} ({', '.join(f'{repo} {n}' for repo, n in sorted(files.items()))})", ""]
    out.append("| rule | findings | right | wrong | unlabelled | precision |")
    out.append("| --- | --- | --- | --- | --- | --- |")
    for code in sorted(total):
        labelled = right[code] + wrong[code]
        precision = f"{right[code] / labelled:.0%}" if labelled else "-"
        out.append(f"| {code} | {total[code]} | {right[code]} | {wrong[code]} | {total[code] - labelled} | {precision} |")
    stale = set(labels) - {(row["repo"], row["path"], row["line"], row["code"]) for row in rows}
    out += ["", f"labels without a finding now (fixed, or moved): {len(stale)}"]
    out += [f"  {' '.join(key)} ({labels[key][0]})" for key in sorted(stale)]
    out += ["", f"unlabelled findings: {len(unlabelled)}"]
    out += [f"  {row['repo']}/{row['path']}:{row['line']} {row['code']}: {row['source']}" for row in unlabelled]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", type=Path, default=Path("/work/.mirror"))
    parser.add_argument("--out", type=Path, default=REPO / "heldout")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--no-extract", action="store_true", help="reuse the folders already extracted")
    args = parser.parse_args(argv)
    src = args.out / "src"
    if not args.no_extract:
        extract(args.mirror, src)
    rows, files = findings(src, args.jobs)
    with (args.out / "findings.tsv").open("w", newline="") as stream:
        writer = csv.DictWriter(stream, FIELDS, delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    text = report(rows, files, read_labels())
    (args.out / "report.txt").write_text(text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
