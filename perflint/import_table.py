"""What a module's imports and other bindings say about the qualified names of its expressions, read from
Python's ``ast`` so that most qualified-name questions need no LibCST scope analysis (which costs several
times the parse).
"""

from __future__ import annotations

import ast
import builtins
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Collection, Iterator, Mapping, Optional

from perflint.traversal import ast_branch_fields, ast_children


@dataclass(frozen=True)
class ImportedNames:
    """What a module's bindings say, without scope analysis, about the names LibCST's QualifiedNameProvider
    gives an expression (``tests/speed/test_imported_names.py`` compares the two on real code).

    A name bound anywhere in the module only by imports of one module, one of them in the module's own
    scope, gets exactly the imported name at every use (and the attribute chains on it). A name bound only
    by imports (in any scopes) gets some of those imports' names, or its builtin's. The provider builds
    every other name from the expression's own first name, a scope path (whose first part is a function
    or class defined in the module, or ``<locals>``/``<comprehension>``) or ``builtins``, so an expression
    can refer to a package only through an import of its first name, or where the module binds (or defines
    something named like) the package's name itself.
    """

    exact: Mapping[str, str]
    # Every name some import binds, with the names of all the imports that bind it.
    imported: Mapping[str, frozenset[str]]
    # The imported names that nothing but imports binds.
    import_only: frozenset[str]
    bound: frozenset[str]
    defined: frozenset[str]
    # False after a star import, which may bind any name: then nothing is answered here.
    complete: bool = True

    def qualified_names(self, dotted: str) -> Optional[frozenset[str]]:
        """The qualified names of ``a.b.c`` if ``a`` is one of the exact names above or nothing in the module
        binds it (a builtin, or unknown), else None (ask the provider)."""
        head, _, rest = dotted.partition(".")
        if not self.complete:
            return None
        target = self.exact.get(head)
        if target is not None:
            return frozenset({_joined(target, rest)})
        if head in self.bound:
            return None
        return _builtin(head)

    def cannot_refer_to(self, dotted: str, targets: Collection[str]) -> bool:
        """Whether ``a.b.c`` certainly refers to none of ``targets`` (fully qualified names)."""
        if not self.complete:
            return False
        head, _, rest = dotted.partition(".")
        # Of the builtins, only the builtin named ``head`` can be meant: `batches` is never builtins.range.
        imported = {_joined(target, rest) for target in self.imported.get(head, ())} | _builtin(head)
        if not imported.isdisjoint(targets):
            return False
        if head in self.import_only:
            return True
        # Other bindings are named from ``head`` itself or from a scope path (see the class docstring).
        roots = {target.partition(".")[0] for target in targets}
        return roots.isdisjoint({head, *self.defined})


def _joined(target: str, rest: str) -> str:
    return f"{target}.{rest}" if rest else target


def _builtin(head: str) -> frozenset[str]:
    # The provider names a builtin's attribute chain by the builtin alone: `str.lower` -> builtins.str.
    return frozenset({f"builtins.{head}"}) if hasattr(builtins, head) else frozenset()


@lru_cache(maxsize=1)
def imported_names(tree: ast.Module) -> ImportedNames:
    """The ImportedNames of ``tree``, computed once per tree: a rule's prefilter and the rules' visit share it."""
    module_level_imports: set[str] = set()
    import_targets: dict[str, set[str]] = {}
    import_bindings: Counter[str] = Counter()
    bindings: Counter[str] = Counter()
    defined: set[str] = set()
    complete = True
    # Every node with whether it runs in the module's own scope; the fields skipped hold no import or binding
    # (an import's aliases are read from the import).
    stack: list[tuple[ast.AST, bool]] = [(tree, True)]
    while stack:
        node, module_level = stack.pop()
        kind = type(node)
        if kind is ast.Import or kind is ast.ImportFrom:
            if kind is ast.ImportFrom and any(alias.name == "*" for alias in node.names):  # type: ignore[attr-defined]
                complete = False
            for name, target in _import_bindings(node):
                bindings[name] += 1
                import_bindings[name] += 1
                import_targets.setdefault(name, set()).add(target)
                if module_level:
                    module_level_imports.add(name)
        elif kind is ast.Name:
            # Most nodes a walk meets are names, nearly all of them read: told apart here, without a call.
            if type(node.ctx) is not ast.Load:  # type: ignore[attr-defined]
                bindings[node.id] += 1  # type: ignore[attr-defined]
        elif kind in BINDING_TYPES:
            bindings.update(_other_bindings(node))
            if kind in DEFINITION_TYPES:
                defined.add(node.name)  # type: ignore[attr-defined]
        inner = module_level and kind not in SCOPE_TYPES
        stack.extend([(child, inner) for child in ast_children(node, ast_branch_fields(kind))])
    imported = {name: frozenset(targets) for name, targets in import_targets.items()}
    import_only = frozenset(name for name in imported if bindings[name] == import_bindings[name])
    # One target, and bound in the module's scope (a use in a scope without a binding of its own looks there).
    exact = {name: next(iter(imported[name])) for name in import_only if len(imported[name]) == 1 and name in module_level_imports}
    return ImportedNames(exact, imported, import_only, frozenset(bindings), frozenset(defined), complete)


# The nodes whose code runs in a scope of its own.
SCOPE_TYPES = frozenset(
    {ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp}
)


def _import_bindings(node: ast.AST) -> Iterator[tuple[str, str]]:
    """(bound name, the qualified name LibCST gives it) for each name an import binds. `import a.b` binds
    `a`, named "a" as after `import a`; relative imports keep their dots (`from ..m import x`: "..m.x")."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.asname is not None:
                yield alias.asname, alias.name
            else:
                head = alias.name.split(".")[0]
                yield head, head
    elif isinstance(node, ast.ImportFrom):
        package = "." * node.level + (f"{node.module}." if node.module else "")
        for alias in node.names:
            yield alias.asname or alias.name, package + alias.name


def _other_bindings(node: ast.AST) -> Iterator[str]:
    """The names ``node`` binds (or declares global/nonlocal) other than by import or as a Name."""
    if isinstance(node, ast.arg):
        yield node.arg
    elif isinstance(node, (ast.Global, ast.Nonlocal)):
        yield from node.names
    elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar, *NAMED_DEFINITIONS)):
        if node.name is not None:
            yield node.name
    elif isinstance(node, ast.MatchMapping) and node.rest is not None:
        yield node.rest


# The statements that bind their ``name`` (their names start the provider's scope paths), and with the
# type parameters of Python 3.12+, everything that binds a ``name``.
DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
DEFINITION_TYPES = frozenset(DEFINITIONS)
NAMED_DEFINITIONS = DEFINITIONS + tuple(
    kind for kind in (getattr(ast, name, None) for name in ("TypeVar", "ParamSpec", "TypeVarTuple")) if kind is not None
)
# Every node type ``_other_bindings`` reads: the loop above skips the others at once.
BINDING_TYPES = frozenset(
    {ast.arg, ast.Global, ast.Nonlocal, ast.ExceptHandler, ast.MatchAs, ast.MatchStar, ast.MatchMapping, *NAMED_DEFINITIONS}
)


NO_IMPORTED_NAMES = ImportedNames({}, {}, frozenset(), frozenset(), frozenset(), complete=False)
