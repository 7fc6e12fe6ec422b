"""Scaling: CPU per 1,000 lines of ``perflint check`` against file size, next to a bare LibCST parse.

perflint's cost must grow with the size of a file, not with (candidates x scope size): a rule that walks a
whole scope or loop body for every loop or candidate it meets is quadratic on the long training scripts
research code is made of (one ``main()`` of thousands of lines). This script builds files of 100 to 20,000
lines from real training code and measures, in this process, with ``time.process_time`` and the result cache
off, the median over ``--runs`` runs of:

- ``parse``: a bare ``libcst.parse_module`` of the file;
- ``all``: ``perflint check --select ALL`` of the file (every rule, PFL105 included);
- one column per rule: ``perflint check --select CODE``.

Each is printed as CPU milliseconds per 1,000 lines; the last rows give, per column, the ratio of the largest
size's cost per line to the smallest size's (goal: at most 1.5) and, per size, ``all`` over ``parse``
(goal on large files: at most 1.5).

Files are built in two shapes from the ``*.py`` files under SOURCE that mention ``backward`` or ``.eval()``
(sorted by path, each checked to parse):

- ``main`` (default): the bodies of their top-level functions, one after another, inside a single
  ``def main():`` (the shape of a long research training script), after the files' imports;
- ``module``: the files themselves, concatenated.

Chunks are appended in order (cycling through the sources when they run out) until the file has at least
the target number of lines; each built file is checked to parse. The built files are written to a temporary
folder (``--keep DIR`` keeps them there instead) and never to the repository.

Usage::

    python benchmarks/scaling.py SOURCE [--shape main|module] [--sizes 100,1000,5000,20000] [--runs 3]
        [--rules PFL103,PFL104] [--keep DIR] [--cli-collector] [--output FILE]

SOURCE is any folder of real training code, e.g. ``corpus/src`` from ``benchmarks/corpus/build_corpus.py``, or
a checkout of ``pytorch/examples`` and ``karpathy/nanoGPT`` (``benchmarks/results/scaling.md`` used those two).

The largest real files (``--largest N``) are the second check: the N ``*.py`` files of SOURCE with the most
lines (``--by bytes``: the most bytes), each measured as it is, with nothing built. Per file, in this process
(so the interpreter's start-up counts for neither): its lines, the median CPU of a bare ``libcst.parse_module``
and of ``perflint check --no-cache`` with the default rules (``api.check_source``; ``--select`` for others),
their ratio (goal: at most 1.5 on every file), and the rules left after the prefilter (token and
``could_match``), each with its number of findings on the file: a rule left with 0 findings parsed and
analysed the file for nothing::

    python benchmarks/scaling.py SOURCE --largest 20 [--by lines|bytes] [--runs 3] [--select ALL] [--output FILE]

Both checks run with CPython's default collector unless ``--cli-collector`` gives both columns the thresholds
``perflint check`` sets (``perflint.cli.GC_THRESHOLDS``). With the default one, full collections rescan every
live node, so a bare parse's own cost per line grows with the file (1.6-2.4x from 110 to 20,000 lines here).
"""

from __future__ import annotations

import argparse
import ast
import gc
import os
import statistics
import sys
import tempfile
import textwrap
import time
import warnings
from pathlib import Path
from typing import Callable, Optional, Sequence

import libcst as cst

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from perflint import api, cli, engine  # noqa: E402  (after the path set-up, so that this checkout's perflint runs)
from perflint.config import Settings  # noqa: E402
from perflint.files import decode_source  # noqa: E402

DEFAULT_SIZES = (100, 300, 1000, 3000, 10000, 20000)
TRAINING_WORDS = ("backward", ".eval()")
GOAL_GROWTH = 1.5
GOAL_PARSE_RATIO = 1.5


def _parses(source: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(source)
    except (SyntaxError, ValueError, RecursionError):
        return False
    return True


def source_files(folder: Path) -> list[str]:
    """The texts of the training-code files under ``folder`` that parse, sorted by path."""
    texts = []
    for path in sorted(folder.rglob("*.py")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if any(word in text for word in TRAINING_WORDS) and _parses(text):
            texts.append(text)
    return texts


Chunk = tuple[tuple[str, ...], str]  # (the imports its file needs, the code)


def module_chunks(texts: Sequence[str]) -> list[Chunk]:
    """Each file is one chunk, needing no imports of its own."""
    return [((), text if text.endswith("\n") else text + "\n") for text in texts]


def main_chunks(texts: Sequence[str]) -> list[Chunk]:
    """Each top-level function's body re-indented by 4, with its file's top-level imports."""
    chunks: list[Chunk] = []
    for text in texts:
        lines = text.splitlines()
        tree = ast.parse(text)
        header = []
        bodies = []
        for statement in tree.body:
            end = statement.end_lineno or statement.lineno
            if isinstance(statement, (ast.Import, ast.ImportFrom)) and not (
                isinstance(statement, ast.ImportFrom) and statement.module == "__future__"
            ):
                header.append("\n".join(lines[statement.lineno - 1 : end]))
            elif isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)) and statement.body:
                first = statement.body[0]
                start = first.lineno
                if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and len(statement.body) > 1:
                    start = statement.body[1].lineno  # drop the docstring
                body = textwrap.dedent("\n".join(lines[start - 1 : end]))
                chunk = textwrap.indent(body, "    ") + "\n"
                # `nonlocal` needs an enclosing function binding; `yield`/`await` would change main's kind.
                if _parses("def main():\n" + chunk) and not _changes_kind(chunk):
                    bodies.append(chunk)
        chunks.extend((tuple(header), body) for body in bodies)
    return chunks


