"""# noqa comments, read as flake8 and ruff read them, and kept through fixes."""

from __future__ import annotations

import pytest

from perflint.suppress import ALL_CODES, noqa_lines
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
