"""PFL101's ``could_match``: a shape check that keeps every module the rule reports in, and rules out what the
rule leaves alone: host copies of values detached already (``is_detached``), copies kept under ``no_grad`` of
values that are not evidently computed (``_float_evident``), copies assigned in a loop and never read after it
nor kept (``_name_outlives_loop``), and ``.numpy()`` of copies of values no backward call differentiates
(``_requires_grad``)."""

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
    # A backward call that is not a method call: `torch.autograd.grad` differentiates `loss` too.
    "numpy of a copy differentiated through torch.autograd.grad": """
        import torch

        def step(x, w):
            loss = (x * w).sum()
            grads = torch.autograd.grad(loss, w)
            return grads, loss.cpu().numpy()
        """,
    "a copy assigned in a loop and read after it": """
        def predict(model, loader):
            for x in loader:
                preds = model(x).cpu()
            return preds
        """,
    # LibCST's scope analysis reads the names in string type hints: `"preds"` is a read of `preds`.
    "a copy assigned in a loop and named in a string type hint after it": """
        from typing import Optional

        def predict(model, loader):
            for x in loader:
                preds = model(x).cpu()
            result: Optional["preds"] = None
            return result
        """,
    "a copy assigned in a loop and appended there": """
        def predict(model, loader, kept):
            for x in loader:
                out = model(x).cpu()
                kept.append(out)
        """,
    "a kept copy of a computed value under no_grad": """
        import torch

        def predict(model, loader, kept):
            with torch.no_grad():
                for x in loader:
                    out = model(x)
                    kept.append(out.cpu())
        """,
    "a copy assigned in an inner loop, read after it in the outer one": """
        def predict(model, batches):
            for batch in batches:
                for x in batch:
                    preds = model(x).cpu()
                print(preds)
        """,
    # A comprehension's target is a binding of the comprehension's own scope, not a later one of `out`.
    "a kept copy under no_grad of a name bound again only by a comprehension": """
        import torch

        def predict(model, loader, kept):
            with torch.no_grad():
                for x in loader:
                    out = model(x)
                    kept.append(out.cpu())
            return [out.shape for out in kept]
        """,
    "a kept copy under no_grad of a name last bound to a call, first to an index": """
        import torch

        def predict(model, loader, kept):
            with torch.no_grad():
                for batch in loader:
                    out = batch["x"]
                    out = model(out)
                    kept.append(out.cpu())
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
    # wer-inc/gogooku3 scripts/train_atft.py (evaluate_model_metrics): under no_grad, a prediction bound again
    # further down is kept; no binding of it evidently reaches the copy. An index is not evidently computed.
    "kept copies under no_grad of a name bound again later, and of an index": """
        import torch

        def evaluate(model, loader, horizons, labels):
            kept, seen = {}, []
            with torch.no_grad():
                for x in loader:
                    outputs = model(x)
                    for h in horizons:
                        pred = outputs[h].detach().float()
                        if pred.dim() > 1:
                            pred = pred.mean(dim=-1)
                        kept[h].append(pred.cpu())
                        seen.append(labels[h].cpu())
            for h in horizons:
                pred = torch.cat(kept[h]).numpy()
            return kept, seen
        """,
    # mlfoundations/open_clip src/open_clip_train/train.py (evaluate): under no_grad, features taken from a
    # model's output dict are kept; an index is not evidently computed.
    "kept copies under no_grad of names bound to indexes": """
        import torch

        def evaluate(model, loader, key):
            kept = []
            with torch.no_grad():
                for batch in loader:
                    out = model(batch)
                    features = out[key]
                    kept.append(features.cpu())
            return kept
        """,
    # The same file: copies assigned in a loop body and read only in the same iteration.
    "copies assigned in a loop and read only there": """
        import torch

        def check_targets(batches, log):
            for batch in batches:
                for key, value in batch.items():
                    data_cpu = value.cpu()
                    log(key, data_cpu.mean().item())
                group_vec = batch["group"].view(-1)
                if group_vec.device.type != "cpu":
                    group_vec = group_vec.to("cpu")
                log(group_vec.numpy())
            log("data_cpu checked", batches.get("data_cpu"))
        """,
    # lucidrains/x-transformers train_enwik8.py: a training loop backpropagates through `accelerator.backward`,
    # and a generated sample, which no backward call spells, is copied to numpy.
    "numpy of a copy of a value no backward call spells": """
        def train(model, loader, accelerator, decode):
            for x in loader:
                loss = model(x)
                accelerator.backward(loss)
                sample = model.generate(x)
                print(decode(sample.cpu().numpy()))
        """,
}


test_reported_modules_pass_could_match, test_modules_the_rule_never_reports_in_are_ruled_out = prefilter_tests(
    CpuWithoutDetach, REPORTED, RULED_OUT
)