def _changes_kind(chunk: str) -> bool:
    tree = ast.parse("def main():\n" + chunk)
    function = tree.body[0]
    nested = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
    stack = list(ast.iter_child_nodes(function))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Yield, ast.YieldFrom, ast.Await, ast.Nonlocal, ast.Global)):
            return True
        if not isinstance(node, nested):
            stack.extend(ast.iter_child_nodes(node))
    return False


def build(shape: str, texts: Sequence[str], lines: int) -> str:
    """A file of at least ``lines`` lines of the given shape, from ``texts`` in order (cycled)."""
    chunks = (main_chunks if shape == "main" else module_chunks)(texts)
    if not chunks:
        raise SystemExit("no usable training code under the source folder")
    header: dict[str, None] = {}  # the imports of the chunks used, in order, once each
    parts: list[str] = []
    count = 2 if shape == "main" else 0
    index = 0
    while count < lines or not parts:
        imports, chunk = chunks[index % len(chunks)]
        for line in imports:
            if line not in header:
                header[line] = None
                count += line.count("\n") + 1
        parts.append(chunk)
        count += chunk.count("\n")
        index += 1
    opening = "\n".join(header) + "\n\n" + ("\ndef main():\n" if shape == "main" else "")
    source = opening + "".join(parts)
    if not _parses(source):
        raise SystemExit(f"built {shape} file of {lines} lines does not parse")
    return source


def cpu(function: Callable[[], object], runs: int) -> float:
    """The median CPU seconds of ``runs`` calls of ``function``."""
    samples = []
    for _ in range(runs):
        start = time.process_time()
        function()
        samples.append(time.process_time() - start)
    return statistics.median(samples)


def measure(path: Path, data: bytes, columns: Sequence[str], runs: int) -> dict[str, float]:
    """CPU seconds of each column on one file."""
    results = {"parse": cpu(lambda: cst.parse_module(data), runs)}
    for column in columns:
        settings = Settings(root=path.parent, select=("ALL",) if column == "all" else (column,))
        results[column] = cpu(lambda: api.check_source(data, path, settings), runs)
    return results


def table(rows: dict[int, dict[str, float]], columns: Sequence[str]) -> str:
    """The markdown table: CPU ms per 1,000 lines, then growth and parse ratios."""
    names = ["parse", *columns]
    out = ["| lines | " + " | ".join(names) + " | all / parse |", "|" + " ---: |" * (len(names) + 2)]
    for lines, result in rows.items():
        per_kline = [1000 * result[name] / lines * 1000 for name in names]
        ratio = result["all"] / result["parse"] if "all" in result else float("nan")
        out.append(f"| {lines} | " + " | ".join(f"{value:.1f}" for value in per_kline) + f" | {ratio:.2f} |")
    smallest, largest = min(rows), max(rows)
    growth = [
        (rows[largest][name] / largest) / (rows[smallest][name] / smallest) if rows[smallest][name] > 0 else float("nan")
        for name in names
    ]
    out.append(f"| growth {largest}/{smallest} | " + " | ".join(f"{value:.2f}x" for value in growth) + " | |")
    return "\n".join(out)


def largest_files(folder: Path, count: int, by: str) -> list[tuple[Path, bytes, int]]:
    """The ``count`` largest ``*.py`` files under ``folder`` that decode, as (path, bytes, lines), largest first."""
    found = []
    for path in folder.rglob("*.py"):
        if not path.is_file() or path.is_symlink():
            continue
        data = path.read_bytes()
        try:
            lines = decode_source(data).count("\n") + 1
        except ValueError:
            continue
        found.append((lines if by == "lines" else len(data), str(path), path, data, lines))
    found.sort(reverse=True)
    return [(path, data, lines) for _, _, path, data, lines in found[:count]]


