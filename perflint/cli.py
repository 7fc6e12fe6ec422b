"""The ``perflint`` command line (click). Presentation only: the work happens in ``perflint.api``."""

from __future__ import annotations

import contextlib
import gc
import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Optional, Sequence

import click

from perflint import __version__, api, cache, docs, parallel, registry, report, sarif, verify
from perflint import add_noqa as noqa_adder
from perflint.config import ConfigError, Settings, find_config, load_settings
from perflint.files import decode_source
from perflint.types import FileResult, Violation

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
STDIN = "-"
# `full` (ruff's default look): each finding with its source line, a caret under the span and the fix title.
# `concise`: one line per finding. `text` is the older name of `concise`, kept for scripts that pass it.
OUTPUT_FORMATS = ("full", "concise", "text", "json", "json-lines", "sarif", "github")
DEFAULT_OUTPUT_FORMAT = "full"
HUMAN_FORMATS = frozenset({"full", "concise", "text"})
# Formats that carry each fix's text edits; computing them costs one extra rewrite per finding.
EDIT_FORMATS = frozenset({"json", "json-lines", "sarif"})
# Below this many files a run is over before a bar would help; above it, a bar shows on an interactive stderr.
PROGRESS_MIN_FILES = 20
# Lines of a failed command's stderr shown by `fix --verify`.
VERIFY_STDERR_LINES = 5
# Objects allocated between young-generation collections (CPython's default is 700), and the older generations'
# collection ratios: mypy's setting. LibCST trees are millions of small objects that live for a whole file, so
# the default rescans them over and over; this cut a cold `check`'s CPU on 2,300 corpus files from 22.3 to 19.1 s
# for 12 MiB more peak memory (benchmarks/results/throughput_2300.md).
GC_THRESHOLDS = (200_000, 30, 30)


