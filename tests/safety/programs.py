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


# ---------------------------------------------------------------------------------------------------------------
# Executable programs for the safe fixes: every rule's *safe* fix templates, with the two shapes that broke safe
# fixes before (issue #13) mixed in: values a call may return unchanged (`.float()`, `.to()`, `nn.Identity`, a user
# function returning its input, parameters) and grad-mode statements inside grad-off regions. The programs are
# executed before and after perflint's safe fixes; every observable must be the same.

# Values kept with `.cpu()`; `{x}` is a batch, `{p}` a parameter.
KEPT_VALUES = (
    "model({x})",
    "model({x}).float()",
    "model({x}).softmax(dim=-1)",
    "(model({x}) * 2)",
    "model({x}).sum(dim=1)",
    "model({x})[0]",
    "ident({x})",
    "ident({x}).abs()",
    "{x}.to(torch.float32)",
    "{x}",
    "(model({x}) + 0).view(-1)",
    "model({x}).clone().contiguous()",
    "torch.sigmoid(model({x}))",
    "model({x}).argmax(dim=-1)",
    "model({x}).detach()",
)
GRAD_STATEMENTS = (
    "torch.set_grad_enabled(True)",
    "torch.autograd.set_grad_enabled(True)",
    "torch._C._set_grad_enabled(True)",
    "torch.set_grad_enabled(False)",
    "torch.enable_grad()",
)
REGIONS = ("", "with torch.no_grad():", "with torch.inference_mode():", "with torch.set_grad_enabled(False):")


@st.composite
def _region(draw: Callable, body: str) -> str:
    """``body`` as it is, or in a grad-off ``with`` block, maybe with a grad-mode statement first or last."""
    header = draw(st.sampled_from(REGIONS))
    if not header:
        return body
    statement = draw(st.one_of(st.none(), st.sampled_from(GRAD_STATEMENTS)))
    if statement is not None:
        body = statement + "\n" + body if draw(st.booleans()) else body + statement + "\n"
    return header + "\n" + _indent(body, 1)


@st.composite
def _kept_cpu(draw: Callable, k: int) -> str:
    value = draw(st.sampled_from(KEPT_VALUES)).format(x="x")
    via_name = draw(st.booleans())
    keep = draw(st.sampled_from(["kept{k}.append({v}.cpu())", "kept{k}[len(kept{k})] = {v}.cpu()", "kept{k}.append({v}.cpu().detach())"]))
    line = keep.format(k=k, v="v" if via_name else value)
    loop = "for x in xs:\n" + _indent((f"v = {value}\n" if via_name else "") + line + "\n", 1)
    container = "[]" if "append" in keep else "{}"
    return f"kept{k} = {container}\n" + draw(_region(loop)) + f'out["kept{k}"] = kept{k}\n'


@st.composite
def _kept_parameters(draw: Callable, k: int) -> str:
    step = draw(st.sampled_from(["p.float()", "p", "p.to(torch.float32)", "(p * 1)", "p.data", "p.view(-1)"]))
    loop = f"for p in model.parameters():\n    kept{k}.append({step}.cpu())\n"
    return f"kept{k} = []\n" + draw(_region(loop)) + f'out["kept{k}"] = kept{k}\n'


@st.composite
def _converted(draw: Callable, k: int) -> str:
    value = draw(st.sampled_from(KEPT_VALUES)).format(x="xs[0]")
    tail = draw(st.sampled_from([".numpy()", ".tolist()", ""]))
    line = f'out["conv{k}"] = {value}.cpu().detach(){tail}\n'
    return draw(_region(line))


@st.composite
def _repeated_numpy(draw: Callable, k: int) -> str:
    source = draw(st.sampled_from(["t", "xs[0]", "ident(t)"]))
    setup = f"u{k} = {source}\n"
    body = f'out["a{k}"] = u{k}.numpy().sum()\nout["b{k}"] = u{k}.numpy().std()\n'
    return setup + draw(_region(body))


@st.composite
def _accumulated_loss(draw: Callable, k: int) -> str:
    value = draw(st.sampled_from(["model(x).mean()", "ident(x).sum()", "model(x).float().mean()", "x.sum()"]))
    use = draw(st.sampled_from([f"total{k}.item()", f"float(total{k})", f"total{k}"]))
    loop = f"for x in xs:\n    loss = {value}\n    loss.backward()\n    total{k} += loss\n"
    return f"total{k} = 0.0\n" + draw(_region(loop)) + f'out["total{k}"] = {use}\n'


@st.composite
def _pairing(draw: Callable, k: int) -> str:
    values = draw(st.sampled_from(["[float(v) for v in t.detach()]", "t.detach()", "list(xs)"]))
    return (
        f"vals{k} = {values}\nacc{k} = []\n"
        f"for i in range(len(vals{k}) - 1):\n    acc{k}.append(vals{k}[i + 1] - vals{k}[i])\n"
        f'out["acc{k}"] = acc{k}\n'
    )


PARTS = (_kept_cpu, _kept_parameters, _converted, _repeated_numpy, _accumulated_loss, _pairing)
EXECUTABLE_HEADER = """\
import torch


def ident(value):
    return value


def run(model, xs, t):
    out = {}
"""


@st.composite
def executable_programs(draw: Callable) -> str:
    """A module with ``run(model, xs, t) -> dict`` built from 1-3 safe-fix templates with the failure shapes."""
    parts = draw(st.lists(st.sampled_from(PARTS), min_size=1, max_size=3))
    body = "".join(draw(part(k)) for k, part in enumerate(parts))
    if draw(st.booleans()):
        body = "with torch.no_grad():\n" + _indent(body, 1) if draw(st.booleans()) else body
    decorator = draw(st.sampled_from(["", "@torch.no_grad()\n", "@torch.inference_mode()\n"]))
    header = EXECUTABLE_HEADER.replace("def run", decorator + "def run")
    return header + _indent(body + "return out\n", 1)
