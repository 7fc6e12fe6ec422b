"""PFL202's ``could_match``: a shape check (a pandas import, an ``enumerate`` loop of the rule's shape) that keeps
every module the rule reports in and rules out the loops it never reports."""

from __future__ import annotations

from perflint.rules.enumerate_append_grouping import EnumerateAppendGrouping
from tests.support import prefilter_tests

REPORTED = {
    "enumerate imported under another name": """
        from builtins import enumerate as numbered
        import pandas as pd

        def group(path):
            data = pd.read_csv(path)
            groups = {}
            for i, day in numbered(data["Date"]):
                groups.setdefault(day, []).append(i)
            return groups
        """,
    "pandas imported inside the function": """
        from collections import defaultdict

        def group(path):
            from pandas import read_csv
            data = read_csv(path)
            groups = defaultdict(list)
            for i, day in enumerate(data["Date"]):
                groups[day].append(i)
            return groups
        """,
    "a pandas submodule imported": """
        from collections import defaultdict
        import pandas.core.frame

        def group(data: pandas.core.frame.DataFrame):
            groups = defaultdict(list)
            for i, day in enumerate(data["Date"]):
                groups[day].append(i)
            return groups
        """,
}

RULED_OUT = {
    # monai's data/utils.py: a list of labels, no pandas anywhere, so no Series evidence can exist.
    "no pandas import": """
        from collections import defaultdict
        class_indices = defaultdict(list)
        for i, c in enumerate(classes):
            class_indices[c].append(i)
        """,
    # pandas/core/apply.py: the loop's shape, but over zip, not builtins.enumerate.
    "zip, not enumerate": """
        import pandas as pd
        label_to_indices = defaultdict(list)
        for index, label in zip(indices, labels):
            label_to_indices[label].append(index)
        """,
}


test_reported_modules_pass_could_match, test_modules_the_rule_never_reports_in_are_ruled_out = prefilter_tests(
    EnumerateAppendGrouping, REPORTED, RULED_OUT
)
