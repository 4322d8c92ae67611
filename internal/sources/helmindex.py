"""Helm repository indexes: parsed once per revision into a compact name → versions table that
every HelmChart of the repository shares, and the version selection source-controller applies.

Parsing goes through rapidyaml (C++) and orjson one chart at a time: the index becomes a flat
node tree, each chart's subtree is emitted as JSON and loaded, and only the fields a chart
build needs are kept. That is several times faster than PyYAML's C loader and keeps the peak
memory near the size of the tree (see docs/decisions.md, "Sources", and hack/bench/index.py).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import orjson
import ryml  # type: ignore[import-untyped]

from internal.sources.semver import Constraint, SemverError, Version, parse_version

DEFAULT_MAX_INDEX_SIZE = 50 * 1024 * 1024


class IndexError_(ValueError):
    """The index is not a valid Helm repository index."""


class ChartNotFoundError(LookupError):
    """No chart, or no version of it, matches."""


@dataclass(frozen=True, slots=True)
class ChartVersion:
    """One entry of an index, reduced to what fetching and selecting a chart needs."""

    name: str
    version: str
    urls: tuple[str, ...]
    digest: str = ""
    created: str = ""
    api_version: str = "v1"
    app_version: str = ""
    deprecated: bool = False


@dataclass(slots=True)
class _Chart:
    versions: tuple[ChartVersion, ...]
    ordered: list[tuple[Version, ChartVersion]] | None = None
    answers: dict[str, ChartVersion | None] = field(default_factory=dict)
    """Memoised selections by version string: the index never changes once parsed."""

    def sorted_versions(self) -> list[tuple[Version, ChartVersion]]:
        """Parsable versions, newest first; equal versions by creation time, newest first.
        Computed on first use and kept."""
        if self.ordered is None:
            parsed = [(v, cv) for cv in self.versions if (v := parse_version(cv.version))]
            # Stable sorts: creation time first, then version, both descending.
            parsed.sort(key=lambda p: p[1].created, reverse=True)
            parsed.sort(key=lambda p: p[0], reverse=True)
            self.ordered = parsed
        return self.ordered


@dataclass
class Index:
    """A parsed index. Immutable once built; share it freely between reconcilers."""

    api_version: str
    charts: dict[str, _Chart] = field(default_factory=dict)

    def __len__(self) -> int:
        return sum(len(c.versions) for c in self.charts.values())

    def names(self) -> Iterator[str]:
        return iter(self.charts)

    def versions(self, name: str) -> tuple[ChartVersion, ...]:
        chart = self.charts.get(name)
        return chart.versions if chart else ()

    def get(self, name: str, version: str = "*") -> ChartVersion:
        """The entry for `version` of chart `name`, as source-controller selects it: an exact
        string match first, then the newest version satisfying the constraint (`*` or empty:
        the newest stable release; prereleases only for constraints that name one)."""
        chart = self.charts.get(name)
        if chart is None:
            raise ChartNotFoundError(f"no chart name found: chart '{name}' is not in the index")
        if not chart.versions:
            raise ChartNotFoundError(f"no chart version found for chart '{name}'")
        if version in chart.answers:
            found = chart.answers[version]
        else:
            found = _select(chart, version)
            chart.answers[version] = found
        if found is not None:
            return found
        raise ChartNotFoundError(f"no '{name}' chart with version matching '{version}' found")


def _select(chart: _Chart, version: str) -> ChartVersion | None:
    if version:
        for cv in chart.versions:
            if cv.version == version:
                return cv
    constraint = _constraint("*" if version in ("", "*") else version)
    for v, cv in chart.sorted_versions():
        if constraint.check(v):
            return cv
    return None


@lru_cache(maxsize=1024)
def _constraint(text: str) -> Constraint:
    try:
        return Constraint.parse(text)
    except SemverError as exc:
        raise ChartNotFoundError(f"invalid version constraint '{text}': {exc}") from None


def parse_index(data: bytes) -> Index:
    """Parse an index.yaml (or its JSON form). Entries without a name or version are dropped,
    as Helm drops invalid entries."""
    if not data.strip():
        raise IndexError_("empty index")
    try:
        tree = ryml.parse_in_arena(data)
    except Exception as exc:  # ryml raises plain RuntimeErrors
        raise IndexError_(f"invalid index YAML: {exc}") from None
    if b"&" in data and b"*" in data:  # no anchors or no aliases: nothing to expand
        _check_aliases(tree)
    try:
        tree.resolve()  # anchors and aliases
    except Exception as exc:
        raise IndexError_(f"invalid index YAML: {exc}") from None
    root = tree.root_id()
    if not tree.is_map(root):
        raise IndexError_("invalid index: the document is not a mapping")
    api_node = tree.find_child(root, b"apiVersion")
    if api_node == ryml.NONE or not tree.has_val(api_node):
        raise IndexError_("invalid index: no API version")
    api_version = _text(tree.val(api_node))
    if not api_version:
        raise IndexError_("invalid index: no API version")
    index = Index(api_version=api_version)
    entries = tree.find_child(root, b"entries")
    if entries == ryml.NONE or not tree.is_map(entries):
        return index
    node = tree.first_child(entries)
    while node != ryml.NONE:
        name = _text(tree.key(node))
        # A chart's node is a key with its sequence: emitted as `"name": [...]`.
        raw: Any = []
        if tree.is_seq(node):
            raw = _chart_json(ryml.emit_json(tree, node))
        kept: list[ChartVersion] = []
        for position, entry in enumerate(raw if isinstance(raw, list) else ()):
            if not isinstance(entry, dict):
                continue
            cv = _chart_version(entry, name)
            if cv is None and _has_numeric_version(entry):
                cv = _chart_version_from_tree(tree, node, position, entry, name)
            if cv is not None:
                kept.append(cv)
        index.charts[name] = _Chart(tuple(kept))
        node = tree.next_sibling(node)
    return index


MAX_ALIAS_EXPANSION = 1_000_000
"""Nodes that resolving aliases may add to the tree."""


def _check_aliases(tree: Any) -> None:
    """Refuse what rapidyaml's resolve() cannot survive: an alias inside the node it names
    (resolve recurses until the process crashes) and aliases that expand past the bound (a
    "billion laughs" grows the tree exponentially). Node ids are in document order and an
    alias names the latest anchor before it, so one pass finds each alias's target."""
    anchors: dict[bytes, int] = {}
    targets: dict[int, list[int]] = {}
    for node in range(tree.size()):
        for is_ref, ref in ((tree.is_key_ref, tree.key_ref), (tree.is_val_ref, tree.val_ref)):
            if is_ref(node):
                target = anchors.get(bytes(ref(node)).lstrip(b"*"))
                if target is not None:
                    if _is_ancestor(tree, target, node):
                        raise IndexError_(
                            "invalid index YAML: an alias refers to a node that contains it"
                        )
                    targets.setdefault(node, []).append(target)
        for has, anchor in (
            (tree.has_key_anchor, tree.key_anchor),
            (tree.has_val_anchor, tree.val_anchor),
        ):
            if has(node):
                anchors[bytes(anchor(node))] = node
    if targets and _expanded_size(tree, targets) - tree.size() > MAX_ALIAS_EXPANSION:
        raise IndexError_(
            f"invalid index YAML: aliases expand to more than {MAX_ALIAS_EXPANSION} nodes"
        )


