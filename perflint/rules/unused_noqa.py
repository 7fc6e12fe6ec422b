"""PFL901 unused-noqa."""

from __future__ import annotations

from functools import lru_cache
from typing import ClassVar, Optional, Union

import libcst as cst
from libcst.metadata import PositionProvider

from perflint.rule import Invalid, Rewrite, Rule, Valid
from perflint.suppress import Directive, ReportedCodes, find_directive, without_codes
from perflint.types import Applicability, FixSafety, MetricImpact

PREFIX = "PFL"


class UnusedNoqa(Rule):
    """
    ## What it does
    Reports `# noqa` directives that name perflint codes which suppress nothing on their line: a code whose
    rule was selected and ran but reported nothing there (*unused*), a `PFL` code that is no rule's code,
    such as a prefix (`# noqa: PFL1`: as in ruff, a `noqa` needs full codes) (*unknown*), or a code named
    twice (*duplicated*). perflint's counterpart of ruff's `RUF100`.

    Only perflint's own codes are judged. Codes of other tools (`# noqa: E501`) and bare `# noqa` comments
    are left alone, since perflint cannot know what they suppress; so is a code whose rule is not selected
    for the file (`# noqa: PFL105` while PFL105 is off), or crashed on it. `# noqa: PFL901` is never unused.

    ## Why is this bad?
    A stale `# noqa` hides the next real finding on its line: once the code it was written for is fixed
    or moved, it silences whatever that rule reports there later, and readers take it as a sign of a
    problem that no longer exists.

    ## Example
    ```python
    total = losses.sum().item()  # noqa: PFL101, E501
    ```
    (with PFL101 selected, and no PFL101 finding on that line)

    ## Use instead
    ```python
    total = losses.sum().item()  # noqa: E501
    ```

    ## Fix safety
    Safe: the fix only edits comments. It removes the unused, unknown and repeated perflint codes from the
    directive, keeps the other codes and any other text of the comment (`# noqa: PFL101  # why` becomes
    `# why`), and removes the whole comment when nothing is left. Only the codes perflint reported as
    unused at that moment are removed: run it with the same selection you check with.

    ## Metric impact
    Identical: only comments change.

    ## Known problems
    Not on by default (ruff's `RUF100` is not either): with a narrow `--select`, every code of the rules
    left out would otherwise look unused. A directive is judged against what was reported on its line:
    the line a finding starts on, which is also the only line whose `# noqa` can suppress it.

    ## Options
    None.

    ## References
    - ruff, rule `RUF100` (`unused-noqa`), and astral-sh/ruff#2818 (ruff declines prefix codes in `noqa`).
    """

    code = "PFL901"
    name = "unused-noqa"
    message = "Unused `noqa` directive"
    fix_title = "Remove unused `noqa` directive"
    fix_safety = FixSafety.SAFE
    metric_impact = MetricImpact.IDENTICAL
    enabled_by_default = False
    # Codes are upper case, so every directive this rule judges contains the prefix.
    required_tokens = (PREFIX,)
    METADATA_DEPENDENCIES = (PositionProvider,)
    # Run in a second visit, after the other rules, with what they reported (see perflint.engine.lint).
    reads_reported_codes: ClassVar[bool] = True
    reported_codes: ReportedCodes = ReportedCodes()

    valid = (
        Valid("x = compute()  # noqa: E501\n"),
        Valid("x = compute()  # noqa\n"),
        Valid("x = compute()  # noqa: PFL105, PFL901\n"),
        Valid("x = compute()  # see PFL101\n"),
    )
    invalid = (
        Invalid(
            "x = compute()  # noqa: PFL1\n",
            fixed="x = compute()\n",
            message_contains="unknown: `PFL1`",
        ),
        Invalid(
            "x = compute()  # noqa: E501, PFL999  # slow on purpose\n",
            fixed="x = compute()  # noqa: E501  # slow on purpose\n",
            message_contains="unknown: `PFL999`",
        ),
        Invalid(
            "# noqa: PFL1\nx = compute()  # type: ignore  # noqa: PFL105, PFL105\n",
            fixed="x = compute()  # type: ignore  # noqa: PFL105\n",
            count=2,
        ),
    )

    def visit_TrailingWhitespace(self, node: cst.TrailingWhitespace) -> None:
        self._check(node)

    def visit_EmptyLine(self, node: cst.EmptyLine) -> None:
        self._check(node)

    def _check(self, node: Union[cst.TrailingWhitespace, cst.EmptyLine]) -> None:
        comment = node.comment
        if comment is None or PREFIX not in comment.value:
            return
        directive = find_directive(comment.value)
        if directive is None or directive.blanket:
            return  # `x = f()  # noqa`: a blanket directive may serve other tools
        line = self.get_metadata(PositionProvider, comment).start.line
        problems = self._problems(directive, self.reported_codes.by_line.get(line, frozenset()))
        if not any(problems.values()):
            return
        removed = [*problems["unused"], *problems["unknown"]]
        text = without_codes(comment.value, directive, removed)
        rewrite = Rewrite(Applicability.SAFE, (Rewrite.replace(node, _replaced(node, text)),))
        details = "; ".join(f"{kind}: {', '.join(f'`{c}`' for c in codes)}" for kind, codes in problems.items() if codes)
        self.report(comment, f"{self.message} ({details})", rewrite=rewrite)

    def _problems(self, directive: Directive, reported: frozenset[str]) -> dict[str, list[str]]:
        problems: dict[str, list[str]] = {"unused": [], "unknown": [], "duplicated": []}
        seen: set[str] = set()
        for code in directive.codes:
            if not code.startswith(PREFIX):
                continue  # `# noqa: E501`: another tool's code
            if code in seen:
                problems["duplicated"].append(code)
                continue
            seen.add(code)
            if code == self.code:
                continue  # a directive naming PFL901 silences this rule's own finding on the line: never unused
            if code not in _known_codes():
                problems["unknown"].append(code)
            elif code in self.reported_codes.ran and code not in reported:
                problems["unused"].append(code)
            # else: reported on this line, or its rule is not selected (PFL105 named while PFL105 is off)
        return problems


def _replaced(
    node: Union[cst.TrailingWhitespace, cst.EmptyLine], text: Optional[str]
) -> Union[cst.TrailingWhitespace, cst.EmptyLine, cst.RemovalSentinel]:
    if text is not None:
        return node.with_changes(comment=cst.Comment(text))
    if isinstance(node, cst.EmptyLine):
        return cst.RemoveFromParent()
    return node.with_changes(whitespace=cst.SimpleWhitespace(""), comment=None)


@lru_cache(maxsize=1)
def _known_codes() -> frozenset[str]:
    # Imported here: the registry imports every rule module, this one included.
    from perflint.registry import all_rules

    return frozenset(rule.code for rule in all_rules())
