"""PFL901 unused-noqa: judged against what the selected rules reported on each line before suppression."""

from __future__ import annotations

from pathlib import Path

from perflint import api
from tests.support import fixed_text, lint, settings_for

SOURCE = """\
import torch
with torch.no_grad():
    kept.append(model(x).cpu())  # noqa: PFL101
    y = 1  # noqa: PFL101, E501  # why
    z = 2  # noqa: PFL105
    w = 3  # noqa: PFL101
    # noqa: PFL101
    v = 4  # noqa
"""
BOTH = ["PFL101", "PFL901"]


def unused(source: str, select=BOTH) -> list[tuple[int, str]]:
    return [(v.location.row, v.message) for v in lint(source, select=select).violations if v.code == "PFL901"]


def test_codes_of_selected_rules_that_reported_nothing_on_their_line() -> None:
    assert unused(SOURCE) == [
        (4, "Unused `noqa` directive (unused: `PFL101`)"),
        (6, "Unused `noqa` directive (unused: `PFL101`)"),
        (7, "Unused `noqa` directive (unused: `PFL101`)"),
    ]


def test_codes_of_rules_not_selected_are_not_judged() -> None:
    assert unused(SOURCE, select=["PFL901"]) == []
    assert unused(SOURCE, select=["PFL105", "PFL901"]) == [(5, "Unused `noqa` directive (unused: `PFL105`)")]


def test_a_selected_rule_the_prefilter_skipped_counts_as_having_run() -> None:
    # No `.cpu(` anywhere: PFL101 is never run on this file, and so cannot have used its directive.
    assert unused("y = 1  # noqa: PFL101\n") == [(1, "Unused `noqa` directive (unused: `PFL101`)")]


def test_fix_removes_unused_codes_and_keeps_the_rest() -> None:
    assert fixed_text(SOURCE, select=BOTH) == """\
import torch
with torch.no_grad():
    kept.append(model(x).cpu())  # noqa: PFL101
    y = 1  # noqa: E501  # why
    z = 2  # noqa: PFL105
    w = 3
    v = 4  # noqa
"""


def test_fix_keeps_crlf_and_is_suppressible_by_its_own_code() -> None:
    source = "y = 1  # noqa: PFL101\r\nz = 2  # noqa: PFL101, PFL901\r\n"
    assert fixed_text(source, select=BOTH) == "y = 1\r\nz = 2  # noqa: PFL101, PFL901\r\n"


def test_off_by_default_and_only_with_the_rule_selected() -> None:
    result = api.check_source(b"y = 1  # noqa: PFL101\n", Path("a.py"), settings_for(["PFL1"]))
    assert result.violations == ()


def test_notebook_cells_are_judged_too() -> None:
    from tests.ecosystem.notebooks import code_cell, notebook_bytes

    data = notebook_bytes([code_cell("import torch"), code_cell("y = 1  # noqa: PFL101\nz = 2")])
    result = api.check_source(data, Path("a.ipynb"), settings_for(BOTH))
    ((cell, row),) = [(v.cell, v.location.row) for v in result.violations]
    assert (cell, row) == (2, 1)


def test_a_rule_that_crashed_did_not_run() -> None:
    from perflint.engine import LintOutcome, RuleFailure, _reported_codes

    outcome = LintOutcome((), (RuleFailure("PFL101", "RuntimeError: boom"),))
    assert _reported_codes(outcome, ["PFL101", "PFL102", "PFL901"]).ran == {"PFL102", "PFL901"}
