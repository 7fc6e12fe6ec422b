"""PFL103 tensor-accumulated-with-graph."""

from __future__ import annotations

import ast
from typing import Optional, Union

import libcst as cst
from libcst.metadata import ParentNodeProvider, PositionProvider, QualifiedNameProvider, ScopeProvider

from perflint.analysis import ast_shapes
from perflint.analysis.bindings import bound_names
from perflint.analysis.dataflow import declarations, introspects_frame
from perflint.analysis.graph_free import GRAPH_KEEPING_METHODS, graph_roots, is_graph_free
from perflint.analysis.names import qualified_names
from perflint.analysis.syntax import TreeIndex, deferred_between, tree_index, walk_same_scope
from perflint.analysis.torch_context import GradMode, grad_context
from perflint.analysis.training_loop import BACKWARD_NAMES, backpropagated_names, enclosing_loops, enclosing_scope
from perflint.rule import Invalid, Rewrite, Rule, Valid
from perflint.types import Applicability, FixSafety, MetricImpact

Accumulation = Union[cst.AugAssign, cst.Assign]

# Fresh tensors an accumulator may start from (plain number literals are accepted too).
FRESH_TENSORS = frozenset(
    {"torch.zeros", "torch.zeros_like", "torch.ones", "torch.ones_like", "torch.tensor", "torch.scalar_tensor"}
)
# Reading the accumulator through one of these gives the same value whether or not it carries a graph.
GRAPH_BLIND_METHODS = frozenset({"item", "tolist", "detach"})
# `float(t)` is not among them: it warns "Converting a tensor with requires_grad=True to a scalar" before the fix
# and not after, which `-W error` turns into an exception.
GRAPH_BLIND_BUILTINS = frozenset({"builtins.int"})
ARITHMETIC = (cst.BinaryOperation, cst.UnaryOperation)
MESSAGE_LIMIT = 100


