"""Who refers to whom: every HelmRelease's dependsOn, chart source and valuesFrom edges, kept
current from the informer, so a change to a source, a values object or a release's readiness
finds the releases it concerns in O(1) rather than by a scan of the cache."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import api
from api.helmrelease import HelmRelease
from api.naming import chart_source_namespace, helm_chart_name
from internal.dag.graph import Graph

SourceKey = tuple[str, str]
"""(kind, 'namespace/name') of a chart source: a HelmChart or an OCIRepository."""
ValuesKey = tuple[str, str]
"""(kind, 'namespace/name') of a ConfigMap or Secret."""


@dataclass(frozen=True)
class Refs:
    depends_on: tuple[str, ...] = ()
    sources: frozenset[SourceKey] = frozenset()
    values: frozenset[ValuesKey] = frozenset()


def refs_of(hr: HelmRelease) -> Refs:
    ns = hr.metadata.namespace or "default"
    deps = tuple(f"{d.namespace or ns}/{d.name}" for d in hr.spec.depends_on or [])
    sources: set[SourceKey] = set()
    if hr.spec.chart is not None:
        sources.add(("HelmChart", f"{chart_source_namespace(hr)}/{helm_chart_name(hr)}"))
    if hr.spec.chart_ref is not None:
        ref = hr.spec.chart_ref
        sources.add((str(ref.kind), f"{ref.namespace or ns}/{ref.name}"))
    values = {(r.kind.value, f"{ns}/{r.name}") for r in hr.spec.values_from or []}
    return Refs(deps, frozenset(sources), frozenset(values))


@dataclass
class ReferenceIndex:
    _refs: dict[str, Refs] = field(default_factory=dict)
    _by_source: dict[SourceKey, set[str]] = field(default_factory=dict)
    _by_values: dict[ValuesKey, set[str]] = field(default_factory=dict)
    _graph: Graph | None = None
    _generations: dict[str, int | None] = field(default_factory=dict)

    def on_event(self, event: str, obj: dict[str, Any]) -> None:
        """An informer handler: the release's edges as it now is (none once deleted)."""
        meta = obj.get("metadata") or {}
        key = f"{meta.get('namespace')}/{meta.get('name')}"
        if event == "DELETED":
            self._generations.pop(key, None)
            self.update(key, None)
            return
        # Edges live in the spec: a status write (most events) leaves them as they are.
        generation = meta.get("generation")
        if generation is not None and self._generations.get(key) == generation:
            return
        self._generations[key] = generation
        try:
            hr = api.parse(obj)
        except api.ParseError:
            self.update(key, None)  # the reconciler reports it; it refers to nothing meanwhile
            return
        if isinstance(hr, HelmRelease):
            self.update(key, refs_of(hr))

    def update(self, key: str, refs: Refs | None) -> None:
        old = self._refs.pop(key, None) or Refs()
        new = refs or Refs()
        if refs is not None:
            self._refs[key] = refs
        if old.depends_on != new.depends_on:
            self._graph = None
        _move(self._by_source, key, old.sources, new.sources)
        _move(self._by_values, key, old.values, new.values)

    def graph(self) -> Graph:
        """The dependsOn graph, rebuilt only when an edge changed."""
        if self._graph is None:
            self._graph = Graph.build({k: r.depends_on for k, r in self._refs.items()})
        return self._graph

    def dependents(self, key: str) -> frozenset[str]:
        return self.graph().dependents.get(key, frozenset())

    def using_source(self, kind: str, key: str) -> frozenset[str]:
        return frozenset(self._by_source.get((kind, key), ()))

    def using_values(self, kind: str, key: str) -> frozenset[str]:
        return frozenset(self._by_values.get((kind, key), ()))


def _move(
    index: dict[tuple[str, str], set[str]],
    key: str,
    old: Iterable[tuple[str, str]],
    new: Iterable[tuple[str, str]],
) -> None:
    old, new = set(old), set(new)
    for ref in old - new:
        holders = index.get(ref)
        if holders is not None:
            holders.discard(key)
            if not holders:
                del index[ref]
    for ref in new - old:
        index.setdefault(ref, set()).add(key)