def _is_ancestor(tree: Any, ancestor: int, node: int) -> bool:
    while node != ryml.NONE:
        if node == ancestor:
            return True
        node = tree.parent(node)
    return False


def _expanded_size(tree: Any, targets: dict[int, list[int]]) -> int:
    """The tree's node count with each alias counted as the subtree it names. An alias names a
    node whose subtree ended before it, so sizes are computed later-id first except for those
    targets, which are computed on demand (memoised, no recursion)."""
    sizes: dict[int, int] = {}
    stack = [tree.root_id()]
    while stack:
        node = stack[-1]
        pending = [c for c in _children(tree, node) if c not in sizes]
        pending += [t for t in targets.get(node, ()) if t not in sizes]
        if pending:
            stack.extend(pending)
            continue
        stack.pop()
        if node in sizes:
            continue
        size = 1 + sum(sizes[c] for c in _children(tree, node))
        size += sum(sizes[t] - 1 for t in targets.get(node, ()))
        sizes[node] = size
        if size - tree.size() > MAX_ALIAS_EXPANSION:
            return size
    return sizes[tree.root_id()]


def _children(tree: Any, node: int) -> Iterator[int]:
    child = tree.first_child(node)
    while child != ryml.NONE:
        yield child
        child = tree.next_sibling(child)