def largest_table(folder: Path, count: int, by: str, runs: int, select: tuple[str, ...]) -> str:
    """Measure the largest files of ``folder`` one by one (see the module doc); the markdown table."""
    settings = Settings(root=folder, select=select)
    rows = []
    totals = [0.0, 0.0]
    for path, data, lines in largest_files(folder, count, by):
        left = engine.prefilter(data, settings.rules_for(path)).rules
        try:
            parse = cpu(lambda: cst.parse_module(data), runs)
        except Exception:  # noqa: BLE001 (a file LibCST cannot parse: perflint reports it, there is no parse to compare)
            parse = float("nan")
        results = []
        check = cpu(lambda: results.append(api.check_source(data, path, settings)), runs)
        result = results[-1]
        found: dict[str, int] = {}
        for violation in result.violations:
            found[violation.code] = found.get(violation.code, 0) + 1
        passed = " ".join(f"{rule.code}({found.get(rule.code, 0)})" for rule in left) or "none"
        errors = f" (error: {result.errors[0].kind.value})" if result.errors else ""
        relative = path.relative_to(folder)
        rows.append(f"| `{relative}` | {lines} | {parse:.2f} | {check:.2f} | {check / parse:.2f} | {passed}{errors} |")
        if parse == parse:
            totals[0] += parse
            totals[1] += check
        print(rows[-1], file=sys.stderr)
    header = [
        "| file | lines | parse CPU s | perflint CPU s | perflint / parse | rules left after the prefilter (findings) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    footer = f"| all {len(rows)} | | {totals[0]:.2f} | {totals[1]:.2f} | {totals[1] / totals[0]:.2f} | |"
    return "\n".join([*header, *rows, footer])


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Build the files, measure, print the table (or, with ``--largest``, measure the largest real files)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, nargs="?", default=REPO / "corpus" / "src")
    parser.add_argument("--shape", choices=("main", "module"), default="main")
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rules", default="PFL101,PFL102,PFL103,PFL104,PFL105,PFL201", help="per-rule columns")
    parser.add_argument("--keep", type=Path, help="write the built files here (outside the repository)")
    parser.add_argument("--largest", type=int, default=0, help="measure the N largest real files of SOURCE instead")
    parser.add_argument("--by", choices=("lines", "bytes"), default="lines", help="how --largest ranks files")
    parser.add_argument("--select", default="", help="with --largest: rules to run (default: the default rules)")
    parser.add_argument("--output", type=Path, help="also append the table to this markdown file")
    parser.add_argument("--cli-collector", action="store_true", help="both columns with the collector thresholds `perflint check` sets")
    args = parser.parse_args(argv)
    if args.cli_collector:
        gc.set_threshold(*cli.GC_THRESHOLDS)

    if args.largest:
        select = tuple(code for code in args.select.split(",") if code)
        # Imports, the rule registry and first-use caches are paid once per process, not per file.
        api.check_source(b"import torch\nfor i, x in enumerate(y):\n    z[x].append(i)\n", args.source / "warm_up.py",
                         Settings(root=args.source, select=("ALL",)))
        text = (
            f"The {args.largest} largest files (by {args.by}) of `{args.source}`: CPU seconds, median of {args.runs} "
            f"(process_time, in one process, cache off), rules {args.select or 'default'}; load average "
            f"{os.getloadavg()[0]:.1f} at the start\n\n"
        )
        text += largest_table(args.source, args.largest, args.by, args.runs, select) + "\n"
        text += f"\nload average {os.getloadavg()[0]:.1f} at the end\n"
        _report(text, args.output)
        return

    texts = source_files(args.source)
    sizes = [int(size) for size in args.sizes.split(",")]
    columns = ["all", *(code for code in args.rules.split(",") if code)]
    with tempfile.TemporaryDirectory(prefix="perflint-scaling-") as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        rows: dict[int, dict[str, float]] = {}
        # Imports, the rule registry and first-use caches are paid once per process, not per file.
        warm = build(args.shape, texts, min(sizes))
        api.check_source(warm.encode(), folder / "warm_up.py", Settings(root=folder, select=("ALL",)))
        for size in sizes:
            source = build(args.shape, texts, size)
            path = folder / f"{args.shape}_{size}.py"
            path.write_text(source, encoding="utf-8")
            lines = source.count("\n")
            rows[lines] = measure(path, source.encode(), columns, args.runs)
            print(f"{lines} lines: " + ", ".join(f"{k} {v:.3f}s" for k, v in rows[lines].items()), file=sys.stderr)
    largest = max(rows)
    growth = (rows[largest]["all"] / largest) / (rows[min(rows)]["all"] / min(rows))
    parse_ratio = rows[largest]["all"] / rows[largest]["parse"]
    collector = "the command line's collector" if args.cli_collector else "CPython's default collector"
    text = (
        f"CPU ms per 1,000 lines, {args.shape} shape, median of {args.runs} (process_time, cache off, {collector})\n\n"
        f"{table(rows, columns)}\n\n"
        f"all rules: growth {growth:.2f}x (goal <= {GOAL_GROWTH}), "
        f"{parse_ratio:.2f}x a bare parse at {largest} lines (goal <= {GOAL_PARSE_RATIO})\n"
    )
    _report(text, args.output)


def _report(text: str, output: Optional[Path]) -> None:
    """Print ``text``; with ``--output``, also append it to that markdown file."""
    print(text, end="")
    if output is not None:
        with output.open("a", encoding="utf-8") as stream:
            stream.write(text + "\n")


if __name__ == "__main__":
    main()