class TensorAccumulatedWithGraph(Rule):
    """
    ## What it does
    Finds a running total that accumulates a loss *with its autograd graph* inside a training loop:
    `total += loss` or `total = total + loss` (also `total += loss * n`, `total += loss.mean()`, any
    arithmetic that keeps the graph) where `loss` is backpropagated in the same loop (`loss.backward()`,
    `(loss / k).backward()`, `scaler.scale(loss).backward()`, `torch.autograd.backward(loss)`).

    ## Why is this bad?
    `total` becomes a tensor whose `grad_fn` chains to the previous step's `total` and to this step's
    loss, so the autograd graph of *every* step stays alive until `total` is dropped: the PyTorch FAQ's
    first memory leak. `backward()` frees the saved activations but not the graph's nodes: training an
    LSTM(32 -> 64) + linear head for 2,000 batches, `total += loss` kept 16,006 autograd nodes and 14 MiB
    more RSS than `total += loss.detach()` (about 7 KiB per step, growing for as long as the loop runs),
    with bit-identical sums (CPU, torch 2.13; `benchmarks/bench_loss_accumulation.py --batches 2000
    --batch-size 64`). Without the `backward()` the same accumulation keeps every batch's activations
    (4.4 GiB in that run); there no backward proves the graph, so only PFL104's case (a loop after
    `model.eval()`) is reported.

    ## Example
    ```python
    total_loss = 0.0
    for x, y in loader:
        loss = criterion(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total_loss += loss
    print(total_loss.item() / len(loader))
    ```

    ## Use instead
    ```python
    total_loss = 0.0
    for x, y in loader:
        loss = criterion(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total_loss += loss.detach()
    print(total_loss.item() / len(loader))
    ```

    ## Fix safety
    The fix accumulates `loss.detach()` (the whole added expression, detached): the same tensor type,
    dtype, device and value, without the graph. It is safe when the accumulator cannot be observed
    anywhere its graph matters: a local name of the function (not global, nonlocal, an attribute or an
    item; no `locals()`/`vars()`/`eval`/`exec` in the function; not used by a nested function) that starts
    from a number literal or a fresh `torch.zeros`/`torch.tensor`..., is never backpropagated, and is
    only read through `.item()`, `.tolist()`, `.detach()`, `int()`, a comparison, or an f-string field
    with a format spec, possibly after arithmetic (`total.item() / n`, `f"{total / n:.4f}"`). Those give
    the same result with or without the graph: a 0-dim tensor formats through `.item()` when a format
    spec is given. `float(total)` is left out because it warns "Converting a tensor with
    requires_grad=True to a scalar" before the fix and not after (an exception under `-W error`). The
    detach is applied to the whole added expression, so a call in it that returns its receiver unchanged
    (`.float()`, `.cpu()`, `.contiguous()`, `.to(dtype)` on a tensor already of that kind) changes nothing:
    the added values are the same either way. Grad mode set by a statement (`torch.set_grad_enabled(...)`)
    cannot change the result either: the reads above give the same values with or without a graph, and
    `.detach()` of a tensor without one is a copy of its values (both checked by executing the fixed and
    original code in `tests/rules/test_tensor_accumulated_with_graph_differential.py`). Everything else makes the fix unsafe: returning or
    yielding the total, storing or passing it anywhere (a caller could backpropagate it: after the fix
    that raises `element 0 of tensors does not require grad`), `print(total)` or `f"{total}"` (the repr
    shows `grad_fn=<AddBackward0>` before the fix and not after), `total.requires_grad`, `total.backward()`
    (gradients change), and module-level totals (importable).

    ## Metric impact
    Identical: the accumulated values are the same bits; only `requires_grad`/`grad_fn` change.

    ## Known problems
    The loss must be a name backpropagated in an enclosing loop of the same function; a loss
    backpropagated by a helper function is not seen. A rebinding of the loss to a graph-free value in the
    loop (`loss = loss.item()`) suppresses the finding. Accumulations inside `torch.no_grad()` build no
    graph and are not reported, unless the block holds a statement that turns grad mode back on
    (`torch.set_grad_enabled(True)`): then the region proves nothing and the accumulation is reported. Outside
    such blocks grad mode is read from `with` blocks and decorators only, so an accumulation after a statement
    `torch.set_grad_enabled(False)` is reported although it builds no graph (the safe fix is still exact there).

    ## Options
    None.

    ## References
    - PyTorch FAQ, "My model reports cuda runtime error(2): out of memory": "Don't accumulate history
      across your training loop".
    - `torch.Tensor.detach` documentation.
    """

    code = "PFL103"
    name = "tensor-accumulated-with-graph"
    message = "a backpropagated loss is accumulated with its autograd graph"
    fix_title = "Accumulate the detached value"
    fix_safety = FixSafety.SOMETIMES_SAFE
    unsafe_when = "the total may be backpropagated or leave the function"
    metric_impact = MetricImpact.IDENTICAL
    required_tokens = ("backward",)
    METADATA_DEPENDENCIES = (PositionProvider, ParentNodeProvider, QualifiedNameProvider, ScopeProvider)

    valid = (
        Valid(
            """
            def train(model, loader, optimizer):
                total = 0.0
                for x in loader:
                    loss = model(x).mean()
                    loss.backward()
                    optimizer.step()
                    total += loss.item()
                return total
            """
        ),
        Valid(
            """
            def train(model, loader):
                total = 0.0
                for x in loader:
                    loss = model(x).mean()
                    total += loss
                return total
            """
        ),
        Valid(
            """
            import torch
            def train(model, loader):
                total = 0.0
                for x in loader:
                    loss = model(x).mean()
                    loss.backward()
                    with torch.no_grad():
                        total += loss
                return total.item()
            """
        ),
        Valid(
            """
            def train(model, batches):
                for batch in batches:
                    loss = 0
                    for x in batch:
                        loss += model(x).mean()
                    loss.backward()
            """
        ),
    )
    invalid = (
        Invalid(
            """
            def train(model, loader, optimizer):
                total_loss = 0.0
                for x in loader:
                    loss = model(x).mean()
                    loss.backward()
                    optimizer.step()
                    total_loss += loss
                return total_loss.item() / len(loader)
            """,
            fixed="""
            def train(model, loader, optimizer):
                total_loss = 0.0
                for x in loader:
                    loss = model(x).mean()
                    loss.backward()
                    optimizer.step()
                    total_loss += loss.detach()
                return total_loss.item() / len(loader)
            """,
            message_contains="`total_loss` accumulates `loss` with its autograd graph",
        ),
        Invalid(
            """
            def train(model, loader):
                total = 0.0
                for x in loader:
                    loss = model(x).mean()
                    (loss / 4).backward()
                    total = total + loss * x.shape[0]
                return total
            """,
            fixed="""
            def train(model, loader):
                total = 0.0
                for x in loader:
                    loss = model(x).mean()
                    (loss / 4).backward()
                    total = total + (loss * x.shape[0]).detach()
                return total
            """,
            applicability=Applicability.UNSAFE,
            message_contains="is returned",
        ),
        Invalid(
            """
            class Trainer:
                def fit(self, loader):
                    for x in loader:
                        loss = self.model(x).mean()
                        loss.backward()
                        self.running += loss
            """,
            fixed="""
            class Trainer:
                def fit(self, loader):
                    for x in loader:
                        loss = self.model(x).mean()
                        loss.backward()
                        self.running += loss.detach()
            """,
            applicability=Applicability.UNSAFE,
        ),
    )

    @classmethod
    def could_match(cls, tree: ast.Module) -> bool:
        """Whether some loop holds both an accumulation (``x += e``, ``x -= e``, ``x = x + e``, ``x = e + x``) and a
        call of ``backward`` / ``grad`` (any qualification, or an import alias of one) that spells a name ``e``
        spells: the loops ``_backpropagated_root`` looks at, in any scope inside them, where a root of ``e`` (a
        name in it) may be an operand of what is differentiated (a name in the call)."""
        found = ast_shapes.shapes(tree)
        added_names: dict[int, set[str]] = {}
        for site in found.of(ast.AugAssign, ast.Assign):
            added = _ast_accumulated_value(site.node) if site.loop else None
            if added is not None:
                added_names.setdefault(id(site.loop), set()).update(ast_shapes.names_in(added))
        return bool(added_names) and any(
            not added_names.get(id(site.loop), set()).isdisjoint(ast_shapes.names_in(site.node))
            for site in ast_shapes.calls_named(tree, BACKWARD_NAMES)
            if site.loop
        )

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if isinstance(node.operator, (cst.AddAssign, cst.SubtractAssign)):
            self._check(node, node.target, node.value)

    def visit_Assign(self, node: cst.Assign) -> None:
        if len(node.targets) != 1 or not isinstance(node.value, cst.BinaryOperation):
            return
        target, value = node.targets[0].target, node.value
        if not isinstance(value.operator, cst.Add):
            return
        if value.left.deep_equals(target):
            self._check(node, target, value.right)
        elif value.right.deep_equals(target):
            self._check(node, target, value.left)

    def _check(self, statement: Accumulation, target: cst.BaseExpression, added: cst.BaseExpression) -> None:
        loss = self._backpropagated_root(statement, target, added)
        if loss is None or grad_context(self, statement).mode is GradMode.DISABLED:
            return
        reason = self._escape_reason(statement, target)
        message = _message(_code(target), loss, reason)
        applicability = Applicability.SAFE if reason is None else Applicability.UNSAFE
        change = (added, lambda updated: _detached(updated))
        title = f"Accumulate `{_code(_detached(added))}`"
        self.report(statement, message, rewrite=Rewrite(applicability, (change,), title=title))

    def _backpropagated_root(
        self, statement: Accumulation, target: cst.BaseExpression, added: cst.BaseExpression
    ) -> Optional[str]:
        """The name backpropagated in an enclosing loop whose graph ``added`` carries, if any."""
        roots = graph_roots(added)
        if not roots:
            return None
        for loop in enclosing_loops(self, statement):
            backpropagated = backpropagated_names(self, loop.body)
            if isinstance(target, cst.Name) and target.value in backpropagated:
                # `loss += term; loss.backward()` builds this step's loss: that is what should carry the graph.
                return None
            for root in sorted(roots & backpropagated):
                if root not in _rebound_without_graph(self, loop):
                    return root
        return None

    def _escape_reason(self, statement: Accumulation, target: cst.BaseExpression) -> Optional[str]:
        """Why the accumulator's graph may be observed (so the fix is unsafe), or None when it cannot be."""
        if not isinstance(target, cst.Name):
            return "is an attribute or item (seen outside)"
        function = enclosing_scope(self, statement)
        if not isinstance(function, cst.FunctionDef):
            return "is a module-level name"
        index = tree_index(self, function)
        name = target.value
        declared = declarations(self, function)
        if name in declared.own or name in declared.nested_nonlocal:
            return "is declared global or nonlocal"
        if index.memo(("introspects frame", function), lambda: introspects_frame(self, function)):
            return "may be read via locals(), vars(), eval or exec"
        if name in backpropagated_names(self, function):
            return "is backpropagated"
        for use in self._variable_uses(index, function).get(name, ()):
            reason = self._use_reason(use, name, function)
            if reason is not None:
                return reason
        return None

    def _variable_uses(self, index: TreeIndex, function: cst.FunctionDef) -> dict[str, list[cst.Name]]:
        """``syntax.variable_names(function.body)`` by name, computed once per function."""

        def uses() -> dict[str, list[cst.Name]]:
            found: dict[str, list[cst.Name]] = {}
            for name in index.under(function.body, cst.Name):
                parent = self.get_metadata(ParentNodeProvider, name)
                # Not variables: the `b` of `a.b`, the `k` of `f(k=1)`.
                if (isinstance(parent, cst.Attribute) and parent.attr is name) or (
                    isinstance(parent, cst.Arg) and parent.keyword is name
                ):
                    continue
                found.setdefault(name.value, []).append(name)
            return found

        return index.memo(("variable uses", function), uses)

    def _use_reason(self, use: cst.Name, name: str, function: cst.FunctionDef) -> Optional[str]:
        """Why this occurrence of the accumulator lets its graph be observed, or None if it does not."""
        if deferred_between(self, use, function):
            return "is used by a nested function"
        parent = self.get_metadata(ParentNodeProvider, use)
        if isinstance(parent, cst.AugAssign) and parent.target is use:
            return None
        if isinstance(parent, cst.AssignTarget):
            statement = self.get_metadata(ParentNodeProvider, parent)
            return None if self._is_fresh_or_accumulation(statement, name) else "is rebound to another value"
        if isinstance(parent, cst.Del):
            return None
        return self._consumer_reason(use, name)

    def _consumer_reason(self, use: cst.Name, name: str) -> Optional[str]:
        """Climb from a read through arithmetic to what consumes it; None when that consumer is graph-blind."""
        node: cst.CSTNode = use
        parent = self.get_metadata(ParentNodeProvider, node)
        while isinstance(parent, ARITHMETIC):
            node, parent = parent, self.get_metadata(ParentNodeProvider, parent)
        if isinstance(parent, cst.Attribute) and parent.value is node:
            call = self.get_metadata(ParentNodeProvider, parent)
            if parent.attr.value in GRAPH_BLIND_METHODS and isinstance(call, cst.Call) and call.func is parent:
                return None
            return f"is used through `.{parent.attr.value}`"
        if isinstance(parent, cst.Arg):
            call = self.get_metadata(ParentNodeProvider, parent)
            if isinstance(call, cst.Call) and len(call.args) == 1 and _refers(self, call.func, GRAPH_BLIND_BUILTINS):
                return None
            return f"is passed to `{_code(call.func)}()`" if isinstance(call, cst.Call) else "is unpacked into a call"
        if isinstance(parent, (cst.Comparison, cst.ComparisonTarget)):
            return None
        if isinstance(parent, cst.FormattedStringExpression):
            return None if _has_literal_spec(parent) else "is formatted without a spec (shows grad_fn)"
        if isinstance(parent, cst.Assign) and parent.value is node:
            targets = [t.target for t in parent.targets]
            if node is not use and all(isinstance(t, cst.Name) and t.value == name for t in targets):
                return None
            return "is assigned to another name"
        if isinstance(parent, (cst.Return, cst.Yield)):
            return "is returned"
        return "is used in a way that can observe its graph"

    def _is_fresh_or_accumulation(self, statement: cst.CSTNode, name: str) -> bool:
        if not isinstance(statement, cst.Assign):
            return False
        value = statement.value
        if isinstance(value, cst.UnaryOperation):
            value = value.expression
        if isinstance(value, (cst.Integer, cst.Float)):
            return True
        if isinstance(value, cst.Call) and _refers(self, value.func, FRESH_TENSORS):
            return True
        # `total = total + x` (or any arithmetic on total): checked as a read of `total` elsewhere.
        return isinstance(value, ARITHMETIC) and any(
            isinstance(node, cst.Name) and node.value == name for node in walk_same_scope(value)
        )



