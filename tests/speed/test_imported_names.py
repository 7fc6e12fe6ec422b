"""Qualified names answered from the ast import table are exactly what LibCST's QualifiedNameProvider gives.

Every Name, Attribute, Call and Subscript of each input is asked both ways: ``qualified_names`` through a
rule context with the table against the provider itself, and ``qualified_names_among`` (which may rule
targets out without the provider) against the provider's names intersected with the targets.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, ParentNodeProvider, QualifiedNameProvider

from perflint.import_table import NO_IMPORTED_NAMES, imported_names
from perflint.analysis.names import qualified_names, qualified_names_among
from perflint.rule import RuleContext
from tests.speed.samples import all_inputs, corpus_sample

# Target sets of the kinds rules ask about: packages, builtins, and names a module might define itself.
TARGET_SETS = (
    frozenset({"numpy.append", "numpy.concatenate", "pandas.concat", "torch.cat", "torch.no_grad", "torch.nn.Module", "torch.autograd.grad"}),
    frozenset({"builtins.len", "builtins.range", "builtins.dict", "builtins.str"}),
    frozenset({"f.x", "Model.forward", "helpers.cat", "..utils.cat", "torch.cat.x"}),
)

# Modules where binding rules, scopes and import forms differ; each is checked node by node.
PROGRAMS = {
    "plain": "import numpy as np\nimport torch\nnp.append(a, b)\ntorch.cat([a, b])\n",
    "dotted import": "import torch\nimport torch.nn.functional\nimport os.path\ntorch.cat(x)\ntorch.nn.functional.relu(x)\nos.path.join(a)\n",
    "dotted import alone": "import torch.utils.checkpoint\ntorch.cat(x)\ntorch.utils.checkpoint.checkpoint(f)\n",
    "from import": "from torch import cat, nn\nfrom numpy import append as ap\ncat(x)\nnn.Module\nap(a, b)\n",
    "relative": "from . import cat\nfrom ..utils import cat as c2\nfrom .m import helpers\ncat(x)\nc2(y)\nhelpers.cat(z)\n",
    "star": "from torch import *\nimport numpy as np\ncat(x)\nnp.append(a, b)\n",
    "parameter shadows": "import numpy as np\ndef f(np):\n    return np.append(a, b)\nnp.append(a, b)\n",
    "local import": "def f():\n    import torch\n    return torch.cat(x)\ndef g():\n    return torch.cat(x)\n",
    "two imports": "import numpy as np\ntry:\n    import cupy as np\nexcept ImportError:\n    pass\nnp.append(a, b)\n",
    "same import twice": "import torch\ndef f():\n    import torch\n    return torch.cat(x)\ntorch.cat(y)\n",
    "assigned": "import numpy as np\nnp = None\nnp.append(a, b)\n",
    "deleted": "import numpy as np\ndel np\nnp.append(a, b)\n",
    "global": "import numpy as np\ndef f():\n    global np\n    np = load()\nnp.append(a, b)\n",
    "class of a package's name": "class torch:\n    def cat(self):\n        pass\n    x = cat\n    class cat:\n        x = 1\n        y = x\ntorch.cat(x)\n",
    "function scope path": "def f():\n    x = 1\n    return x\nclass Model:\n    def forward(self):\n        return self.forward\n",
    "builtins": "len(x)\nrange(3)\nstr.lower(s)\ndict.fromkeys(k)\n__name__.split('.')\n",
    "shadowed builtin": "def f(len):\n    return len(x)\nrange = my_range\nrange(3)\n",
    "builtin imported": "from numpy import str\nstr(x)\nlen(x)\n",
    "comprehensions": "import numpy as np\n[np.append(a, np) for np in xs]\n{k: len(k) for k in xs}\n",
    "lambda": "import torch\nf = lambda torch: torch.cat(x)\ntorch.cat(y)\n",
    "walrus and with": "import torch\nif (torch := load()):\n    pass\nwith open(p) as np:\n    np.append(a)\n",
    "except as": "import numpy as np\ntry:\n    pass\nexcept E as np:\n    np.append(a, b)\n",
    "match": "import numpy as np\nmatch x:\n    case [np, *rest]:\n        np.append(a, b)\n",
    "calls and subscripts": "import numpy as np\nnp.array(x).sum()\nnp.linalg.norm(a)[0]\nnp.r_[1:3]\ntorch.cat(x)[0]\n",
    "keywords and attributes": "import torch\nimport numpy as np\nf(torch=1, np=np)\nx.torch.cat\ny.np\n",
    "imported and assigned": "import warnings\nimport torch.autograd as ag\ndef f():\n    warnings = []\n    warnings.append(1)\n    ag = g()\n    ag.grad(y)\nwarnings.warn(w)\nag.grad(z)\n",
    "decorators and annotations": "import torch\n@torch.no_grad()\ndef f(x: torch.Tensor) -> 'torch.Tensor':\n    return x\n",
}


def _inputs() -> list[tuple[str, str]]:
    inputs = [(name, source) for name, source in PROGRAMS.items()]
    inputs += [(name, source.decode("utf-8", "replace")) for name, source in all_inputs()]
    return inputs


class Comparison(cst.CSTVisitor):
    """Asks every name-like node both ways and records the disagreements."""

    METADATA_DEPENDENCIES = (ParentNodeProvider, QualifiedNameProvider)

    def __init__(self, tree: ast.Module) -> None:
        super().__init__()
        table = imported_names(tree)
        self.context = RuleContext(path="x.py", imported_names=lambda: table)
        self.disagreements: list[tuple[str, object, object]] = []
        self.asked = 0

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, (cst.Name, cst.Attribute, cst.Call, cst.Subscript)):
            self.asked += 1
            provider = frozenset(name.name for name in self.get_metadata(QualifiedNameProvider, node, set()))
            spelled = cst.Module(body=[]).code_for_node(node)[:60]
            if qualified_names(self, node) != provider:
                self.disagreements.append((spelled, qualified_names(self, node), provider))
            for targets in TARGET_SETS:
                if qualified_names_among(self, node, targets) != provider & targets:
                    self.disagreements.append((spelled, qualified_names_among(self, node, targets), provider & targets))
        return True


def _disagreements(source: str) -> tuple[int, list[tuple[str, object, object]]]:
    try:
        tree = ast.parse(source)
        module = cst.parse_module(source)
    except (SyntaxError, cst.ParserSyntaxError):
        return 0, []
    comparison = Comparison(tree)
    MetadataWrapper(module, unsafe_skip_copy=True).visit(comparison)
    return comparison.asked, comparison.disagreements


INPUTS = _inputs()


@pytest.mark.parametrize(("name", "source"), INPUTS, ids=[name for name, _ in INPUTS])
def test_import_table_answers_as_the_provider_does(name: str, source: str) -> None:
    asked, disagreements = _disagreements(source)
    assert disagreements == []
    if name in PROGRAMS:
        assert asked > 0


@pytest.mark.slow
@pytest.mark.parametrize("path", corpus_sample(400, seed=1), ids=str)
def test_import_table_answers_as_the_provider_does_on_the_corpus(path: Path) -> None:
    asked, disagreements = _disagreements(path.read_bytes().decode("utf-8", "replace"))
    assert disagreements == []


def test_table_answers_without_the_provider_where_it_can() -> None:
    table = imported_names(ast.parse(textwrap.dedent(PROGRAMS["dotted import"])))
    assert table.qualified_names("torch.cat") == {"torch.cat"}
    assert table.qualified_names("len") == {"builtins.len"}
    assert table.qualified_names("undefined_name") == frozenset()
    shadowed = imported_names(ast.parse(PROGRAMS["parameter shadows"]))
    assert shadowed.qualified_names("np.append") is None
    assert shadowed.cannot_refer_to("np.append", {"numpy.append"}) is False
    assert shadowed.cannot_refer_to("self.x", {"numpy.append"}) is True
    # Bound by an import and by assignments: only the imports' names, the builtin's and scope paths remain.
    both = imported_names(ast.parse(PROGRAMS["imported and assigned"]))
    assert both.cannot_refer_to("warnings.append", {"torch.autograd.grad"}) is True
    assert both.cannot_refer_to("ag.grad", {"torch.autograd.grad"}) is False


def test_a_star_import_leaves_every_question_to_the_provider() -> None:
    table = imported_names(ast.parse(PROGRAMS["star"]))
    assert table.qualified_names("np.append") is None
    assert table.cannot_refer_to("x", {"torch.cat"}) is False
    assert NO_IMPORTED_NAMES.qualified_names("len") is None
