"""``[tool.perflint]`` in the nearest pyproject.toml (or the top level of a ``perflint.toml`` / ``.perflint.toml``),
merged with command-line overrides into one frozen value.

Every key is defined once, in ``KEYS``: validation reads it, and so does the README's table of keys
(``keys_table``, kept current by ``tests/test_config_docs.py``)."""

from __future__ import annotations

import difflib
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


# Files read with their keys at the top level, the way ruff reads ruff.toml / .ruff.toml; looked for in each folder
# before pyproject.toml, in this order.
STANDALONE_NAMES = (".perflint.toml", "perflint.toml")


@dataclass(frozen=True)
class Key:
    """One key of ``[tool.perflint]``: its TOML type, its default and what it does (for the docs)."""

    name: str
    kind: str
    default: str
    description: str


KEYS = (
    Key("select", "list of codes or prefixes", "every rule that is on by default", "The rules to run; replaces the default set (`[\"PFL\"]`: every rule, including those off by default)."),
    Key("extend-select", "list of codes or prefixes", "`[]`", "Rules added to `select`."),
    Key("ignore", "list of codes or prefixes", "`[]`", "Rules taken out of the selection."),
    Key("exclude", "list of globs", "`.git`, `.venv`, `venv`, `build`, `dist`, `site-packages`, caches, … (`perflint.config.DEFAULT_EXCLUDES`)", "Paths skipped while walking folders; **replaces** the defaults, so prefer `extend-exclude`."),
    Key("extend-exclude", "list of globs", "`[]`", "Paths skipped in addition to `exclude`."),
    Key("force-exclude", "true or false", "`false`", "Skip excluded paths even when named on the command line (`--force-exclude`; the pre-commit hooks pass it)."),
    Key("respect-gitignore", "true or false", "`true`", "Skip what git ignores while walking folders."),
    Key("per-file-ignores", "table: glob = list of codes", "`{}`", "Rules turned off for matching files (`\"tests/*\" = [\"PFL1\"]`)."),
    Key("unsafe-fixes", "true or false", "`false`", "Apply (and count as fixable) the fixes marked unsafe, as `--unsafe-fixes` does."),
    Key("options", "table per rule code", "`{}`", "Rule options, `[tool.perflint.options.CODE]`: see the rows below."),
)
KNOWN_KEYS = frozenset(key.name for key in KEYS)


class ConfigError(ValueError):
    """A configuration file that cannot be used; the one-line message names the file, the key and what was expected."""


@dataclass(frozen=True)
class Settings:
    """The effective configuration of one run."""

    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()
    exclude: tuple[str, ...] = DEFAULT_EXCLUDES
    extend_exclude: tuple[str, ...] = ()
    force_exclude: bool = False
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

    def is_excluded_path(self, path: Path) -> bool:
        """Whether ``path`` or a folder above it (up to the root) is excluded: ``--force-exclude`` for named paths."""
        if self.is_excluded(path):
            return True
        resolved_root = self.root.resolve()
        for parent in path.resolve().parents:
            if parent == resolved_root or resolved_root not in parent.parents:
                return False
            if self.is_excluded(parent):
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
    """The nearest configuration at or above ``start``: a ``.perflint.toml`` / ``perflint.toml``, or a
    pyproject.toml that has a ``[tool.perflint]`` table (one without is skipped, as ruff skips it)."""
    directory = start if start.is_dir() else start.parent
    for candidate_dir in (directory.resolve(), *directory.resolve().parents):
        for name in STANDALONE_NAMES:
            if (candidate_dir / name).is_file():
                return candidate_dir / name
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
    """Settings from ``config_path`` (defaults when None); raises ConfigError naming the file.

    A ``perflint.toml`` / ``.perflint.toml`` holds the keys at its top level; any other file (a pyproject.toml)
    must have a ``[tool.perflint]`` table: a file named with ``--config`` without one is an error, not defaults.
    """
    if config_path is None:
        return Settings(root=Path.cwd())
    if not config_path.exists():
        raise ConfigError(f"{config_path}: no such configuration file")
    try:
        document = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{config_path}: cannot read configuration: {error}") from error
    if config_path.name in STANDALONE_NAMES:
        return settings_from_table(document, root=config_path.parent, source=config_path, table_name="")
    tool = document.get("tool", {})
    if not isinstance(tool, Mapping) or "perflint" not in tool:
        raise ConfigError(
            f"{config_path}: no [tool.perflint] table (expected one here, or the keys at the top level of a perflint.toml)"
        )
    return settings_from_table(tool["perflint"], root=config_path.parent, source=config_path)


