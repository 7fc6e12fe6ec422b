"""PFL102's ``could_match`` (``conversion_sites.could_repeat``): a shape check that keeps every module the rule
reports in, and rules out conversions no pass of a loop repeats (an iterable evaluated once, code that runs at
another time) and conversions of a name bound again between each two (by the first's own assignment or by a
statement in between)."""

from __future__ import annotations

from perflint.rules.repeated_host_conversion import RepeatedHostConversion
from tests.support import prefilter_tests

REPORTED = {
    "a conversion in a while loop's test": """
        import torch

        def countdown(t: torch.Tensor, n):
            while t.tolist()[0] < n:
                n -= 1
            return n
        """,
    "a conversion in a comprehension's second iterable": """
        import torch

        def shifted(t: torch.Tensor, ys):
            return [a + y for y in ys for a in t.tolist()]
        """,
    "a conversion before one that rebinds the name, in one pass": """
        import torch

        def codes_of(codes: torch.Tensor, batches):
            for batch in batches:
                first = codes.tolist()
                codes = codes.tolist()
        """,
    "a conversion before one that rebinds the name": """
        import torch

        def codes_of(codes: torch.Tensor):
            first = codes.tolist()
            codes = codes.tolist()
            return first, codes
        """,
    # The binding of `x` holds the second conversion: `_changes_between` leaves it out.
    "a conversion before an assignment that converts and rebinds the name": """
        import torch

        def codes_of(x: torch.Tensor, log):
            first = x.detach().cpu()
            log(first)
            x = (
                x.detach().cpu()
            )
            return x
        """,
}

RULED_OUT = {
    # wer-inc/gogooku3 scripts/train_atft.py: the first iterable of a comprehension is evaluated once.
    "a comprehension's first iterable": """
        import torch

        def dates(date_values: torch.Tensor):
            return [str(x) for x in date_values.view(-1).tolist()]
        """,
    "a for loop's iterable": """
        import torch

        def show(t: torch.Tensor):
            for x in t.tolist():
                print(x)
        """,
    # The same file, in one long function: `codes = codes.tolist()` in several branches; each binding comes
    # between its conversion and any later one.
    "conversions that each rebind their name": """
        import torch

        def run(batches, other):
            for batch in batches:
                codes = batch["codes"]
                if torch.is_tensor(codes):
                    codes = codes.tolist()
            for batch in other:
                codes = batch["codes"]
                if torch.is_tensor(codes):
                    codes = codes.tolist()
        """,
    # wer-inc/gogooku3 gogooku5/models/apex_ranker/scripts/train_v0.py: in two evaluation loops of one long
    # function, each conversion follows a binding of its name in the same loop body.
    "conversions of a name bound again before each": """
        import torch

        def main(model, loaders, horizons):
            for batch in loaders[0]:
                scores = model(batch)
                for h in horizons:
                    s = scores[h]
                    first = s.detach().float().cpu()
            for batch in loaders[1]:
                scores = model(batch)
                for h in horizons:
                    s = scores[h]
                    second = s.detach().float().cpu()
            return first, second
        """,
    "a conversion in a lambda made in a loop": """
        import torch

        def hooks(t: torch.Tensor, batches):
            made = []
            for batch in batches:
                made.append(lambda: t.tolist())
            return made
        """,
    "a conversion in a generator expression made in a loop": """
        import torch

        def totals(t: torch.Tensor, batches):
            return [sum(t.tolist()[0] for _ in batch) for batch in batches]
        """,
}


test_reported_modules_pass_could_match, test_modules_the_rule_never_reports_in_are_ruled_out = prefilter_tests(
    RepeatedHostConversion, REPORTED, RULED_OUT
)
