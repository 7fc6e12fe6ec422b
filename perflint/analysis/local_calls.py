"""Calls of functions defined in the same module: which definition a call reaches, and who else can call it.

The visitor must declare ScopeProvider and ParentNodeProvider.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import libcst as cst
from libcst import MetadataDependent
from libcst.metadata import FunctionScope, ScopeProvider

from perflint.analysis.syntax import TreeIndex, parent, tree_index
from perflint.traversal import walk


@dataclass(frozen=True)
class LocalFunction:
    """A function of this module reached by a call: a module-level ``def``, or a method called through ``self``."""

    definition: cst.FunctionDef
    owner: Optional[cst.ClassDef]

    @property
    def name(self) -> str:
        """The function's name."""
        return self.definition.name.value

    @property
    def parameters(self) -> list[cst.Param]:
        """Parameters that a call's positional arguments fill, in order (``self`` excluded for methods)."""
        params = [*self.definition.params.posonly_params, *self.definition.params.params]
        return params[1:] if self.owner is not None else params


def called_function(visitor: MetadataDependent, call: cst.Call, caller: cst.FunctionDef) -> Optional[LocalFunction]:
    """The local function ``call`` (made inside ``caller``) certainly reaches, else None.

    ``f(...)`` reaches a module-level ``def f`` when that is the only binding of ``f`` the call can see;
    ``self.m(...)`` reaches ``def m`` of the class whose method ``caller`` is, when ``self`` is the caller's
    first parameter, never rebound, and the class binds ``m`` once (a subclass elsewhere may still override it).
    """
    if isinstance(call.func, cst.Name):
        return _module_function(visitor, call.func)
    if isinstance(call.func, cst.Attribute) and isinstance(call.func.value, cst.Name):
        return _method_through_self(visitor, call.func, caller)
    return None


def parameter_for(function: LocalFunction, call: cst.Call, argument: cst.Arg) -> Optional[str]:
    """The name of the parameter ``argument`` of ``call`` binds, else None (star arguments, ``*args``...)."""
    if any(arg.star for arg in call.args):
        return None
    if argument.keyword is not None:
        names = {param.name.value for param in (*function.parameters, *function.definition.params.kwonly_params)}
        return argument.keyword.value if argument.keyword.value in names else None
    positional = [arg for arg in call.args if arg.keyword is None]
    position = next(i for i, arg in enumerate(positional) if arg is argument)
    parameters = function.parameters
    return parameters[position].name.value if position < len(parameters) else None


def is_private(function: LocalFunction, module: cst.Module) -> bool:
    """A leading underscore (not a dunder) and, for module-level functions, no mention in ``__all__``."""
    name = function.name
    if not name.startswith("_") or name.endswith("__"):
        return False
    return function.owner is not None or name not in _exported(module)


def only_called_directly(visitor: MetadataDependent, function: LocalFunction, module: cst.Module) -> bool:
    """Whether every reference to ``function`` in the module calls it (it is never passed, stored or returned).

    For a method, every attribute ``.name`` anywhere in the module must be called, and no other class of the
    module may define a method of that name.
    """
    if function.owner is None:
        scope = visitor.get_metadata(ScopeProvider, function.definition)
        assignments = list(scope.assignments[function.name])
        return len(assignments) == 1 and all(_is_called(visitor, access.node) for access in assignments[0].references)
    attributes, definitions = _named_in_module(visitor, module, function.name)
    return all(_is_called(visitor, node) for node in attributes) and definitions == 1


def call_sites(visitor: MetadataDependent, function: LocalFunction, module: cst.Module) -> list[cst.Call]:
    """The calls of ``function`` in the module (every call, when ``only_called_directly`` holds)."""
    if function.owner is None:
        scope = visitor.get_metadata(ScopeProvider, function.definition)
        references = [access.node for assignment in scope.assignments[function.name] for access in assignment.references]
    else:
        references, _definitions = _named_in_module(visitor, module, function.name)
    calls = [parent(visitor, node) for node in references]
    return [call for call, node in zip(calls, references) if isinstance(call, cst.Call) and call.func is node]


def _module_function(visitor: MetadataDependent, name: cst.Name) -> Optional[LocalFunction]:
    index = tree_index(visitor, name)
    module_level = [d for d in _definitions(index, name.value) if isinstance(parent(visitor, d), cst.Module)]
    if not module_level:
        return None  # no module-level `def` of that name: decided without the module's scope analysis
    if len(module_level) == 1 and _sole_binding(visitor, index, module_level[0]):
        return LocalFunction(module_level[0], None)
    scope = visitor.get_metadata(ScopeProvider, name, None)
    if scope is None:
        return None
    assignments = list(scope[name.value])
    if len(assignments) != 1:
        return None
    definition = getattr(assignments[0], "node", None)
    if not isinstance(definition, cst.FunctionDef) or not isinstance(parent(visitor, definition), cst.Module):
        return None
    return LocalFunction(definition, None)


