"""Parse a module once, resolve the metadata the selected rules need, and run every rule in one batched visit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import libcst as cst
from libcst.metadata import MetadataWrapper

from perflint.rule import Finding, Rule, RuleContext


class SourceError(ValueError):
    """Source that LibCST cannot parse, with a one-line reason."""


@dataclass(frozen=True)
class RuleFailure:
    """A rule that crashed on a file: its code and the exception text."""

    code: str
    reason: str


@dataclass(frozen=True)
class LintOutcome:
    """The findings of one visit, and the rules that crashed during it."""

    findings: tuple[Finding, ...]
    failures: tuple[RuleFailure, ...]


def parse(source: bytes) -> cst.Module:
    """Parse source bytes (encoding from BOM or cookie, kept for code generation); raises SourceError."""
    try:
        return cst.parse_module(source)
    except cst.ParserSyntaxError as error:
        raise SourceError(f"line {error.raw_line}, column {error.raw_column + 1}: {error.message}") from None
    except (RecursionError, MemoryError) as error:
        raise SourceError(f"too deeply nested to parse ({type(error).__name__})") from None
    except (ValueError, TypeError, UnicodeError) as error:
        raise SourceError(str(error)) from None


def prefilter(source: bytes, rules: Sequence[type[Rule]]) -> tuple[type[Rule], ...]:
    """The rules whose required tokens occur in the source; the others cannot match and are not run."""
    return tuple(rule for rule in rules if any(token.encode() in source for token in rule.required_tokens))


def lint(
    module: cst.Module,
    rules: Sequence[type[Rule]],
    path: str,
    options: Mapping[str, Mapping[str, object]],
) -> LintOutcome:
    """Run ``rules`` over ``module`` in one visit; metadata is resolved once for all of them."""
    if not rules:
        return LintOutcome((), ())
    instances = [rule(RuleContext(path=path, options=options.get(rule.code, {}))) for rule in rules]
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    try:
        wrapper.visit_batched(instances)
    except RecursionError:
        return LintOutcome((), tuple(RuleFailure(rule.code, "recursion limit reached") for rule in rules))
    findings = tuple(finding for instance in instances if instance.error is None for finding in instance.context.findings)
    failures = tuple(
        RuleFailure(instance.code, f"{type(instance.error).__name__}: {instance.error}")
        for instance in instances
        if instance.error is not None
    )
    return LintOutcome(findings, failures)
