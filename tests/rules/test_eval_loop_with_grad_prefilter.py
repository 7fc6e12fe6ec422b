"""PFL104's ``could_match``: a shape check that keeps every module the rule reports in, and rules out loops that
cannot see an eval (their function neither switches a model nor is called from one that does), loops of
functions that backpropagate in their own code, and model calls the rule finds under a grad-disabling context."""

from __future__ import annotations

from perflint.rules.eval_loop_with_grad import EvalLoopWithGrad
from tests.support import prefilter_tests

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
    "eval in a caller, an inference method of an attribute of self": """
        class Trainer:
            def _validate_loop(this, loader):
                for x in loader:
                    this.net.encoder.predict(x)

            def run(self, loader):
                self.net.encoder.eval()
                self._validate_loop(loader)
        """,
    "a module function the loop hands the model to": """
        def _predict(net, x):
            return net(x)

        def evaluate(model, loader):
            model.eval()
            outputs = []
            for x in loader:
                outputs.append(_predict(x=x, net=model))
            return outputs
        """,
    "a method called through self, running self.model": """
        class Evaluator:
            def _forward(self, x):
                return self.model(x)

            def run(self, loader):
                self.model.eval()
                for x in loader:
                    self._forward(x)
        """,
    "a helper handed a model its caller's caller evaluated": """
        def _predict(net, x):
            return net(x)

        def _loop(model, loader):
            for x in loader:
                _predict(model, x)

        def main(model, loader):
            model.eval()
            _loop(model, loader)
        """,
    "a helper handing the model on to another helper": """
        def _run(net, x):
            return net(x)

        def _predict(m, x):
            return _run(m, x)

        def evaluate(model, loader):
            model.eval()
            for x in loader:
                _predict(model, x)
        """,
    "a helper whose model call is outside its no_grad block": """
        import torch

        def _predict(net, x):
            with torch.no_grad():
                x = x.float()
            return net(x)

        def evaluate(model, loader):
            model.eval()
            for x in loader:
                _predict(model, x)
        """,
    # Each of these has a grad-mode context around the loop that does not prove autograd off. (A function that
    # sets the grad mode itself, `torch.set_grad_enabled(...)`, is one the rule leaves alone.)
    "a no_grad of the module's own": """
        from contextlib import nullcontext as no_grad

        def evaluate(model, loader):
            model.eval()
            with no_grad():
                for x in loader:
                    model(x)
        """,
    "inference_mode with a mode the rule cannot read": """
        import torch

        def evaluate(model, loader, frozen):
            model.eval()
            with torch.inference_mode(mode=frozen):
                for x in loader:
                    model(x)
        """,
    "the call in a generator expression, which runs later": """
        import torch

        def evaluate(model, loader):
            model.eval()
            with torch.no_grad():
                for x in loader:
                    outputs = list(model(y) for y in x)
            return outputs
        """,
    "the no_grad decorates a nested function only": """
        import torch

        def evaluate(model, loader):
            model.eval()

            @torch.no_grad()
            def unused():
                pass

            for x in loader:
                model(x)
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
    # wer-inc/gogooku3 scripts/train_atft.py: helpers called from `train()`, which evaluates `model`, loop over
    # their parameters' items; no caller's evaluated model can have the name `obj.items` inside them.
    "a parameter's method that no evaluated model is named like": """
        def _canonicalize(tensor_dict, horizons):
            out = {}
            for key, value in tensor_dict.items():
                out[key] = value.float()
            return out

        def train(model, batch):
            model.eval()
            return _canonicalize(batch, [1, 5])
        """,
    # wer-inc/gogooku3 scripts/train_atft.py: helpers called in loops of functions that evaluate a model, handed
    # no model (a loop variable, a constant), or called on an object that is not the caller's `self`.
    "helpers handed no model": """
        def _finite(obj, name="root"):
            if isinstance(obj, dict):
                for key, value in obj.items():
                    obj[key] = _finite(value, f"{name}.{key}")
            return obj

        def rank(values):
            return values.argsort()

        class Metrics:
            def update(self, values):
                self.seen.append(values)

        def validate(model, loader, metrics):
            model.eval()
            for x in loader:
                batch = _finite(x)
                ranks = rank(batch)
                metrics.update(ranks)
                coverage(0.9)

        def coverage(level):
            return [level]
        """,
    # The same file: a def written in the loop body of `train`, called there under `no_grad()`; its own code
    # runs in no loop of its own.
    "a model call in a def written in a loop body": """
        import torch

        def train(model, loaders):
            model.eval()
            for loader in loaders:
                def forward(net, x):
                    return net(x)

                with torch.no_grad():
                    for x in loader:
                        forward(model, x)
        """,
    # dvgodoy/PyTorchStepByStep stepbystep/v0.py: `self.model.train()` in the method that evaluates is a mode
    # switch, not a call of the class's own `train`, whose loop runs a training step through `self`.
    "a method named like a mode switch": """
        class StepByStep:
            def predict(self, x):
                self.model.eval()
                y_hat = self.model(x)
                self.model.train()
                return y_hat

            def _step(self, x, y):
                self.model.train()
                loss = self.loss_fn(self.model(x), y)
                loss.backward()
                return loss

            def _mini_batch(self, loader):
                return [self._step(x, y) for x, y in loader]

            def train(self, n_epochs):
                for epoch in range(n_epochs):
                    self.losses.append(self._mini_batch(self.train_loader))
        """,
    # wer-inc/gogooku3 scripts/train_atft.py: `validate(model, ...)` in a loop of `train`, and `validate` runs
    # the model only under its own `no_grad()`; the nested def it calls is handed no model.
    "a helper that runs the model under its own no_grad": """
        import torch

        def validate(model, loader, criterion):
            model.eval()
            outputs = []
            with torch.no_grad():
                for x in loader:
                    outputs.append(model(x))

            def rank_simple(values):
                return values.argsort()

            return rank_simple(torch.cat(outputs)), criterion.horizons

        def train(model, folds, criterion):
            model.eval()
            for fold in folds:
                validate(model, fold, criterion)
        """,
    "a method helper decorated with @torch.no_grad()": """
        import torch

        class Trainer:
            @torch.no_grad()
            def _predict(self, x):
                return self.model(x)

            def evaluate(self, loader):
                self.model.eval()
                for x in loader:
                    self._predict(x)
        """,
    # The commonest evaluation loop in real code is already right: autograd is off around it.
    "loop inside with torch.no_grad()": """
        import torch

        def evaluate(model, loader):
            model.eval()
            outputs = []
            with torch.no_grad():
                for x in loader:
                    outputs.append(model(x))
            return outputs
        """,
    "function decorated with @torch.no_grad()": """
        import torch

        @torch.no_grad()
        def evaluate(model, loader):
            model.eval()
            return [model(x) for x in loader if model(x) is not None]

        @torch.no_grad()
        def evaluate_all(model, loader):
            model.eval()
            for x in loader:
                model(x)
        """,
    "inference_mode through an alias, set_grad_enabled(False) through a from import": """
        import torch as T
        from torch import set_grad_enabled

        class Evaluator:
            @T.inference_mode()
            def run(self, loader):
                self.model.eval()
                for x in loader:
                    self.model(x)

            def run_again(self, loader):
                self.model.eval()
                with set_grad_enabled(False):
                    while loader:
                        self.model(loader.pop())
        """,
}


test_reported_modules_pass_could_match, test_modules_the_rule_never_reports_in_are_ruled_out = prefilter_tests(
    EvalLoopWithGrad, REPORTED, RULED_OUT
)
