"""Metadata resolved on first use: a provider runs only if some rule asks it about some node.

Resolving ScopeProvider + QualifiedNameProvider costs ~8x LibCST's parse, ParentNodeProvider and
PositionProvider ~2.5x each, and most files give the rules nothing to ask about. Each provider still
runs over the whole module (LibCST providers have no per-node mode), so the values are exactly those
that eager resolution gives; only when they are computed changes.
"""

from __future__ import annotations

from typing import Iterator, Mapping, Optional, Sequence

import libcst as cst
from libcst.metadata import MetadataWrapper
from libcst.metadata.base_provider import ProviderT


class NeedsEagerResolution(BaseException):
    """A provider hit the recursion limit when resolved inside the visit: resolve before visiting instead.

    A BaseException so that a rule's crash guard (``except Exception``) does not swallow it: the whole
    visit is redone eagerly, which is how the file would have been checked without laziness.
    """


class LazyMetadata(Mapping[cst.CSTNode, object]):
    """One provider's node -> value mapping for a module, computed on the first lookup."""

    def __init__(self, wrapper: MetadataWrapper, provider: ProviderT) -> None:
        self._wrapper = wrapper
        self._provider = provider
        self._values: Optional[Mapping[cst.CSTNode, object]] = None

    def _resolved(self) -> Mapping[cst.CSTNode, object]:
        if self._values is None:
            try:
                # The wrapper caches every provider it resolves, so dependencies shared by two
                # providers (Scope under QualifiedName) are computed once.
                self._values = self._wrapper.resolve(self._provider)
            except RecursionError:
                # Resolving inside the visit doubles the stack depth (visit + provider's own visit).
                raise NeedsEagerResolution() from None
        return self._values

    def __getitem__(self, node: cst.CSTNode) -> object:
        return self._resolved()[node]

    def __iter__(self) -> Iterator[cst.CSTNode]:
        return iter(self._resolved())

    def __len__(self) -> int:
        return len(self._resolved())


def visit_lazily(wrapper: MetadataWrapper, visitors: Sequence[cst.BatchableCSTVisitor]) -> None:
    """``wrapper.visit_batched(visitors)``, with each metadata provider resolved when first asked for.

    Raises NeedsEagerResolution when a provider could not be resolved inside the visit.
    """
    providers = {provider for visitor in visitors for provider in visitor.get_inherited_dependencies()}
    # One mapping per provider, shared by every visitor, so each is resolved at most once.
    lazy = {provider: LazyMetadata(wrapper, provider) for provider in providers}
    for visitor in visitors:
        visitor.metadata = {provider: lazy[provider] for provider in visitor.get_inherited_dependencies()}
    try:
        cst.visit_batched(wrapper.module, visitors)
    finally:
        for visitor in visitors:
            visitor.metadata = {}
