"""Bucket: download the objects, revision sha256 over key/etag lines, artifact
`<hex>.tar.gz`."""

from __future__ import annotations

import asyncio
import dataclasses
import tempfile
from pathlib import Path

import certifi

import api
from api.duration import parse_duration
from api.sources import BucketSpec
from controller.sources import artifacts
from controller.sources.context import Context, Failure, Outcome, invalid_secret
from internal.artifacts import storage as st
from internal.sources import bucket as buckets
from internal.sources.credentials import TLSMaterial, redact, tls_with_legacy
from internal.sources.revisions import bucket_revision, digest_of_revision

KIND = "Bucket"


async def reconcile(ctx: Context, obj: api.Bucket) -> Outcome:
    ns, name = obj.metadata.namespace or "default", obj.metadata.name or ""
    spec = obj.spec
    access = secret = None
    if spec.secret_ref is not None:
        data = await ctx.secret(ns, spec.secret_ref.name)
        if "accesskey" not in data or "secretkey" not in data:
            raise invalid_secret(
                spec.secret_ref.name, "required fields 'accesskey' and 'secretkey'"
            )
        access, secret = data["accesskey"].decode(), data["secretkey"].decode()
    timeout = parse_duration(spec.timeout).total_seconds() if spec.timeout else 60.0
    tls = await _tls(ctx, ns, spec)
    proxy = await ctx.proxy(ns, spec.proxy_secret_ref.name) if spec.proxy_secret_ref else None
    options = buckets.BucketOptions(
        bucket=spec.bucket_name,
        endpoint=spec.endpoint,
        region=spec.region,
        prefix=spec.prefix,
        insecure=bool(spec.insecure),
        access_key=access,
        secret_key=secret,
        timeout=timeout,
        anonymous=spec.provider == "generic" and access is None,
        proxy_url=proxy.url() if proxy is not None else None,
    )
    with (
        tempfile.TemporaryDirectory(prefix="helmward-bucket-", dir=ctx.work_dir) as tmp,
        tempfile.TemporaryDirectory(prefix="helmward-tls-", dir=ctx.work_dir) as tls_dir,
    ):
        tree = Path(tmp)
        options = await asyncio.to_thread(_with_tls_files, options, tls, Path(tls_dir))
        try:
            etags = await buckets.fetch(options, tree, spec.ignore)
        except buckets.BucketError as exc:
            reason = (
                "AuthenticationFailed"
                if "AccessDenied" in str(exc)
                or "InvalidAccessKeyId" in str(exc)
                or "SignatureDoesNotMatch" in str(exc)
                else "BucketOperationFailed"
            )
            message = redact(
                f"failed to fetch bucket: {exc}",
                secret,
                proxy.password if proxy is not None else None,
            )
            raise Failure("FetchFailed", reason, message) from None
        revision = bucket_revision(etags)
        path = st.artifact_path(KIND, ns, name, f"{digest_of_revision(revision)}.tar.gz")
        artifact = artifacts.reusable(ctx, obj.status.artifact if obj.status else None, revision)
        if artifact is None:
            write = asyncio.to_thread(ctx.storage.archive, path, tree)
            artifact = await artifacts.store(
                ctx, path, revision, write, "latest.tar.gz", verb="archive"
            )
    message = f"stored artifact: revision '{revision}'"
    notice = f"stored artifact with {len(etags)} fetched files from '{spec.bucket_name}' bucket"
    observed = {} if spec.ignore is None else {"observedIgnore": spec.ignore}
    return await artifacts.finish(ctx, obj, artifact, path, message, notice, status=observed)


async def _tls(ctx: Context, namespace: str, spec: BucketSpec) -> TLSMaterial:
    """The CA and client certificate of `spec.certSecretRef` (ca.crt, tls.crt, tls.key; the
    older caFile, certFile, keyFile when those are absent)."""
    if spec.cert_secret_ref is None:
        return TLSMaterial()
    name = spec.cert_secret_ref.name
    data = await ctx.secret(namespace, name)
    tls = tls_with_legacy(data)
    if not tls:
        raise invalid_secret(name, "no 'ca.crt', 'tls.crt' or 'tls.key'")
    if bool(tls.cert) != bool(tls.key):
        raise invalid_secret(name, "'tls.crt' and 'tls.key' go together")
    return tls


def _with_tls_files(
    options: buckets.BucketOptions, tls: TLSMaterial, directory: Path
) -> buckets.BucketOptions:
    """`options` pointing at `tls` written into `directory` (the client takes files). A CA
    adds to the system's trust, as source-controller's does."""
    if not tls:
        return options
    ca_file = cert_file = key_file = None
    if tls.ca:
        bundle = directory / "ca.crt"
        bundle.write_bytes(Path(certifi.where()).read_bytes() + b"\n" + tls.ca)
        ca_file = str(bundle)
    if tls.cert and tls.key:
        cert, key = directory / "tls.crt", directory / "tls.key"
        cert.write_bytes(tls.cert)
        key.touch(mode=0o600)
        key.write_bytes(tls.key)
        cert_file, key_file = str(cert), str(key)
    return dataclasses.replace(options, ca_file=ca_file, cert_file=cert_file, key_file=key_file)
