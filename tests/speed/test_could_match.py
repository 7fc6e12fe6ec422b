"""Rules' ``could_match`` prefilters keep every module their rule reports in (an over-eager filter fails here)."""

from __future__ import annotations

import ast
import textwrap

import pytest

from perflint import engine
from perflint.registry import all_rules, rule_by_code
from tests.speed.samples import all_inputs

FILTERING = [rule for rule in all_rules() if engine._checks_structure(rule)]
INVALID = [
    pytest.param(rule, example, id=f"{rule.code}-invalid-{number}")
    for rule in FILTERING
    for number, example in enumerate(rule.invalid)
]
INPUTS = all_inputs()


def _tree(code: str) -> ast.Module:
    return ast.parse(textwrap.dedent(code))


def test_the_costly_rules_have_a_structural_check() -> None:
    codes = {rule.code for rule in FILTERING}
    assert {"PFL101", "PFL102", "PFL103", "PFL104", "PFL201", "PFL202", "PFL203", "PFL204", "PFL205", "PFL301"} <= codes


@pytest.mark.parametrize(("rule", "example"), INVALID)
def test_invalid_examples_pass_could_match(rule, example) -> None:
    assert rule.could_match(_tree(example.code))


@pytest.mark.parametrize(("name", "source"), INPUTS, ids=[name for name, _ in INPUTS])
def test_every_reporting_input_passes_could_match(name: str, source: bytes) -> None:
    tree = ast.parse(source)
    module = engine.parse(source)
    for rule in FILTERING:
        outcome = engine.lint(module, [rule], f"{name}.py", {})
        if outcome.findings:
            assert rule.could_match(tree), rule.code


# Shapes the rules report that none of their own examples spells this way.
REPORTED_ELSEWHERE = [
    (
        "PFL204",
        """
        from numpy import append as grow
        def f(xs, values):
            while xs:
                values = grow(values, xs.pop())
            return values
        """,
    ),
    (
        "PFL204",
        """
        import torch
        async def f(batches, self):
            async for x in batches:
                self.kept = torch.cat(tensors=[self.kept, x])
        """,
    ),
    (
        "PFL301",
        """
        def steps(x):
            for i in range(0, len(x) - 1):
                print(x[i], x[i + 1])
        """,
    ),
    (
        "PFL102",
        """
        import torch
        def f(t: torch.Tensor):
            a = t.cpu().numpy()
            b = t.cpu().numpy()
            return a, b
        """,
    ),
    (
        "PFL102",
        """
        import torch
        def f(t: torch.Tensor):
            a = t.cpu().numpy().reshape(3)
            b = t.cpu().numpy()
            return a, b
        """,
    ),
    (
        "PFL102",
        """
        import torch
        def f(t: torch.Tensor, flag):
            if flag:
                a = t.cpu().numpy()
            else:
                a = None
            return a, t.cpu().numpy()
        """,
    ),
    (
        "PFL102",
        """
        import torch
        def f(t: torch.Tensor, batches):
            i = 0
            while i < len(batches):
                print(t.tolist(), batches[i])
                i += 1
        """,
    ),
    (
        "PFL102",
        """
        def f(t, xs):
            return {x: (t.numpy() > x).sum() for x in xs}
        """,
    ),
    (
        "PFL102",
        """
        def f(t, xs):
            return [y for y in t.numpy() for z in xs if z in t.numpy()]
        """,
    ),
    (
        "PFL106",
        """
        import torch
        def to_numpy(x):
            return x.cpu().numpy()
        def f(t: torch.Tensor):
            a = to_numpy(t)
            b = t.cpu().numpy()
            return a, b
        """,
    ),
    (
        "PFL204",
        """
        import numpy as np
        def f(chunks):
            out = np.zeros(0)
            for chunk in chunks:
                for piece in chunk:
                    out = np.concatenate([out, piece])
                kept = out
            return out
        """,
    ),
    (
        "PFL201",
        """
        from builtins import dict as new_dict
        def build(frame):
            names: dict = new_dict()
            for label, row in frame.iterrows():
                names[label] = row["name"]
            return names
        """,
    ),
    (
        "PFL201",
        """
        def build(frame):
            return {row["a"]: value for _, row in frame.iterrows() for value in row}
        """,
    ),
    (
        "PFL103",
        """
        from torch.autograd import backward as bw
        def train(model, loader):
            total = 0.0
            for x in loader:
                loss = model(x).mean()
                bw(loss)
                total = total + loss
            return total
        """,
    ),
    (
        "PFL104",
        """
        import torch
        def score(self, batches):
            self.net.train(mode=False)
            while batches:
                self.net(batches.pop())
        """,
    ),
]


