"""PFL104's ``could_match``: a shape check that keeps every module the rule reports in, and rules out loops that
cannot see an eval (their function neither switches a model nor is called from one that does) and loops of
functions that backpropagate in their own code."""

from __future__ import annotations

import pytest

from perflint.rules.eval_loop_with_grad import EvalLoopWithGrad
from tests.support import prefilter_keeps

REPORTED = {
    "eval in the loop's function": """
        def evaluate(model, loader):
            model.eval()
            outputs = []
            for x in loader:
                outputs.append(model(x))
            return outputs
        """,
    "eval in a caller, a module function": """
        def evaluate(model, loader):
            outputs = []
            for x in loader:
                outputs.append(model(x))
            return outputs

        def main(model, loader):
            model.eval()
            return evaluate(model, loader)
        """,
    "eval in a caller, a method called through self": """
        class Trainer:
            def fit(self, loader):
                self.model.eval()
                return self._validate(loader)

            def _validate(self, loader):
                outputs = []
                for x in loader:
                    outputs.append(self.model(x))
                return outputs
        """,
    "backward only inside a lambda of the function": """
        def evaluate(model, loader):
            model.eval()
            release = lambda tensor: tensor.backward()
            outputs = []
            for x in loader:
                outputs.append(model(x))
            return outputs, release
        """,
    "eval and loop at module level": """
        model.eval()
        outputs = []
        for x in loader:
            outputs.append(model(x))
        """,
}

RULED_OUT = {
    # lucidrains/denoising-diffusion-pytorch guided_diffusion.py: Unet.__init__ builds its blocks in a loop
    # that calls module functions; the only eval is in Trainer.train, which never calls __init__ by name.
    "loop of a function no eval reaches": """
        def Downsample(dim, dim_out):
            return nn.Conv2d(dim, dim_out, 4, 2, 1)

        class Unet(nn.Module):
            def __init__(self, dims):
                super().__init__()
                self.downs = nn.ModuleList([])
                for dim_in, dim_out in dims:
                    self.downs.append(Downsample(dim_in, dim_out))

        class Trainer:
            def train(self):
                self.ema.ema_model.eval()
        """,
    # The same file's Trainer.train: sampling with the EMA model inside the training loop, which
    # backpropagates (`self.accelerator.backward(loss)`): the rule leaves functions that use autograd alone.
    "loop of a function that backpropagates": """
        class Trainer:
            def save(self, milestone):
                torch.save(self.model.state_dict(), milestone)

            def train(self):
                while self.step < self.train_num_steps:
                    loss = self.model(next(self.dl))
                    self.accelerator.backward(loss)
                    self.ema.ema_model.eval()
                    self.save(self.step)
        """,
}


@pytest.mark.parametrize("source", REPORTED.values(), ids=REPORTED.keys())
def test_reported_modules_pass_could_match(source: str) -> None:
    assert prefilter_keeps(EvalLoopWithGrad, source, reported=True)


@pytest.mark.parametrize("source", RULED_OUT.values(), ids=RULED_OUT.keys())
def test_loops_the_rule_never_reports_are_ruled_out(source: str) -> None:
    assert not prefilter_keeps(EvalLoopWithGrad, source, reported=False)