_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")


def _chart_json(emitted: str) -> Any:
    """One chart's versions from rapidyaml's JSON, which leaves control characters other than
    newline and tab raw inside strings (where JSON forbids them; outside strings it writes
    only newlines and spaces), so on a decode error they are escaped and it is read again."""
    try:
        return next(iter(orjson.loads("{" + emitted + "}").values()))
    except orjson.JSONDecodeError:
        escaped = _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", emitted)
        try:
            return next(iter(orjson.loads("{" + escaped + "}").values()))
        except orjson.JSONDecodeError as exc:
            raise IndexError_(f"invalid index: cannot read chart entries: {exc}") from None


def _text(value: Any) -> str:
    return bytes(value).decode("utf-8", "replace")


def _str(entry: Mapping[str, Any], key: str) -> str:
    value = entry.get(key)
    return value if isinstance(value, str) and value not in ("~", "null") else ""


def _has_numeric_version(entry: Mapping[str, Any]) -> bool:
    return isinstance(entry.get("version"), int | float)


def _chart_version(
    entry: Mapping[str, Any], key_name: str, version: str | None = None
) -> ChartVersion | None:
    version = version if version is not None else _str(entry, "version")
    name = _str(entry, "name") or key_name
    if not version or not name:
        return None
    urls = entry.get("urls")
    return ChartVersion(
        name=name,
        version=version,
        urls=tuple(u for u in urls if isinstance(u, str)) if isinstance(urls, list) else (),
        digest=_str(entry, "digest"),
        created=_str(entry, "created"),
        api_version=_str(entry, "apiVersion") or "v1",
        app_version=_str(entry, "appVersion"),
        deprecated=entry.get("deprecated") is True,
    )


def _chart_version_from_tree(
    tree: Any, chart_node: int, position: int, entry: Mapping[str, Any], name: str
) -> ChartVersion | None:
    """A version written as a bare number (`version: 1.10`) must keep its text, as Go's
    decoder into a string field does; JSON numbers lose it, so read it from the tree."""
    node = tree.child(chart_node, position)
    vnode = tree.find_child(node, b"version") if node != ryml.NONE else ryml.NONE
    if vnode == ryml.NONE:
        return None
    return _chart_version(entry, name, _text(tree.val(vnode)))


class IndexCache:
    """Parsed indexes by revision, least recently used dropped beyond `size`. One parse per
    revision however many HelmCharts ask at once."""

    def __init__(self, size: int = 16) -> None:
        self._size = size
        self._items: OrderedDict[str, Index] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}
        self.parses = 0

    def get(self, revision: str, load: Any) -> Index:
        """The index for `revision`, parsing `load()` bytes only when it is not cached."""
        with self._lock:
            if revision in self._items:
                self._items.move_to_end(revision)
                return self._items[revision]
            gate = self._loading.setdefault(revision, threading.Lock())
        with gate:
            with self._lock:
                if revision in self._items:
                    return self._items[revision]
            index = parse_index(load())
            with self._lock:
                self.parses += 1
                self._items[revision] = index
                self._loading.pop(revision, None)
                while len(self._items) > self._size:
                    self._items.popitem(last=False)
            return index
