"""The inventory of a release: one reference per object its manifest and its chart's CRDs apply.

Entry ids follow the cli-utils object-metadata form Flux uses, `<namespace>_<name>_<group>_<kind>`,
so tools that read Flux's inventory read ours. Hooks are not part of the inventory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

HOOK_ANNOTATION = "helm.sh/hook"
_RBAC_GROUP = "rbac.authorization.k8s.io"

Namespaced = Callable[[str, str], bool | None]
"""(apiVersion, kind) -> whether the kind is namespaced; None when the cluster does not know it."""


def object_id(namespace: str, name: str, group: str, kind: str) -> str:
    if group == _RBAC_GROUP:
        # RBAC names may hold colons (system:...), which the id form reserves.
        name = name.replace(":", "__")
    return f"{namespace}_{name}_{group}_{kind}"


def _group_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


@dataclass(frozen=True)
class ObjectRef:
    """Who an object is: its namespace (empty when cluster-scoped), name, API group and kind."""

    namespace: str
    name: str
    group: str
    kind: str

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> ObjectRef:
        meta = obj.get("metadata") or {}
        group, _ = _group_version(str(obj.get("apiVersion", "")))
        return cls(
            str(meta.get("namespace") or ""),
            str(meta.get("name", "")),
            group,
            str(obj.get("kind", "")),
        )

    @property
    def id(self) -> str:
        """The inventory's id for it."""
        return object_id(self.namespace, self.name, self.group, self.kind)

    def __str__(self) -> str:
        """How messages name it, as Flux's do: `Kind/namespace/name`."""
        return "/".join(p for p in (self.kind, self.namespace, self.name) if p)


def manifest_documents(manifest: str) -> list[Mapping[str, Any]]:
    return [d for d in yaml.safe_load_all(manifest) if isinstance(d, dict) and d.get("kind")]


def entries(
    objects: Iterable[Mapping[str, Any]],
    release_namespace: str,
    namespaced: Namespaced,
    crds: Iterable[Mapping[str, str]] = (),
) -> list[dict[str, str]]:
    """Inventory entries for the manifest's objects, then the chart's CRDs.

    An object without a namespace gets the release namespace when its kind is namespaced; when
    the cluster does not know the kind, it is left without one, as Flux leaves it.
    """
    out: list[dict[str, str]] = []
    for obj in objects:
        meta = obj.get("metadata") or {}
        if HOOK_ANNOTATION in (meta.get("annotations") or {}):
            continue
        api_version, kind = str(obj.get("apiVersion", "")), str(obj.get("kind", ""))
        group, version = _group_version(api_version)
        ns = str(meta.get("namespace") or "")
        if not ns and namespaced(api_version, kind):
            ns = release_namespace
        out.append({"id": object_id(ns, str(meta.get("name", "")), group, kind), "v": version})
    for crd in crds:
        group, version = _group_version(crd["apiVersion"])
        out.append({"id": object_id("", crd["name"], group, crd["kind"]), "v": version})
    return out
