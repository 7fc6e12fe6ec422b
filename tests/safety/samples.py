"""Source snippets shared by the safety tests: one with a safe PFL101 fix, one without findings."""

from __future__ import annotations

# A kept `.cpu()` of a value computed inside torch.no_grad(): PFL101 fixes it safely to `.detach().cpu()` (one line
# changes). A bare `model(batch)` would get an unsafe fix: a module may return its input, which may require grad.
FIXABLE = """\
import torch


def collect(model, batches):
    kept = []
    with torch.no_grad():
        for batch in batches:
            kept.append(model(batch).softmax(dim=-1).cpu())
    return kept
"""
FIXED = FIXABLE.replace("softmax(dim=-1).cpu()", "softmax(dim=-1).detach().cpu()")
# Mentions `.cpu(` (so the prefilter does not skip it) but has nothing to report.
CLEAN = """\
import torch


def collect(model, batches):
    return [model(batch).detach().cpu() for batch in batches]
"""
