"""PFL102 and PFL106 differential tests: the original and the fixed code run on the same generated tensors.

Safe fixes must give the same result (value or exception) on every input; unsafe fixes too, except for the
functions listed in UNSAFE_DIFFERENCES, and each documented difference is shown to really happen. Inputs are
seeded CPU tensors of several dtypes and shapes, including tensors that require grad or cannot be converted
(bf16), where both versions must raise the same exception. A copying conversion (what `.cpu().numpy()` is on a
CUDA tensor) is modelled on CPU with `.numpy(force=True)` of a conjugated complex tensor.
"""

from __future__ import annotations

import inspect
import textwrap
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest
import torch

from perflint.registry import rule_by_code
from perflint.types import Applicability
from tests.support import fixed_text, lint

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "PFL102"
HELPER_FIXTURES = FIXTURES.parent / "PFL106"
RULES = (rule_by_code("PFL102"), rule_by_code("PFL106"))
CODES = [rule.code for rule in RULES]
SEEDS = (0, 1)
# Functions whose unsafe fix changes the result on CPU inputs, with the documented reason.
UNSAFE_DIFFERENCES = {
    ("tolist", "mutated"): "the uses now share one list, and the first one is mutated",
    ("frame_introspection", "reads_locals"): "locals() now shows the new local",
    ("loop_invariant", "list_mutated_by_callee"): "every pass now gets the one list, which the callee grows",
    ("if_elif_arms", "no_else"): "the path through no arm now converts: a 1-d grad or bf16 tensor now raises",
}


def _tensor_cases() -> dict[str, Callable[[torch.Generator], torch.Tensor]]:
    return {
        "float32": lambda g: torch.randn(12, generator=g),
        "float64-2d": lambda g: torch.randn(6, 4, generator=g, dtype=torch.float64),
        "float32-non-contiguous": lambda g: torch.randn(4, 6, generator=g).t(),
        "int64": lambda g: torch.randint(-5, 5, (12,), generator=g),
        "requires-grad": lambda g: torch.randn(12, generator=g).requires_grad_(),
        "bfloat16": lambda g: torch.randn(12, generator=g).bfloat16(),
    }


CASES = _tensor_cases()


def _arguments(function: Callable[..., Any], case: str, seed: int) -> list[Any]:
    """Fresh inputs for every parameter: a list for ``log``, a tensor of ``case`` for anything else."""
    generator = torch.Generator().manual_seed(seed)
    return [[] if name == "log" else CASES[case](generator) for name in inspect.signature(function).parameters]


def _outcome(function: Callable[..., Any], arguments: list[Any]) -> tuple[str, Any]:
    try:
        return ("value", function(*arguments))
    except Exception as error:  # noqa: BLE001 - the exception is the outcome being compared
        return ("raised", (type(error), str(error)))


def _same(first: Any, second: Any) -> bool:
    """Equal values of the same types (arrays and tensors by dtype, shape and bits; NaN equals NaN)."""
    if type(first) is not type(second):
        return False
    if isinstance(first, torch.Tensor):
        return first.dtype == second.dtype and first.shape == second.shape and bool(torch.equal(first, second))
    if isinstance(first, np.ndarray):
        return first.dtype == second.dtype and np.array_equal(first, second, equal_nan=first.dtype.kind in "fc")
    if isinstance(first, (list, tuple)):
        return len(first) == len(second) and all(_same(a, b) for a, b in zip(first, second))
    if isinstance(first, dict):
        return first.keys() == second.keys() and all(_same(first[k], second[k]) for k in first)
    if isinstance(first, float) and first != first:
        return second != second
    return bool(first == second)


