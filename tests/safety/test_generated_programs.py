"""Property tests on generated programs: perflint never crashes, never writes code that does not compile, fixes
are idempotent, and a file without findings comes back byte-identical.

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
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perflint import api
from perflint.types import ErrorKind, FileResult
from tests.safety.programs import pattern_programs
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
