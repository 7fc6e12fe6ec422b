"""The report-only rules: PFL105 is off by default, PFL203 never reports PFL201's loops, and the facts their
documentation gives as reasons for offering no fix hold under the installed libraries."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from perflint.config import Settings
from perflint.registry import rule_by_code
from tests.support import lint

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def test_host_sync_rule_is_off_by_default() -> None:
    source = (FIXTURES / "PFL105" / "per_step_syncs.py").read_text()
    assert not rule_by_code("PFL105").enabled_by_default
    default = {rule.code for rule in Settings().rules()}
    assert "PFL103" in default and "PFL105" not in default
    assert any(violation.code == "PFL105" for violation in lint(source, select=["PFL105"]).violations)


def test_iterrows_loop_never_reports_what_pfl201_reports() -> None:
    """PFL203 with PFL201 (and PFL205, the list builds, once it is registered) on every iterrows fixture: no loop
    or comprehension is reported twice."""
    codes = [code for code in ("PFL201", "PFL203", "PFL205") if _registered(code)]
    cases = sorted(case for code in codes for case in FIXTURES.glob(f"{code}/*.py") if not case.name.endswith(".fixed.py"))
    for case in cases:
        result = lint(case.read_text(), select=codes, path=case.name)
        lines = {}
        for violation in result.violations:
            lines.setdefault(violation.location.row, set()).add(violation.code)
        assert all(len(found) == 1 for found in lines.values()), (case.name, lines)
    dict_build = (FIXTURES / "PFL203" / "negatives.py").read_text()
    assert {v.code for v in lint(dict_build, select=["PFL201", "PFL203"]).violations} == {"PFL201"}


def test_iterrows_comprehensions_left_to_pfl201_and_pfl205() -> None:
    """The comprehensions PFL201 / PFL205 build from are never PFL203's; the others that only read columns are."""
    builds = (FIXTURES / "PFL203" / "comprehension_negatives.py").read_text()
    assert not lint(builds, select=["PFL203"]).violations
    kept = lint((FIXTURES / "PFL203" / "comprehensions.py").read_text(), select=["PFL203"]).violations
    assert len(kept) == 6 and all("comprehension" in violation.message for violation in kept)


def _registered(code: str) -> bool:
    try:
        rule_by_code(code)
    except KeyError:
        return False
    return True


def test_itertuples_keeps_column_dtypes_where_iterrows_upcasts() -> None:
    """PFL203's reason for no fix: an int read next to a float column differs between the two."""
    frame = pd.DataFrame({"code": [1301], "close": [0.5]})
    _, row = next(frame.iterrows())
    record = next(frame.itertuples(index=False))
    assert repr(row["code"]) != repr(record.code)
    assert row["code"] == record.code


def test_np_append_flattens_where_concatenate_does_not() -> None:
    """PFL204's reason for no fix: ``np.append`` without ``axis`` is not ``np.concatenate`` of the pieces."""
    grown = np.zeros((0, 2))
    for piece in (np.ones((1, 2)), np.ones((1, 2))):
        grown = np.append(grown, piece)
    assert grown.shape == (4,)
    assert np.concatenate([np.ones((1, 2)), np.ones((1, 2))]).shape == (2, 2)
