"""Pure drift computation over objects already fetched: the dry-run result and the live object.

Only fields that apply controls are compared: server-set metadata and status are dropped first.
The patch is RFC 6902 from live to desired, made by jsonpatch. Secret values are masked before
a patch leaves this module, because patches go to events and logs.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import jsonpatch
import jsonpointer

from api.kustomize import Selector
from internal.release.inventory import ObjectRef

OPT_OUT_KEY = "helm.toolkit.fluxcd.io/driftDetection"
OPT_OUT_VALUE = "disabled"
MASK = "***"
SERVER_FIELDS = (
    "managedFields",
    "resourceVersion",
    "generation",
    "uid",
    "creationTimestamp",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)

Obj = dict[str, Any]


class ChangeType(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    EXCLUDE = "exclude"
    NONE = "none"


def matches(selector: Selector, obj: Mapping[str, Any]) -> bool:
    """A kustomize-style target: name and namespace are anchored regular expressions."""
    group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
    meta = obj.get("metadata", {})
    checks = [
        (selector.group, group),
        (selector.version, version),
        (selector.kind, obj.get("kind", "")),
    ]
    if any(want is not None and want != have for want, have in checks):
        return False
    for pattern, have in (
        (selector.name, meta.get("name", "")),
        (selector.namespace, meta.get("namespace", "")),
    ):
        if pattern is not None and not re.fullmatch(pattern, have or ""):
            return False
    return _labels_match(selector.label_selector, meta.get("labels") or {}) and _labels_match(
        selector.annotation_selector, meta.get("annotations") or {}
    )


@dataclass(frozen=True)
class IgnoreRule:
    paths: Sequence[str]
    target: Selector | None = None


@dataclass(frozen=True)
class Change:
    type: ChangeType
    ref: ObjectRef
    patch: list[dict[str, Any]] = field(default_factory=list)

    @property
    def object_id(self) -> str:
        """The object as messages name it, `Kind/namespace/name`; `ref.id` is its inventory
        id."""
        return str(self.ref)


def opted_out(obj: Mapping[str, Any]) -> bool:
    meta = obj.get("metadata", {})
    return any(
        (meta.get(k) or {}).get(OPT_OUT_KEY) == OPT_OUT_VALUE for k in ("labels", "annotations")
    )


def normalize(obj: Mapping[str, Any]) -> Obj:
    out = copy.deepcopy(dict(obj))
    out.pop("status", None)
    meta = out.get("metadata", {})
    for key in SERVER_FIELDS:
        meta.pop(key, None)
    annotations = meta.get("annotations")
    if isinstance(annotations, dict):
        annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None)
        if not annotations:
            meta.pop("annotations")
    return out


def _remove(obj: Obj, pointer: str) -> None:
    try:
        parent_ptr, _, last = pointer.rpartition("/")
        parent = jsonpointer.resolve_pointer(obj, parent_ptr) if parent_ptr else obj
        if isinstance(parent, dict):
            del parent[jsonpointer.unescape(last)]
        elif isinstance(parent, list):
            del parent[int(last)]
    except (jsonpointer.JsonPointerException, KeyError, IndexError, ValueError, TypeError):
        pass  # a path absent from this object ignores nothing


def ignored_paths(obj: Mapping[str, Any], rules: Iterable[IgnoreRule]) -> list[str]:
    return [p for r in rules if r.target is None or matches(r.target, obj) for p in r.paths]


def compare(
    desired: Mapping[str, Any] | None,
    live: Mapping[str, Any] | None,
    rules: Iterable[IgnoreRule] = (),
) -> Change:
    """The change that brings `live` to `desired` (a server-side-apply dry run of the manifest
    object). `desired` None means the dry run was not possible; `live` None means deleted."""
    source = desired if desired is not None else live
    assert source is not None, "compare needs at least one object"
    ref = ObjectRef.of(source)
    if live is not None and opted_out(live):
        return Change(ChangeType.EXCLUDE, ref)
    if live is None:
        return Change(ChangeType.CREATE, ref)
    if desired is None:
        return Change(ChangeType.NONE, ref)
    want, have = normalize(desired), normalize(live)
    for pointer in ignored_paths(live, list(rules)):
        _remove(want, pointer)
        _remove(have, pointer)
    ops = jsonpatch.make_patch(have, want).patch
    if not ops:
        return Change(ChangeType.NONE, ref)
    if source.get("kind") == "Secret" and source.get("apiVersion") == "v1":
        ops = mask_secret_patch(ops)
    return Change(ChangeType.UPDATE, ref, ops)


def mask_secret_patch(ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
    masked = []
    for op in ops:
        op = dict(op)
        if op.get("path", "").startswith(("/data", "/stringData")) and "value" in op:
            op["value"] = (
                MASK if not isinstance(op["value"], dict) else dict.fromkeys(op["value"], MASK)
            )
        masked.append(op)
    return masked


def summarize(changes: Iterable[Change]) -> str:
    """One line per changed object, for the Drifted condition and the event."""
    lines = []
    for c in changes:
        if c.type is ChangeType.CREATE:
            lines.append(f"{c.object_id} removed")
        elif c.type is ChangeType.UPDATE:
            paths = ", ".join(sorted({op["path"] for op in c.patch}))
            lines.append(f"{c.object_id} changed ({paths})")
    return "\n".join(lines)


def _labels_match(selector: str | None, labels: Mapping[str, str]) -> bool:
    """Equality-based selectors: `a=b`, `a==b`, `a!=b`, `a`, `!a`, comma separated."""
    if not selector:
        return True
    for term in (t.strip() for t in selector.split(",") if t.strip()):
        if "!=" in term:
            k, v = (x.strip() for x in term.split("!=", 1))
            if labels.get(k) == v:
                return False
        elif "=" in term:
            k, v = (x.strip() for x in term.replace("==", "=").split("=", 1))
            if labels.get(k) != v:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True