def _load(source: str, name: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": name}
    try:
        exec(compile(source, name, "exec"), namespace)  # noqa: S102 - executing the code under test is the point
    except ModuleNotFoundError as error:  # the seed's metric block imports scipy, which is not a dependency
        pytest.skip(f"{name} needs {error.name}")
    return namespace


def _callables(namespace: dict[str, Any]) -> Iterator[tuple[str, Callable[..., Any]]]:
    """Top-level functions of the module, and methods of its classes that take only tensors."""
    for name, value in namespace.items():
        if inspect.isfunction(value) and value.__module__ == namespace["__name__"]:
            yield name, value
        elif inspect.isclass(value) and value.__module__ == namespace["__name__"]:
            for method_name, method in vars(value).items():
                if inspect.isfunction(method) and not method_name.startswith("__") and _tensor_only(method, skip=1):
                    yield f"{name}.{method_name}", _bound(value, method_name)


def _tensor_only(function: Callable[..., Any], skip: int = 0) -> bool:
    parameters = list(inspect.signature(function).parameters.values())[skip:]
    return bool(parameters) and all(parameter.annotation in (torch.Tensor, "torch.Tensor") for parameter in parameters)


def _bound(cls: type, method_name: str) -> Callable[..., Any]:
    def call(*arguments: Any) -> Any:
        return getattr(cls(), method_name)(*arguments)

    call.__signature__ = inspect.signature(getattr(cls, method_name)).replace(  # type: ignore[attr-defined]
        parameters=list(inspect.signature(getattr(cls, method_name)).parameters.values())[1:]
    )
    return call


def _callable_in_both(original: dict[str, Any], fixed: dict[str, Any]) -> list[tuple[str, Callable, Callable]]:
    fixed_callables = dict(_callables(fixed))
    pairs = []
    for name, function in _callables(original):
        if name in fixed_callables and not _needs_other_arguments(function):
            pairs.append((name, function, fixed_callables[name]))
    return pairs


def _needs_other_arguments(function: Callable[..., Any]) -> bool:
    """Helpers such as ``_compute_ic(p, t, day_ids)`` take more than tensors: exercised through their callers."""
    return any(
        parameter.annotation not in (torch.Tensor, "torch.Tensor", inspect.Parameter.empty)
        for parameter in inspect.signature(function).parameters.values()
    )


def _differences(original_source: str, fixed_source: str, name: str) -> dict[str, list[str]]:
    """For each function, the inputs on which the original and fixed code disagree."""
    original, fixed = _load(original_source, name), _load(fixed_source, name + "_fixed")
    pairs = _callable_in_both(original, fixed)
    assert pairs, f"nothing to call in {name}"
    found: dict[str, list[str]] = {}
    for function_name, before, after in pairs:
        for case in CASES:
            for seed in SEEDS:
                outcome_before = _outcome(before, _arguments(before, case, seed))
                outcome_after = _outcome(after, _arguments(after, case, seed))
                if outcome_before[0] != outcome_after[0] or not _same(outcome_before[1], outcome_after[1]):
                    found.setdefault(function_name, []).append(f"{case}/{seed}: {outcome_before} != {outcome_after}")
    return found


FIXED_GOLDENS = sorted([*FIXTURES.glob("*.fixed.py"), *HELPER_FIXTURES.glob("*.fixed.py")])
SAFE_GOLDENS = [path for path in FIXED_GOLDENS if not path.name.endswith(".unsafe.fixed.py")]
UNSAFE_GOLDENS = [path for path in FIXED_GOLDENS if path.name.endswith(".unsafe.fixed.py")]


def _original_of(golden: Path) -> Path:
    return golden.with_name(golden.name.split(".")[0] + ".py")


@pytest.mark.parametrize("golden", SAFE_GOLDENS, ids=lambda path: path.name)
def test_safe_fixes_of_fixtures_are_exact(golden: Path) -> None:
    original = _original_of(golden)
    assert _differences(original.read_text(), golden.read_text(), original.stem) == {}


@pytest.mark.parametrize("golden", UNSAFE_GOLDENS, ids=lambda path: path.name)
def test_unsafe_fixes_of_fixtures_differ_only_where_documented(golden: Path) -> None:
    original = _original_of(golden)
    differences = _differences(original.read_text(), golden.read_text(), original.stem)
    documented = {function for (module, function) in UNSAFE_DIFFERENCES if module == original.stem}
    assert set(differences) == documented, differences


EXAMPLES = [
    pytest.param(example, id=f"{rule.code}-example-{i}")
    for rule in RULES
    for i, example in enumerate(rule.invalid)
    if example.fixed is not None
]


@pytest.mark.parametrize("example", EXAMPLES)
def test_fixes_of_rule_examples_are_exact_on_cpu(example) -> None:  # type: ignore[no-untyped-def]
    source, fixed = textwrap.dedent(example.code), textwrap.dedent(example.fixed)
    assert _differences(source, fixed, "example") == {}


def test_every_fixture_fix_is_exercised() -> None:
    fixtures_with_fixes = {_original_of(golden).stem for golden in FIXED_GOLDENS}
    assert {"seed_metric_block", "seed_helpers", "tolist", "views", "method_helpers"} <= fixtures_with_fixes


# -- each documented difference really happens ---------------------------------------------------------------


def _fix(source: str, unsafe: bool = False) -> str:
    return fixed_text(textwrap.dedent(source), select=CODES, unsafe=unsafe)


def _single_fix(source: str) -> Applicability:
    [violation] = lint(textwrap.dedent(source), select=CODES).violations
    assert violation.fix is not None
    return violation.fix.applicability


def test_documented_unsafe_differences_really_happen() -> None:
    for (module, function), _reason in UNSAFE_DIFFERENCES.items():
        original = (FIXTURES / f"{module}.py").read_text()
        golden = (FIXTURES / f"{module}.unsafe.fixed.py").read_text()
        assert function in _differences(original, golden, module)


CALLEE_SETS_SHAPE = """
def reshape_in_place(a):
    a.shape = (-1, 1)
    return a.ndim

def shapes(x):
    first = reshape_in_place(x.numpy())
    return first, x.numpy().shape
"""


def test_safe_fix_exception_callee_changes_array_metadata() -> None:
    """Documented for the safe fix: the uses now share one array object, so a metadata change is seen later."""
    assert _single_fix(CALLEE_SETS_SHAPE) is Applicability.SAFE
    before = _load(textwrap.dedent(CALLEE_SETS_SHAPE), "m")["shapes"](torch.arange(4.0))
    after = _load(_fix(CALLEE_SETS_SHAPE), "m")["shapes"](torch.arange(4.0))
    assert before == (2, (4,)) and after == (2, (4, 1))


IDENTITY = """
def same_object(x):
    return x.numpy() is x.numpy()
"""


def test_safe_fix_exception_array_identity() -> None:
    assert _single_fix(IDENTITY) is Applicability.SAFE
    assert _load(textwrap.dedent(IDENTITY), "m")["same_object"](torch.ones(2)) is False
    assert _load(_fix(IDENTITY), "m")["same_object"](torch.ones(2)) is True


COPY_THEN_MUTATE = """
import numpy as np

def before_and_after(x):
    before = np.sum(x.numpy(force=True))
    x.mul_(2)
    return before, np.sum(x.numpy(force=True))
"""


def test_copying_conversion_with_in_place_change_is_unsafe_and_differs() -> None:
    """`.numpy(force=True)` on a conjugated tensor copies, like `.cpu().numpy()` of a CUDA tensor."""
    assert _single_fix(COPY_THEN_MUTATE) is Applicability.UNSAFE
    make = lambda: torch.tensor([1 + 1j, 2 - 1j]).conj()  # noqa: E731
    before = _load(textwrap.dedent(COPY_THEN_MUTATE), "m")["before_and_after"](make())
    after = _load(_fix(COPY_THEN_MUTATE, unsafe=True), "m")["before_and_after"](make())
    assert before[1] == 2 * before[0] and after[1] == after[0]


COPY_AROUND_ALIAS_MUTATION = """
import numpy as np

def around_step(x, step):
    before = float(np.sum(x.numpy(force=True).real))
    step()
    return before, float(np.sum(x.numpy(force=True).real))
"""


def test_call_not_receiving_the_tensor_can_mutate_it_so_copies_stay_unsafe() -> None:
    """Why a purity check of only the callees that receive the tensor is not enough: `step` reaches it by a closure."""
    assert _single_fix(COPY_AROUND_ALIAS_MUTATION) is Applicability.UNSAFE
    tensor = torch.tensor([1 + 1j, 2 - 1j]).conj()
    before = _load(textwrap.dedent(COPY_AROUND_ALIAS_MUTATION), "m")["around_step"](tensor, lambda: tensor.mul_(2))
    tensor = torch.tensor([1 + 1j, 2 - 1j]).conj()
    after = _load(_fix(COPY_AROUND_ALIAS_MUTATION, unsafe=True), "m")["around_step"](tensor, lambda: tensor.mul_(2))
    assert before == (3.0, 6.0) and after == (3.0, 3.0)


COPY_CONSUMED_BY_PURE_CALLS = """
import numpy as np

def stats(x):
    mean = float(np.mean(x.numpy(force=True)))
    spread = float(np.std(x.numpy(force=True)))
    return mean, spread
"""


def test_copying_conversion_consumed_by_pure_calls_is_safe_and_exact() -> None:
    assert _single_fix(COPY_CONSUMED_BY_PURE_CALLS) is Applicability.SAFE
    make = lambda: torch.tensor([1 + 1j, 2 - 1j, -3 + 0.5j]).conj()  # noqa: E731
    before = _load(textwrap.dedent(COPY_CONSUMED_BY_PURE_CALLS), "m")["stats"](make())
    after = _load(_fix(COPY_CONSUMED_BY_PURE_CALLS), "m")["stats"](make())
    assert before == after


def test_unsafe_exception_hoisted_above_a_side_effect() -> None:
    """The conversion is no longer the first thing with a side effect: a raising one now raises before `len(log)`."""
    source = """
    def logged(x, log):
        log.append(str(len(log)) + str(x.numpy().sum()))
        return x.numpy().max()
    """
    assert _single_fix(source) is Applicability.UNSAFE
    seen: list[str] = []

    class Log(list):
        def __len__(self) -> int:
            seen.append("len")
            return super().__len__()

    grad = torch.ones(2, requires_grad=True)
    for code in (textwrap.dedent(source), _fix(source, unsafe=True)):
        seen.clear()
        with pytest.raises(RuntimeError, match="requires grad"):
            _load(code, "m")["logged"](grad, Log())
        assert seen == (["len"] if code == textwrap.dedent(source) else [])


BRANCH_NOT_TAKEN = """
import torch

def maybe(x):
    total = 0.0
    if x.dtype == torch.float32:
        total = float(x.numpy().sum())
    if x.dtype == torch.bfloat16:
        return "no conversion"
    return total + float(x.numpy().max())
"""


def test_unsafe_exception_hoisted_out_of_a_branch_not_taken() -> None:
    assert _single_fix(BRANCH_NOT_TAKEN) is Applicability.UNSAFE
    bf16 = torch.ones(2).bfloat16()
    assert _load(textwrap.dedent(BRANCH_NOT_TAKEN), "m")["maybe"](bf16) == "no conversion"
    with pytest.raises(TypeError):
        _load(_fix(BRANCH_NOT_TAKEN, unsafe=True), "m")["maybe"](bf16)


def test_unsafe_method_helpers_break_a_subclass_that_expects_tensors() -> None:
    """Why method helpers are unsafe: an override elsewhere keeps its tensor-only body."""
    subclass = """
class Strict(Evaluator):
    def _total(self, p):
        return float(p.sum(dim=0))
"""
    original = _load((HELPER_FIXTURES / "method_helpers.py").read_text() + subclass, "m")
    fixed = _load((HELPER_FIXTURES / "method_helpers.unsafe.fixed.py").read_text() + subclass, "m")
    assert isinstance(original["Strict"]().evaluate(torch.ones(3))[0], float)
    with pytest.raises(TypeError):
        fixed["Strict"]().evaluate(torch.ones(3))


def test_rewritten_helpers_still_accept_tensors_from_other_callers() -> None:
    fixed = _load((HELPER_FIXTURES / "seed_helpers.fixed.py").read_text(), "m")
    original = _load((HELPER_FIXTURES / "seed_helpers.py").read_text(), "m")
    generator = torch.Generator().manual_seed(3)
    predictions, targets = torch.randn(12, generator=generator), torch.randn(12, generator=generator)
    day_ids = np.arange(12) % 3
    for helper in ("_compute_ic", "_compute_rank_ic", "_compute_sharpe"):
        assert _same(fixed[helper](predictions, targets, day_ids), original[helper](predictions, targets, day_ids))
        grad = predictions.clone().requires_grad_()
        outcomes = [_outcome(module[helper], [grad, targets, day_ids]) for module in (original, fixed)]
        assert outcomes[0] == outcomes[1] and outcomes[0][0] == "raised"


# -- the seed's moved reduction --------------------------------------------------------------------------------


MOVED_REDUCTION = """
def _compute_sharpe(predictions: torch.Tensor, targets: torch.Tensor) -> float:
    signal = np.mean(predictions.numpy(), axis=1)
    spread = targets.numpy()[:, 0] * signal
    return float(spread.mean() / spread.std())
"""


def test_seed_moved_reduction_changes_sharpe_and_perflint_declines() -> None:
    source = (HELPER_FIXTURES / "helper_reduces_first.py").read_text()
    torch_version = _load(source, "m")["_compute_sharpe"]
    numpy_version = _load(source.split("def _compute_sharpe")[0] + MOVED_REDUCTION, "m")["_compute_sharpe"]
    changed = 0
    for seed in range(20):
        generator = torch.Generator().manual_seed(seed)
        predictions = torch.randn(4000, 9, generator=generator)
        targets = torch.randn(4000, 2, generator=generator)
        changed += torch_version(predictions, targets) != numpy_version(predictions, targets)
    assert changed > 0, "float32 mean(dim=1) in torch and np.mean(axis=1) agreed on every input"
    findings = [v for v in lint(source, select=CODES).violations if "`predictions`" in v.message]
    assert findings and all(v.fix is None for v in findings)
    assert "`_compute_sharpe`" in findings[0].message  # named; why there is no fix is in the docs
    assert "np.mean" not in _fix(source, unsafe=True)


RESHAPE_THEN_MUTATE = """
import numpy as np

def before_and_after(x):
    before = float(np.sum(x.reshape(-1).numpy()))
    x.mul_(2)
    return before, float(np.sum(x.reshape(-1).numpy()))
"""


def test_reshape_copies_a_non_contiguous_tensor_so_it_is_a_copying_chain() -> None:
    """RULES calls reshape/flatten/ravel value-preserving views; they copy when the strides do not allow a view."""
    assert _single_fix(RESHAPE_THEN_MUTATE) is Applicability.UNSAFE
    original = _load(textwrap.dedent(RESHAPE_THEN_MUTATE), "m")["before_and_after"]
    fixed = _load(_fix(RESHAPE_THEN_MUTATE, unsafe=True), "m")["before_and_after"]
    contiguous = lambda: torch.arange(6.0).reshape(2, 3)  # noqa: E731
    assert original(contiguous()) == fixed(contiguous()) == (15.0, 30.0)
    transposed = lambda: torch.arange(6.0).reshape(2, 3).t()  # noqa: E731
    assert original(transposed()) == (15.0, 30.0) and fixed(transposed()) == (15.0, 15.0)


# -- safe-fix audit: a call may hand the tensor on, or return it unchanged ------------------------------------


HANDED_TO_A_CALL = """
import numpy as np

def f(x, touch):
    before = float(np.sum(x.numpy()))
    touch(x)
    return before, float(np.sum(x.numpy()))
"""

ALIASED_BY_CPU = """
import numpy as np

def f(x):
    before = float(np.sum(x.numpy()))
    y = x.cpu()
    y.requires_grad_()
    return before, float(np.sum(x.numpy()))
"""


def test_tensor_handed_to_a_call_between_bare_conversions_is_unsafe_and_differs() -> None:
    """`touch` may set the tensor's grad flag: the second `.numpy()` then raises; one hoisted array does not."""
    assert _single_fix(HANDED_TO_A_CALL) is Applicability.UNSAFE
    original = _load(textwrap.dedent(HANDED_TO_A_CALL), "m")["f"]
    fixed = _load(_fix(HANDED_TO_A_CALL, unsafe=True), "m")["f"]
    assert original(torch.ones(3), lambda t: None) == fixed(torch.ones(3), lambda t: None) == (3.0, 3.0)
    with pytest.raises(RuntimeError, match="requires grad"):
        original(torch.ones(3), lambda t: t.requires_grad_())
    assert fixed(torch.ones(3), lambda t: t.requires_grad_()) == (3.0, 3.0)


def test_cpu_of_a_cpu_tensor_returns_it_unchanged_so_the_alias_makes_the_fix_unsafe() -> None:
    assert _single_fix(ALIASED_BY_CPU) is Applicability.UNSAFE
    tensor = torch.ones(3)
    assert tensor.cpu() is tensor
    with pytest.raises(RuntimeError, match="requires grad"):
        _load(textwrap.dedent(ALIASED_BY_CPU), "m")["f"](torch.ones(3))
    assert _load(_fix(ALIASED_BY_CPU, unsafe=True), "m")["f"](torch.ones(3)) == (3.0, 3.0)


HELPERS_AROUND_A_CALL = """
import numpy as np

def _total(p):
    return float(np.sum(p.numpy()))

def _largest(p):
    return float(np.max(p.numpy()))

def f(x, touch):
    total = _total(x)
    touch(x)
    return total, _largest(x)
"""


def test_tensor_handed_to_a_call_between_helpers_makes_pfl106_unsafe_and_differs() -> None:
    [violation] = lint(textwrap.dedent(HELPERS_AROUND_A_CALL), select=["PFL106"]).violations
    assert violation.fix is not None and violation.fix.applicability is Applicability.UNSAFE
    original = _load(textwrap.dedent(HELPERS_AROUND_A_CALL), "m")["f"]
    fixed = _load(_fix(HELPERS_AROUND_A_CALL, unsafe=True), "m")["f"]
    with pytest.raises(RuntimeError, match="requires grad"):
        original(torch.ones(3), lambda t: t.requires_grad_())
    assert fixed(torch.ones(3), lambda t: t.requires_grad_()) == (3.0, 1.0)


# -- uses split across `if`/`elif`/`else` arms -------------------------------------------------------------------


def test_arms_unsafe_when_an_arm_has_an_effect_before_its_conversion() -> None:
    """Hoisted above the `if`, a conversion that raises now raises before the arm's `log.append`."""
    original = _load((FIXTURES / "if_elif_arms.py").read_text(), "m")["effect_before_the_conversion"]
    fixed = _load((FIXTURES / "if_elif_arms.unsafe.fixed.py").read_text(), "m")["effect_before_the_conversion"]
    grad = torch.ones(2, 3).requires_grad_()
    logs: tuple[list[str], list[str]] = ([], [])
    for function, log in zip((original, fixed), logs):
        with pytest.raises(RuntimeError):
            function(grad, log)
    assert logs == (["2d"], [])


def test_arms_safe_fix_keeps_every_path() -> None:
    """Every arm converts first: on every dtype/shape (grad and bf16 included) both versions agree."""
    source = (FIXTURES / "if_elif_arms.py").read_text()
    golden = (FIXTURES / "if_elif_arms.fixed.py").read_text()
    assert golden.count("x_np = x.numpy()") == 2
    differences = _differences(source, golden, "if_elif_arms")
    assert not {"every_arm_converts_first", "nested_if_as_first_statement"} & set(differences), differences


# -- loop-invariant conversions ----------------------------------------------------------------------------------


def test_loop_unsafe_when_the_loop_runs_zero_times() -> None:
    """Hoisted before the loop, the conversion runs even when the loop does not: a grad tensor now raises."""
    original = _load((FIXTURES / "loop_invariant.py").read_text(), "m")["in_for_body"]
    fixed = _load((FIXTURES / "loop_invariant.unsafe.fixed.py").read_text(), "m")["in_for_body"]
    grad, empty = torch.ones(3).requires_grad_(), torch.ones(0)
    assert original(grad, empty) == 0.0
    with pytest.raises(RuntimeError):
        fixed(grad, empty)
    assert _same(original(torch.ones(3), torch.ones(2)), fixed(torch.ones(3), torch.ones(2)))


def test_loop_fixes_are_never_safe() -> None:
    source = (FIXTURES / "loop_invariant.py").read_text()
    fixes = [v.fix for v in lint(source, select=["PFL102"]).violations if v.fix is not None]
    assert fixes and all(fix.applicability is Applicability.UNSAFE for fix in fixes)
