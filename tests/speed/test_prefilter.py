"""The prefilter (rules' tokens, then their ``could_match`` on Python's ast) saves work and changes no result."""

from __future__ import annotations

import ast
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from perflint import api, engine
from perflint.registry import rule_by_code
from tests.speed.samples import all_inputs, corpus_sample, count_parses, every_rule

INPUTS = all_inputs()


@pytest.mark.parametrize(("name", "source"), INPUTS, ids=[name for name, _ in INPUTS])
def test_rules_the_prefilter_drops_find_nothing(name: str, source: bytes) -> None:
    # Rules see the module independently, so a run without the prefilter finds exactly what this one does
    # plus what the dropped rules would find: nothing.
    rules = every_rule().rules()
    dropped = [rule for rule in rules if rule not in engine.prefilter(source, rules).rules]
    if not dropped:
        return
    outcome = engine.lint(engine.parse(source), dropped, f"{name}.py", {})
    assert outcome.findings == () and outcome.failures == ()


@pytest.mark.slow
@pytest.mark.parametrize("path", corpus_sample(60), ids=str)
def test_corpus_same_without_prefilter(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source, settings = path.read_bytes(), replace(every_rule(), unsafe_fixes=True)
    for options in (api.RunOptions(with_edits=True), api.RunOptions(fix=True)):
        filtered = api.check_source(source, path, settings, options)
        with monkeypatch.context() as patch:
            patch.setattr(engine, "prefilter", lambda data, rules: engine.Prefiltered(tuple(rules)))
            unfiltered = api.check_source(source, path, settings, options)
        assert filtered == unfiltered, options


# `torch.cat` under an alias that does not end in "cat", and called with a space before the parenthesis.
GROWING_BY_CAT = """
def grow(xs):
    out = xs[0]
    for x in xs[1:]:
        out = {call}([out, x])
    return out
"""
CAT_SPELLINGS = {
    "an alias": ("from torch import cat as join\n" + GROWING_BY_CAT.format(call="join")).encode(),
    "a space": ("import torch\n" + GROWING_BY_CAT.format(call="torch.cat ")).encode(),
}


@pytest.mark.parametrize("source", CAT_SPELLINGS.values(), ids=CAT_SPELLINGS.keys())
def test_growing_concat_tokens_keep_every_spelling_of_cat(source: bytes) -> None:
    rule = rule_by_code("PFL204")
    assert engine.lint(engine.parse(source), [rule], "grow.py", {}).findings
    assert engine.prefilter(source, [rule]).rules == (rule,)


# An evaluation loop after every spelling of an eval switch PFL104 reads.
EVALUATING = """
def evaluate(model, loader):
    model.{switch}
    outputs = []
    for x in loader:
        outputs.append(model(x))
    return outputs
"""
EVAL_SWITCHES = ["eval()", "eval ()", "train(False)", "train(mode=False)", "train( False )"]


@pytest.mark.parametrize("switch", EVAL_SWITCHES)
def test_eval_loop_tokens_keep_every_spelling_of_an_eval_switch(switch: str) -> None:
    rule, source = rule_by_code("PFL104"), EVALUATING.format(switch=switch).encode()
    assert engine.lint(engine.parse(source), [rule], "evaluate.py", {}).findings
    assert engine.prefilter(source, [rule]).rules == (rule,)


def test_tokens_only_in_comments_and_strings_are_not_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    source = textwrap.dedent(
        '''
        """Call `.detach()` before kept.append(x.cpu()): see the docs."""
        # preds.append(outputs.cpu())
        message = "total += loss.to('cpu')"
        '''
    ).encode()
    parsed = count_parses(monkeypatch)
    result = api.check_source(source, Path("notes.py"), every_rule().with_overrides(select=("PFL101",)))
    assert result.violations == () and parsed == []


def test_unkept_host_copies_are_not_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    source = b"import torch\nx = model(batch).to('cuda')\nscores = model(x).cpu().numpy()\nmodel.cpu()\n"
    parsed = count_parses(monkeypatch)
    api.check_source(source, Path("eval.py"), every_rule().with_overrides(select=("PFL101",)))
    assert parsed == []


@pytest.mark.parametrize(
    "kept",
    [
        "preds.append(out.cpu())",
        "preds.extend([a.cpu(), b])",
        "preds.append(value=out.cpu().detach())",
        "total += out.to('cpu')",
        "self.kept = out.to(device='cpu')",
        "cache[i] = out.to(torch.device('cpu'))",
        "cache[i] = out.to(torch.device(type='cpu'))",
    ],
)
def test_cpu_without_detach_could_match_every_kept_shape(kept: str) -> None:
    assert rule_by_code("PFL101").could_match(ast.parse(kept))


def test_python_ast_is_skipped_when_no_rule_left_checks_structure(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[bytes] = []
    monkeypatch.setattr(engine, "_python_ast", lambda source: asked.append(source))
    rules = tuple(rule for rule in every_rule().rules() if not engine._checks_structure(rule))
    engine.prefilter(b"import torch\nkept.append(x.cpu())\nfor i in range(3): pass\n", rules)
    assert asked == []


def test_source_python_cannot_parse_falls_back_to_tokens() -> None:
    # PEP 695 syntax: LibCST parses it, CPython 3.11's ast does not, so the structural check cannot run.
    source = b"type Batch = list[int]\nkept.append(out.cpu())\n"
    pfl101 = rule_by_code("PFL101")
    assert engine.prefilter(source, (pfl101,)).rules == (pfl101,)


def test_python_warnings_are_not_printed(capfd: pytest.CaptureFixture[str]) -> None:
    engine.prefilter(b'pattern = "\\d+"\nkept.append(out.cpu())\n', (rule_by_code("PFL101"),))
    assert capfd.readouterr().err == ""
