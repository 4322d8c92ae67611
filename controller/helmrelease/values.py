"""The release's values: valuesFrom (ConfigMaps and Secrets of the release's namespace), then
spec.values, composed by internal.values. The reads are here; the composition is pure."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from api.helmrelease import HelmRelease
from controller.helmrelease.work import Retry, Work
from internal.kube import rest
from internal.kube.client import ApiClient
from internal.values.compose import Reference, compose


def references(hr: HelmRelease) -> list[Reference]:
    return [
        Reference(
            kind=r.kind.value,
            name=r.name,
            values_key=r.values_key or "values.yaml",
            target_path=r.target_path or "",
            optional=bool(r.optional),
            literal=bool(getattr(r, "literal", False)),
        )
        for r in hr.spec.values_from or []
    ]


async def compose_values(api: ApiClient, hr: HelmRelease) -> dict[str, Any]:
    """The composed values; raises internal.values.compose.ValuesError naming the reference
    that cannot be used (never its content)."""
    ns = hr.metadata.namespace or "default"

    async def lookup(kind: str, name: str) -> Mapping[str, bytes] | None:
        plural = "secrets" if kind == "Secret" else "configmaps"
        obj = await rest.get_optional(api, f"/api/v1/namespaces/{ns}/{plural}/{name}")
        if obj is None:
            return None
        if kind == "Secret":
            return {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
        return {k: v.encode() for k, v in (obj.get("data") or {}).items()}

    inline = hr.spec.values if isinstance(hr.spec.values, dict) else {}
    return await compose(references(hr), inline, ns, lookup)


def values_error(work: Work, message: str) -> Retry:
    """Ready=False and a Warning event, both ValuesError; the Retry to raise."""
    work.event("Warning", "ValuesError", message)
    work.not_ready("ValuesError", message)
    return Retry(message)
