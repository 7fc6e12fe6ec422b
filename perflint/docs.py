"""Rule documentation generated from the rule classes: ``docs/rules/<CODE>.md`` and an index.

``perflint explain CODE`` prints :func:`rule_page`, and each ``docs/rules/<CODE>.md`` is a one-line "generated"
marker followed by that same text, so the terminal and the repository never disagree. Regenerate with
``python -m perflint.docs``; ``python -m perflint.docs --check`` exits 1 when the files are stale.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Iterable, Mapping, Optional, Sequence

from perflint import registry
from perflint.rule import Rule

REGENERATE_COMMAND = "python -m perflint.docs"
DOCS_DIR = Path(__file__).resolve().parent.parent / "docs" / "rules"
INDEX_NAME = "README.md"
FAMILIES = (("PFL1", "PyTorch"), ("PFL2", "pandas"), ("PFL3", "numpy and plain Python"))


def rule_page(rule: type[Rule]) -> str:
    """The full documentation of one rule as Markdown: a title, its declared facts, then its docstring."""
    facts = [
        f"- Message: {rule.message}",
        f"- Fix: {_fix_fact(rule)}",
        f"- Metric impact: {rule.metric_impact.value}",
        f"- On by default: {'yes' if rule.enabled_by_default else 'no'}",
        f"- Options: {_options_fact(rule.options)}",
    ]
    return f"# {rule.code} `{rule.name}`\n\n" + "\n".join(facts) + "\n\n" + rule.documentation() + "\n"


def _fix_fact(rule: type[Rule]) -> str:
    if rule.fix_title is None or rule.fix_safety.value == "none":
        return "none (report only)"
    return f"{rule.fix_title} ({rule.fix_safety.value})"


def _options_fact(options: Mapping[str, object]) -> str:
    if not options:
        return "none"
    return ", ".join(f"`{name}` (default `{default!r}`)" for name, default in options.items())


def family(rule: type[Rule]) -> str:
    """The library family a rule belongs to, from its code (``PFL1xx`` is PyTorch, and so on)."""
    return next((name for prefix, name in FAMILIES if rule.code.startswith(prefix)), "other")


def generated_marker(rule: Optional[type[Rule]] = None) -> str:
    """The first line of every generated file: where the text comes from and how to regenerate it."""
    source = f"the docstring of {rule.__module__}.{rule.__name__}" if rule else "the rule classes"
    return f"<!-- Generated from {source} by `{REGENERATE_COMMAND}`: edit the source, not this file. -->\n"


def rule_file(rule: type[Rule]) -> str:
    """The content of ``docs/rules/<CODE>.md``."""
    return generated_marker(rule) + rule_page(rule)


def index_file(rules: Sequence[type[Rule]]) -> str:
    """The content of ``docs/rules/README.md``: every rule, grouped by family, linked to its page."""
    lines = [generated_marker(), "# perflint rules", ""]
    lines.append("`[*]` in `perflint check` output marks a finding that `perflint fix --apply` fixes; *unsafe* fixes")
    lines.append("need `--unsafe-fixes`, and each rule's *Fix safety* section says where they change behaviour.")
    for name in (*(name for _prefix, name in FAMILIES), "other"):
        members = [rule for rule in rules if family(rule) == name]
        if not members:
            continue
        lines += ["", f"## {name}", "", "| code | name | fix | metric impact | default |", "| --- | --- | --- | --- | --- |"]
        for rule in members:
            default = "on" if rule.enabled_by_default else "off"
            lines.append(
                f"| [{rule.code}]({rule.code}.md) | `{rule.name}` | {rule.fix_safety.value} | "
                f"{rule.metric_impact.value} | {default} |"
            )
    return "\n".join(lines) + "\n"


def expected_files(rules: Iterable[type[Rule]]) -> dict[str, str]:
    """Every generated file name under ``docs/rules`` mapped to the content it should have."""
    rules = tuple(rules)
    files = {f"{rule.code}.md": rule_file(rule) for rule in rules}
    files[INDEX_NAME] = index_file(rules)
    return files


def stale_files(directory: Path, rules: Iterable[type[Rule]]) -> list[str]:
    """File names under ``directory`` that are missing, out of date, or left over from a removed rule."""
    expected = expected_files(rules)
    problems = [name for name, text in expected.items() if _read(directory / name) != text]
    leftovers = sorted(path.name for path in directory.glob("PFL*.md") if path.name not in expected)
    return sorted(problems) + leftovers


def write_docs(directory: Path, rules: Iterable[type[Rule]]) -> list[str]:
    """Bring ``directory`` up to date; returns the names of the files written or removed."""
    rules = tuple(rules)
    directory.mkdir(parents=True, exist_ok=True)
    expected = expected_files(rules)
    changed = stale_files(directory, rules)
    for name in changed:
        target = directory / name
        if name in expected:
            target.write_text(expected[name], encoding="utf-8")
        else:
            target.unlink()
    return changed


def _read(path: Path) -> Optional[str]:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m perflint.docs [--check] [--output DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m perflint.docs", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if any file is stale")
    parser.add_argument("--output", type=Path, default=DOCS_DIR, help=f"folder to write (default: {DOCS_DIR})")
    arguments = parser.parse_args(argv)
    rules = registry.all_rules()
    if arguments.check:
        stale = stale_files(arguments.output, rules)
        for name in stale:
            print(f"stale: {arguments.output / name}", file=sys.stderr)
        if stale:
            print(f"run `{REGENERATE_COMMAND}` to regenerate", file=sys.stderr)
        return 1 if stale else 0
    for name in write_docs(arguments.output, rules):
        print(f"updated {arguments.output / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
