"""The I/O around the plan: render the action the controller would run next, then ask the API
server what it would make of each object.

The render is the engine's offline `render`, sent what the Manager would send the upgrade (the
same `internal.manager.options` request: values, post-renderers, common metadata, origin
labels, post-render strategy, hooks and schema switches), with the cluster's Kubernetes version
and API versions as the capabilities. Each rendered object is then applied as a server-side-apply
dry run with Helm's field manager and forced conflicts (what an upgrade applying server side
does, and what drift detection does: `internal.drift.live.manifest_objects`), through the
release's Cluster, so as the release's service account when it names one. The objects of the
stored manifest that the new one drops are the ones the upgrade deletes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any

from internal.drift.live import manifest_objects
from internal.helm import errors as herr
from internal.helm import models as hm
from internal.kube import rest
from internal.kube.client import ApiException
from internal.manager import options
from internal.manager.clusters import Cluster
from internal.manager.manager import Manager
from internal.preview.plan import Change, Obj, Plan, change_of, removed, without_allocated
from internal.values.compose import merge_maps

AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
"""Aggregated discovery: every group, version and kind in two requests (/api and /apis)."""
PARALLEL = 8
"""Objects looked up and dry-run at once."""


class PreviewError(Exception):
    """The plan cannot be made: the chart does not render, or the API server refused to read or
    dry-run an object (its message, with the object named). Never carries Secret data."""


async def plan_upgrade(manager: Manager) -> Plan:
    """The plan of the upgrade the controller would run next for `manager`'s release: its
    chart, values and spec rendered as the upgrade would render them, dry-run against the live
    objects, and the objects of the stored release the upgrade would delete. With no release
    stored (call `manager.sync()` first), the install's: every object an add or a change of
    what is already there. Raises PreviewError."""
    manifest = await render(manager)
    current = await current_release(manager)
    old = current.manifest if current is not None else ""
    return await plan_manifest(
        manager.cluster, manager.target.namespace, manager.target.release_name, manifest, old
    )


async def current_release(manager: Manager) -> hm.Release | None:
    """The release an upgrade replaces, whose objects it deletes when the new manifest drops
    them: as Helm picks it, the newest when deployed, else the newest deployed one, else the
    newest (failed or superseded). None when nothing is installed."""
    newest = manager.release
    if newest is None or not manager.is_installed():
        return None
    if newest.status == "deployed":
        return newest
    try:
        listed = await manager.engine.history(
            hm.HistoryRequest(
                release_name=manager.target.release_name, namespace=manager.target.namespace
            ),
            cluster=manager.cluster.target,
            storage=hm.StorageSpec(namespace=manager.target.storage_namespace),
        )
    except herr.HelmError as exc:
        raise PreviewError(f"could not read the release's history: {exc}") from exc
    deployed = [r for r in listed.result.releases if r.status == "deployed"]
    return max(deployed, key=lambda r: r.version) if deployed else newest


# --- the render --------------------------------------------------------------------------------


async def render(manager: Manager) -> str:
    """The manifest the next install or upgrade would apply (hooks are not part of it)."""
    kube_version, api_versions = await capabilities(manager.cluster)
    request = render_request(manager, kube_version, api_versions)
    try:
        result = await manager.engine.render(request)
    except herr.HelmError as exc:
        raise PreviewError(f"the chart does not render: {exc}") from exc
    return result.manifest


def render_request(
    manager: Manager, kube_version: str | None, api_versions: Sequence[str]
) -> hm.RenderRequest:
    """The engine request the Manager would send, as a render: an upgrade's when a release is
    installed (with Helm's reuse of the stored values when spec.upgrade.preserveValues), else
    an install's."""
    hr, target, chart = manager.hr, manager.target, manager.chart
    stored = manager.release if manager.is_installed() else None
    action: hm.InstallRequest | hm.UpgradeRequest
    values = dict(chart.values)
    if stored is None:
        action = options.install(hr, target, chart.path, values)
    else:
        action = options.upgrade(hr, target, chart.path, values, stored.apply_method)
        if action.reuse_values:
            values = merge_maps(stored.config, values)
    return hm.RenderRequest(
        release_name=action.release_name,
        namespace=action.namespace,
        chart=action.chart,
        values=values,
        post_renderers=action.post_renderers,
        common_metadata=action.common_metadata,
        origin=action.origin,
        post_render_strategy=action.post_render_strategy,
        disable_hooks=action.disable_hooks,
        disable_schema_validation=action.disable_schema_validation,
        is_upgrade=stored is not None,
        kube_version=kube_version,
        api_versions=list(api_versions),
    )


async def capabilities(cluster: Cluster) -> tuple[str | None, list[str]]:
    """The cluster's version and its API versions as Helm's `.Capabilities` lists them
    (`group/version` and `group/version/Kind`), read as the release's identity."""
    try:
        version = await rest.request(cluster.api, "GET", "/version")
        listed = [await rest.request(cluster.api, "GET", p, accept=AGGREGATED) for p in PATHS]
    except ApiException as exc:
        raise PreviewError(f"could not read the cluster's API versions: {exc.reason}") from None
    return version.get("gitVersion") or None, api_versions(listed)


PATHS = ("/api", "/apis")


def api_versions(listings: Sequence[Mapping[str, Any]]) -> list[str]:
    """Versions and kinds out of discovery answers: aggregated ones (APIGroupDiscoveryList)
    give both; plain ones (APIVersions, APIGroupList) the versions only."""
    out: set[str] = set()
    for listing in listings:
        for v in listing.get("versions") or []:  # APIVersions (/api, not aggregated)
            if isinstance(v, str):
                out.add(v)
        for group in listing.get("groups") or []:  # APIGroupList
            out.update(str(v.get("groupVersion")) for v in group.get("versions") or [])
        for group in listing.get("items") or []:  # APIGroupDiscoveryList
            name = (group.get("metadata") or {}).get("name") or ""
            for v in group.get("versions") or []:
                gv = f"{name}/{v.get('version')}" if name else str(v.get("version"))
                out.add(gv)
                for res in v.get("resources") or []:
                    kinds = [res.get("responseKind")]
                    kinds += [s.get("responseKind") for s in res.get("subresources") or []]
                    out.update(f"{gv}/{k['kind']}" for k in kinds if k and k.get("kind"))
    return sorted(out)


# --- the dry runs ------------------------------------------------------------------------------


async def plan_manifest(
    cluster: Cluster, namespace: str, release: str, manifest: str, stored_manifest: str = ""
) -> Plan:
    """The plan of applying `manifest` in place of `stored_manifest` (the release's, empty
    when none): a dry run of each new object, and the live objects of the old ones it drops."""
    new = await _resolved(cluster, manifest_objects(manifest, namespace, release))
    old = await _resolved(cluster, manifest_objects(stored_manifest, namespace, release))
    gate = asyncio.Semaphore(PARALLEL)

    async def bounded(job: Coroutine[Any, Any, Change | None]) -> Change | None:
        async with gate:
            return await job

    jobs = [_applied(cluster, obj, path) for obj, path in new]
    by_key = {_key(o): path for o, path in old}
    gone = removed([o for o, _ in old], [o for o, _ in new])
    jobs += [_deleted(cluster, obj, by_key[_key(obj)]) for obj in gone]
    results = await asyncio.gather(*(bounded(j) for j in jobs))
    return Plan(tuple(c for c in results if c is not None))


def _key(obj: Mapping[str, Any]) -> tuple[str, str, str, str]:
    meta = obj.get("metadata") or {}
    return (
        str(obj.get("apiVersion", "")),
        str(obj.get("kind", "")),
        str(meta.get("namespace") or ""),
        str(meta.get("name", "")),
    )


async def _resolved(cluster: Cluster, objs: list[Obj]) -> list[tuple[Obj, str | None]]:
    """Each object with its API path (None when the cluster does not know its kind), and no
    namespace when its kind is cluster-scoped."""
    out: list[tuple[Obj, str | None]] = []
    for obj in objs:
        try:
            res = await cluster.discovery.resource(obj["apiVersion"], obj["kind"])
        except ApiException as exc:
            if exc.status != 404:
                raise PreviewError(
                    f"could not look up {obj['kind']} ({obj['apiVersion']}): {exc.reason}"
                ) from None
            res = None
        if res is None:
            out.append((obj, None))
            continue
        meta = obj["metadata"]
        if not res.namespaced:
            meta.pop("namespace", None)
        out.append((obj, res.path(meta.get("namespace") if res.namespaced else None, meta["name"])))
    return out


def _name(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return "/".join(p for p in (obj.get("kind"), meta.get("namespace"), meta.get("name")) if p)


async def _applied(cluster: Cluster, obj: Obj, path: str | None) -> Change | None:
    if path is None:  # a kind the cluster does not know yet (a CRD the chart brings): new
        return change_of(None, obj)
    live: Obj | None = None
    try:
        live = await rest.get_optional(cluster.api, path)
        after = await rest.request(
            cluster.api,
            "PATCH",
            path,
            body=obj,
            content_type=rest.APPLY_PATCH,
            query={"fieldManager": cluster.field_manager, "force": True, "dryRun": "All"},
        )
    except ApiException as exc:
        if live is None and exc.status == 404:  # its namespace does not exist yet
            return change_of(None, obj)
        raise PreviewError(f"dry run of {_name(obj)} failed: {exc.reason}") from None
    if live is None:
        after = without_allocated(after, obj)
    return change_of(live, after)


async def _deleted(cluster: Cluster, obj: Obj, path: str | None) -> Change | None:
    if path is None:
        return None
    try:
        live = await rest.get_optional(cluster.api, path)
    except ApiException as exc:
        raise PreviewError(f"could not read {_name(obj)}: {exc.reason}") from None
    return change_of(live, None) if live is not None else None