@pytest.mark.parametrize(("code", "source"), REPORTED_ELSEWHERE, ids=[code for code, _ in REPORTED_ELSEWHERE])
def test_other_reported_shapes_pass_could_match(code: str, source: str) -> None:
    rule = rule_by_code(code)
    dedented = textwrap.dedent(source)
    outcome = engine.lint(engine.parse(dedented.encode()), [rule], "shape.py", {})
    assert outcome.failures == () and outcome.findings, "the shape is meant to be reported"
    assert rule.could_match(_tree(source))


@pytest.mark.parametrize(
    ("code", "source"),
    [
        ("PFL204", "import numpy as np\nvalues = np.append(values, x)\nfor x in xs:\n    print('concat', x)\n"),
        ("PFL301", "for i in range(10):\n    print(len(x))\n"),
        ("PFL202", "for i, row in enumerate(rows):\n    print(row)\n    out.append(i)\n"),
        ("PFL202", "for i, key in enumerate(keys):\n    if key:\n        print(key)\n    out.append(i)\n"),
        ("PFL104", "model.eval()\nscore = model(x)\nfor x in xs:\n    print(x)\n"),
        ("PFL102", "def f(x):\n    return x.cpu().numpy()\n"),
        ("PFL103", "for x in xs:\n    total += x\nloss.backward()\n"),
        ("PFL102", "def f(x):\n    a = x.reshape(2)\n    return a, x.reshape(3)\n"),
        # Different arms of an `if` are no longer told apart here (flow reasoning is the rule's alone).
        ("PFL102", "def f(a, xs):\n    return a.tolist(), [a.tolist() for x in xs]\n"),
        ("PFL102", "import torch\ndef f(xs):\n    for x in xs:\n        x = x + 1\n        print(x.numpy())\n"),
        ("PFL102", "import torch\ndef f(xs):\n    return [x.cpu() for x in xs], [x.cpu() for x in xs]\n"),
        ("PFL204", "import torch\nfor block in blocks:\n    h = torch.cat([h, skip])\n    h = block(h)\n"),
        ("PFL204", "import numpy as np\nfor row in rows:\n    row = np.append(row, pad)\n"),
        ("PFL102", "def to_numpy(x):\n    return x.cpu().numpy()\ndef f(t):\n    return to_numpy(t) + 1\n"),
        ("PFL102", "def to_numpy(x, digits):\n    return round(x.cpu().numpy(), digits)\ndef f(t, digits):\n    return to_numpy(t, digits), to_numpy(2 * t, digits)\n"),
        ("PFL106", "def to_numpy(x, digits):\n    return round(x.cpu().numpy(), digits)\ndef f(t, digits):\n    return to_numpy(t, digits), to_numpy(2 * t, digits)\n"),
        ("PFL106", "def _total(p):\n    return p.numpy().sum()\ndef f(t):\n    return t.numpy().max()\n"),
        ("PFL102", "def f(xs):\n    a = [x.numpy() for x in xs]\n    return a, {x: x.numpy() for x in xs}\n"),
        ("PFL102", "def f(xs):\n    g = lambda x: x.cpu().numpy()\n    return g, (lambda x: x.cpu().numpy())\n"),
        ("PFL201", "for _, row in frame.iterrows():\n    process(row)\n"),
        ("PFL201", "names = {}\nfor _, row in frame.iterrows():\n    other[row.a] = row.b\n"),
        ("PFL205", "names = [row for _, row in frame.iterrows(1)]\n"),
        ("PFL205", "names = [row.a for row in frame.itertuples()]\n"),
        ("PFL201", "names = load(path)\nfor _, row in frame.iterrows():\n    names[row.a] = row.b\n"),
        ("PFL203", "for row in frame.iterrows():\n    print(row)\n"),
        ("PFL203", "for row in frame.iterrows(10):\n    print(row)\n"),
    ],
    ids=lambda value: value if value.startswith("PFL") else "",
)
def test_files_without_the_shape_are_ruled_out(code: str, source: str) -> None:
    assert not rule_by_code(code).could_match(ast.parse(source))
