"""PFL201 reads `row.<name>` as column <name> only when pandas.Series has no attribute of that name."""

from __future__ import annotations

import pandas as pd

from perflint.analysis.pandas_evidence import SERIES_ATTRIBUTES


def test_every_public_series_attribute_of_the_installed_pandas_is_listed() -> None:
    public = {name for name in dir(pd.Series) if not name.startswith("_")}
    assert public <= SERIES_ATTRIBUTES, sorted(public - SERIES_ATTRIBUTES)


def test_a_listed_attribute_shadows_the_column_of_that_name() -> None:
    row = next(pd.DataFrame({"name": ["x"], "values": ["y"], "Code": ["z"]}).iterrows())[1]
    assert row.name == 0 and row["name"] == "x"
    assert row.Code == "z" and "Code" not in SERIES_ATTRIBUTES
