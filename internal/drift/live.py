"""Drift detection and correction against the live cluster (the I/O around internal/drift).

Each object of the stored release manifest is applied as a server-side-apply dry run, with
Helm's field manager and forced conflicts, and compared with the live object. Correction applies
the same objects for real: no new Helm revision is made.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

from internal.drift.diff import Change, ChangeType, IgnoreRule, compare
from internal.kube import rest
from internal.kube.client import ApiClient, ApiException
from internal.kube.discovery import Discovery

DEFAULT_FIELD_MANAGER = "helm-controller"
"""Helm's own field manager when the engine names none (HELMWARD_FIELD_MANAGER sets it)."""


def manifest_objects(manifest: str, namespace: str, release: str = "") -> list[dict[str, Any]]:
    """The manifest's objects with the ownership metadata Helm adds when it applies them, so
    a dry run under Helm's field manager keeps those fields instead of dropping them."""
    objs = []
    for doc in yaml.safe_load_all(manifest):
        if isinstance(doc, dict) and doc.get("kind"):
            doc.setdefault("metadata", {})
            objs.append(doc)
    for obj in objs:
        meta = obj["metadata"]
        meta.setdefault("namespace", namespace)
        if release:
            meta.setdefault("labels", {})["app.kubernetes.io/managed-by"] = "Helm"
            notes = meta.setdefault("annotations", {})
            notes["meta.helm.sh/release-name"] = release
            notes["meta.helm.sh/release-namespace"] = namespace
    return objs


async def detect(
    api: ApiClient,
    discovery: Discovery,
    manifest: str,
    namespace: str,
    release: str,
    rules: Sequence[IgnoreRule],
    field_manager: str = DEFAULT_FIELD_MANAGER,
) -> list[tuple[Change, dict[str, Any]]]:
    """The changes that bring the live objects back to the manifest, with each object."""
    out = []
    for obj in manifest_objects(manifest, namespace, release):
        res = await discovery.resource(obj["apiVersion"], obj["kind"])
        if res is None:
            continue
        ns = obj["metadata"].get("namespace") if res.namespaced else None
        if not res.namespaced:
            obj["metadata"].pop("namespace", None)
        path = res.path(ns, obj["metadata"]["name"])
        try:
            live: dict[str, Any] | None = await rest.request(api, "GET", path)
        except ApiException as exc:
            if exc.status != 404:
                raise
            live = None
        desired = None
        if live is not None:
            desired = await rest.request(
                api,
                "PATCH",
                path,
                body=obj,
                content_type=rest.APPLY_PATCH,
                query={"fieldManager": field_manager, "force": True, "dryRun": "All"},
            )
        change = compare(desired, live, rules) if live is not None else compare(obj, None)
        if change.type in (ChangeType.CREATE, ChangeType.UPDATE):
            out.append((change, obj))
    return out


async def correct(
    api: ApiClient,
    discovery: Discovery,
    drifted: Sequence[tuple[Change, dict[str, Any]]],
    field_manager: str = DEFAULT_FIELD_MANAGER,
) -> None:
    for _, obj in drifted:
        res = await discovery.resource(obj["apiVersion"], obj["kind"])
        if res is None:
            continue
        ns = obj["metadata"].get("namespace") if res.namespaced else None
        await rest.request(
            api,
            "PATCH",
            res.path(ns, obj["metadata"]["name"]),
            body=obj,
            content_type=rest.APPLY_PATCH,
            query={"fieldManager": field_manager, "force": True},
        )
