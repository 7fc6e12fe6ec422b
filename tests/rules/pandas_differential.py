"""Differential testing of pandas rewrites: run original and fixed code on seeded random frames, compare strictly.

Used by the PFL201 / PFL202 differential tests. A fixture's fixed code is its reviewed golden
(``fixtures/<CODE>/<case>.unsafe.fixed.py``); an example's is its ``Invalid.fixed``.
"""

from __future__ import annotations

import ast
import math
import random
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Hashable, Mapping, Sequence

import numpy as np
import pandas as pd

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
PANDAS_3 = int(pd.__version__.split(".")[0]) >= 3

# Column kinds: name -> whether it can hold missing values.
KINDS = {
    "str": False,
    "str+na": True,
    "object-str": False,
    "object-str+none": True,
    "object-mixed": True,
    "string+na": True,
    "int": False,
    "uint8": False,
    "float": False,
    "float+nan": True,
    "float32": False,
    "bool": False,
    "datetime-midnight": False,
    "datetime": False,
    "datetime+nat": True,
    "datetime-tz": False,
    "timedelta": False,
    "category": False,
    "category+nan": True,
    "Int64": False,
    "Int64+na": True,
}
ALL_KINDS = tuple(KINDS)
KINDS_WITHOUT_NA = tuple(kind for kind, missing in KINDS.items() if not missing)
INDEX_KINDS = ("range", "int-shuffled", "str", "datetime", "non-unique", "multi")


@dataclass(frozen=True)
class Outcome:
    """What calling a function did: its canonical result, or the type of the exception it raised."""

    value: Any = None
    raised: str | None = None


def canon(value: Any) -> Any:
    """A structure equal for two values only if they have the same contents, types, reprs and order."""
    if isinstance(value, dict):
        factory = getattr(value, "default_factory", None)
        return (type(value).__name__, repr(factory), [(canon(k), canon(v)) for k, v in value.items()])
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [canon(item) for item in value])
    if isinstance(value, np.ndarray):
        return ("ndarray", str(value.dtype), canon(value.tolist()))
    return (f"{type(value).__module__}.{type(value).__qualname__}", repr(value))


def call(function: Callable[..., Any], *args: Any) -> Outcome:
    """Call ``function``; an exception is an outcome too (original and fix must raise alike)."""
    try:
        return Outcome(value=function(*args))
    except Exception as error:  # noqa: BLE001 - compared, not hidden
        return Outcome(raised=type(error).__name__)


def fixture_sources(code: str, stem: str) -> tuple[str, str]:
    """The fixture's source and its reviewed fixed golden (unsafe fixes applied)."""
    folder = FIXTURES / code
    original = (folder / f"{stem}.py").read_text()
    for golden in (f"{stem}.unsafe.fixed.py", f"{stem}.fixed.py"):
        if (folder / golden).exists():
            return original, (folder / golden).read_text()
    return original, original


def execute(source: str) -> dict[str, Any]:
    """Run module source in a fresh namespace and return it."""
    namespace: dict[str, Any] = {"__name__": "differential_case"}
    exec(compile(textwrap.dedent(source), "<differential>", "exec"), namespace)  # noqa: S102 - test code we own
    return namespace


def changed_functions(original: str, fixed: str) -> set[str]:
    """Qualified names (``f``, ``Class.method``) of the functions whose code the fix changed."""
    before, after = _functions(original), _functions(fixed)
    return {name for name, dump in after.items() if before.get(name) != dump}


def _functions(source: str) -> dict[str, str]:
    tree = ast.parse(textwrap.dedent(source))
    found = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            found[node.name] = ast.dump(node)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    found[f"{node.name}.{item.name}"] = ast.dump(item)
    return found


