"""Discovery of rule classes in ``perflint.rules`` and selection by code or code prefix."""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache
from typing import Iterable, Sequence

from perflint import rules as rules_package
from perflint.rule import Rule

ALL = "ALL"


class SelectionError(ValueError):
    """A selector names no known rule."""


@lru_cache(maxsize=1)
def all_rules() -> tuple[type[Rule], ...]:
    """Every rule class in the ``perflint.rules`` package, sorted by code."""
    found: dict[str, type[Rule]] = {}
    for module_info in pkgutil.iter_modules(rules_package.__path__):
        module = importlib.import_module(f"{rules_package.__name__}.{module_info.name}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Rule) and "code" in value.__dict__:
                if value.code in found and found[value.code] is not value:
                    raise RuntimeError(f"two rules share the code {value.code}")
                found[value.code] = value
    return tuple(found[code] for code in sorted(found))


def rule_by_code(code: str) -> type[Rule]:
    """The rule with exactly this code (case-insensitive), or KeyError."""
    for rule in all_rules():
        if rule.code == code.upper():
            return rule
    raise KeyError(code)


def _matching(selector: str) -> list[type[Rule]]:
    selector = selector.strip().upper()
    if selector == ALL:
        return list(all_rules())
    matched = [rule for rule in all_rules() if rule.code.startswith(selector)]
    if not matched:
        raise SelectionError(f"unknown rule code or prefix: {selector!r}")
    return matched


def validate_selectors(selectors: Iterable[str]) -> None:
    """Raise SelectionError if any selector names no rule."""
    for selector in selectors:
        _matching(selector)


def select_rules(
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
    extend_select: Sequence[str] = (),
) -> tuple[type[Rule], ...]:
    """The rules a run uses: ``select`` (default: rules on by default) plus ``extend_select``, minus ``ignore``."""
    if select:
        chosen = {rule for selector in select for rule in _matching(selector)}
    else:
        chosen = {rule for rule in all_rules() if rule.enabled_by_default}
    chosen |= {rule for selector in extend_select for rule in _matching(selector)}
    ignored = {rule for selector in ignore for rule in _matching(selector)}
    return tuple(sorted(chosen - ignored, key=lambda rule: rule.code))


def codes_matching(selectors: Iterable[str]) -> frozenset[str]:
    """The codes of every rule named by ``selectors`` (used for per-file ignores)."""
    return frozenset(rule.code for selector in selectors for rule in _matching(selector))
