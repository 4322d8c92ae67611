"""HelmRepository: fetch `index.yaml`, check it parses, store it, and share the parsed index
with every HelmChart of the repository (keyed by revision)."""

from __future__ import annotations

import asyncio
import hashlib

import api
from api.duration import parse_duration
from controller.sources import oci
from controller.sources.context import Context, Failure, Outcome, artifact_dict, storage_failure
from internal.artifacts import storage as st
from internal.sources import httpfetch
from internal.sources.helmindex import IndexError_

KIND = "HelmRepository"


async def http_options(ctx: Context, obj: api.HelmRepository) -> httpfetch.HTTPOptions:
    """Credentials and TLS of a repository from its Secrets."""
    ns = obj.metadata.namespace or "default"
    spec = obj.spec
    username = password = None
    tls = httpfetch.TLSMaterial()
    if spec.secret_ref is not None:
        data = await ctx.secret(ns, spec.secret_ref.name)
        if "username" in data or "password" in data:
            if not (data.get("username") and data.get("password")):
                raise Failure(
                    "FetchFailed",
                    "AuthenticationFailed",
                    f"invalid '{spec.secret_ref.name}' secret data: "
                    "required fields 'username' and 'password'",
                    stalled=True,
                )
            username, password = data["username"].decode(), data["password"].decode()
        # Deprecated TLS keys in secretRef, still honoured by Flux.
        tls = httpfetch.TLSMaterial(data.get("certFile"), data.get("keyFile"), data.get("caFile"))
    if spec.cert_secret_ref is not None:
        data = await ctx.secret(ns, spec.cert_secret_ref.name)
        tls = httpfetch.TLSMaterial(data.get("tls.crt"), data.get("tls.key"), data.get("ca.crt"))
    context = None
    if tls.cert or tls.key or tls.ca:
        try:
            context = httpfetch.tls_context(tls)
        except httpfetch.FetchError as exc:
            raise Failure(
                "FetchFailed",
                "AuthenticationFailed",
                f"failed to construct Helm client's TLS config: {exc}",
                stalled=True,
            ) from None
    timeout = parse_duration(spec.timeout).total_seconds() if spec.timeout else 60.0
    return httpfetch.HTTPOptions(
        username=username,
        password=password,
        pass_credentials=bool(spec.pass_credentials),
        tls=context,
        timeout=timeout,
    )


async def reconcile(ctx: Context, obj: api.HelmRepository) -> Outcome:
    if obj.spec.type == "oci":
        return await oci.reconcile_helm_repository(ctx, obj)
    ns = obj.metadata.namespace or "default"
    name = obj.metadata.name or ""
    options = await http_options(ctx, obj)
    url = httpfetch.index_url(obj.spec.url)
    try:
        data = await httpfetch.download(url, options, max_size=ctx.max_index_size, what="index")
    except httpfetch.FetchError as exc:
        reason = (
            "AuthenticationFailed" if " 401 " in f"{exc} " or " 403 " in f"{exc} " else "Failed"
        )
        raise Failure(
            "FetchFailed", reason, f"failed to fetch Helm repository index: {exc}"
        ) from None

    hexdigest = hashlib.sha256(data).hexdigest()
    revision = f"sha256:{hexdigest}"
    # Parse once per revision; HelmCharts find it in the cache under the same revision.
    try:
        index = await asyncio.to_thread(ctx.indexes.get, revision, lambda: data)
    except IndexError_ as exc:
        raise Failure(
            "FetchFailed",
            "IndexationFailed",
            f"failed to load Helm repository from index YAML: {exc}",
        ) from None

    path = st.artifact_path(KIND, ns, name, f"index-{hexdigest}.yaml")
    current = obj.status.artifact if obj.status else None
    if current is not None and current.revision == revision and ctx.storage.exists(current.path):
        artifact = {**current.to_wire(), "url": ctx.storage.url(current.path)}
        events: list[tuple[str, str, str]] = []
    else:
        try:
            stored = await asyncio.to_thread(ctx.storage.write_bytes, path, data)
            ctx.storage.symlink(path, "index.yaml")
        except (OSError, st.StorageError) as exc:
            raise storage_failure(exc) from None
        artifact = artifact_dict(ctx.storage, path, revision, stored.digest, stored.size)
        events = [
            (
                "Normal",
                "NewArtifact",
                f"stored fetched index of size {stored.size} with {len(index)} chart versions "
                f"from '{obj.spec.url}'",
            )
        ]
    await asyncio.to_thread(ctx.storage.garbage_collect, st.artifact_dir(KIND, ns, name), path)
    return Outcome(
        ready_message=f"stored artifact: revision '{revision}'",
        artifact=artifact,
        status={"url": ctx.storage.url(f"{st.artifact_dir(KIND, ns, name)}/index.yaml")},
        events=events,
    )