def random_frame(rng: random.Random, columns: Mapping[Hashable, Sequence[str]], rows: int | None = None) -> pd.DataFrame:
    """A frame with one column per label, each of a kind drawn from its choices, and a random index."""
    count = rng.randint(0, 12) if rows is None else rows
    cardinality = rng.randint(1, 4)
    data = {label: random_column(rng, rng.choice(kinds), count, cardinality) for label, kinds in columns.items()}
    frame = pd.DataFrame(data) if data else pd.DataFrame(index=range(count))
    frame.index = random_index(rng, count)
    return frame


def random_column(rng: random.Random, kind: str, count: int, cardinality: int) -> pd.Series:
    """``count`` values of the given kind, drawn from ``cardinality`` distinct ones (about 25 % missing)."""
    base = [rng.randrange(cardinality) for _ in range(count)]
    missing = [KINDS[kind] and rng.random() < 0.25 for _ in range(count)]
    day = pd.Timestamp("2024-01-04")
    if kind in ("str", "str+na"):
        return pd.Series([None if m else f"{1301 + b}" for b, m in zip(base, missing)], dtype=None if count else object)
    if kind in ("object-str", "object-str+none"):
        return pd.Series([None if m else f"k{b}" for b, m in zip(base, missing)], dtype=object)
    if kind == "object-mixed":
        pool = [1, "1", 1.0, True, 2, "a", None, np.nan, pd.NA, 0.0, False]
        return pd.Series([rng.choice(pool) for _ in base], dtype=object)
    if kind == "string+na":
        return pd.Series([None if m else f"s{b}" for b, m in zip(base, missing)], dtype="string")
    if kind == "int":
        return pd.Series(np.array([1301 + 31 * b for b in base], dtype="int64"))
    if kind == "uint8":
        return pd.Series(np.array(base, dtype="uint8"))
    if kind in ("float", "float+nan"):
        return pd.Series([np.nan if m else b / 4 for b, m in zip(base, missing)], dtype="float64")
    if kind == "float32":
        return pd.Series(np.array([b / 10 for b in base], dtype="float32"))
    if kind == "bool":
        return pd.Series([b % 2 == 0 for b in base], dtype=bool)
    if kind == "datetime-midnight":
        return pd.Series([day + pd.Timedelta(days=b) for b in base], dtype="datetime64[ns]")
    if kind in ("datetime", "datetime+nat"):
        values = [pd.NaT if m else day + pd.Timedelta(days=b, hours=15) for b, m in zip(base, missing)]
        return pd.Series(values, dtype="datetime64[ns]")
    if kind == "datetime-tz":
        return pd.Series([day + pd.Timedelta(days=b) for b in base], dtype="datetime64[ns]").dt.tz_localize("Asia/Tokyo")
    if kind == "timedelta":
        return pd.Series(pd.to_timedelta(base, unit="D"))
    if kind in ("category", "category+nan"):
        values = [None if m else f"c{b}" for b, m in zip(base, missing)]
        return pd.Series(pd.Categorical(values, categories=["c3", "c0", "c1", "c2"]))
    if kind in ("Int64", "Int64+na"):
        return pd.Series([None if m else 1301 + b for b, m in zip(base, missing)], dtype="Int64")
    raise ValueError(kind)


def random_index(rng: random.Random, count: int) -> pd.Index:
    kind = rng.choice(INDEX_KINDS)
    if kind == "int-shuffled":
        labels = list(range(10, 10 + count))
        rng.shuffle(labels)
        return pd.Index(labels)
    if kind == "str":
        return pd.Index([f"r{i}" for i in range(count)], dtype=object)
    if kind == "datetime":
        return pd.date_range("2024-01-01", periods=count, freq="D")
    if kind == "non-unique":
        return pd.Index([i // 2 for i in range(count)])
    if kind == "multi":
        return pd.MultiIndex.from_arrays([[i % 2 for i in range(count)], [f"m{i}" for i in range(count)]])
    return pd.RangeIndex(count)


def is_missing(value: Any) -> bool:
    """A scalar missing value: None, pd.NA, NaT or a float NaN."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, (float, np.floating)) and math.isnan(value)
