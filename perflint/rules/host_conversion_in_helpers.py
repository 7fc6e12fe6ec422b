"""PFL106 host-conversion-in-helpers: one tensor handed to several local helpers that each convert it."""

from __future__ import annotations

import ast
import re
from typing import Iterable, Optional, Sequence

import libcst as cst
from libcst.metadata import (
    FunctionScope,
    ImportAssignment,
    ParentNodeProvider,
    PositionProvider,
    QualifiedNameProvider,
    ScopeProvider,
)

from perflint.analysis.conversion_helpers import ParameterUse, converts_first, is_docstring
from perflint.analysis.names import dotted_name, qualified_names
from perflint.analysis.conversion_sites import (
    Candidate,
    ConversionSites,
    Use,
    Verdict,
    insert_binding,
    could_repeat,
    short,
)
from perflint.analysis.dataflow import fresh_name, parent
from perflint.analysis.host_conversions import Conversion, conversion_of, only_read
from perflint.analysis.local_calls import call_sites, is_private, only_called_directly
from perflint.rule import ImportNeed, Invalid, NodeChange, Rewrite, Rule, RuleContext, Valid
from perflint.traversal import walk
from perflint.types import Applicability, FixSafety, MetricImpact

Change = tuple[cst.CSTNode, NodeChange]


