"""Dependencies of charts packaged from GitRepository and Bucket sources, built by Helm's own
`helm dependency build` (the engine's `dependencies` op) and kept in the artifact storage.

Flux's rule holds: when every dependency is already in charts/, nothing is built. Otherwise
Helm follows a committed Chart.lock (requirements.lock for apiVersion v1), or resolves the
versions and writes the lock with its digest. A dependency URL that is the URL of a
HelmRepository in the HelmChart's namespace is fetched with that repository's credentials and
TLS (an oci:// one with those of the OCI HelmRepository whose URL prefixes it); any other URL
is fetched anonymously. file:// dependencies must stay inside the source.

The built `charts/*` and lock are stored under a key of the namespace, the dependencies, the
lock (or, without one, the source revision), the file:// dependencies' content and what charts/
already held (see internal.sources.dependencies.storage_key), so a restart or a second
HelmChart of the same chart reuses them with no build and no download."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import api
from controller.sources import oci, unsupported
from controller.sources.context import Context, Failure
from internal.artifacts.dependencies import DependencyCache, DependencyCacheError
from internal.helm import HelmError, LockOutOfSyncError
from internal.helm.models import DependenciesRequest, DependencyRegistry, DependencyRepository
from internal.kube import rest
from internal.kube.resources import HELM_REPOSITORIES
from internal.sources import chart as charts
from internal.sources import dependencies as deps
from internal.sources.credentials import LEGACY_TLS_KEYS, TLSMaterial, basic_auth, tls_material

BUILD_TIMEOUT = timedelta(minutes=5)
SOURCE_DATE_EPOCH = 0
"""The time stamped on archives of file:// dependencies, so that they are reproducible."""

builds = 0
"""Dependency sets built by Helm in this process; for tests and metrics."""
reuses = 0
"""Dependency sets taken from storage instead."""


def _error(message: str) -> Failure:
    return Failure("BuildFailed", "DependencyBuildError", f"dependency build error: {message}")


def _count(ctx: Context, result: str) -> None:
    global builds, reuses
    if result == "built":
        builds += 1
    else:
        reuses += 1
    if ctx.metrics is not None:
        ctx.metrics.record_dependency_build(result)


async def build(
    ctx: Context,
    obj: api.HelmChart,
    chart_dir: Path,
    root: Path,
    files: dict[str, bytes],
    metadata: charts.ChartMetadata,
    source_revision: str,
) -> dict[str, bytes]:
    """`files` with charts/ and the lock file as `helm dependency build` makes them."""
    try:
        declared = deps.declared(files, metadata)
    except charts.ChartError as exc:
        raise _error(str(exc)) from None
    if not declared or not deps.needs_build(files, declared):
        return files
    namespace = obj.metadata.namespace or "default"
    root, resolved_chart = await asyncio.to_thread(lambda: (root.resolve(), chart_dir.resolve()))
    chart_rel = resolved_chart.relative_to(root).as_posix()
    local = await _local_digests(ctx, root, chart_rel, declared)
    lock_name = deps.lock_name(metadata)
    key = deps.storage_key(
        deps.KeyInputs(
            namespace=namespace,
            dependencies=declared,
            lock=files.get(lock_name),
            source_revision=source_revision,
            local=local,
            vendored=deps.files_digest(deps.top_level_charts(files)),
        )
    )
    cache = DependencyCache(ctx.storage.root)
    stored = await asyncio.to_thread(cache.load, namespace, key)
    if stored is not None:
        _count(ctx, "reused")
        return _merged(files, stored, lock_name)
    built = await _helm_build(ctx, namespace, chart_dir, declared)
    sizes = [(k, len(v)) for k, v in built.items() if k.endswith(".tgz")]
    try:
        deps.check_built(
            sizes,
            ctx.chart_limits.chart,
            sum(len(v) for v in _merged(files, built, lock_name).values()),
            ctx.chart_limits.chart,
        )
    except charts.ChartError as exc:
        raise _error(str(exc)) from None
    try:
        await asyncio.to_thread(cache.save, namespace, key, built)
    except (OSError, DependencyCacheError) as exc:
        raise _error(f"cannot store the built dependencies: {exc}") from None
    _count(ctx, "built")
    return _merged(files, built, lock_name)


def _merged(files: Mapping[str, bytes], built: Mapping[str, bytes], lock: str) -> dict[str, bytes]:
    """The chart's files with its charts/ packages and lock replaced by the built ones (Helm
    removes outdated packages from charts/)."""
    old = deps.top_level_charts(files)
    out = {k: v for k, v in files.items() if k not in old and k != lock}
    out.update(built)
    return out


async def _local_digests(
    ctx: Context, root: Path, chart_rel: str, declared: Sequence[Mapping[str, Any]]
) -> dict[str, str]:
    """The content digest of each file:// dependency; a Failure for one that leaves the source
    or is no chart."""
    out: dict[str, str] = {}
    for dep in declared:
        repository = str(dep.get("repository") or "")
        if not repository.startswith(deps.FILE_SCHEME):
            continue
        name = str(dep.get("name") or "")
        rel = deps.local_path(repository, chart_rel)
        target = await asyncio.to_thread(charts.inside, root, rel) if rel is not None else None
        if target is None:
            raise _error(f"dependency '{name}': path {repository} leaves the source")
        try:
            dep_files = await asyncio.to_thread(charts.read_directory, target, ctx.chart_limits)
        except charts.ChartError as exc:
            raise _error(f"dependency '{name}' at {repository}: {exc}") from None
        out[repository] = deps.files_digest(dep_files)
    return out


