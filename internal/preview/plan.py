"""The plan of an upgrade, from objects already fetched. Pure.

A Change is one object the upgrade adds, changes or removes, with a unified diff of its YAML
(the live object now against the live object after the upgrade, as a server-side-apply dry run
answers it). Server-set metadata and status are dropped first, as drift detection drops them
(`internal.drift.diff.normalize`), and the data of Secrets is masked before a diff is made:
a value that changes shows as `*** (before)` / `*** (after)`, one that does not as `***`.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import yaml

from internal.drift.diff import MASK, normalize
from internal.release.inventory import ObjectRef

Action = Literal["add", "change", "remove"]
Obj = dict[str, Any]

RESOURCE_POLICY = "helm.sh/resource-policy"
KEEP = "keep"
"""An object whose stored manifest says `helm.sh/resource-policy: keep` is not deleted by an
upgrade that drops it (Helm's rule)."""

SECRET_SECTIONS = ("data", "stringData")
ALLOCATED: Mapping[tuple[str, str], tuple[tuple[str, ...], ...]] = {
    ("v1", "Service"): (("spec", "clusterIP"), ("spec", "clusterIPs")),
}
"""Fields the API server allocates when an object is created, which a dry run of the creation
fills with a placeholder: left out of an added object unless its manifest sets them."""

_SYMBOLS: Mapping[str, str] = {"add": "+", "change": "~", "remove": "-"}


@dataclass(frozen=True)
class Change:
    """One object the upgrade adds, changes or removes."""

    action: Action
    api_version: str
    kind: str
    namespace: str
    """Empty for a cluster-scoped object."""
    name: str
    diff: str
    """A unified diff of the object's YAML: live now against live after the upgrade (a
    server-side-apply dry run). Secret data is masked."""
    sealed: str = field(default="", repr=False, compare=False)
    """For a Secret, a sha256 of its data after the change: never shown, only folded into the
    plan's digest, so that a plan whose masked diff is the same but whose Secret values differ
    has another digest (an approval of one never approves the other)."""

    @property
    def ref(self) -> str:
        """How messages name the object, `Kind/namespace/name`."""
        return "/".join(p for p in (self.kind, self.namespace, self.name) if p)

    def sort_key(self) -> tuple[str, str, str, str]:
        return (self.kind, self.namespace, self.name, self.api_version)

    def as_dict(self) -> dict[str, str]:
        return {
            "action": self.action,
            "apiVersion": self.api_version,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "diff": self.diff,
        }


@dataclass(frozen=True)
class Plan:
    """What an upgrade would do to the live objects. The changes are kept sorted by (kind,
    namespace, name), whatever order they are given in."""

    changes: tuple[Change, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "changes", tuple(sorted(self.changes, key=Change.sort_key)))

    def count(self, action: Action) -> int:
        return sum(1 for c in self.changes if c.action == action)

    @property
    def summary(self) -> str:
        """`+added ~changed -removed`, e.g. `+1 ~2 -0`."""
        return " ".join(f"{_SYMBOLS[a]}{self.count(a)}" for a in ("add", "change", "remove"))

    @property
    def digest(self) -> str:
        """`sha256:<hex>` of the canonical JSON of the changes (sorted keys, no spaces). Stable
        for the same changes; made of masked diffs and, for Secrets, of a digest of their new
        data (`Change.sealed`), the kind of digest of values Flux records too."""
        entries = [
            {**c.as_dict(), "sealed": c.sealed} if c.sealed else c.as_dict() for c in self.changes
        ]
        canonical = json.dumps(entries, sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()

    @property
    def empty(self) -> bool:
        return not self.changes

    def as_dict(self) -> dict[str, Any]:
        """The plan as data (`helmward diff -o json|yaml`)."""
        return {
            "summary": self.summary,
            "digest": self.digest,
            "changes": [c.as_dict() for c in self.changes],
        }


# --- Secret data -------------------------------------------------------------------------------


def is_secret(obj: Mapping[str, Any] | None) -> bool:
    return obj is not None and obj.get("apiVersion") == "v1" and obj.get("kind") == "Secret"


def mask_secrets(before: Obj | None, after: Obj | None) -> tuple[Obj | None, Obj | None]:
    """Copies of both sides with every value of a Secret's data and stringData replaced: `***`
    when both sides hold it unchanged (or only one side has it), `*** (before)` and
    `*** (after)` when it changes, so a diff shows which keys change and never a value."""
    if not (is_secret(before) or is_secret(after)):
        return before, after
    b = copy.deepcopy(before) if before is not None else None
    a = copy.deepcopy(after) if after is not None else None
    for section in SECRET_SECTIONS:
        old = (b or {}).get(section)
        new = (a or {}).get(section)
        old = old if isinstance(old, dict) else {}
        new = new if isinstance(new, dict) else {}
        for key in set(old) | set(new):
            changed = key in old and key in new and old[key] != new[key]
            if key in old:
                old[key] = f"{MASK} (before)" if changed else MASK
            if key in new:
                new[key] = f"{MASK} (after)" if changed else MASK
    return b, a


# --- one object --------------------------------------------------------------------------------


def comparable(obj: Mapping[str, Any] | None) -> Obj | None:
    """The object as a diff shows it: without status and server-set metadata."""
    return None if obj is None else normalize(obj)


def without_allocated(created: Mapping[str, Any], manifest: Mapping[str, Any]) -> Obj:
    """A dry-run creation without the fields the server would allocate for real (`ALLOCATED`)
    that the manifest leaves unset."""
    out = copy.deepcopy(dict(created))
    key = (str(created.get("apiVersion", "")), str(created.get("kind", "")))
    for path in ALLOCATED.get(key, ()):
        if _get(manifest, path) is None:
            parent = _get(out, path[:-1])
            if isinstance(parent, dict):
                parent.pop(path[-1], None)
    return out


def _get(obj: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    cur: Any = obj
    for part in path:
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(part)
    return cur


def _yaml_lines(obj: Obj | None) -> list[str]:
    if obj is None:
        return []
    text = yaml.safe_dump(obj, sort_keys=True, default_flow_style=False, allow_unicode=True)
    return text.splitlines(keepends=True)


def object_diff(before: Obj | None, after: Obj | None, ref: str) -> str:
    """The unified diff of two (already comparable and masked) objects' YAML."""
    lines = difflib.unified_diff(
        _yaml_lines(before),
        _yaml_lines(after),
        fromfile=f"{ref} (live)" if before is not None else "/dev/null",
        tofile=f"{ref} (after upgrade)" if after is not None else "/dev/null",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def change_of(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> Change | None:
    """The change from the live object `before` (None: absent) to `after` (None: deleted);
    None when they do not differ once server-set fields are dropped."""
    source = after if after is not None else before
    if source is None:
        return None
    b, a = mask_secrets(comparable(before), comparable(after))
    if b == a:
        return None
    action: Action = "add" if b is None else "remove" if a is None else "change"
    meta = source.get("metadata") or {}
    change = Change(
        action=action,
        api_version=str(source.get("apiVersion", "")),
        kind=str(source.get("kind", "")),
        namespace=str(meta.get("namespace") or ""),
        name=str(meta.get("name", "")),
        diff="",
    )
    return replace(change, diff=object_diff(b, a, change.ref), sealed=_sealed(after))


def _sealed(after: Mapping[str, Any] | None) -> str:
    if not is_secret(after):
        return ""
    assert after is not None
    content = {k: after.get(k) for k in ("data", "stringData", "type")}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


# --- what an upgrade deletes -------------------------------------------------------------------


def removed(old: Iterable[Mapping[str, Any]], new: Iterable[Mapping[str, Any]]) -> list[Obj]:
    """The objects of the stored manifest (`old`) that the new manifest no longer has, which
    the upgrade deletes: matched as Helm matches them, by API group, kind, namespace and name
    (not version), and without those the stored manifest marks `helm.sh/resource-policy: keep`.
    Both sides must have their namespaces resolved the same way."""
    kept = {ObjectRef.of(o) for o in new}
    out = []
    for obj in old:
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        if ObjectRef.of(obj) in kept or annotations.get(RESOURCE_POLICY) == KEEP:
            continue
        out.append(copy.deepcopy(dict(obj)))
    return out
