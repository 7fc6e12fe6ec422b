"""Source snippets shared by the safety tests: one with a safe PFL101 fix, one without findings."""

from __future__ import annotations

# A kept `.cpu()` inside torch.no_grad(): PFL101 fixes it safely to `.detach().cpu()` (one line changes).
FIXABLE = """\
import torch


def collect(model, batches):
    kept = []
    with torch.no_grad():
        for batch in batches:
            kept.append(model(batch).cpu())
    return kept
"""
FIXED = FIXABLE.replace("model(batch).cpu()", "model(batch).detach().cpu()")
# Mentions `.cpu(` (so the prefilter does not skip it) but has nothing to report.
CLEAN = """\
import torch


def collect(model, batches):
    return [model(batch).detach().cpu() for batch in batches]
"""