def settings_from_table(table: Mapping[str, Any], root: Path, source: Path, table_name: str = "[tool.perflint]") -> Settings:
    """Validate a ``[tool.perflint]`` table (or a perflint.toml's top level) and turn it into Settings."""
    where = f"{source}: {table_name} " if table_name else f"{source}: "
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}must be a table")
    for key in sorted(set(table) - KNOWN_KEYS):
        close = difflib.get_close_matches(key, sorted(KNOWN_KEYS), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(f"{where}unknown key {key!r} ({hint}expected one of: {', '.join(k.name for k in KEYS)})")
    settings = Settings(
        select=_string_list(table, "select", where),
        ignore=_string_list(table, "ignore", where),
        extend_select=_string_list(table, "extend-select", where),
        exclude=_string_list(table, "exclude", where) if "exclude" in table else DEFAULT_EXCLUDES,
        extend_exclude=_string_list(table, "extend-exclude", where),
        force_exclude=_boolean(table, "force-exclude", False, where),
        per_file_ignores=_per_file_ignores(table.get("per-file-ignores", {}), where),
        unsafe_fixes=_boolean(table, "unsafe-fixes", False, where),
        respect_gitignore=_boolean(table, "respect-gitignore", True, where),
        rule_options=_rule_options(table.get("options", {}), where),
        root=root,
        config_path=source,
    )
    _validate_selectors(settings, source=where.rstrip())
    return settings


def _type_name(value: Any) -> str:
    return {bool: "a boolean", str: "a string", int: "an integer", float: "a float", list: "an array"}.get(type(value), "a table")


def _string_list(table: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{where}{key}: expected a list of strings, got {_type_name(value)}")
    return tuple(value)


def _boolean(table: Mapping[str, Any], key: str, default: bool, where: str) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}{key}: expected true or false, got {_type_name(value)}")
    return value


def _per_file_ignores(value: Any, where: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}per-file-ignores: expected a table of glob = [codes], got {_type_name(value)}")
    entries = []
    for pattern, codes in value.items():
        if not isinstance(codes, list) or not all(isinstance(code, str) for code in codes):
            raise ConfigError(f"{where}per-file-ignores {pattern!r}: expected a list of rule codes, got {_type_name(codes)}")
        entries.append((pattern, tuple(codes)))
    return tuple(entries)


def _rule_options(value: Any, where: str) -> Mapping[str, Mapping[str, Any]]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}options: expected a table of rule codes, got {_type_name(value)}")
    options: dict[str, Mapping[str, Any]] = {}
    for code, rule_table in value.items():
        try:
            rule = registry.rule_by_code(code)
        except KeyError:
            with_options = ", ".join(rule.code for rule in registry.all_rules() if rule.options)
            raise ConfigError(f"{where}options: unknown rule {code!r} (rules with options: {with_options})") from None
        if not isinstance(rule_table, Mapping):
            raise ConfigError(f"{where}options.{code}: expected a table, got {_type_name(rule_table)}")
        for name in sorted(set(rule_table) - set(rule.options)):
            raise ConfigError(f"{where}options.{code}: unknown option {name!r} (expected one of: {', '.join(rule.options)})")
        for name, option_value in rule_table.items():
            if type(option_value) is not type(rule.options[name]):
                raise ConfigError(
                    f"{where}options.{code}.{name}: expected {_type_name(rule.options[name])}, got {_type_name(option_value)}"
                )
        options[rule.code] = dict(rule_table)
    return options


def _validate_selectors(settings: Settings, source: str) -> None:
    for key, selectors in (
        ("select", settings.select),
        ("ignore", settings.ignore),
        ("extend-select", settings.extend_select),
        *((f"per-file-ignores {pattern!r}", codes) for pattern, codes in settings.per_file_ignores),
    ):
        try:
            registry.validate_selectors(selectors)
        except registry.SelectionError as error:
            raise ConfigError(f"{source} {key}: {error}") from None


def keys_table() -> str:
    """The Markdown table of every ``[tool.perflint]`` key and every rule option (the README holds a copy)."""
    rows = ["| key | type | default | what it does |", "| --- | --- | --- | --- |"]
    rows += [f"| `{key.name}` | {key.kind} | {key.default} | {key.description} |" for key in KEYS]
    for rule in registry.all_rules():
        for name, default in rule.options.items():
            value = str(default).lower() if isinstance(default, bool) else repr(default)
            rows.append(
                f"| `options.{rule.code}.{name}` | {_type_name(default).split()[-1]} | `{value}` | "
                f"An option of {rule.code} ({rule.name}): `perflint explain {rule.code}` says what it does. |"
            )
    return "\n".join(rows) + "\n"


README_START = "<!-- config-keys: generated by `python -m perflint.config` -->\n"
README_END = "<!-- /config-keys -->\n"


def readme_with_keys_table(readme: str) -> str:
    """``readme`` with the text between the config-keys markers replaced by ``keys_table()``."""
    start, end = readme.index(README_START) + len(README_START), readme.index(README_END)
    return readme[:start] + keys_table() + readme[end:]


if __name__ == "__main__":  # `python -m perflint.config`: rewrite the README's table of keys
    readme_path = Path(__file__).resolve().parent.parent / "README.md"
    readme_path.write_text(readme_with_keys_table(readme_path.read_text(encoding="utf-8")), encoding="utf-8")
