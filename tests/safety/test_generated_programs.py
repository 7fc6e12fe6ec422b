"""Property tests on generated programs: perflint never crashes, never writes code that does not compile, fixes
are idempotent, a file without findings comes back byte-identical, and safe fixes keep behaviour when the original
and the fixed program are executed (``programs.executable_programs``).

Two sources: hypothesmith (programs from Python's grammar, which stress the parser and the codegen but rarely
hold a pattern) and ``programs.pattern_programs`` (programs built from every rule's patterns, which stress the
fixes). A small budget runs by default; ``-m slow`` runs a large one.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path

import hypothesmith
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from perflint import api
from perflint.types import ErrorKind, FileResult
from tests.safety.programs import executable_programs, pattern_programs
from tests.support import settings_for

# hypothesmith compiles what it generates; CPython's warnings about that code are noise here.
pytestmark = pytest.mark.filterwarnings("ignore::SyntaxWarning")
ALL_RULES = replace(settings_for(["ALL"]), unsafe_fixes=True)
FIX_ALL = api.RunOptions(fix=True)
# Budgets for the default run (a few seconds each on an idle machine) and for -m slow.
QUICK = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
QUICK_PATTERNS = settings(QUICK, max_examples=5)
THOROUGH = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
# Errors that describe the input, not perflint: hypothesmith's grammar accepts programs CPython rejects.
INPUT_ERRORS = frozenset({ErrorKind.SYNTAX, ErrorKind.ENCODING})


def compiles(source: bytes) -> bool:
    """Whether CPython compiles ``source`` (its warnings silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(source, "generated.py", "exec", dont_inherit=True)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return False
    return True


def check_properties(source: bytes, must_fix_cleanly: bool) -> FileResult:
    """Check and fix ``source`` with every rule and unsafe fixes; assert the safety properties."""
    path = Path("generated.py")
    checked = api.check_source(source, path, ALL_RULES)
    assert all(error.kind in INPUT_ERRORS for error in checked.errors), checked.errors
    fixed = api.check_source(source, path, ALL_RULES, FIX_ALL)
    if must_fix_cleanly:
        assert not fixed.errors, fixed.errors
    else:
        # Only a file Python rejects may be refused a fix (FIX); nothing else may go wrong.
        allowed = INPUT_ERRORS if compiles(source) else INPUT_ERRORS | {ErrorKind.FIX}
        assert all(error.kind in allowed for error in fixed.errors), fixed.errors
    assert fixed.fixed is not None
    if not checked.violations:
        assert fixed.fixed == source, "a file without findings changed"
    if not fixed.changed:
        return fixed
    assert compiles(fixed.fixed), fixed.fixed.decode()
    again = api.check_source(fixed.fixed, path, ALL_RULES, FIX_ALL)
    assert again.fixed == fixed.fixed and again.fixes_applied == 0, "fix is not idempotent"
    return fixed


def check_grammar_program(source: str) -> None:
    check_properties(source.encode("utf-8", "surrogatepass"), must_fix_cleanly=False)


def check_pattern_program(source: str) -> None:
    assert compiles(source.encode()), source
    check_properties(source.encode(), must_fix_cleanly=True)


@QUICK
@given(source=hypothesmith.from_grammar())
def test_grammar_programs(source: str) -> None:
    check_grammar_program(source)


@QUICK_PATTERNS
@given(source=pattern_programs())
def test_pattern_programs(source: str) -> None:
    check_pattern_program(source)


@given(source=st.text(max_size=300), prefix=st.sampled_from(["", "x.cpu()\n", "import torch\nout.append(t.cpu())\n"]))
@example(source="\U00031350", prefix="x.cpu()\n")  # a Unicode 15 letter: LibCST's parser takes it, its nodes do not
@QUICK
def test_arbitrary_text_never_crashes(source: str, prefix: str) -> None:
    """Any text at all (with a prefix that gets it past the token prefilter to the parser)."""
    data = (prefix + source).encode("utf-8", "surrogatepass")
    checked = api.check_source(data, Path("noise.py"), ALL_RULES, FIX_ALL)
    allowed = INPUT_ERRORS if compiles(data) else INPUT_ERRORS | {ErrorKind.FIX}
    assert all(error.kind in allowed for error in checked.errors), checked.errors
    if checked.changed:
        assert compiles(checked.fixed)


@pytest.mark.slow
@THOROUGH
@given(source=hypothesmith.from_grammar())
def test_grammar_programs_thoroughly(source: str) -> None:
    check_grammar_program(source)


@pytest.mark.slow
@THOROUGH
@given(source=pattern_programs())
def test_pattern_programs_thoroughly(source: str) -> None:
    check_pattern_program(source)


# ---------------------------------------------------------------------------------------------------------------
# Safe fixes executed: programs from every rule's safe-fix templates, with the shapes that broke safe fixes before
# mixed in, run before and after `perflint fix` (safe fixes only) on several inputs; every observable must match.

SAFE_FIXES = settings_for(["ALL"])  # unsafe_fixes off: safe fixes only
EXECUTE_QUICK = settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
EXECUTE_THOROUGH = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
# (model, inputs require grad, t requires grad): a module that returns its input, and one that computes.
INPUT_KINDS = [("identity", True, True), ("identity", False, False), ("linear", True, False), ("linear", False, True)]


def _inputs(kind: tuple[str, bool, bool]):
    import torch
    from torch import nn

    name, xs_grad, t_grad = kind
    torch.manual_seed(0)
    model = nn.Identity() if name == "identity" else nn.Linear(3, 3)
    xs = [torch.randn(2, 3, requires_grad=xs_grad) for _ in range(3)]
    t = torch.randn(4, requires_grad=t_grad)
    return model, xs, t


def observe_run(source: str, kind: tuple[str, bool, bool]):
    """Every observable of ``run(...)`` on fresh inputs of ``kind``: what it returns or raises, and the grads
    left on the model's parameters and the inputs."""
    import torch

    from tests.rules.test_cpu_without_detach_differential import observe

    namespace: dict = {}
    exec(compile(source, "<generated>", "exec"), namespace)
    model, xs, t = _inputs(kind)
    try:
        result = observe(namespace["run"](model, xs, t))
    except Exception as error:  # what a caller observes is the exception's type
        result = ("raised", type(error).__name__)
    finally:
        torch.set_grad_enabled(True)
    grads = [observe(p.grad) if p.grad is not None else None for p in (*model.parameters(), *xs, t)]
    return result, grads


def check_safe_fixes_keep_behaviour(source: str) -> None:
    fixed = api.check_source(source.encode(), Path("generated.py"), SAFE_FIXES, api.RunOptions(fix=True))
    assert not fixed.errors, fixed.errors
    if not fixed.changed:
        return
    after = fixed.fixed.decode()
    for kind in INPUT_KINDS:
        assert observe_run(source, kind) == observe_run(after, kind), f"{kind}\n--- original\n{source}\n--- fixed\n{after}"


@EXECUTE_QUICK
@given(source=executable_programs())
def test_safe_fixes_keep_behaviour(source: str) -> None:
    check_safe_fixes_keep_behaviour(source)


@pytest.mark.slow
@EXECUTE_THOROUGH
@given(source=executable_programs())
def test_safe_fixes_keep_behaviour_thoroughly(source: str) -> None:
    check_safe_fixes_keep_behaviour(source)