def _rebound_without_graph(rule: Rule, loop: cst.CSTNode) -> frozenset[str]:
    """The names ``loop`` rebinds to an evidently graph-free value (``loss = loss.item()``) or deletes."""
    index = tree_index(rule, loop)

    def names() -> frozenset[str]:
        found: set[str] = set()
        for node in index.same_scope(loop, cst.Assign, cst.AnnAssign, cst.Del):
            if isinstance(node, cst.Assign) and is_graph_free(rule, node.value):
                for target in node.targets:
                    found |= {name.value for name in bound_names(target.target)}
            elif isinstance(node, cst.AnnAssign) and node.value is not None and is_graph_free(rule, node.value):
                found |= {name.value for name in bound_names(node.target)}
            elif isinstance(node, cst.Del):
                found |= {name.value for name in bound_names(node.target)}
        return frozenset(found)

    return index.memo(("rebound without graph", loop), names)


def _message(target: str, loss: str, reason: Optional[str]) -> str:
    """The finding's message, at most MESSAGE_LIMIT characters: the longest of these forms that fits."""
    unsafe = "" if reason is None else f" (fix unsafe: it {reason})"
    for text in (
        f"`{target}` accumulates `{loss}` with its autograd graph{unsafe}",
        f"`{target}` accumulates `{loss}` with its graph{unsafe}",
        f"a loss is accumulated with its graph{unsafe}",
    ):
        if len(text) <= MESSAGE_LIMIT:
            return text
    return TensorAccumulatedWithGraph.message + " (fix unsafe)"


