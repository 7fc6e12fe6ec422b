"""What a module imports, read from Python's ``ast`` for rules' cheap ``could_match`` checks (no LibCST).

A rule whose every finding needs a qualified name in some package (``pandas.DataFrame``, ``torch.no_grad``)
cannot match a module where LibCST's QualifiedNameProvider can give no name in that package, and that
provider builds names only from imports and from bindings of the package's own name.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class ImportTable:
    """The modules a module imports and every identifier it uses (to catch ``torch = load()``)."""

    modules: frozenset[str]
    identifiers: frozenset[str]

    def may_use(self, package: str) -> bool:
        """Whether a qualified name in ``package`` (e.g. ``pandas.DataFrame`` for "pandas") can occur here."""
        prefix = package + "."
        return package in self.identifiers or any(
            module == package or module.startswith(prefix) for module in self.modules
        )


@lru_cache(maxsize=1)
def import_table(tree: ast.Module) -> ImportTable:
    """The ImportTable of ``tree``, computed once per tree however many rules ask (ast nodes hash by identity)."""
    modules: set[str] = set()
    identifiers: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module is not None:
            # Relative imports resolve to ".name", never to an installed package's name.
            modules.add(node.module)
        elif isinstance(node, ast.Name):
            identifiers.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            identifiers.add(node.name)
        elif isinstance(node, ast.arg):
            identifiers.add(node.arg)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            identifiers.update(node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name is not None:
            identifiers.add(node.name)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name is not None:
            identifiers.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest is not None:
            identifiers.add(node.rest)
    return ImportTable(frozenset(modules), frozenset(identifiers))
