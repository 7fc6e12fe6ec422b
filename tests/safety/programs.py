"""A hypothesis strategy for programs that contain what the rules look for.

hypothesmith's grammar-generated programs almost never hold a `.cpu()` kept in a list or an `iterrows()`
dict, so fixes would go untested on generated code. Here each program is a random mix of the patterns of
every rule, with random names and import aliases, nested at random in functions, methods, loops, `if` and
`with` blocks, and written with random line endings.
"""

from __future__ import annotations

import keyword
import textwrap
from typing import Callable, Mapping

from hypothesis import strategies as st

# name -> template; {placeholders} are filled from the program's names.
PATTERNS: Mapping[str, str] = {
    "cpu_append": """\
        for {x} in {xs}:
            {out}.append({model}({x}).cpu())
        """,
    "cpu_append_no_grad": """\
        with {torch}.no_grad():
            for {x} in {xs}:
                {out}.append({model}({x}).to("cpu"))
        """,
    "cpu_then_detach": """\
        {store}[{key!r}] = {model}({xs}).cpu().detach()
        """,
    "repeated_numpy": """\
        {a} = {t}.numpy().mean()
        {b} = {t}.numpy().std()
        """,
    "iterrows_dict": """\
        {d} = {{str({r}["code"]): str({r}["name"]) for _, {r} in {df}.iterrows()}}
        """,
    "iterrows_loop": """\
        for _, {r} in {df}.iterrows():
            {out}.append({r}["code"] * 2)
        """,
    "enumerate_grouping": """\
        {df} = {pd}.DataFrame({{"key": {xs}}})
        {d} = defaultdict(list)
        for {i}, {k} in enumerate({df}["key"]):
            {d}[{k}].append({i})
        """,
    "loss_accumulated": """\
        {total} = 0
        for {x} in {xs}:
            {loss} = {model}({x}).sum()
            {loss}.backward()
            {total} += {loss}
        """,
    "eval_loop": """\
        {model}.eval()
        for {x} in {xs}:
            {out}.append({model}({x}))
        """,
    "growing_concat": """\
        for {x} in {xs}:
            {acc} = {pd}.concat([{acc}, {x}])
        """,
    "index_pairing": """\
        for {i} in range(len({xs}) - 1):
            {out}.append({xs}[{i} + 1] - {xs}[{i}])
        """,
    "item_in_training_loop": """\
        for {x} in {xs}:
            {loss} = {model}({x}).sum()
            {loss}.backward()
            {out}.append({loss}.item())
        """,
}
PLACEHOLDERS = ("x", "xs", "out", "model", "store", "t", "a", "b", "d", "r", "df", "i", "k", "total", "loss", "acc")
RESERVED = frozenset(keyword.kwlist) | {"torch", "th", "pd", "pandas", "defaultdict", "str", "len", "range", "list", "run"}

identifiers = st.from_regex(r"[a-z][a-z0-9_]{0,5}", fullmatch=True).filter(lambda name: name not in RESERVED)


def _indent(block: str, levels: int) -> str:
    return textwrap.indent(block, "    " * levels)


@st.composite
def pattern_programs(draw: Callable) -> str:
    """A module that imports torch and pandas (maybe aliased) and uses 1-4 rule patterns in nested blocks."""
    names = dict(zip(PLACEHOLDERS, draw(st.lists(identifiers, min_size=len(PLACEHOLDERS), max_size=len(PLACEHOLDERS), unique=True))))
    torch_alias = draw(st.sampled_from(["torch", "T", "th"]))
    pandas_alias = draw(st.sampled_from(["pd", "pandas", "P"]))
    names.update(torch=torch_alias, pd=pandas_alias, key=draw(st.sampled_from(["preds", "x", ""])))
    header = "".join(
        [
            "import torch\n" if torch_alias == "torch" else f"import torch as {torch_alias}\n",
            "import pandas\n" if pandas_alias == "pandas" else f"import pandas as {pandas_alias}\n",
            "from collections import defaultdict\n\n\n",
        ]
    )
    chosen = draw(st.lists(st.sampled_from(sorted(PATTERNS)), min_size=1, max_size=4))
    body = "".join(textwrap.dedent(PATTERNS[name]).format(**names) for name in chosen)
    body = _nest(draw, body, names)
    setup = f"{names['out']} = []\n{names['store']} = {{}}\n{names['acc']} = None\n"
    function = f"def run({names['model']}, {names['xs']}, {names['t']}, {names['df']}):\n" + _indent(setup + body + f"return {names['out']}\n", 1)
    if draw(st.booleans()):
        function = "class Runner:\n" + _indent("@staticmethod\n" + function, 1)
    program = header + function
    return program.replace("\n", draw(st.sampled_from(["\n", "\r\n"])))


def _nest(draw: Callable, body: str, names: Mapping[str, str]) -> str:
    """Wrap ``body`` in 0-3 random blocks (the rules must find their patterns at any depth)."""
    for _ in range(draw(st.integers(0, 3))):
        wrapper = draw(
            st.sampled_from(
                [
                    "if {xs}:\n",
                    "for _ in range(2):\n",
                    "with {torch}.no_grad():\n",
                    "with {torch}.inference_mode():\n",
                    "try:\n",
                    "while {xs}:\n",
                ]
            )
        ).format(**names)
        tail = "except ValueError:\n    pass\n" if wrapper == "try:\n" else ("    break\n" if wrapper.startswith("while") else "")
        body = wrapper + _indent(body, 1) + tail
    return body