def _has_literal_spec(field: cst.FormattedStringExpression) -> bool:
    """``{x:.4f}``: a 0-dim tensor formats through ``.item()``, any other raises, with or without a graph."""
    return field.conversion is None and any(
        isinstance(part, cst.FormattedStringText) and part.value for part in field.format_spec or ()
    )


def _refers(rule: Rule, node: cst.CSTNode, targets: frozenset[str]) -> bool:
    return not qualified_names(rule, node).isdisjoint(targets)


def _detached(value: cst.BaseExpression) -> cst.Call:
    atomic = isinstance(value, (cst.Name, cst.Attribute, cst.Call, cst.Subscript)) or value.lpar
    receiver = value if atomic else value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    return cst.Call(func=cst.Attribute(value=receiver, attr=cst.Name("detach")))


def _code(node: cst.CSTNode) -> str:
    return cst.Module(body=[]).code_for_node(node)


def _ast_accumulated_value(node: ast.AugAssign | ast.Assign) -> Optional[ast.expr]:
    """The added value of ``visit_AugAssign`` / ``visit_Assign``'s shapes on Python's ast, where its outermost
    shape is one ``graph_roots`` follows (``total += loss.item()`` adds nothing a graph can come with)."""
    if isinstance(node, ast.AugAssign):
        added: Optional[ast.expr] = node.value if isinstance(node.op, (ast.Add, ast.Sub)) else None
    elif len(node.targets) != 1 or not isinstance(node.value, ast.BinOp) or not isinstance(node.value.op, ast.Add):
        added = None
    elif ast_shapes.same_expression(node.value.left, node.targets[0]):
        added = node.value.right
    elif ast_shapes.same_expression(node.value.right, node.targets[0]):
        added = node.value.left
    else:
        added = None
    return added if added is not None and _ast_may_have_roots(added) else None


def _ast_may_have_roots(node: ast.expr) -> bool:
    """Whether ``graph_roots`` may find a name in ``node``: it looks into nothing but these shapes."""
    if isinstance(node, ast.Call):
        return ast_shapes.method_name(node) in GRAPH_KEEPING_METHODS
    return isinstance(node, (ast.Name, ast.BinOp, ast.UnaryOp, ast.Subscript))
