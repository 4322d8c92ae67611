"""HelmRepository: fetch `index.yaml`, check it parses, store it, and share the parsed index
with every HelmChart of the repository (keyed by revision)."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import api
from api.duration import parse_duration
from controller.sources import artifacts
from controller.sources.context import Context, Failure, Outcome, invalid_secret
from internal.artifacts import storage as st
from internal.sources import httpfetch
from internal.sources.credentials import LEGACY_TLS_KEYS, TLSMaterial, basic_auth, tls_material
from internal.sources.helmindex import IndexError_

KIND = "HelmRepository"


def is_static(raw: dict[str, Any]) -> bool:
    """Whether `raw` is a HelmRepository of type oci: since source-controller v1.9 not
    reconciled at all, only read by the HelmCharts that name it."""
    return raw.get("kind") == KIND and (raw.get("spec") or {}).get("type") == "oci"


async def http_options(ctx: Context, obj: api.HelmRepository) -> httpfetch.HTTPOptions:
    """Credentials and TLS of a repository from its Secrets."""
    ns = obj.metadata.namespace or "default"
    spec = obj.spec
    username = password = None
    tls = TLSMaterial()
    if spec.secret_ref is not None:
        data = await ctx.secret(ns, spec.secret_ref.name)
        if "username" in data or "password" in data:
            pair = basic_auth(data)
            if pair is None:
                raise invalid_secret(
                    spec.secret_ref.name, "required fields 'username' and 'password'"
                )
            username, password = pair
        tls = tls_material(data, LEGACY_TLS_KEYS)
    if spec.cert_secret_ref is not None:
        tls = tls_material(await ctx.secret(ns, spec.cert_secret_ref.name))
    context = None
    if tls:
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
    artifact = artifacts.reusable(ctx, obj.status.artifact if obj.status else None, revision)
    if artifact is None:
        write = asyncio.to_thread(ctx.storage.write_bytes, path, data)
        artifact = await artifacts.store(ctx, path, revision, write, "index.yaml")
    notice = (
        f"stored fetched index of size {artifact['size']} with {len(index)} chart "
        f"versions from '{obj.spec.url}'"
    )
    message = f"stored artifact: revision '{revision}'"
    return await artifacts.finish(ctx, obj, artifact, path, message, notice, link="index.yaml")