def _split(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(item.strip() for value in values for item in value.split(",") if item.strip())


class ConfigurationError(click.ClickException):
    """A configuration that cannot be used: one ``error:`` line, exit 2, before any file is read or written."""

    exit_code = EXIT_ERROR

    def show(self, file=None) -> None:  # type: ignore[override]
        click.echo(f"error: {self.format_message()}", err=True)


def _common_options(function):
    options = [
        click.argument("paths", nargs=-1, type=click.Path(path_type=Path)),
        click.option("--select", multiple=True, help="Rule codes or prefixes to enable (replaces the default set)."),
        click.option("--ignore", multiple=True, help="Rule codes or prefixes to disable."),
        click.option("--extend-select", multiple=True, help="Rule codes or prefixes to add to the selection."),
        click.option("--exclude", multiple=True, help="Glob patterns to skip while walking directories (added to the configured ones)."),
        click.option("--force-exclude", is_flag=True, default=None, help="Skip excluded paths even when they are named on the command line (as pre-commit names them)."),
        click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False), help="pyproject.toml (with [tool.perflint]) or perflint.toml to read instead of the nearest one."),
        click.option("--stdin-filename", type=click.Path(path_type=Path), help="The name to report when the source comes from stdin (`-`)."),
        click.option("--output-format", type=click.Choice(OUTPUT_FORMATS), default=DEFAULT_OUTPUT_FORMAT, show_default=True, help="full: each finding with its source line and fix title; concise (or text): one line each."),
        click.option("--exit-zero", is_flag=True, help="Exit 0 even when findings remain (configuration and internal errors still exit 2)."),
        click.option("--exit-non-zero-on-fix", is_flag=True, help="Exit 1 when any file was fixed, even if no finding remains."),
        click.option("--show-fixes", is_flag=True, help="After fixing, list the fixes applied per file and rule; when only checking, print each finding's fix title."),
        click.option("--color", type=click.Choice(["auto", "always", "never"]), default="auto", show_default=True, help="Colour text output; auto: only on a terminal, and not when NO_COLOR is set."),
        click.option("-q", "--quiet", is_flag=True, help="Print the findings (or the diff) only: no summary, no progress bar."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _execution_options(function):
    """--jobs, --no-cache and --cache-dir: how fast a run goes, never what it finds."""
    options = [
        click.option("-j", "--jobs", type=click.IntRange(min=1), help="Worker processes (default: one per CPU; 1 checks in this process)."),
        click.option("--no-cache", is_flag=True, help="Check every file again instead of reusing results cached for unchanged files."),
        click.option("--cache-dir", type=click.Path(path_type=Path, file_okay=False), help=f"Where results are cached (default: {cache.DEFAULT_DIRECTORY} beside pyproject.toml, else in the current folder)."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


# --- fix --verify CMD (perflint.verify): the fixes that keep the user's own command's outputs -----------------
# A command that fixes (fix, check --fix) takes @_verify_options and calls _verify_if_asked(...) right after
# its settings are known: with --verify it runs the verification and exits, otherwise it returns at once.


def _verify_options(function):
    options = [
        click.option("--verify", "verify_command", metavar="CMD", help="Run CMD (shell syntax) on copies of the project before and after the fixes; write only the fixes that keep its outputs identical."),
        click.option("--compare", multiple=True, metavar="PATH", help="With --verify: an output file or glob (relative to the project) to compare; default: CMD's stdout."),
        click.option("--compare-json", is_flag=True, help="With --verify: compare JSON files by value (key order and whitespace aside, numbers exactly)."),
        click.option("--ignore-key", multiple=True, metavar="KEY", help="With --compare-json: a key to leave out (a name at any depth, or a dotted path), e.g. timings."),
        click.option("--verify-timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS", help="With --verify: time limit of each run of CMD (default: none for the two baseline runs, 5x the slower one after)."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _verify_if_asked(paths, settings: Settings, output_format: str, quiet: bool, stdin_filename, verify_command, compare, compare_json, ignore_key, verify_timeout) -> None:
    """With --verify: verify, write the verified fixes, print the outcome and exit (0 verified, 1 some fixes
    rejected and the rest written, 2 CMD could not be verified and nothing was written, 130 interrupted)."""
    if verify_command is None:
        if compare or compare_json or ignore_key or verify_timeout is not None:
            raise click.UsageError("--compare, --compare-json, --ignore-key and --verify-timeout go with --verify")
        return
    if not paths or tuple(paths) == (Path(STDIN),) or stdin_filename is not None:
        raise click.UsageError("--verify needs files or folders to fix (not stdin)")
    if output_format not in (*HUMAN_FORMATS, "json"):
        raise click.UsageError("--verify works with --output-format full, concise or json")
    options = verify.VerifyOptions(
        command=verify_command, compare=tuple(compare), compare_json=compare_json, ignore_keys=_split(ignore_key),
        timeout=verify_timeout, unsafe_fixes=settings.unsafe_fixes,
    )
    def show(progress: verify.Progress) -> None:
        if progress.result is None:
            click.echo(f"verify: run {progress.run}/{progress.planned} ({progress.elapsed:.1f} s): {progress.label}", err=True)
        else:
            click.echo(f"verify:   {progress.result}", err=True)

    try:
        result = verify.verify_fixes(paths, settings, options, on_progress=None if quiet else show)
    except verify.VerifyError as error:
        raise click.UsageError(str(error)) from None
    except KeyboardInterrupt:
        click.echo("verify: interrupted; nothing written", err=True)
        sys.exit(130)
    for error in result.errors:
        click.echo(f"error: {error.describe()}", err=True)
    for path in result.skipped:
        click.echo(f"note: {path}: notebooks are not verified; left unchanged", err=True)
    if output_format == "json":
        click.echo(json.dumps(verify.report_document(result), indent=2))
    else:
        click.echo(_verify_text(result), nl=False)
    codes = {verify.Status.NOTHING_TO_FIX: EXIT_CLEAN, verify.Status.VERIFIED: EXIT_CLEAN, verify.Status.REJECTED: EXIT_FINDINGS}
    write_failed = any(error.kind.value == "write-error" for error in result.errors)
    sys.exit(EXIT_ERROR if write_failed else codes.get(result.status, EXIT_ERROR))


def _verify_text(result: verify.VerifyResult) -> str:
    lines = []
    for rejection in result.rejected:
        title = f" ({rejection.fix.title})" if rejection.fix.title else ""
        lines.append(f"rejected {rejection.fix.describe()}{title}")
        lines.append(f"  changes {rejection.difference.describe()}")
    for difference in result.differences:
        lines.append(f"differs: {difference.describe()}")
    last = result.runs[-1] if result.runs else None
    if result.status is verify.Status.UNVERIFIABLE and last is not None and (last.timed_out or last.exit_status):
        # Why the command failed is usually in the last lines it wrote to stderr.
        with contextlib.suppress(OSError):
            tail = last.stderr_log.read_text(errors="replace").splitlines()[-VERIFY_STDERR_LINES:]
            lines.extend([f"stderr of run {last.number} ({last.stderr_log}), last lines:", *(f"  {line}" for line in tail)])
    lines.append(result.message)
    if result.written:
        lines.append(f"written: {', '.join(str(path) for path in result.written)}")
    if result.runs:
        lines.append(f"{len(result.runs)} runs in {result.elapsed:.1f} s; logs of each run in {result.log_dir}")
    return "".join(line + "\n" for line in lines)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="perflint")
def cli() -> None:
    """perflint: find and fix performance and memory mistakes in PyTorch, pandas and numpy code."""


@cli.command()
@_common_options
@_execution_options
@click.option("--fix", "apply_fixes", is_flag=True, help="Write the fixes, as `perflint fix --apply` does.")
@click.option("--unsafe-fixes", is_flag=True, default=None, help="Also count (with --fix: apply) the fixes marked unsafe.")
@click.option("--statistics", is_flag=True, help="Print one line per rule (count, code, fixable, name) instead of the findings.")
@click.option("--add-noqa", is_flag=True, help="Add `# noqa: CODE` to every reported line, keeping existing codes and comments (not in notebooks).")
@_verify_options
@click.pass_context
def check(ctx: click.Context, paths, select, ignore, extend_select, exclude, force_exclude, config_path, stdin_filename, output_format, color, quiet, exit_zero, exit_non_zero_on_fix, show_fixes, jobs, no_cache, cache_dir, apply_fixes, unsafe_fixes, statistics, add_noqa, **verify_args) -> None:
    """Report findings in PATHS (files, directories, or - for stdin; default: the current folder)."""
    if statistics and output_format not in (*HUMAN_FORMATS, "json"):
        raise click.UsageError("--statistics works with --output-format full, concise or json")
    if apply_fixes:
        # `check --fix` is `fix --apply`: the same run, ruff's spelling.
        if statistics or add_noqa:
            raise click.UsageError("--statistics and --add-noqa cannot be combined with --fix")
        ctx.invoke(fix, **{name: value for name, value in ctx.params.items() if name not in ("statistics", "add_noqa")})
        return
    paths = _paths(paths)
    settings = _settings(paths, config_path, select, ignore, extend_select, exclude, force_exclude, unsafe_fixes)
    _verify_if_asked(paths, settings, output_format, quiet, stdin_filename, **verify_args)
    if add_noqa:
        if Path(STDIN) in paths:
            raise click.UsageError("--add-noqa edits files in place; it does not read stdin (-)")
        added = noqa_adder.add_noqa(paths, settings, _execution(settings, jobs, no_cache, cache_dir))
        _print_errors(added.results)
        click.echo(added.report(), err=True, nl=False)
        sys.exit(added.exit_code)
    options = api.RunOptions(with_edits=output_format in EDIT_FORMATS and not statistics)
    execution = _execution(settings, jobs, no_cache, cache_dir)
    results = _run(paths, settings, options, stdin_filename, progress=_wants_progress(output_format, quiet), execution=execution)
    violations = sorted((v for result in results for v in result.violations), key=lambda v: v.sort_key)
    _print_errors(results)
    painted = _use_color(color)
    if statistics:
        rows = report.statistics(violations)
        text = report.statistics_json(rows) + "\n" if output_format == "json" else report.statistics_text(rows, painted)
        click.echo(text, nl=False, color=painted)
    elif output_format in HUMAN_FORMATS:
        sources = _sources(results) if output_format == "full" else {}
        for violation in violations:
            click.echo(_human(violation, output_format, sources, show_fixes, painted), color=painted)
        if not quiet:
            click.echo(report.check_summary(report.summarize(results), settings.unsafe_fixes))
    else:
        click.echo(_machine_output(output_format, results, violations), nl=False)
    sys.exit(_exit_code(results, pending=False, exit_zero=exit_zero, exit_non_zero_on_fix=False))


@cli.command()
@_common_options
@_execution_options
@click.option("--apply", "apply_fixes", is_flag=True, help="Write the fixes to the files (default: print a diff).")
@click.option("--unsafe-fixes", is_flag=True, default=None, help="Also apply fixes marked unsafe (read `perflint explain CODE`).")
@_verify_options
def fix(paths, select, ignore, extend_select, exclude, force_exclude, config_path, stdin_filename, output_format, color, quiet, exit_zero, exit_non_zero_on_fix, show_fixes, jobs, no_cache, cache_dir, apply_fixes, unsafe_fixes, **verify_args) -> None:
    """Fix findings in PATHS (default: the current folder): print a diff, or write with --apply (or, with
    --verify CMD, the fixes that keep CMD's outputs)."""
    paths = _paths(paths)
    settings = _settings(paths, config_path, select, ignore, extend_select, exclude, force_exclude, unsafe_fixes)
    _verify_if_asked(paths, settings, output_format, quiet, stdin_filename, **verify_args)
    from_stdin = tuple(paths) == (Path(STDIN),)
    options = api.RunOptions(fix=True, apply=apply_fixes and not from_stdin)
    execution = _execution(settings, jobs, no_cache, cache_dir)
    results = _run(paths, settings, options, stdin_filename, progress=_wants_progress(output_format, quiet), execution=execution)
    _print_errors(results)
    painted = _use_color(color)
    if from_stdin and apply_fixes:
        sys.stdout.buffer.write(results[0].fixed or results[0].original or b"")
    elif output_format not in HUMAN_FORMATS:
        violations = sorted((v for result in results for v in result.violations), key=lambda v: v.sort_key)
        click.echo(_machine_output(output_format, results, violations), nl=False)
    else:
        for result in results:
            if not apply_fixes:
                click.echo(report.unified_diff(result), nl=False)
            for violation in result.violations:
                click.echo(report.text_line(violation, painted), color=painted)
        if show_fixes:
            click.echo(report.fixes_enumeration(results, applied=apply_fixes), nl=False, err=True)
        if not quiet:
            click.echo(report.fix_summary(report.summarize(results), applied=apply_fixes), err=True)
    pending = not apply_fixes and any(result.changed for result in results)
    sys.exit(_exit_code(results, pending, exit_zero=exit_zero, exit_non_zero_on_fix=exit_non_zero_on_fix))


def _human(violation: Violation, output_format: str, sources: dict, show_fixes: bool, painted: bool) -> str:
    """A finding for a person: one line (concise), or ruff's full look with the source line and the fix title."""
    if output_format != "full":
        line = report.text_line(violation, painted)
        if show_fixes and violation.fix is not None and violation.fix.message:
            line += f"\n    = help: {violation.fix.message}"
        return line
    return report.full_text(violation, sources.get(violation.path), painted)


def _sources(results: Sequence[FileResult]) -> dict[Path, str]:
    """The text of every file with findings, for the `full` format's source lines (notebooks: cell text is not kept)."""
    texts = {}
    for result in results:
        if result.violations and result.original is not None and result.violations[0].cell is None:
            try:
                texts[result.path] = decode_source(result.original)
            except ValueError:
                continue
    return texts


@cli.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False), help="pyproject.toml whose folder holds the cache (default: the nearest one).")
@click.option("--cache-dir", type=click.Path(path_type=Path, file_okay=False), help="The cache folder to remove, if not the default one.")
def clean(config_path: Optional[Path], cache_dir: Optional[Path]) -> None:
    """Remove the cache of results (a folder that perflint created, nothing else)."""
    settings = _settings((), config_path, (), (), (), (), None, None)
    directory = cache_dir or settings.root / cache.DEFAULT_DIRECTORY
    try:
        removed = cache.clean(directory)
    except OSError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"removed {directory}" if removed else f"no cache at {directory}")


@cli.command(name="rules")
def list_rules() -> None:
    """List every rule: code, name, fix safety, metric impact, and whether it is on by default."""
    click.echo(f"{'code':<7} {'name':<34} {'fix':<15} {'metrics':<10} default")
    for rule in registry.all_rules():
        default = "on" if rule.enabled_by_default else "off"
        click.echo(f"{rule.code:<7} {rule.name:<34} {rule.fix_safety.value:<15} {rule.metric_impact.value:<10} {default}")


@cli.command()
@click.argument("code")
def explain(code: str) -> None:
    """Print the full documentation of rule CODE."""
    try:
        rule = registry.rule_by_code(code)
    except KeyError:
        raise click.UsageError(f"unknown rule code {code!r}; `perflint rules` lists them") from None
    click.echo(docs.rule_page(rule), nl=False)


@cli.command()
def server() -> None:
    """Run the language server over stdio (needs `pip install "perflint-ml[lsp]"`)."""
    try:
        from perflint.lsp.server import main as serve
    except ImportError as error:
        raise click.UsageError(f'the language server needs the lsp extra: pip install "perflint-ml[lsp]" ({error})') from None
    serve()


def _paths(paths: Sequence[Path]) -> tuple[Path, ...]:
    """The paths to check: the current folder when none is given (ruff's default); `-` (stdin) only alone."""
    if not paths:
        return (Path("."),)
    if len(paths) > 1 and any(str(path) == STDIN for path in paths):
        raise click.UsageError("`-` (read from stdin) cannot be combined with other paths")
    return tuple(paths)


def _settings(paths, config_path, select, ignore, extend_select, exclude, force_exclude, unsafe_fixes) -> Settings:
    """Settings from the config file and the command line; a configuration that cannot be used stops the run
    (exit 2) before any file is read or written, as ruff does."""
    start = next((path for path in paths if str(path) != STDIN), Path.cwd())
    try:
        settings = load_settings(config_path or find_config(start))
    except ConfigError as error:
        raise ConfigurationError(str(error)) from None
    if select:
        # A selection typed on the command line is taken as the whole selection: the file's lists step aside.
        settings = replace(settings, ignore=(), extend_select=())
    try:
        settings = settings.with_overrides(
            select=_split(select),
            ignore=_split(ignore),
            extend_select=_split(extend_select),
            extend_exclude=(*settings.extend_exclude, *_split(exclude)) if exclude else (),
            # A flag left out keeps the file's value (True or absent: flags only switch on).
            force_exclude=True if force_exclude else None,
            unsafe_fixes=True if unsafe_fixes else None,
        )
    except ConfigError as error:
        raise click.UsageError(str(error)) from None
    return settings


def _execution(settings: Settings, jobs: Optional[int], no_cache: bool, cache_dir: Optional[Path]) -> api.Execution:
    directory = None if no_cache else cache_dir or settings.root / cache.DEFAULT_DIRECTORY
    return api.Execution(jobs=jobs or parallel.default_jobs(), cache_dir=directory)


def _run(paths, settings: Settings, options: api.RunOptions, stdin_filename: Optional[Path], progress: bool = False, execution: api.Execution = api.Execution()) -> list[FileResult]:
    if tuple(paths) == (Path(STDIN),):
        name = stdin_filename or Path("<stdin>")
        return [api.check_source(sys.stdin.buffer.read(), name, settings, options)]
    if progress:
        # Discovering first gives the bar its length; the found files are then checked as named paths.
        targets = api.files_to_check(paths, settings)
        if len(targets) >= PROGRESS_MIN_FILES:
            with click.progressbar(api.check_paths(targets, settings, options, execution), length=len(targets), label="perflint", show_pos=True, file=sys.stderr) as bar:
                return list(bar)
        paths = targets
    return list(api.check_paths(paths, settings, options, execution))


def _wants_progress(output_format: str, quiet: bool) -> bool:
    """A progress bar is for a person watching text output: never with machine formats, --quiet, or a piped stderr."""
    return output_format in HUMAN_FORMATS and not quiet and sys.stderr.isatty()


def _use_color(choice: str) -> bool:
    """--color always/never win; auto colours a terminal unless NO_COLOR is set to a non-empty value (no-color.org)."""
    if choice != "auto":
        return choice == "always"
    return not os.environ.get("NO_COLOR") and sys.stdout.isatty()


def _machine_output(output_format: str, results: Sequence[FileResult], violations: Sequence[Violation]) -> str:
    """The document of a machine-readable output format, ending with a newline when not empty."""
    if output_format == "json":
        return report.json_document(violations) + "\n"
    if output_format == "json-lines":
        return report.json_lines(violations)
    if output_format == "sarif":
        return sarif.sarif_document(results, registry.all_rules(), Path.cwd()) + "\n"
    errors = [error for result in results for error in result.errors]
    return report.github_annotations(violations, errors)


def _print_errors(results: Sequence[FileResult]) -> None:
    for result in results:
        for error in result.errors:
            click.echo(f"error: {error.describe()}", err=True)
        for note in result.notes:
            click.echo(f"note: {result.path}: {note}", err=True)


def _exit_code(results: Sequence[FileResult], pending: bool, exit_zero: bool, exit_non_zero_on_fix: bool) -> int:
    if any(error.kind.value == "rule-error" for result in results for error in result.errors):
        return EXIT_ERROR
    if exit_non_zero_on_fix and any(result.written or (result.changed and result.fixes_applied) for result in results):
        return EXIT_FINDINGS
    if exit_zero:
        return EXIT_CLEAN
    if pending or any(result.violations or result.errors for result in results):
        return EXIT_FINDINGS
    return EXIT_CLEAN


def main() -> None:
    """Console-script entry point: an internal error is one line and exit code 2, not a traceback."""
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        cli(standalone_mode=False)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.ClickException as error:
        error.show()
        sys.exit(EXIT_ERROR)
    except click.exceptions.Abort:
        sys.exit(EXIT_ERROR)
    except Exception as error:  # noqa: BLE001 - last resort, reported as an internal error
        click.echo(f"error: internal error: {type(error).__name__}: {error}", err=True)
        sys.exit(EXIT_ERROR)
