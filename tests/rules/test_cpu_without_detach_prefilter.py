"""PFL101's ``could_match``: a shape check that keeps every module the rule reports in, and rules out host
copies of values detached already, which the rule leaves alone (``is_detached``)."""

from __future__ import annotations

from perflint.rules.cpu_without_detach import CpuWithoutDetach
from tests.support import prefilter_tests

REPORTED = {
    "a kept copy of a computed value": """
        def evaluate(model, loader):
            kept = []
            for x in loader:
                kept.append(model(x).float().cpu())
            return kept
        """,
    "detach after the copy, even of a detached value": """
        def evaluate(model, loader):
            kept = []
            for x in loader:
                kept.append(model(x).detach().cpu().detach())
            return kept
        """,
    "numpy of a copy in a function that backpropagates": """
        def step(model, x, opt):
            loss = model(x).sum()
            loss.backward()
            opt.step()
            return loss.cpu().numpy()
        """,
}

RULED_OUT = {
    # wer-inc/gogooku3 scripts/train_atft.py and src/utils/metrics_utils.py: predictions detached, then made
    # float and flattened, then copied.
    "copies of detached values, kept": """
        def validate(model, loader, horizons):
            preds, targets = {}, {}
            for batch in loader:
                out = model(batch)
                for h in horizons:
                    preds[h].append(out[h].detach().float().view(-1).cpu())
                    targets[h].append(batch[h].data.cpu())
            return preds, targets
        """,
    "a detached copy assigned in a loop, and its numpy in a function that backpropagates": """
        def step(model, loader, opt):
            for x in loader:
                loss = model(x).sum()
                loss.backward()
                opt.step()
                value = loss.detach().cpu()
                print(loss.detach_().cpu().numpy(), value)
        """,
}


test_reported_modules_pass_could_match, test_modules_the_rule_never_reports_in_are_ruled_out = prefilter_tests(
    CpuWithoutDetach, REPORTED, RULED_OUT
)