def _sole_binding(visitor: MetadataDependent, index: TreeIndex, definition: cst.FunctionDef) -> bool:
    """Whether ``definition``'s name is spelled nowhere else in the module but as a callee, an attribute's name
    or a keyword argument's name: then nothing else binds it, and every ``name(...)`` reaches ``definition``
    (the answer the scope analysis gives, without running it)."""
    for node in index.grouped(cst.Name, _name_value, "name value").get(definition.name.value, []):
        holder = parent(visitor, node)
        if node is definition.name or _is_plain_use(holder, node):
            continue
        return False
    return True


def _is_plain_use(holder: cst.CSTNode, node: cst.Name) -> bool:
    """``node(...)``, ``x.node`` or ``f(node=...)``: spellings of a name that never bind it."""
    if isinstance(holder, cst.Call):
        return holder.func is node
    if isinstance(holder, cst.Attribute):
        return holder.attr is node
    return isinstance(holder, cst.Arg) and holder.keyword is node


def _method_through_self(
    visitor: MetadataDependent, attribute: cst.Attribute, caller: cst.FunctionDef
) -> Optional[LocalFunction]:
    owner = _class_of(visitor, caller)
    params = [*caller.params.posonly_params, *caller.params.params]
    if owner is None or not params or params[0].name.value != attribute.value.value:
        return None
    method = _method_bound_once(visitor, owner, attribute.attr.value)
    if method is None:
        return None  # checked before the scope: most calls through `self` are not of the class's own methods
    scope = visitor.get_metadata(ScopeProvider, attribute.value, None)
    if not isinstance(scope, FunctionScope) or len(scope.assignments[attribute.value.value]) != 1:
        return None
    return LocalFunction(method, owner)


def _method_bound_once(visitor: MetadataDependent, owner: cst.ClassDef, name: str) -> Optional[cst.FunctionDef]:
    """The ``def name`` of ``owner``'s body when it is the body's only binding of ``name``, else None."""
    if not _defined_in_module(visitor, owner, name):
        return None
    bound = [statement for statement in owner.body.body if _binds_in_class(visitor, statement, name)]
    return bound[0] if len(bound) == 1 and isinstance(bound[0], cst.FunctionDef) else None


def _class_of(visitor: MetadataDependent, function: cst.FunctionDef) -> Optional[cst.ClassDef]:
    block = parent(visitor, function)
    owner = parent(visitor, block) if isinstance(block, cst.IndentedBlock) else None
    return owner if isinstance(owner, cst.ClassDef) else None


def _binds_in_class(visitor: MetadataDependent, statement: cst.BaseStatement, name: str) -> bool:
    if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
        return statement.name.value == name
    targets = tree_index(visitor, statement).under(statement, cst.AssignTarget)
    return any(isinstance(target.target, cst.Name) and target.target.value == name for target in targets)


def _named_in_module(visitor: MetadataDependent, module: cst.Module, name: str) -> tuple[list[cst.Attribute], int]:
    """The attributes ``.name`` anywhere in ``module``, in source order, and how many ``def name`` it holds."""
    index = tree_index(visitor, module)
    attributes = index.grouped(cst.Attribute, _attribute_name, "attribute name").get(name, [])
    return attributes, len(_definitions(index, name))


def _defined_in_module(visitor: MetadataDependent, node: cst.CSTNode, name: str) -> bool:
    """Whether a ``def name`` (at any depth) is in the module that holds ``node``."""
    return bool(_definitions(tree_index(visitor, node), name))


def _definitions(index: TreeIndex, name: str) -> list[cst.FunctionDef]:
    return index.grouped(cst.FunctionDef, _defined_name, "defined name").get(name, [])


def _name_value(node: cst.Name) -> str:
    return node.value


def _attribute_name(node: cst.Attribute) -> str:
    return node.attr.value


def _defined_name(node: cst.FunctionDef) -> str:
    return node.name.value


def _is_called(visitor: MetadataDependent, node: cst.CSTNode) -> bool:
    call = parent(visitor, node)
    return isinstance(call, cst.Call) and call.func is node


def _exported(module: cst.Module) -> set[str]:
    """Strings written in any module-level assignment to ``__all__``."""
    names: set[str] = set()
    for statement in module.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            targets = _assigned_names(small)
            if "__all__" in targets:
                finder = _StringFinder()
                walk(small, finder)
                names |= finder.strings
    return names


def _assigned_names(small: cst.BaseSmallStatement) -> set[str]:
    if isinstance(small, cst.Assign):
        return {target.target.value for target in small.targets if isinstance(target.target, cst.Name)}
    if isinstance(small, (cst.AugAssign, cst.AnnAssign)) and isinstance(small.target, cst.Name):
        return {small.target.value}
    return set()


class _StringFinder(cst.CSTVisitor):
    def __init__(self) -> None:
        super().__init__()
        self.strings: set[str] = set()

    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        value = node.evaluated_value
        if isinstance(value, str):
            self.strings.add(value)
