"""Which watched object a dependent object belongs to, from what the engine set on it: a
controller owner reference, or operator-sdk's primary-resource annotations where an owner
reference cannot be (another namespace, a cluster-scoped object). Pure."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

PRIMARY_RESOURCE = "operator-sdk/primary-resource"
PRIMARY_RESOURCE_TYPE = "operator-sdk/primary-resource-type"


def owner_key(obj: Mapping[str, Any], group: str, kind: str) -> str | None:
    """'namespace/name' of the object of `kind` in `group` that owns `obj`, if one does."""
    meta = obj.get("metadata") or {}
    for ref in meta.get("ownerReferences") or []:
        ref_group = str(ref.get("apiVersion", "")).rpartition("/")[0]
        if ref.get("controller") and ref.get("kind") == kind and ref_group == group:
            return f"{meta.get('namespace') or ''}/{ref.get('name')}"
    annotations = meta.get("annotations") or {}
    kind_group = f"{kind}.{group}" if group else kind
    primary = annotations.get(PRIMARY_RESOURCE)
    if primary and annotations.get(PRIMARY_RESOURCE_TYPE) == kind_group and "/" in primary:
        return str(primary)
    return None


def fingerprint(obj: Mapping[str, Any]) -> str:
    """What of an object a person or another controller may change and the release set: all
    but its status and the server's bookkeeping. Two events with the same fingerprint are the
    same as far as the release is concerned (a Deployment's status moving is not a change)."""
    meta = {
        k: v
        for k, v in (obj.get("metadata") or {}).items()
        if k not in ("resourceVersion", "managedFields", "generation")
    }
    rest = {k: v for k, v in obj.items() if k not in ("status", "metadata")}
    return json.dumps({"metadata": meta, **rest}, sort_keys=True, default=str)