class HostConversionInHelpers(Rule):
    """
    ## What it does
    Finds one tensor handed to two or more helpers of the same module (functions, or methods of the same
    class) that each convert that parameter to the host (`p.numpy()`, `p.cpu().numpy()`,
    `p.detach().cpu().numpy()`, `p.view(-1).numpy()`: any chain of PFL102's ending in `.numpy()`), and names
    the helpers. Conversions written in the caller with the same chain count too. Where some helpers cannot
    take an array (`p.mean(dim=1).numpy()` reduces in torch first; `p.std()`...) and at least two uses can,
    the fix converts for those and the others keep receiving the tensor: a partial fix.

    ## Why is this bad?
    Each helper makes its own host copy: on a CUDA tensor every `.cpu()` is a device-to-host copy plus a
    synchronisation (on an H200, converting the seed's predictions in three metric helpers instead of once was
    3.0x slower for that block). On a CPU tensor `.numpy()` is zero-copy (1-2 us) and converting once across
    three helpers measured 0.99-1.04x: the change is about one array instead of several.

    ## Example
    ```python
    def _ic(p: torch.Tensor, t):
        return np.corrcoef(p.numpy(), t)[0, 1]

    def _hit(p, t):
        return np.mean(np.sign(p.numpy()) == np.sign(t))

    def evaluate(point, t):
        return _ic(point, t), _hit(point, t)
    ```

    ## Use instead
    ```python
    def _ic(p: np.ndarray, t):
        return np.corrcoef(np.asarray(p), t)[0, 1]

    def _hit(p, t):
        return np.mean(np.sign(np.asarray(p)) == np.sign(t))

    def evaluate(point, t):
        point_np = point.numpy()
        return _ic(point_np, t), _hit(point_np, t)
    ```
    The caller converts once and passes the array; each helper's `p.numpy()` becomes `np.asarray(p)`, which
    is zero-copy for a CPU tensor, the identity for an array and raises the same error for a tensor that
    requires grad, so the helper still accepts tensors from other callers. `p.detach().cpu().numpy()` becomes
    `(p if isinstance(p, np.ndarray) else p.detach().cpu().numpy())`, since `np.asarray` raises on CUDA and
    grad tensors; every other chain ending in `.numpy()` (`p.view(-1).numpy()`) takes the same
    `isinstance` form, whose array branch receives the caller's result of that very chain. The converted parameters' annotations follow: `p: torch.Tensor` becomes `p: np.ndarray`
    when every call passes the array, else `torch.Tensor | np.ndarray` (`Union[...]`, imported from `typing`,
    in a module that neither imports `annotations` from `__future__` nor writes `X | Y` annotations), and the
    docstring's line for the parameter (`p (torch.Tensor): ... tensor`) says the same. This changes what the
    helpers accept, not only where the caller converts: a different kind
    of change from PFL102's local hoist, hence its own code. `numpy` is imported as `np` if the module does
    not import it (under a fresh alias when `np` is taken); an existing `import numpy as onp` is used as is.

    ## Fix safety
    **Safe** for bare `.numpy()` helpers that are private module-level functions (not in `__all__`,
    undecorated, only ever called directly), that use the parameter only as the receiver of that conversion,
    when the caller's side meets PFL102's conditions for a safe hoist (a local name, not rebound or given new
    storage between the calls, the first call unconditional and first in its statement, no `exec`/`eval`/
    `locals()`; between the calls the tensor goes to no other call or name: a callee could set its grad flag
    or swap its storage, which the next helper's own conversion would have seen) and the first helper converts
    before doing anything else. **Unsafe** for methods (a subclass
    elsewhere may override them) and for copying chains (`.cpu()`, `reshape`, `flatten`, `float()`: the helpers now share one copy, so an
    in-place change of one is seen by the others). No fix when a helper uses the parameter otherwise
    (`p.std()`, `p.mean()`, `p.sort()`, `p.size()` mean other things on an array; `p.mean(dim=1).numpy()`
    would move a reduction from torch to numpy, which changed the seed's Sharpe ratio in the 7th digit), when
    a helper is public, decorated or used as a value, or when helpers convert in different ways.

    ## Metric impact
    Identical: the values are the same bits; no reduction moves between torch and numpy.

    ## Known problems
    Helpers are followed one level deep, through plain calls and `self.` method calls with the tensor passed
    as a bare name. Annotations written as strings (`"torch.Tensor"`) are left as they are, and so is a
    docstring's free text beyond the parameter's own line. A runtime type checker (beartype, typeguard) sees
    the new annotations, which are true.

    ## Options
    None.

    ## References
    - `torch.Tensor.numpy` (shares memory with the tensor) and `numpy.asarray` documentation.
    - PyTorch CUDA semantics: "Asynchronous execution" (device-to-host copies synchronise).
    """

    code = "PFL106"
    name = "host-conversion-in-helpers"
    message = "A tensor is converted to the host separately by several helpers"
    fix_title = "Convert once in the caller and let the helpers accept arrays"
    fix_safety = FixSafety.SOMETIMES_SAFE
    unsafe_when = "a call between the conversions may change the tensor"
    metric_impact = MetricImpact.IDENTICAL
    required_tokens = (".numpy(", ".cpu(", ".tolist(")
    METADATA_DEPENDENCIES = (PositionProvider, ParentNodeProvider, ScopeProvider, QualifiedNameProvider)

    valid = (
        Valid(
            """
            def _ic(p, t):
                return float((p.numpy() * t).sum())

            def evaluate(point, t):
                return _ic(point, t)
            """
        ),
        Valid(
            """
            def _total(p):
                return float(p.numpy().sum())

            def _largest(p):
                return float(p.numpy().max())

            def evaluate(point, flag):
                if flag:
                    return _total(point)
                return _largest(point)
            """
        ),
    )
    invalid = (
        Invalid(
            """
            import numpy as np

            def _ic(p, t):
                return np.corrcoef(p.numpy(), t)[0, 1]

            def _hit(p, t):
                return np.mean(np.sign(p.numpy()) == np.sign(t))

            def evaluate(point, t):
                return _ic(point, t), _hit(point, t)
            """,
            fixed="""
            import numpy as np

            def _ic(p, t):
                return np.corrcoef(np.asarray(p), t)[0, 1]

            def _hit(p, t):
                return np.mean(np.sign(np.asarray(p)) == np.sign(t))

            def evaluate(point, t):
                point_np = point.numpy()
                return _ic(point_np, t), _hit(point_np, t)
            """,
            message_contains="`_ic` and `_hit`",
        ),
        Invalid(
            # `.cpu().numpy()`: hoisted, the copy is made once, and unchanged if a call between mutates the tensor.
            """
            import numpy as np

            def _ic(p, t):
                return np.corrcoef(p.cpu().numpy(), t)[0, 1]

            def _hit(p, t):
                return np.mean(np.sign(p.cpu().numpy()) == np.sign(t))

            def evaluate(point, t):
                return _ic(point, t), _hit(point, t)
            """,
            fixed="""
            import numpy as np

            def _ic(p, t):
                return np.corrcoef(p if isinstance(p, np.ndarray) else p.cpu().numpy(), t)[0, 1]

            def _hit(p, t):
                return np.mean(np.sign(p if isinstance(p, np.ndarray) else p.cpu().numpy()) == np.sign(t))

            def evaluate(point, t):
                point_np = point.cpu().numpy()
                return _ic(point_np, t), _hit(point_np, t)
            """,
            applicability=Applicability.UNSAFE,
        ),
    )

    @classmethod
    def could_match(cls, tree: ast.Module) -> bool:
        """A name passed to a helper converting a parameter, and used twice (``could_repeat``: a shape check)."""
        return could_repeat(tree, through_helpers=True)

    def __init__(self, context: RuleContext) -> None:
        super().__init__(context)
        self._sites = ConversionSites(self)
        self._pep604: Optional[bool] = None
        # A free name for numpy in this module, found once (finding it scans the whole module).
        self._fresh_numpy: Optional[str] = None

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._sites.enter_function(node)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._sites.leave_function()

    def visit_Call(self, node: cst.Call) -> None:
        self._sites.call(node)

    def leave_Module(self, original_node: cst.Module) -> None:
        for candidate in self._sites.candidates(original_node):
            # Repeats written in one function only: PFL102's.
            if candidate.through_helpers:
                self._report(original_node, candidate)

    def _report(self, module: cst.Module, candidate: Candidate) -> None:
        scope, variable, uses = candidate.scope, candidate.variable, candidate.uses
        helpers = list(dict.fromkeys(use.helper.function.name for use in uses if use.helper is not None))
        kept = list(dict.fromkeys(use.helper.function.name for use in candidate.kept if use.helper is not None))
        sample = next(use.helper for use in uses if use.helper is not None)
        message = _message(variable, helpers + kept)
        caller_verdict = self._sites.verdict(scope, variable, uses)
        if not caller_verdict.same_value:
            return  # `_ic(x, t); x = x * 2; _hit(x, t)`: two different values
        verdict = self._helpers_verdict(module, scope, variable, caller_verdict, uses)
        region = verdict.region
        if region is None or verdict.applicability is None:
            # Why there is no fix is in the docs' Fix safety section, not the message.
            self.report(uses[0].node, message)
            return
        name = self._sites.new_local(scope, region.anchor, f"{variable}_np")
        value = _rebased(sample.template, variable) if sample.template else _call(cst.Name(variable), "numpy")
        changes: list[Change] = [insert_binding(region.anchor, name, value)]
        changes += [Rewrite.replace(use.replaced, cst.Name(name)) for use in uses]
        helper_changes, imports = self._polymorphic_helpers(module, uses)
        changes += helper_changes
        title = f"Convert `{variable}` once into `{name}` and let {_enumerate(helpers)} accept arrays"
        if kept:
            title += f" ({_enumerate(kept)} {'keeps' if len(kept) == 1 else 'keep'} the tensor)"
        rewrite = Rewrite(verdict.applicability, tuple(changes), title=title, imports=imports)
        self.report(uses[0].node, message, rewrite=rewrite)

    def _helpers_verdict(
        self, module: cst.Module, scope: FunctionScope, variable: str, verdict: Verdict, uses: Sequence[Use]
    ) -> Verdict:
        """Narrow the caller's verdict by what rewriting the helpers needs."""
        helpers = [use.helper for use in uses if use.helper is not None]
        for helper in helpers:
            function = helper.function
            if helper.obstacle:
                return Verdict(None, None)  # the helper cannot take an array (helper.obstacle says why)
            if not is_private(function, module):
                return Verdict(None, None)  # a public helper: callers elsewhere pass tensors
            if not only_called_directly(self, function, module):
                return Verdict(None, None)  # the helper is used as a value
            if function.definition.decorators:
                return Verdict(None, None)  # the helper is decorated
        if len({helper.chain for helper in helpers}) > 1:
            return Verdict(None, None)  # converted in different ways
        if verdict.applicability is not Applicability.SAFE:
            return verdict
        region = verdict.region
        assert region is not None
        passed = {id(use.replaced) for use in uses} | {
            id(step) for use in uses if use.helper is None for step in conversion_of(use.node).steps  # type: ignore[union-attr]
        }
        if not only_read(self, region.statements, variable, passed, last=uses[-1].node):
            # `_ic(x, t); touch(x); _hit(x, t)`: `touch` may set `x`'s grad flag or swap its storage, which
            # the second helper's conversion would have seen (also a helper left on the tensor).
            return Verdict(region, Applicability.UNSAFE)
        first = uses[0].helper
        exact = (
            all(helper.function.owner is None for helper in helpers)
            and all(helper.template is None or not helper.template.copies for helper in helpers)
            and (first is None or (isinstance(uses[0].node, cst.Call) and converts_first(self, first, uses[0].node, scope)))
        )
        return verdict if exact else Verdict(verdict.region, Applicability.UNSAFE)


    def _polymorphic_helpers(self, module: cst.Module, uses: Sequence[Use]) -> tuple[list[Change], tuple[ImportNeed, ...]]:
        """Rewrite each helper so that it accepts an array as well as a tensor, keeping its annotations and
        docstring true; the imports that needs."""
        helpers = [use.helper for use in uses if use.helper is not None]
        distinct = list({(id(helper.function.definition), helper.param): helper for helper in helpers}.values())
        pending = [helper for helper in distinct if helper.conversions]
        if not pending:
            return [], ()
        alias, imports = self._numpy_alias(module, [helper.function.definition for helper in pending])
        changes: list[Change] = []
        for helper in pending:
            for conversion in helper.conversions:
                spelled = _array_or_tensor(conversion, helper.param, alias, self._stands_alone(conversion.node))
                changes.append(Rewrite.replace(conversion.node, spelled))
        calls = {id(use.node) for use in uses if use.helper is not None}
        typing: list[ImportNeed] = []
        for helper in distinct:
            # Another caller may still pass a tensor: the parameter then holds either.
            only_arrays = all(id(call) in calls for call in call_sites(self, helper.function, module))
            annotation_changes, needs = self._annotation(module, helper, alias, only_arrays)
            changes += annotation_changes
            typing += needs
            changes += _docstring(helper, alias, only_arrays)
        return changes, tuple(dict.fromkeys([*imports, *typing]))

    def _annotation(
        self, module: cst.Module, helper: ParameterUse, alias: str, only_arrays: bool
    ) -> tuple[list[Change], list[ImportNeed]]:
        """``p: torch.Tensor`` becomes ``p: np.ndarray``, or ``torch.Tensor | np.ndarray`` (``Union[...]`` in a
        module that neither imports ``annotations`` from ``__future__`` nor writes ``X | Y`` annotations)."""
        param = _param(helper.function.definition, helper.param)
        if param is None or param.annotation is None:
            return [], []
        finder = _TensorNames(self)
        walk(param.annotation.annotation, finder)
        if not finder.found:
            return [], []
        array = cst.Attribute(cst.Name(alias), cst.Name("ndarray"))
        changes: list[Change] = []
        needs: list[ImportNeed] = []
        pep604 = self._writes_pep604(module)
        for node in finder.found:
            if only_arrays:
                changes.append(Rewrite.replace(node, array))
            elif pep604:
                changes.append(Rewrite.replace(node, cst.BinaryOperation(node.deep_clone(), cst.BitOr(), array)))
            else:
                union = cst.Subscript(
                    cst.Name("Union"),
                    [cst.SubscriptElement(cst.Index(node.deep_clone())), cst.SubscriptElement(cst.Index(array))],
                )
                changes.append(Rewrite.replace(node, union))
                needs.append(("typing", "Union"))
        return changes, needs

    def _writes_pep604(self, module: cst.Module) -> bool:
        if self._pep604 is None:
            finder = _Pep604Finder()
            walk(module, finder)
            self._pep604 = finder.found
        return self._pep604

    def _stands_alone(self, node: cst.CSTNode) -> bool:
        """Whether ``node`` is a whole argument, assigned value or returned value (no parentheses needed)."""
        above = parent(self, node)
        return isinstance(above, (cst.Arg, cst.Assign, cst.Return)) and getattr(above, "value", None) is node

    def _numpy_alias(
        self, module: cst.Module, definitions: Sequence[cst.FunctionDef]
    ) -> tuple[str, tuple[ImportNeed, ...]]:
        """The module's own name for numpy if every helper sees it (``import numpy as onp`` gives ``onp``),
        else ``np`` (or a fresh alias when ``np`` is taken) and the import the fix adds for it."""
        for small in _module_imports(module):
            for alias in small.names:
                if dotted_name(alias.name) != "numpy":
                    continue
                bound = (dotted_name(alias.asname.name) or "") if alias.asname is not None else "numpy"
                if all(self._sees_import(definition, bound, small) for definition in definitions):
                    return bound, ()
        if self._fresh_numpy is None:
            self._fresh_numpy = fresh_name(self, module.body[0], "np")
        return self._fresh_numpy, (("numpy", None, self._fresh_numpy),)

    def _sees_import(self, definition: cst.FunctionDef, bound: str, statement: cst.Import) -> bool:
        assignments = list(self.get_metadata(ScopeProvider, definition.body)[bound])
        return bool(assignments) and all(
            isinstance(assignment, ImportAssignment) and assignment.node is statement for assignment in assignments
        )


