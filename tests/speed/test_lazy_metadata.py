"""Metadata resolved on first use gives the findings that resolving everything up front gives."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
from libcst.metadata import MetadataWrapper, ParentNodeProvider, PositionProvider, QualifiedNameProvider, ScopeProvider

from perflint import api, engine
from perflint.metadata import ModuleMetadata, parent_nodes
from perflint.registry import rule_by_code
from tests.speed.samples import all_inputs, corpus_sample, every_rule

INPUTS = all_inputs()


@pytest.mark.parametrize(("name", "source"), INPUTS, ids=[name for name, _ in INPUTS])
def test_lazy_and_eager_metadata_give_the_same_results(name: str, source: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    settings, path = every_rule(), Path(name.replace("/", "_") + ".py")
    lazy = api.check_source(source, path, settings)
    monkeypatch.setattr(engine, "lint", partial(engine.lint, eager_metadata=True))
    assert api.check_source(source, path, settings) == lazy


def _resolutions(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    resolved: list[object] = []
    real_computed = ModuleMetadata._computed

    def counting_computed(self: ModuleMetadata, provider):
        resolved.append(provider)
        return real_computed(self, provider)

    monkeypatch.setattr(ModuleMetadata, "_computed", counting_computed)
    return resolved


def test_no_provider_runs_when_no_rule_asks(monkeypatch: pytest.MonkeyPatch) -> None:
    module = engine.parse(b"import torch\nfor x in loader:\n    print(len(x), x.to(device))\n")
    resolved = _resolutions(monkeypatch)
    outcome = engine.lint(module, [rule_by_code("PFL101")], "x.py", {})
    assert outcome.findings == () and resolved == []


def test_providers_run_once_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    module = engine.parse(b"import torch\nfor x in loader:\n    kept.append(model(x).cpu())\n")
    resolved = _resolutions(monkeypatch)
    outcome = engine.lint(module, [rule_by_code("PFL101")], "x.py", {})
    assert len(outcome.findings) == 1
    assert resolved and len(resolved) == len(set(resolved))


def test_recursion_while_resolving_mid_visit_redoes_the_visit_eagerly(monkeypatch: pytest.MonkeyPatch) -> None:
    source = b"import torch\nwith torch.no_grad():\n    kept.append(model(x).cpu())\n"
    expected = engine.lint(engine.parse(source), [rule_by_code("PFL101")], "x.py", {}, eager_metadata=True)

    def too_deep(self: ModuleMetadata, provider):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(ModuleMetadata, "_computed", too_deep)
    outcome = engine.lint(engine.parse(source), [rule_by_code("PFL101")], "x.py", {})
    assert [(f.code, f.message, f.range) for f in outcome.findings] == [
        (f.code, f.message, f.range) for f in expected.findings
    ]
    # Had the rule's crash guard caught the request to resolve eagerly, PFL101 would have failed here.
    assert outcome.failures == ()



@pytest.mark.parametrize(("name", "source"), INPUTS, ids=[name for name, _ in INPUTS])
def test_parent_nodes_equal_libcst_provider(name: str, source: bytes) -> None:
    module = engine.parse(source)
    expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(ParentNodeProvider)
    assert parent_nodes(module) == dict(expected)


@pytest.mark.slow
@pytest.mark.parametrize("path", corpus_sample(60, seed=1), ids=str)
def test_parent_nodes_equal_libcst_provider_on_corpus(path: Path) -> None:
    try:
        module = engine.parse(path.read_bytes())
    except engine.SourceError:
        pytest.skip("LibCST cannot parse this file")
    expected = MetadataWrapper(module, unsafe_skip_copy=True).resolve(ParentNodeProvider)
    assert parent_nodes(module) == dict(expected)


def _scope_facts(scopes, in_module) -> dict[object, object]:
    """Each node's scope, told by what it is (kind, owner node, bindings, accesses), not by identity."""
    facts: dict[object, object] = {}

    def described(scope) -> object:
        assignments = {(a.name, type(a).__name__, id(getattr(a, "node", None)), tuple(sorted(id(r.node) for r in a.references))) for a in scope.assignments}
        accesses = {(a.node and id(a.node), tuple(sorted(id(r.node) for r in a.referents if hasattr(r, "node")))) for a in scope.accesses}
        return (type(scope).__name__, id(scope.node) if hasattr(scope, "node") else None, frozenset(assignments), frozenset(accesses))

    cache: dict[int, object] = {}
    for node, scope in scopes.items():
        if node not in in_module:
            continue  # a node of a string annotation, parsed anew by each run
        if scope is None:
            facts[node] = None
        else:
            if id(scope) not in cache:
                cache[id(scope)] = described(scope)
            facts[node] = cache[id(scope)]
    return facts


@pytest.mark.parametrize(("name", "source"), INPUTS, ids=[name for name, _ in INPUTS])
def test_metadata_equals_libcst_providers(name: str, source: bytes) -> None:
    module = engine.parse(source)
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    ours = ModuleMetadata(MetadataWrapper(module, unsafe_skip_copy=True))
    assert dict(ours.values(PositionProvider)) == dict(wrapper.resolve(PositionProvider))
    in_module = {module, *parent_nodes(module)}
    assert _scope_facts(ours.values(ScopeProvider), in_module) == _scope_facts(wrapper.resolve(ScopeProvider), in_module)
    names = wrapper.resolve(QualifiedNameProvider)
    theirs = {node: value() if callable(value) else value for node, value in names.items()}
    assert {node: ours.values(QualifiedNameProvider)[node] for node in theirs} == theirs
