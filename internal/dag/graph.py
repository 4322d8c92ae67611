"""A dependsOn graph keyed by 'namespace/name'. Pure: built from data, answers questions.

Cycles are found with Tarjan's strongly connected components, so every member of a cycle can be
told the whole cycle, not just that one exists (the stdlib's graphlib reports one path only).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Graph:
    edges: Mapping[str, tuple[str, ...]]
    """node -> the nodes it depends on."""
    dependents: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """node -> the nodes that depend on it."""

    @classmethod
    def build(cls, edges: Mapping[str, Iterable[str]]) -> Graph:
        fixed = {node: tuple(dict.fromkeys(deps)) for node, deps in edges.items()}
        reverse: dict[str, set[str]] = {}
        for node, deps in fixed.items():
            for dep in deps:
                reverse.setdefault(dep, set()).add(node)
        return cls(fixed, {k: frozenset(v) for k, v in reverse.items()})

    def missing(self, node: str) -> list[str]:
        """Dependencies of `node` that are not in the graph."""
        return [dep for dep in self.edges.get(node, ()) if dep not in self.edges]

    def cycles(self) -> list[list[str]]:
        """Each cycle as its members in dependency order, starting from the smallest name."""
        found = []
        for component in _strongly_connected(self.edges):
            if len(component) > 1 or component[0] in self.edges.get(component[0], ()):
                found.append(_order_cycle(component, self.edges))
        return sorted(found)

    def cycle_of(self, node: str) -> list[str] | None:
        """The cycle `node` is in, found among the nodes it reaches only: asked on every
        reconcile of a release with dependencies, it must not walk the whole fleet."""
        if node not in self.edges:
            return None
        for component in _strongly_connected(self.edges, (node,)):
            if node in component and (len(component) > 1 or node in self.edges[node]):
                return _order_cycle(component, self.edges)
        return None

    def levels(self) -> list[list[str]]:
        """Nodes by depth: level 0 depends on nothing in the graph. Nodes in or behind a cycle
        never become installable and are left out."""
        waiting = {n: len({d for d in deps if d in self.edges}) for n, deps in self.edges.items()}
        out: list[list[str]] = []
        ready = sorted(n for n, count in waiting.items() if count == 0)
        while ready:
            out.append(ready)
            unlocked = []
            for node in ready:
                for dependent in self.dependents.get(node, ()):
                    waiting[dependent] -= 1
                    if waiting[dependent] == 0:
                        unlocked.append(dependent)
            ready = sorted(unlocked)
        return out


def describe_cycle(cycle: list[str]) -> str:
    """'a -> b -> c -> a': each arrow reads 'depends on'."""
    return " -> ".join([*cycle, cycle[0]])


def _order_cycle(component: list[str], edges: Mapping[str, tuple[str, ...]]) -> list[str]:
    members = set(component)
    start = min(component)
    order = [start]
    seen = {start}
    cur = start
    while True:
        nxt = sorted(d for d in edges.get(cur, ()) if d in members and d not in seen)
        if not nxt:
            break
        cur = nxt[0]
        order.append(cur)
        seen.add(cur)
    # A component may hold more nodes than one simple cycle visits; list the rest after it.
    order.extend(sorted(members - seen))
    return order


def _strongly_connected(
    edges: Mapping[str, tuple[str, ...]], roots: Iterable[str] | None = None
) -> list[list[str]]:
    """The strongly connected components among the nodes reachable from `roots` (all nodes
    when None)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    result: list[list[str]] = []
    counter = 0

    for root in sorted(edges) if roots is None else roots:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            deps = [d for d in edges.get(node, ()) if d in edges]
            if i < len(deps):
                work.append((node, i + 1))
                dep = deps[i]
                if dep not in index:
                    work.append((dep, 0))
                elif dep in on_stack:
                    low[node] = min(low[node], index[dep])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                result.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return result
