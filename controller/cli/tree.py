"""`helmward tree NAME`: a HelmRelease with what it depends on and what depends on it (both
transitively, each with its Ready), its source chain (HelmRelease -> HelmChart ->
HelmRepository, GitRepository or Bucket; or chartRef -> OCIRepository or HelmChart), and the
objects of its inventory with their health as the API reports it now. Exit 1 when the release
is not Ready."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rich.tree import Tree

import api
from api.naming import chart_source_namespace, helm_chart_name
from controller.cli import output
from controller.cli.command import Command, Exit
from controller.cli.objects import (
    Item,
    find_release,
    get_item,
    list_items,
    one_line,
    truncate_hex,
)
from controller.cli.session import Session, open_session
from internal.kube import rest
from internal.kube.client import ApiException
from internal.kube.discovery import Discovery

_RBAC_GROUP = "rbac.authorization.k8s.io"


@dataclass
class Node:
    """One line of the tree: what it is, its state in a word or two, and more after it."""

    kind: str
    namespace: str
    name: str
    state: str
    ok: bool
    detail: str = ""
    children: list[Node] = field(default_factory=list)

    @property
    def label(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        text = f"{self.kind} {where}: {self.state}"
        return f"{text}, {self.detail}" if self.detail else text

    def data(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "state": self.state,
            "ok": self.ok,
        }
        if self.detail:
            out["detail"] = self.detail
        if self.children:
            out["children"] = [c.data() for c in self.children]
        return out


def flux_node(item: Item) -> Node:
    """A Flux object's node: Ready, Not Ready or Unknown; its revision; suspended; and the
    reason and message of a Ready condition that is not True."""
    status, message = item.ready
    state = {"True": "Ready", "Unknown": "Unknown"}.get(status, "Not Ready")
    details = []
    if item.revision:
        details.append(f"revision {truncate_hex(item.revision)}")
    if item.suspended:
        details.append("suspended")
    if status != "True":
        ready = item.condition("Ready")
        reason = f"{ready.reason}: " if ready else ""
        if item.invalid is not None and ready is None:
            reason, message = "invalid: ", item.invalid
        details.append(reason + one_line(message))
    return Node(item.kind, item.namespace, item.name, state, status == "True", ", ".join(details))


def missing(kind: str, namespace: str, name: str) -> Node:
    return Node(kind, namespace, name, "not found", False)


# The dependsOn graph, both ways.


def dependencies(hr: api.HelmRelease) -> list[tuple[str, str]]:
    own = hr.metadata.namespace or ""
    return [(d.namespace or own, d.name) for d in hr.spec.depends_on or []]


def graph_nodes(
    start: tuple[str, str],
    edges: dict[tuple[str, str], list[tuple[str, str]]],
    items: dict[tuple[str, str], Item],
    path: tuple[tuple[str, str], ...] = (),
) -> list[Node]:
    """The nodes `start` leads to along `edges`, each with the nodes it leads to in turn; a
    node already on the path is shown once more, marked as the cycle it closes."""
    out = []
    for key in sorted(set(edges.get(start, []))):
        item = items.get(key)
        if item is None:
            out.append(missing("HelmRelease", *key))
            continue
        node = flux_node(item)
        if key in (*path, start):
            node.detail = ", ".join(p for p in (node.detail, "dependency cycle") if p)
        else:
            node.children = graph_nodes(key, edges, items, (*path, start))
        out.append(node)
    return out


async def all_releases(session: Session, namespace: str) -> list[Item]:
    """Every HelmRelease the account may list: cluster-wide, else in `namespace`."""
    try:
        return await list_items(session.api, "HelmRelease", None)
    except ApiException as exc:
        if exc.status != 403:
            raise
        return await list_items(session.api, "HelmRelease", namespace)


async def dependency_trees(session: Session, root: Item) -> tuple[list[Node], list[Node]]:
    """(what the release depends on, what depends on it), transitively."""
    releases = await all_releases(session, root.namespace)
    items = {(i.namespace, i.name): i for i in releases}
    items[(root.namespace, root.name)] = root
    forward: dict[tuple[str, str], list[tuple[str, str]]] = {}
    backward: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for key, item in items.items():
        model = item.release
        if model is None:
            continue
        for dep in dependencies(model):
            forward.setdefault(key, []).append(dep)
            backward.setdefault(dep, []).append(key)
    # A dependency in a namespace the listing did not cover is read on its own.
    for key in list(forward.get((root.namespace, root.name), [])):
        if key not in items:
            found = await get_item(session.api, "HelmRelease", *key)
            if found is not None:
                items[key] = found
    start = (root.namespace, root.name)
    return graph_nodes(start, forward, items), graph_nodes(start, backward, items)


# The source chain.


async def source_chain(session: Session, hr: api.HelmRelease) -> list[Node]:
    """The chain from the release to its source: a list of one node with its parent source
    as its child."""
    if hr.spec.chart is not None:
        namespace = chart_source_namespace(hr)
        name = helm_chart_name(hr)
        recorded = hr.status.helm_chart if hr.status else None
        if recorded and "/" in recorded:
            namespace, name = recorded.split("/", 1)
        return [await chart_node(session, namespace, name)]
    ref = hr.spec.chart_ref
    if ref is None:
        return []
    namespace = ref.namespace or hr.metadata.namespace or ""
    if ref.kind == "HelmChart":
        return [await chart_node(session, namespace, ref.name)]
    if ref.kind == "OCIRepository":
        return [await source_node(session, "OCIRepository", namespace, ref.name)]
    return [Node(str(ref.kind), namespace, ref.name, "not read by Helmward", False)]


async def chart_node(session: Session, namespace: str, name: str) -> Node:
    item = await get_item(session.api, "HelmChart", namespace, name)
    if item is None:
        return missing("HelmChart", namespace, name)
    node = flux_node(item)
    if isinstance(item.model, api.HelmChart):
        ref = item.model.spec.source_ref
        node.children = [await source_node(session, ref.kind, namespace, ref.name)]
    return node


async def source_node(session: Session, kind: str, namespace: str, name: str) -> Node:
    item = await get_item(session.api, kind, namespace, name)
    return missing(kind, namespace, name) if item is None else flux_node(item)


# The inventory.


def parse_id(entry_id: str) -> tuple[str, str, str, str]:
    """(namespace, name, group, kind) of an inventory id, `<namespace>_<name>_<group>_<kind>`
    (an RBAC name's colons written as `__`)."""
    head, group, kind = entry_id.rsplit("_", 2)
    namespace, _, name = head.partition("_")
    if group == _RBAC_GROUP:
        name = name.replace("__", ":")
    return namespace, name, group, kind


def health(kind: str, obj: dict[str, Any]) -> tuple[str, bool]:
    """What the API says of an object now: a Deployment's available replicas, a Pod's phase,
    else that it exists."""
    status = obj.get("status") or {}
    if kind == "Deployment":
        want = (obj.get("spec") or {}).get("replicas", 1)
        available = status.get("availableReplicas") or 0
        updated = status.get("updatedReplicas") or 0
        current = (status.get("observedGeneration") or 0) >= (
            (obj.get("metadata") or {}).get("generation") or 0
        )
        ok = current and available >= want and updated >= want
        return f"{'available' if ok else 'progressing'} {available}/{want}", ok
    if kind == "Pod":
        phase = str(status.get("phase") or "Unknown")
        return phase, phase in ("Running", "Succeeded")
    return "exists", True


async def inventory_nodes(session: Session, hr: api.HelmRelease) -> list[Node]:
    inventory = hr.status.inventory if hr.status else None
    if inventory is None:
        return []
    discovery = Discovery(session.api)
    refs = sorted(
        ((parse_id(e.id), e.v) for e in inventory.entries),
        key=lambda r: (r[0][3], r[0][0], r[0][1], r[0][2]),
    )

    async def one(ref: tuple[str, str, str, str], version: str) -> Node:
        namespace, name, group, kind = ref
        api_version = f"{group}/{version}" if group else version
        try:
            resource = await discovery.resource(api_version, kind)
        except ApiException:
            resource = None
        if resource is None:
            return Node(kind, namespace, name, f"{api_version} not served", False)
        obj = await rest.get_optional(session.api, resource.path(namespace or None, name))
        if obj is None:
            return Node(kind, namespace, name, "missing", False)
        state, ok = health(kind, obj)
        return Node(kind, namespace, name, state, ok)

    return list(await asyncio.gather(*(one(ref, v) for ref, v in refs)))


# The command.


def render(root: Node, sections: Iterable[tuple[str, list[Node]]]) -> Tree:
    tree = Tree(root.label, guide_style="dim")
    for title, nodes in sections:
        if not nodes:
            continue
        branch = tree.add(title)
        for node in nodes:
            add(branch, node)
    return tree


def add(parent: Tree, node: Node) -> None:
    style = None if node.ok else "red"
    child = parent.add(node.label, style=style)
    for c in node.children:
        add(child, c)


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="the HelmRelease")


async def run(args: argparse.Namespace) -> int:
    async with open_session(args) as session:
        item = await find_release(session, args.name)
        if item is None:
            return Exit.NOT_READY
        root = flux_node(item)
        hr = item.release
        sections: list[tuple[str, list[Node]]] = []
        if hr is not None:
            (upstream, downstream), chain, inventory = await asyncio.gather(
                dependency_trees(session, item),
                source_chain(session, hr),
                inventory_nodes(session, hr),
            )
            sections = [
                ("depends on", upstream),
                ("required by", downstream),
                ("source", chain),
                ("inventory", inventory),
            ]
    if args.output != "table":
        data: dict[str, Any] = {"release": root.data()}
        keys = {"depends on": "dependsOn", "required by": "requiredBy"}
        for title, nodes in sections:
            data[keys.get(title, title)] = [n.data() for n in nodes]
        output.structured(data, args.output)
    else:
        output.console().print(render(root, sections))
    return Exit.OK if item.is_ready else Exit.NOT_READY


COMMANDS = (
    Command(
        "tree",
        "a HelmRelease's dependencies both ways, its source chain and its inventory's health",
        configure,
        run,
    ),
)