def _array_or_tensor(conversion: Conversion, param: str, numpy: str, stands_alone: bool) -> cst.BaseExpression:
    """``np.asarray(p)`` for a bare ``p.numpy()``, else ``(p if isinstance(p, np.ndarray) else <conversion>)``."""
    if conversion.bare_numpy:
        return cst.Call(cst.Attribute(cst.Name(numpy), cst.Name("asarray")), [cst.Arg(cst.Name(param))])
    test = cst.Call(
        cst.Name("isinstance"), [cst.Arg(cst.Name(param)), cst.Arg(cst.Attribute(cst.Name(numpy), cst.Name("ndarray")))]
    )
    parentheses = {} if stands_alone else {"lpar": [cst.LeftParen()], "rpar": [cst.RightParen()]}
    return cst.IfExp(test=test, body=cst.Name(param), orelse=conversion.node.deep_clone(), **parentheses)


def _rebased(template: Conversion, variable: str) -> cst.BaseExpression:
    """The chain of ``template`` applied to ``variable``."""
    value: cst.BaseExpression = cst.Name(variable)
    for step in template.steps:
        assert isinstance(step.func, cst.Attribute)
        value = step.with_changes(func=step.func.with_changes(value=value))
    return value


def _call(receiver: cst.BaseExpression, method: str) -> cst.Call:
    return cst.Call(cst.Attribute(receiver, cst.Name(method)))


