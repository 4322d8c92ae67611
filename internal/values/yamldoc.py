"""YAML documents from untrusted sources (values from ConfigMaps and Secrets, kubeconfigs,
Chart.yaml): libyaml's loader, which bounds nesting where the pure Python one recurses until
RecursionError, and a bound on what aliases expand to, as Go's YAML decoder has. A document
of nested aliases (a "billion laughs") loads as a small graph of shared objects, but every
consumer that walks it (JSON encoding for the engine, merging, diffing) expands it, so it is
refused here, as is an alias that contains itself."""

from __future__ import annotations

from typing import Any

import yaml

MAX_EXPANDED_NODES = 1_000_000


class AliasBombError(yaml.YAMLError):
    """The document's aliases expand past the bound, or one contains itself."""


def load(data: bytes | str, *, max_nodes: int = MAX_EXPANDED_NODES) -> Any:
    """The document, or yaml.YAMLError (AliasBombError among them)."""
    doc = yaml.load(data, Loader=yaml.CSafeLoader)
    check_expansion(doc, max_nodes)
    return doc


def check_expansion(doc: Any, max_nodes: int = MAX_EXPANDED_NODES) -> int:
    """The number of nodes `doc` has once every shared object is counted at each place it is
    used; AliasBombError past `max_nodes` or on a cycle. Linear in the distinct objects."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()
    stack: list[tuple[Any, bool]] = [(doc, False)]
    while stack:
        node, done = stack.pop()
        if not isinstance(node, dict | list):
            continue
        key = id(node)
        if done:
            open_.discard(key)
            children = node.values() if isinstance(node, dict) else node
            sizes[key] = 1 + sum(_size(c, sizes) for c in children)
            if sizes[key] > max_nodes:
                raise AliasBombError(f"the document expands to more than {max_nodes} nodes")
            continue
        if key in sizes:
            continue
        if key in open_:
            raise AliasBombError("an alias in the document refers to a node that contains it")
        open_.add(key)
        stack.append((node, True))
        children = node.values() if isinstance(node, dict) else node
        stack.extend((c, False) for c in children if isinstance(c, dict | list))
    return _size(doc, sizes)


def _size(node: Any, sizes: dict[int, int]) -> int:
    return sizes.get(id(node), 1) if isinstance(node, dict | list) else 1
