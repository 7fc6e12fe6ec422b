"""Imports a fix needs are added only where the module does not bind them already, conditionally included.

Found by the corpus sweep (sktime's `forecasting/base/adapters/_pytorch.py`): torch imported under
`if _check_soft_dependencies("torch"):`, and PFL104's fix added a second, unconditional `import torch` at the
top, so the module could no longer be imported without torch.
"""

from __future__ import annotations

from tests.support import fixed_text

PREDICT = """\
from dependencies import has


{guard}
    import torch


def predict(network, dataloader):
    network.eval()
    predictions = []
    for x in dataloader:
        predictions.append(network(x))
    return predictions
"""


def test_conditional_import_is_reused() -> None:
    source = PREDICT.format(guard='if has("torch"):')
    fixed = fixed_text(source, ["PFL104"], unsafe=True)
    assert "with torch.no_grad():" in fixed
    assert fixed.count("import torch") == 1


def test_import_under_type_checking_does_not_count() -> None:
    """`if TYPE_CHECKING:` binds nothing at run time: the fix must import torch itself."""
    source = "from typing import TYPE_CHECKING\n" + PREDICT.format(guard="if TYPE_CHECKING:")
    fixed = fixed_text(source, ["PFL104"], unsafe=True)
    assert "with torch.no_grad():" in fixed
    assert fixed.count("import torch") == 2
    compile(fixed, "predict.py", "exec")