def _message(variable: str, helpers: Sequence[str]) -> str:
    """At most 100 characters: long names are cut, and the helpers counted instead of named if still too long."""
    message = f"`{short(variable, 30)}` is converted separately by {_enumerate([short(name, 24) for name in helpers])}"
    return message if len(message) <= 100 else f"`{short(variable, 30)}` is converted separately by {len(helpers)} helpers"


def _enumerate(names: Sequence[str]) -> str:
    quoted = [f"`{name}`" for name in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _module_imports(module: cst.Module) -> Iterable[cst.Import]:
    for statement in module.body:
        if isinstance(statement, cst.SimpleStatementLine):
            yield from (small for small in statement.body if isinstance(small, cst.Import))




def _param(definition: cst.FunctionDef, name: str) -> Optional[cst.Param]:
    params = definition.params
    return next((p for p in (*params.posonly_params, *params.params, *params.kwonly_params) if p.name.value == name), None)


class _TensorNames(cst.CSTVisitor):
    """Nodes of an annotation that name ``torch.Tensor`` (``torch.Tensor``, ``Tensor``, ``th.Tensor``)."""

    def __init__(self, rule: Rule) -> None:
        super().__init__()
        self.rule = rule
        self.found: list[cst.BaseExpression] = []

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        if "torch.Tensor" in qualified_names(self.rule, node):
            self.found.append(node)
            return False
        return True

    def visit_Name(self, node: cst.Name) -> None:
        if "torch.Tensor" in qualified_names(self.rule, node):
            self.found.append(node)


class _Pep604Finder(cst.CSTVisitor):
    """``from __future__ import annotations``, or an annotation written ``X | Y``: the module's union style."""

    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if isinstance(node.module, cst.Name) and node.module.value == "__future__" and not isinstance(node.names, cst.ImportStar):
            self.found |= any(isinstance(alias.name, cst.Name) and alias.name.value == "annotations" for alias in node.names)

    def visit_Annotation(self, node: cst.Annotation) -> bool:
        self.found |= isinstance(node.annotation, cst.BinaryOperation) and isinstance(node.annotation.operator, cst.BitOr)
        return False


def _docstring(helper: ParameterUse, alias: str, only_arrays: bool) -> list[Change]:
    """The helper's docstring line describing the parameter (``p: ...``, ``p (torch.Tensor): ...``,
    ``p : torch.Tensor``) with its type words for the array: ``Tensor`` -> ``np.ndarray`` and ``tensor`` ->
    ``array``, or "... or ..." of both where other callers still pass tensors."""
    body = helper.function.definition.body
    statements = body.body if isinstance(body, cst.IndentedBlock) else ()
    if not statements or not is_docstring(statements[0]):
        return []
    node = statements[0].body[0].value  # type: ignore[attr-defined]
    if not isinstance(node, cst.SimpleString):
        return []
    line = re.compile(rf"^(\s*\*{{0,2}}{re.escape(helper.param)}\b\s*(?:\([^)]*\))?\s*:.*)$", re.MULTILINE)
    array = f"{alias}.ndarray"

    def retyped(match: re.Match[str]) -> str:
        text = re.sub(r"\b(?:torch\.)?Tensor\b", array if only_arrays else rf"\g<0> or {array}", match.group(1))
        return re.sub(r"\btensor\b", "array" if only_arrays else "tensor or array", text)

    new = line.sub(retyped, node.value)
    return [Rewrite.replace(node, node.with_changes(value=new))] if new != node.value else []
