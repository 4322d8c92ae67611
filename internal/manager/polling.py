"""Waiting for a release's custom resources to be healthy: the healthCheckExprs, polled after
Helm's own wait on the objects they cover, read through the release's cluster client."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from internal.helm import models as hm
from internal.kube import rest
from internal.kube.client import ApiException
from internal.manager.clusters import Cluster
from internal.release import health, inventory

Target = tuple[health.Check, str, str]
"""A check, the object's API path, and its 'Kind/name'."""


async def targets(
    cluster: Cluster, namespace: str, release: hm.Release, checks: Sequence[health.Check]
) -> list[Target]:
    out = []
    for doc in inventory.manifest_documents(release.manifest):
        check = next((c for c in checks if c.matches(doc)), None)
        if check is None:
            continue
        res = await cluster.discovery.resource(doc["apiVersion"], doc["kind"])
        if res is None:
            continue
        meta = doc.get("metadata") or {}
        ns = (meta.get("namespace") or namespace) if res.namespaced else None
        out.append((check, res.path(ns, meta["name"]), f"{doc['kind']}/{meta['name']}"))
    return out


async def wait_healthy(
    cluster: Cluster,
    namespace: str,
    release: hm.Release,
    checks: Sequence[health.Check],
    within: float,
    interval: float = 1.0,
) -> str | None:
    deadline = asyncio.get_running_loop().time() + within
    pending = await targets(cluster, namespace, release, checks)
    while True:
        waiting = []
        for check, path, name in pending:
            try:
                live = await rest.request(cluster.api, "GET", path)
            except ApiException as exc:
                if exc.status in (401, 403):  # the release's identity may not read it
                    return f"{name} could not be read: {exc.reason}"
                if exc.status != 404:
                    raise
                waiting.append((check, path, name, "not found"))
                continue
            verdict, why = health.evaluate(check, live)
            if verdict is health.Health.FAILED:
                return f"{name} failed its health check"
            if verdict is health.Health.IN_PROGRESS:
                waiting.append((check, path, name, why))
        if not waiting:
            return None
        if asyncio.get_running_loop().time() >= deadline:
            names = ", ".join(f"{n} ({w})" if w else n for _, _, n, w in waiting)
            return f"timed out waiting for the health checks of {names}"
        pending = [(c, p, n) for c, p, n, _ in waiting]
        await asyncio.sleep(interval)
