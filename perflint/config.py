"""``[tool.perflint]`` in the nearest pyproject.toml, merged with command-line overrides into one frozen value."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, Mapping, Optional

from perflint import registry

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

KNOWN_KEYS = frozenset(
    {
        "select",
        "ignore",
        "extend-select",
        "exclude",
        "extend-exclude",
        "per-file-ignores",
        "unsafe-fixes",
        "respect-gitignore",
        "options",
    }
)
DEFAULT_EXCLUDES = (
    ".git",
    ".hg",
    ".svn",
    ".venv",
    "venv",
    ".tox",
    ".nox",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".perflint_cache",
    "__pycache__",
    "__pypackages__",
    "node_modules",
    "build",
    "dist",
    "site-packages",
    "*.egg-info",
)


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message names the file and the reason."""


@dataclass(frozen=True)
class Settings:
    """The effective configuration of one run."""

    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()
    exclude: tuple[str, ...] = DEFAULT_EXCLUDES
    extend_exclude: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    unsafe_fixes: bool = False
    respect_gitignore: bool = True
    rule_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    root: Path = Path(".")
    config_path: Optional[Path] = None

    def rules(self) -> tuple[type, ...]:
        """The selected rule classes."""
        return registry.select_rules(self.select, self.ignore, self.extend_select)

    def rules_for(self, path: Path) -> tuple[type, ...]:
        """The selected rules minus those that ``per-file-ignores`` turns off for ``path``."""
        ignored: set[str] = set()
        relative = _relative_posix(path, self.root)
        for pattern, codes in self.per_file_ignores:
            if fnmatch(relative, pattern) or fnmatch(path.name, pattern):
                ignored |= registry.codes_matching(codes)
        return tuple(rule for rule in self.rules() if rule.code not in ignored)

    def is_excluded(self, path: Path) -> bool:
        """Whether discovery skips ``path`` (a file or folder met while walking a directory)."""
        relative = _relative_posix(path, self.root)
        for pattern in (*self.exclude, *self.extend_exclude):
            pattern = pattern.rstrip("/")
            if fnmatch(path.name, pattern) or fnmatch(relative, pattern) or relative.startswith(pattern + "/"):
                return True
        return False

    def with_overrides(self, **overrides: Any) -> "Settings":
        """A copy with the command line's non-empty values taking precedence."""
        given = {key: value for key, value in overrides.items() if value not in (None, ())}
        settings = replace(self, **given)
        _validate_selectors(settings, source="command line")
        return settings

    def fingerprint(self) -> str:
        """A stable text identity of everything that can change findings (used by the cache)."""
        return repr(
            (
                sorted(rule.code for rule in self.rules()),
                sorted(self.per_file_ignores),
                sorted((code, sorted(options.items())) for code, options in self.rule_options.items()),
            )
        )


def _relative_posix(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def find_config(start: Path) -> Optional[Path]:
    """The nearest pyproject.toml at or above ``start`` that has a ``[tool.perflint]`` table."""
    directory = start if start.is_dir() else start.parent
    for candidate_dir in (directory.resolve(), *directory.resolve().parents):
        candidate = candidate_dir / "pyproject.toml"
        if candidate.is_file():
            try:
                has_table = "[tool.perflint" in candidate.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            if has_table:
                return candidate
    return None


def load_settings(config_path: Optional[Path]) -> Settings:
    """Settings from ``config_path`` (defaults when None); raises ConfigError naming the file."""
    if config_path is None:
        return Settings(root=Path.cwd())
    try:
        document = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{config_path}: cannot read configuration: {error}") from error
    table = document.get("tool", {}).get("perflint", {})
    return settings_from_table(table, root=config_path.parent, source=config_path)


def settings_from_table(table: Mapping[str, Any], root: Path, source: Path) -> Settings:
    """Validate a ``[tool.perflint]`` table and turn it into Settings."""
    if not isinstance(table, Mapping):
        raise ConfigError(f"{source}: [tool.perflint] must be a table")
    unknown = sorted(set(table) - KNOWN_KEYS)
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) in [tool.perflint]: {', '.join(unknown)}")
    settings = Settings(
        select=_string_list(table, "select", source),
        ignore=_string_list(table, "ignore", source),
        extend_select=_string_list(table, "extend-select", source),
        exclude=_string_list(table, "exclude", source) or DEFAULT_EXCLUDES,
        extend_exclude=_string_list(table, "extend-exclude", source),
        per_file_ignores=_per_file_ignores(table.get("per-file-ignores", {}), source),
        unsafe_fixes=_boolean(table, "unsafe-fixes", False, source),
        respect_gitignore=_boolean(table, "respect-gitignore", True, source),
        rule_options=_rule_options(table.get("options", {}), source),
        root=root,
        config_path=source,
    )
    _validate_selectors(settings, source=str(source))
    return settings


def _string_list(table: Mapping[str, Any], key: str, source: Path) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{source}: [tool.perflint] {key} must be a list of strings")
    return tuple(value)


def _boolean(table: Mapping[str, Any], key: str, default: bool, source: Path) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{source}: [tool.perflint] {key} must be true or false")
    return value


def _per_file_ignores(value: Any, source: Path) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{source}: [tool.perflint] per-file-ignores must be a table of glob = [codes]")
    entries = []
    for pattern, codes in value.items():
        if not isinstance(codes, list) or not all(isinstance(code, str) for code in codes):
            raise ConfigError(f"{source}: per-file-ignores {pattern!r} must be a list of rule codes")
        entries.append((pattern, tuple(codes)))
    return tuple(entries)


def _rule_options(value: Any, source: Path) -> Mapping[str, Mapping[str, Any]]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{source}: [tool.perflint.options] must be a table of rule codes")
    options: dict[str, Mapping[str, Any]] = {}
    for code, rule_table in value.items():
        try:
            rule = registry.rule_by_code(code)
        except KeyError:
            raise ConfigError(f"{source}: [tool.perflint.options] names unknown rule {code!r}") from None
        if not isinstance(rule_table, Mapping):
            raise ConfigError(f"{source}: [tool.perflint.options.{code}] must be a table")
        unknown = sorted(set(rule_table) - set(rule.options))
        if unknown:
            raise ConfigError(f"{source}: {code} has no option(s) {', '.join(unknown)}")
        for name, option_value in rule_table.items():
            if type(option_value) is not type(rule.options[name]):
                raise ConfigError(
                    f"{source}: {code} option {name} must be {type(rule.options[name]).__name__}"
                )
        options[rule.code] = dict(rule_table)
    return options


def _validate_selectors(settings: Settings, source: str) -> None:
    try:
        registry.validate_selectors(settings.select)
        registry.validate_selectors(settings.ignore)
        registry.validate_selectors(settings.extend_select)
        for _, codes in settings.per_file_ignores:
            registry.validate_selectors(codes)
    except registry.SelectionError as error:
        raise ConfigError(f"{source}: {error}") from None
