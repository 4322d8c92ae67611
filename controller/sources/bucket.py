"""Bucket: download the objects, revision sha256 over key/etag lines, artifact
`<hex>.tar.gz`."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import api
from api.duration import parse_duration
from controller.sources.context import Context, Failure, Outcome, artifact_dict, storage_failure
from internal.artifacts import storage as st
from internal.sources import bucket as buckets
from internal.sources.revisions import bucket_revision, digest_of_revision

KIND = "Bucket"


async def reconcile(ctx: Context, obj: api.Bucket) -> Outcome:
    ns, name = obj.metadata.namespace or "default", obj.metadata.name or ""
    spec = obj.spec
    if spec.provider not in ("generic", "aws"):
        raise Failure(
            "FetchFailed",
            "InvalidProviderConfiguration",
            f"provider '{spec.provider}' is not supported by Helmward yet",
            stalled=True,
        )
    access = secret = None
    if spec.secret_ref is not None:
        data = await ctx.secret(ns, spec.secret_ref.name)
        if "accesskey" not in data or "secretkey" not in data:
            raise Failure(
                "FetchFailed",
                "AuthenticationFailed",
                f"invalid '{spec.secret_ref.name}' secret data: "
                "required fields 'accesskey' and 'secretkey'",
                stalled=True,
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
        current = obj.status.artifact if obj.status else None
        if (
            current is not None
            and current.revision == revision
            and ctx.storage.exists(current.path)
        ):
            artifact = {**current.to_wire(), "url": ctx.storage.url(current.path)}
            events: list[tuple[str, str, str]] = []
        else:
            try:
                stored = await asyncio.to_thread(ctx.storage.archive, path, tree)
                ctx.storage.symlink(path, "latest.tar.gz")
            except (OSError, st.StorageError) as exc:
                raise storage_failure(exc, "archive") from None
            artifact = artifact_dict(ctx.storage, path, revision, stored.digest, stored.size)
            events = [
                (
                    "Normal",
                    "NewArtifact",
                    f"stored artifact with {len(etags)} fetched files "
                    f"from '{spec.bucket_name}' bucket",
                )
            ]
    await asyncio.to_thread(ctx.storage.garbage_collect, st.artifact_dir(KIND, ns, name), path)
    status: dict[str, object] = {
        "url": ctx.storage.url(f"{st.artifact_dir(KIND, ns, name)}/latest.tar.gz")
    }
    if spec.ignore is not None:
        status["observedIgnore"] = spec.ignore
    return Outcome(
        ready_message=f"stored artifact: revision '{revision}'",
        artifact=artifact,
        status=status,
        events=events,
    )
