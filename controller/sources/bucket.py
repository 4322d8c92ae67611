"""Bucket: download the objects, revision sha256 over key/etag lines, artifact
`<hex>.tar.gz`."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import api
from api.duration import parse_duration
from controller.sources import artifacts
from controller.sources.context import Context, Failure, Outcome, invalid_secret
from internal.artifacts import storage as st
from internal.sources import bucket as buckets
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
    )
    with tempfile.TemporaryDirectory(prefix="helmward-bucket-", dir=ctx.work_dir) as tmp:
        tree = Path(tmp)
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
            raise Failure("FetchFailed", reason, f"failed to fetch bucket: {exc}") from None
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
