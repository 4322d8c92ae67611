"""The dependsOn graph: cycles named whole, missing dependencies, levels, dependents."""

from __future__ import annotations

import random

import pytest

from internal.dag.graph import Graph, describe_cycle


def test_tree_levels_and_no_cycles() -> None:
    g = Graph.build(
        {
            "ns/db": [],
            "ns/cache": [],
            "ns/api": ["ns/db", "ns/cache"],
            "ns/web": ["ns/api"],
            "other/worker": ["ns/db"],
        }
    )
    assert g.cycles() == []
    assert g.levels() == [["ns/cache", "ns/db"], ["ns/api", "other/worker"], ["ns/web"]]
    assert g.dependents["ns/db"] == {"ns/api", "other/worker"}


def test_three_cycle_is_named_whole_for_every_member() -> None:
    g = Graph.build({"ns/a": ["ns/b"], "ns/b": ["ns/c"], "ns/c": ["ns/a"], "ns/d": ["ns/a"]})
    assert g.cycles() == [["ns/a", "ns/b", "ns/c"]]
    for member in ("ns/a", "ns/b", "ns/c"):
        cycle = g.cycle_of(member)
        assert cycle is not None
        assert describe_cycle(cycle) == "ns/a -> ns/b -> ns/c -> ns/a"
    assert g.cycle_of("ns/d") is None
    # d waits on a cycle, so it has no level: it can never install.
    assert g.levels() == []


def test_self_dependency_is_a_cycle() -> None:
    g = Graph.build({"ns/a": ["ns/a"], "ns/b": []})
    assert g.cycles() == [["ns/a"]]
    assert describe_cycle(["ns/a"]) == "ns/a -> ns/a"
    assert g.levels() == [["ns/b"]]


def test_two_separate_cycles() -> None:
    g = Graph.build({"x/1": ["x/2"], "x/2": ["x/1"], "y/1": ["y/2"], "y/2": ["y/1"]})
    assert g.cycles() == [["x/1", "x/2"], ["y/1", "y/2"]]


def test_missing_dependency_is_named() -> None:
    g = Graph.build({"ns/app": ["ns/db", "ns/ghost"], "ns/db": []})
    assert g.missing("ns/app") == ["ns/ghost"]
    assert g.missing("ns/db") == []


@pytest.mark.parametrize("seed", range(20))
def test_random_dags_have_no_cycles_and_levels_respect_edges(seed: int) -> None:
    rng = random.Random(seed)
    nodes = [f"ns/n{i}" for i in range(40)]
    edges = {n: rng.sample(nodes[:i], k=min(i, rng.randint(0, 3))) for i, n in enumerate(nodes)}
    g = Graph.build(edges)
    assert g.cycles() == []
    level = {n: depth for depth, names in enumerate(g.levels()) for n in names}
    assert set(level) == set(nodes)
    for node, deps in edges.items():
        for dep in deps:
            assert level[dep] < level[node]


def test_large_chain_does_not_recurse_too_deep() -> None:
    nodes = [f"ns/n{i}" for i in range(5000)]
    g = Graph.build({n: [nodes[i - 1]] if i else [] for i, n in enumerate(nodes)})
    assert g.cycles() == []
    assert len(g.levels()) == 5000
    g2 = Graph.build({n: [nodes[i - 1]] for i, n in enumerate(nodes)})  # closes the loop
    (cycle,) = g2.cycles()
    assert len(cycle) == 5000


@pytest.mark.parametrize("seed", range(20))
def test_cycle_of_agrees_with_cycles_on_random_graphs(seed: int) -> None:
    rng = random.Random(seed)
    nodes = [f"ns/n{i}" for i in range(30)]
    g = Graph.build({n: rng.sample(nodes, k=rng.randint(0, 2)) for n in nodes})
    member_of = {m: cycle for cycle in g.cycles() for m in cycle}
    for node in nodes:
        assert g.cycle_of(node) == member_of.get(node)
    assert g.cycle_of("ns/absent") is None


class CountingEdges(dict[str, tuple[str, ...]]):
    """Edges that remember which nodes were looked up."""

    def __init__(self, edges: dict[str, tuple[str, ...]]) -> None:
        super().__init__(edges)
        self.read: set[str] = set()

    def get(self, key: str, default: object = None) -> tuple[str, ...]:  # type: ignore[override]
        self.read.add(key)
        return super().get(key, ())

    def __getitem__(self, key: str) -> tuple[str, ...]:
        self.read.add(key)
        return super().__getitem__(key)


def test_cycle_of_reads_only_what_the_node_reaches() -> None:
    # A fleet of independent pairs plus one cycle: asking about one pair must not walk the
    # other thousands (it is asked on every reconcile of a release with dependencies).
    edges = {f"ns/a{i}": (f"ns/b{i}",) for i in range(2000)}
    edges |= {f"ns/b{i}": () for i in range(2000)}
    edges |= {"ns/x": ("ns/y",), "ns/y": ("ns/x",)}
    counting = CountingEdges(edges)
    g = Graph(counting)
    assert g.cycle_of("ns/a7") is None
    assert counting.read == {"ns/a7", "ns/b7"}
    counting.read.clear()
    assert g.cycle_of("ns/x") == ["ns/x", "ns/y"]
    assert counting.read == {"ns/x", "ns/y"}
