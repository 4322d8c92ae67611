"""The digests Flux records of a release, asked of the engine, which computes them as Flux does:
what a HelmRelease desires (values, post-renderers, common metadata), and which OCI digest goes
into the digest of each release record an engine call reports."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from api.helmrelease import HelmRelease
from internal.helm import models as hm
from internal.helm.engine import Engine
from internal.manager import options


async def desired(engine: Engine, hr: HelmRelease, values: Mapping[str, Any]) -> hm.DigestResult:
    spec = hr.spec
    renderers = spec.post_renderers
    return await engine.digest(
        hm.DigestRequest(
            values=dict(values),
            post_renderers=None
            if renderers is None
            else [options.post_renderer(r) for r in renderers],
            common_metadata=options.common_metadata(spec.common_metadata),
        )
    )


def observe(hr: HelmRelease, target: options.Target, oci_digest: str = "") -> hm.ObserveSpec:
    """A revision the history records keeps its snapshot's OCI digest; one the call makes gets
    `oci_digest` (the chart artifact's for an install or upgrade, none for a rollback)."""
    history = hr.status.history if hr.status else None
    versions = {
        str(s.version): s.oci_digest or ""
        for s in history or []
        if (s.name, s.namespace) == (target.release_name, target.namespace)
    }
    return hm.ObserveSpec(oci_digest=oci_digest or None, versions=versions)
