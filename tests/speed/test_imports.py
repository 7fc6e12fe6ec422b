"""The ast import table agrees with LibCST's QualifiedNameProvider about which packages a module can name."""

from __future__ import annotations

import ast

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, QualifiedNameProvider
from libcst.metadata.base_provider import LazyValue

from perflint.analysis.imports import import_table
from tests.speed.samples import all_inputs

# (a module, whether QualifiedNameProvider gives some node in it a name in the pandas package)
PROGRAMS = [
    ("import pandas\npandas.DataFrame()", True),
    ("import pandas as pd\npd.DataFrame()", True),
    ("import pandas.io.formats\npandas.io.formats.format", True),
    ("from pandas import DataFrame\nDataFrame()", True),
    ("from pandas.core import frame as f\nf.DataFrame()", True),
    ("pandas = load()\npandas.DataFrame()", True),
    ("def pandas(): pass\npandas.DataFrame()", True),
    ("class pandas: pass\npandas.DataFrame()", True),
    ("for pandas in xs: pass\npandas.DataFrame()", True),
    ("with open(p) as pandas: pass\npandas.DataFrame()", True),
    ("try:\n    pass\nexcept E as pandas:\n    pandas.DataFrame()", True),
    ("(pandas := 1)\npandas.DataFrame()", True),
    ("def f():\n    global pandas\n    pandas = 1\npandas.DataFrame()", True),
    # LibCST 1.9's scopes do not bind match-pattern captures; the table counts them anyway.
    ("match x:\n    case [*pandas]: pass\npandas.DataFrame()", False),
    ("match x:\n    case {**pandas}: pass\npandas.DataFrame()", False),
    ("match x:\n    case pandas: pass\npandas.DataFrame()", False),
    ("from pandas import *\nDataFrame()", False),
    ("f = lambda pandas: pandas.DataFrame", False),
    ("import numpy as pandas\npandas.DataFrame()", False),
    ("from .pandas import DataFrame\nDataFrame()", False),
    ("from . import pandas\npandas.DataFrame()", False),
    ("from x import pandas\npandas.DataFrame()", False),
    ("import pandas_ta as ta\nta.DataFrame()", False),
    ('"""pandas.DataFrame in a docstring"""  # and pandas.concat in a comment', False),
]


def _qualified_names(source: str) -> set[str]:
    wrapper = MetadataWrapper(cst.parse_module(source))
    names = set()
    for found in wrapper.resolve(QualifiedNameProvider).values():
        names.update(qualified.name for qualified in (found() if isinstance(found, LazyValue) else found))
    return names


def _in_package(names: set[str], package: str) -> set[str]:
    return {name for name in names if name == package or name.startswith(package + ".")}


@pytest.mark.parametrize(("source", "named"), PROGRAMS)
def test_may_use_whenever_qualified_names_name_the_package(source: str, named: bool) -> None:
    names = _in_package(_qualified_names(source), "pandas")
    assert bool(names) is named, names
    if named:
        assert import_table(ast.parse(source)).may_use("pandas")


@pytest.mark.parametrize(
    ("source", "package", "expected"),
    [
        ("import pandas as pd", "pandas", True),
        ("from torch.nn import functional", "torch", True),
        ("import torch.nn as nn", "torch", True),
        ("from .pandas import DataFrame\nDataFrame()", "pandas", False),
        ("import pandas_ta as ta", "pandas", False),
        ('"""Works on pandas frames."""\n# import pandas', "pandas", False),
        ("import numpy as np", "torch", False),
    ],
)
def test_may_use(source: str, package: str, expected: bool) -> None:
    assert import_table(ast.parse(source)).may_use(package) is expected


def test_fixtures_and_examples_agree_with_qualified_names() -> None:
    for name, source in all_inputs():
        names = _qualified_names(source.decode())
        for package in ("torch", "pandas", "numpy"):
            if _in_package(names, package):
                assert import_table(ast.parse(source)).may_use(package), (name, package)
