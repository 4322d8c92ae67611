"""Who refers to what, kept from one informer's events: an object's change finds the objects
that refer to it in O(1), rather than by a scan of the referring informer's store on every
event (a source's new artifact, among a fleet of HelmCharts)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable

from controller.runtime.informer import Obj
from internal.kube.resources import key_of

RefsOf = Callable[[Obj], Iterable[Hashable]]
"""What an object refers to, as keys its referents are looked up by."""


class RefIndex:
    def __init__(self, refs_of: RefsOf) -> None:
        self._refs_of = refs_of
        self._refs: dict[str, frozenset[Hashable]] = {}
        self._referrers: dict[Hashable, set[str]] = {}

    def on_event(self, event: str, obj: Obj) -> None:
        """An informer handler: the object's references as it now is (none once deleted)."""
        key = key_of(obj)
        new = frozenset() if event == "DELETED" else frozenset(self._refs_of(obj))
        old = self._refs.pop(key, frozenset())
        if new:
            self._refs[key] = new
        for ref in old - new:
            holders = self._referrers[ref]
            holders.discard(key)
            if not holders:
                del self._referrers[ref]
        for ref in new - old:
            self._referrers.setdefault(ref, set()).add(key)

    def referring(self, ref: Hashable) -> frozenset[str]:
        """The keys of the objects that refer to `ref`."""
        return frozenset(self._referrers.get(ref, ()))
