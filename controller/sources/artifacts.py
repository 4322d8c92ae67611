"""The step every source ends with: keep the current artifact when it already holds the
revision, else write a new one and link it as the latest; then collect the old ones."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from api.meta import Artifact, FluxObject, timestamp
from controller.sources.context import Context, Failure, Notice, Outcome
from internal.artifacts import storage as st


def storage_failure(exc: Exception, verb: str = "save") -> Failure:
    """Writing an artifact into storage failed (`verb` is save or archive, as Flux says)."""
    return Failure(
        "StorageOperationFailed",
        "ArchiveOperationFailed",
        f"unable to {verb} artifact to storage: {exc}",
    )


def reusable(ctx: Context, current: Artifact | None, revision: str) -> dict[str, Any] | None:
    """The current artifact when it holds `revision` and is still in storage. Its URL is made
    current: the advertised address may have changed since (a restart)."""
    if current is None or current.revision != revision or not ctx.storage.exists(current.path):
        return None
    return {**current.to_wire(), "url": ctx.storage.url(current.path)}


async def store(
    ctx: Context,
    path: str,
    revision: str,
    write: Awaitable[st.Stored],
    link: str,
    *,
    verb: str = "save",
) -> dict[str, Any]:
    """Await `write` (which writes `path`), point `link` at it, and return the artifact as
    Flux writes it into status."""
    try:
        stored = await write
        ctx.storage.symlink(path, link)
    except (OSError, st.StorageError) as exc:
        raise storage_failure(exc, verb) from None
    return {
        "path": path,
        "url": ctx.storage.url(path),
        "revision": revision,
        "digest": stored.digest,
        "lastUpdateTime": timestamp(),
        "size": stored.size,
    }


def directory(obj: FluxObject) -> str:
    """Where the object's artifacts are stored."""
    return st.artifact_dir(obj.kind, obj.metadata.namespace or "default", obj.metadata.name or "")


async def collect_garbage(ctx: Context, obj: FluxObject, keep: str) -> None:
    await asyncio.to_thread(ctx.storage.garbage_collect, directory(obj), keep)


async def finish(
    ctx: Context,
    obj: FluxObject,
    artifact: dict[str, Any],
    keep: str,
    message: str,
    notice: str,
    *,
    link: str = "latest.tar.gz",
    status: dict[str, Any] | None = None,
) -> Outcome:
    """Collect the artifacts other than `keep` and report `artifact`, Ready with `message`,
    announced with `notice` when it is new; `status.url` is the address of `link` to the
    latest, which never changes."""
    await collect_garbage(ctx, obj, keep)
    url = ctx.storage.url(f"{directory(obj)}/{link}")
    return Outcome(
        ready_message=message,
        artifact=artifact,
        status={"url": url, **(status or {})},
        notice=Notice(notice),
    )
