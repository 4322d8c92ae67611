"""Dependencies of charts packaged from Git and Bucket sources: `file://` paths inside the
source and charts from HTTP(S) Helm repositories. The resolved `charts/*.tgz` and `Chart.lock`
are kept per (HelmChart, source revision, chart path), so an unchanged source never rebuilds
them, the way Helm keeps its own downloaded dependencies."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

import api
from controller.sources import helmrepository
from controller.sources.context import Context, Failure
from internal.kube import rest
from internal.kube.resources import HELM_REPOSITORIES
from internal.sources import chart as charts
from internal.sources import httpfetch
from internal.sources.helmindex import ChartNotFoundError, parse_index
from internal.sources.semver import Constraint, SemverError, Version

_CACHE: OrderedDict[tuple[str, str, str, str], dict[str, bytes]] = OrderedDict()
_CACHE_SIZE = 64
builds = 0
"""How many dependency sets were resolved (not taken from the cache); for tests and metrics."""


def _error(message: str) -> Failure:
    return Failure("BuildFailed", "DependencyBuildError", f"dependency build error: {message}")


def _vendored(files: Mapping[str, bytes], name: str) -> bool:
    return f"charts/{name}/Chart.yaml" in files or any(
        k.startswith(f"charts/{name}-") and k.endswith(".tgz") and "/" not in k[len("charts/") :]
        for k in files
    )


def _check_version(name: str, constraint: str | None, version: str) -> None:
    if not constraint:
        return
    try:
        ok = Constraint.parse(constraint).check(Version.parse(version))
    except SemverError as exc:
        raise _error(f"dependency '{name}': {exc}") from None
    if not ok:
        raise _error(f"dependency '{name}' version {version} does not satisfy '{constraint}'")


async def build(
    ctx: Context,
    obj: api.HelmChart,
    chart_dir: Path,
    root: Path,
    files: dict[str, bytes],
    metadata: charts.ChartMetadata,
    source_revision: str,
) -> dict[str, bytes]:
    global builds
    deps = [d for d in metadata.dependencies if not _vendored(files, str(d.get("name", "")))]
    if not deps:
        return files
    key = (obj.metadata.namespace or "", obj.metadata.name or "", source_revision, obj.spec.chart)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return {**files, **_CACHE[key]}
    built: dict[str, bytes] = {}
    locked: list[dict[str, Any]] = []
    for dep in deps:
        name = str(dep.get("name") or "")
        constraint = dep.get("version")
        repository = str(dep.get("repository") or "")
        if repository.startswith("file://"):
            rel = (chart_dir / repository.removeprefix("file://")).relative_to(root)
            target = await asyncio.to_thread(charts.inside, root, str(rel))
            if target is None:
                raise _error(f"dependency '{name}': path {repository} leaves the source")
            try:
                dep_files = await asyncio.to_thread(charts.read_directory, target, ctx.chart_limits)
                dep_meta = charts.parse_metadata(dep_files["Chart.yaml"])
            except charts.ChartError as exc:
                raise _error(f"dependency '{name}': {exc}") from None
            _check_version(name, str(constraint) if constraint else None, dep_meta.version)
            data = charts.package(dep_files, dep_meta.name)
            version = dep_meta.version
        elif repository.startswith(("http://", "https://")):
            data, version = await _from_repository(
                ctx, obj, name, str(constraint or "*"), repository
            )
        elif repository.startswith("oci://"):
            raise _error(f"dependency '{name}': OCI dependencies are not supported yet")
        else:
            raise _error(f"dependency '{name}' has no repository and is not in charts/")
        built[f"charts/{name}-{version}.tgz"] = data
        locked.append({"name": name, "repository": repository, "version": version})
    lock = {
        "dependencies": locked,
        "generated": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    built["Chart.lock"] = yaml.safe_dump(lock, sort_keys=False).encode()
    builds += 1
    _CACHE[key] = built
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return {**files, **built}


async def _from_repository(
    ctx: Context, obj: api.HelmChart, name: str, constraint: str, url: str
) -> tuple[bytes, str]:
    """A dependency from an HTTP repository, with the credentials of a HelmRepository in the
    same namespace that has this URL (none otherwise)."""
    options = httpfetch.HTTPOptions()
    repo = await _repository_for(ctx, obj.metadata.namespace or "default", url)
    if repo is not None:
        options = await helmrepository.http_options(ctx, repo)
    try:
        raw = await httpfetch.download(
            httpfetch.index_url(url),
            options,
            max_size=ctx.max_index_size,
            what="index",
            credentials_origin=url,
        )
        index = await asyncio.to_thread(parse_index, raw)
        cv = index.get(name, constraint)
        data = await httpfetch.download(
            httpfetch.resolve_reference_url(url, cv.urls[0]) if cv.urls else "",
            options,
            max_size=ctx.chart_limits.chart,
            what="chart",
            credentials_origin=url,
        )
    except (httpfetch.FetchError, ChartNotFoundError, ValueError) as exc:
        raise _error(f"dependency '{name}' from {url}: {exc}") from None
    return data, cv.version


async def _repository_for(ctx: Context, namespace: str, url: str) -> api.HelmRepository | None:
    listed = await rest.request(ctx.kube, "GET", HELM_REPOSITORIES.path(namespace))
    for item in listed.get("items", []):
        if str(item.get("spec", {}).get("url", "")).rstrip("/") == url.rstrip("/"):
            parsed = api.parse(item)
            if isinstance(parsed, api.HelmRepository):
                return parsed
    return None
