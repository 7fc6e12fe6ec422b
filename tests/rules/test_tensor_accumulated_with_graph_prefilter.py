"""PFL103's ``could_match``: a loop that backpropagates and accumulates a value whose outermost shape
``graph_roots`` follows, spelling a name the backward call spells. It keeps every module the rule reports in
and rules out totals of ``.item()``, ``float()`` and the like, which no graph comes with, and totals of other
values."""

from __future__ import annotations

import textwrap

import pytest

from perflint.rules.tensor_accumulated_with_graph import TensorAccumulatedWithGraph
from tests.support import prefilter_keeps

LOOP = """
    def train(model, loader, optimizer):
        total = 0.0
        for x, y in loader:
            loss = model(x, y)
            loss.backward()
            optimizer.step()
            {accumulation}
        return total
    """

REPORTED = {
    "a name": "total += loss",
    "a graph-keeping method": "total += loss.mean()",
    "arithmetic, target first": "total = total + loss * 2",
    "arithmetic, target last": "total = loss / 4 + total",
    "a negation": "total -= -loss",
    "an item of it": "total += loss[0]",
}

RULED_OUT = {
    # lucidrains/denoising-diffusion-pytorch's trainers: `total_loss += loss.item()`.
    "item()": "total += loss.item()",
    "a builtin's result": "total = total + float(loss)",
    "detach()": "total += loss.detach()",
    "a constant": "total += 1",
    # wer-inc/gogooku3 apex_ranker train_v0.py: a weighted score summed in the epoch loop that backpropagates.
    "names nothing differentiated spells": "total += weight * scores[horizon]",
}


def _module(accumulation: str) -> str:
    return textwrap.dedent(LOOP).format(accumulation=accumulation)


@pytest.mark.parametrize("accumulation", REPORTED.values(), ids=REPORTED.keys())
def test_reported_modules_pass_could_match(accumulation: str) -> None:
    assert prefilter_keeps(TensorAccumulatedWithGraph, _module(accumulation), reported=True)


def test_a_loss_differentiated_through_a_scaler_passes_could_match() -> None:
    code = _module("total += loss").replace("loss.backward()", "scaler.scale(loss).backward()")
    assert prefilter_keeps(TensorAccumulatedWithGraph, code, reported=True)


@pytest.mark.parametrize("accumulation", RULED_OUT.values(), ids=RULED_OUT.keys())
def test_totals_no_graph_comes_with_are_ruled_out(accumulation: str) -> None:
    assert not prefilter_keeps(TensorAccumulatedWithGraph, _module(accumulation), reported=False)