async def _helm_build(
    ctx: Context, namespace: str, chart_dir: Path, declared: Sequence[Mapping[str, Any]]
) -> dict[str, bytes]:
    """Run Helm's dependency build on the chart directory; the files it leaves in charts/ and
    the lock."""
    repositories, registries = await _access(ctx, namespace, declared)
    request = DependenciesRequest(
        chart_path=str(chart_dir),
        repositories=repositories,
        registries=registries,
        max_size=max(ctx.max_index_size, ctx.chart_limits.chart),
        source_date_epoch=SOURCE_DATE_EPOCH,
        timeout=BUILD_TIMEOUT,
    )
    try:
        result = await ctx.engine().dependencies(request)
    except LockOutOfSyncError as exc:
        raise _error(exc.message) from None
    except HelmError as exc:
        raise _error(exc.message) from None

    def read() -> dict[str, bytes]:
        out = {f"charts/{n}": (chart_dir / "charts" / n).read_bytes() for n in result.charts}
        lock = chart_dir / result.lock_file
        if lock.is_file():
            out[result.lock_file] = lock.read_bytes()
        return out

    return await asyncio.to_thread(read)


async def _access(
    ctx: Context, namespace: str, declared: Sequence[Mapping[str, Any]]
) -> tuple[list[DependencyRepository], list[DependencyRegistry]]:
    """The credentials of each dependency URL from the HelmRepository that has it."""
    listed = await rest.request(ctx.kube, "GET", HELM_REPOSITORIES.path(namespace))
    known = [
        r
        for item in listed.get("items", [])
        if isinstance(r := api.parse(item), api.HelmRepository)
    ]
    repositories: dict[str, DependencyRepository] = {}
    registries: dict[str, DependencyRegistry] = {}
    for dep in declared:
        url = str(dep.get("repository") or "")
        if url.startswith(("http://", "https://")) and url.rstrip("/") not in repositories:
            match = next(
                (r for r in known if r.spec.type != "oci" and deps.same_url(r.spec.url, url)),
                None,
            )
            _check_usable(match, url)
            # A URL no HelmRepository has is still listed, anonymous, so that a committed
            # lock naming it builds (Helm alone would want it added first).
            repositories[url.rstrip("/")] = (
                await _repository(ctx, namespace, match, url)
                if match is not None
                else DependencyRepository(url=url.rstrip("/"))
            )
        elif url.startswith(deps.OCI_SCHEME):
            host = deps.oci_host(url)
            if host in registries:
                continue
            match = next(
                (r for r in known if r.spec.type == "oci" and deps.oci_matches(r.spec.url, url)),
                None,
            )
            _check_usable(match, url)
            registries[host] = await _registry(ctx, namespace, host, match)
    return list(repositories.values()), list(registries.values())


def _check_usable(repo: api.HelmRepository | None, url: str) -> None:
    """Fail closed on a HelmRepository whose access Helmward cannot reproduce (a cloud
    provider): its dependency is neither fetched anonymously nor with other credentials."""
    if repo is None:
        return
    found = unsupported.gaps("HelmRepository", repo.spec)
    if found:
        fields = "; ".join(f"{g.path} ({g.what})" for g in found)
        raise _error(
            f"dependency repository {url}: HelmRepository '{repo.metadata.name}' needs "
            f"{fields}, which Helmward does not support"
        )


async def _repository(
    ctx: Context, namespace: str, repo: api.HelmRepository, url: str
) -> DependencyRepository:
    """A chart repository entry with the HelmRepository's basic auth and TLS, read the way the
    HelmRepository reconciler reads them."""
    spec = repo.spec
    username = password = None
    tls = TLSMaterial()
    if spec.secret_ref is not None:
        data = await ctx.secret(namespace, spec.secret_ref.name)
        if (pair := basic_auth(data)) is not None:
            username, password = pair
        tls = tls_material(data, LEGACY_TLS_KEYS)
    if spec.cert_secret_ref is not None:
        tls = tls_material(await ctx.secret(namespace, spec.cert_secret_ref.name))
    return DependencyRepository(
        url=url.rstrip("/"),
        username=username,
        password=password,
        pass_credentials=bool(spec.pass_credentials),
        insecure_skip_tls_verify=False,
        ca_pem=tls.ca,
        cert_pem=tls.cert,
        key_pem=tls.key,
    )


async def _registry(
    ctx: Context, namespace: str, host: str, repo: api.HelmRepository | None
) -> DependencyRegistry:
    """Access to the registry `host`: that of the OCI HelmRepository covering the dependency,
    else anonymous (plain HTTP for a loopback host)."""
    if repo is None:
        return DependencyRegistry(host=host, plain_http=deps.is_loopback(host))
    access = await oci.spec_access(ctx, namespace, repo.spec)
    fields = oci.access_fields(access)
    fields.pop("timeout", None)
    return DependencyRegistry(host=host, **fields)
