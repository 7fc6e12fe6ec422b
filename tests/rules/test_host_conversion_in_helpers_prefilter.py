"""PFL106's ``could_match`` (``conversion_sites.could_repeat`` through helpers): a shape check that keeps every
module the rule reports in, and rules out calls whose callee ``called_function`` cannot resolve."""

from __future__ import annotations

from perflint.rules.host_conversion_in_helpers import HostConversionInHelpers
from tests.support import prefilter_tests

REPORTED = {
    "a module function handed the same tensors twice": """
        import torch

        def compute_ic(predictions, targets):
            return predictions.cpu().numpy(), targets.cpu().numpy()

        def validate(p: torch.Tensor, t: torch.Tensor):
            a = compute_ic(p, t)
            b = compute_ic(p, t)
            return a, b
        """,
    "a method called through self": """
        import torch

        class Metrics:
            def compute_ic(self, predictions, targets):
                return predictions.cpu().numpy(), targets.cpu().numpy()

            def validate(self, p: torch.Tensor, t: torch.Tensor):
                a = self.compute_ic(p, t)
                b = self.compute_ic(p, t)
                return a, b
        """,
}

RULED_OUT = {
    # wer-inc/gogooku3 scripts/train_atft.py: static methods called through their class.
    "a static method called through its class": """
        import torch

        class Loss:
            @staticmethod
            def compute_ic(predictions, targets):
                return predictions.cpu().numpy(), targets.cpu().numpy()

        def validate(p: torch.Tensor, t: torch.Tensor):
            a = Loss.compute_ic(p, t)
            b = Loss.compute_ic(p, t)
            return a, b
        """,
}


test_reported_modules_pass_could_match, test_modules_the_rule_never_reports_in_are_ruled_out = prefilter_tests(
    HostConversionInHelpers, REPORTED, RULED_OUT
)
