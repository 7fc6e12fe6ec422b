"""# noqa comments, read as flake8 and ruff read them, and kept through fixes."""

from __future__ import annotations

import pytest

from perflint.suppress import ALL_CODES, find_directive, noqa_lines, with_codes, without_codes
from tests.support import fixed_text, lint

SITE = "import torch\nwith torch.no_grad():\n    kept.append(model(x).softmax(-1).cpu()){comment}\n"


@pytest.mark.parametrize(
    ("comment", "suppressed"),
    [
        ("  # noqa", True),
        ("  # noqa: PFL101", True),
        ("  # noqa:PFL101", True),
        ("  # NOQA: PFL102, PFL101", True),
        ("  # noqa: PFL102", False),
        ("  # keep noqa-less", False),
        ("", False),
    ],
)
def test_noqa(comment: str, suppressed: bool) -> None:
    result = lint(SITE.format(comment=comment), select=["PFL101"])
    assert (len(result.violations) == 0) is suppressed


def test_noqa_map() -> None:
    source = "a = 1  # noqa\nb = 2  # noqa: PFL101,PFL202\ns = '# noqa'\n"
    assert noqa_lines(source) == {1: ALL_CODES, 2: frozenset({"PFL101", "PFL202"})}


def test_suppressed_finding_is_not_fixed_and_comments_survive() -> None:
    source = SITE.format(comment="  # noqa: PFL101")
    assert fixed_text(source, select=["PFL101"]) == source
    fixed = fixed_text(SITE.format(comment="  # keep this comment"), select=["PFL101"])
    assert "kept.append(model(x).softmax(-1).detach().cpu())  # keep this comment" in fixed


@pytest.mark.parametrize(
    ("comment", "suppressed"),
    [
        ("  # noqa:   PFL102", False),  # was read as a bare `# noqa` (one space allowed after the colon)
        ("  # noqa: pfl101", False),  # ruff: codes are upper case; not a directive, so not a blanket one
        ("  # noqa: PFL1", False),  # ruff: `noqa` needs full codes (prefixes are for select/ignore)
        ("  # noqa: PFL10", False),
        ("  # noqa: E501 PFL101", True),
        ("  # type: ignore  # noqa: PFL101  # why", True),
    ],
)
def test_noqa_read_as_ruff_reads_it(comment: str, suppressed: bool) -> None:
    result = lint(SITE.format(comment=comment), select=["PFL101"])
    assert (len(result.violations) == 0) is suppressed


def test_a_prefix_in_noqa_is_reported_as_unknown_by_pfl901() -> None:
    result = lint(SITE.format(comment="  # noqa: PFL1"), select=["PFL101", "PFL901"])
    assert sorted(v.code for v in result.violations) == ["PFL101", "PFL901"]
    (unknown,) = [v for v in result.violations if v.code == "PFL901"]
    assert "unknown: `PFL1`" in unknown.message


def test_directive_edits_keep_other_text() -> None:
    comment = "# type: ignore  # noqa: PFL101, E501  # why"
    directive = find_directive(comment)
    assert directive is not None and directive.codes == ("PFL101", "E501")
    assert without_codes(comment, directive, ["PFL101"]) == "# type: ignore  # noqa: E501  # why"
    assert without_codes(comment, directive, ["PFL101", "E501"]) == "# type: ignore  # why"
    only = find_directive("# noqa: PFL101  # why")
    assert without_codes("# noqa: PFL101  # why", only, ["PFL101"]) == "# why"
    assert without_codes("# noqa: PFL101", find_directive("# noqa: PFL101"), ["PFL101"]) is None
    assert with_codes(comment, directive, ["PFL104", "E501"]) == "# type: ignore  # noqa: PFL101, E501, PFL104  # why"
    assert with_codes("# noqa", find_directive("# noqa"), ["PFL101"]) == "# noqa"
