"""The ``perflint`` command line (click). Presentation only: the work happens in ``perflint.api``."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Optional, Sequence

import click

from perflint import __version__, api, registry, report
from perflint.config import ConfigError, Settings, find_config, load_settings
from perflint.types import FileResult

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
STDIN = "-"


def _split(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(item.strip() for value in values for item in value.split(",") if item.strip())


def _common_options(function):
    options = [
        click.argument("paths", nargs=-1, type=click.Path(path_type=Path)),
        click.option("--select", multiple=True, help="Rule codes or prefixes to enable (replaces the default set)."),
        click.option("--ignore", multiple=True, help="Rule codes or prefixes to disable."),
        click.option("--extend-select", multiple=True, help="Rule codes or prefixes to add to the selection."),
        click.option("--exclude", multiple=True, help="Glob patterns to skip while walking directories."),
        click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False), help="pyproject.toml to read instead of the nearest one."),
        click.option("--stdin-filename", type=click.Path(path_type=Path), help="The name to report when the source comes from stdin (`-`)."),
        click.option("--output-format", type=click.Choice(["text", "json"]), default="text", show_default=True),
    ]
    for option in reversed(options):
        function = option(function)
    return function


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="perflint")
def cli() -> None:
    """perflint: find and fix performance and memory mistakes in PyTorch, pandas and numpy code."""


@cli.command()
@_common_options
@click.option("--unsafe-fixes", is_flag=True, help="Count unsafe fixes as available in the summary.")
def check(paths, select, ignore, extend_select, exclude, config_path, stdin_filename, output_format, unsafe_fixes) -> None:
    """Report findings in PATHS (files, directories, or - for stdin)."""
    settings, config_failed = _settings(paths, config_path, select, ignore, extend_select, exclude, unsafe_fixes)
    results = _run(paths, settings, api.RunOptions(with_edits=output_format == "json"), stdin_filename)
    violations = sorted((v for result in results for v in result.violations), key=lambda v: v.sort_key)
    _print_errors(results)
    if output_format == "json":
        click.echo(report.json_document(violations))
    else:
        for violation in violations:
            click.echo(report.text_line(violation, settings.unsafe_fixes))
        click.echo(report.check_summary(report.summarize(results), settings.unsafe_fixes))
    sys.exit(_exit_code(results, config_failed, pending=False))


@cli.command()
@_common_options
@click.option("--apply", "apply_fixes", is_flag=True, help="Write the fixes to the files (default: print a diff).")
@click.option("--unsafe-fixes", is_flag=True, help="Also apply fixes marked unsafe (read `perflint explain CODE`).")
def fix(paths, select, ignore, extend_select, exclude, config_path, stdin_filename, output_format, apply_fixes, unsafe_fixes) -> None:
    """Fix findings in PATHS: print a diff, or write with --apply."""
    settings, config_failed = _settings(paths, config_path, select, ignore, extend_select, exclude, unsafe_fixes)
    from_stdin = tuple(paths) == (Path(STDIN),)
    options = api.RunOptions(fix=True, apply=apply_fixes and not from_stdin, unsafe_fixes=settings.unsafe_fixes)
    results = _run(paths, settings, options, stdin_filename)
    _print_errors(results)
    if from_stdin and apply_fixes:
        sys.stdout.buffer.write(results[0].fixed or results[0].original or b"")
    elif output_format == "json":
        click.echo(report.json_document(v for result in results for v in result.violations))
    else:
        for result in results:
            if not apply_fixes:
                click.echo(report.unified_diff(result), nl=False)
            for violation in result.violations:
                click.echo(report.text_line(violation, settings.unsafe_fixes))
        click.echo(report.fix_summary(report.summarize(results), applied=apply_fixes), err=True)
    pending = not apply_fixes and any(result.changed for result in results)
    sys.exit(_exit_code(results, config_failed, pending))


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
    click.echo(f"# {rule.code} {rule.name}\n")
    click.echo(f"Fix safety: {rule.fix_safety.value}. Metric impact: {rule.metric_impact.value}. "
               f"{'On' if rule.enabled_by_default else 'Off'} by default.\n")
    click.echo(rule.documentation())


def _settings(paths, config_path, select, ignore, extend_select, exclude, unsafe_fixes) -> tuple[Settings, bool]:
    """Settings from the config file and the command line; a bad config file is reported and replaced by defaults."""
    start = next((path for path in paths if str(path) != STDIN), Path.cwd())
    failed = False
    try:
        settings = load_settings(config_path or find_config(start))
    except ConfigError as error:
        click.echo(f"error: {error}; continuing with the default settings", err=True)
        settings, failed = Settings(root=Path.cwd()), True
    if select:
        # A selection typed on the command line is taken as the whole selection: the file's lists step aside.
        settings = replace(settings, ignore=(), extend_select=())
    try:
        settings = settings.with_overrides(
            select=_split(select),
            ignore=_split(ignore),
            extend_select=_split(extend_select),
            extend_exclude=_split(exclude),
            unsafe_fixes=True if unsafe_fixes else None,
        )
    except ConfigError as error:
        raise click.UsageError(str(error)) from None
    return settings, failed


def _run(paths, settings: Settings, options: api.RunOptions, stdin_filename: Optional[Path]) -> list[FileResult]:
    if not paths:
        raise click.UsageError("give at least one path (or - for stdin)")
    if tuple(paths) == (Path(STDIN),):
        name = stdin_filename or Path("<stdin>")
        return [api.check_source(sys.stdin.buffer.read(), name, settings, options)]
    return list(api.check_paths(paths, settings, options))


def _print_errors(results: Sequence[FileResult]) -> None:
    for result in results:
        for error in result.errors:
            click.echo(f"error: {error.describe()}", err=True)


def _exit_code(results: Sequence[FileResult], config_failed: bool, pending: bool) -> int:
    if config_failed or any(error.kind.value == "rule-error" for result in results for error in result.errors):
        return EXIT_ERROR
    if pending or any(result.violations or result.errors for result in results):
        return EXIT_FINDINGS
    return EXIT_CLEAN


def main() -> None:
    """Console-script entry point: an internal error is one line and exit code 2, not a traceback."""
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
