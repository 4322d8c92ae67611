"""GitRepository: check out the ref, archive the tree (ignore rules applied) as
`<commit>.tar.gz`, revision `<ref>@sha1:<commit>`."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import api
from api.duration import parse_duration
from controller.sources.context import Context, Failure, Outcome, artifact_dict, storage_failure
from internal.artifacts import storage as st
from internal.sources import git, ignore
from internal.sources.revisions import git_revision

KIND = "GitRepository"


async def _auth(ctx: Context, obj: api.GitRepository) -> git.GitAuth:
    if obj.spec.secret_ref is None:
        return git.GitAuth()
    data = await ctx.secret(obj.metadata.namespace or "default", obj.spec.secret_ref.name)

    def text(key: str) -> str | None:
        return data[key].decode() if key in data else None

    return git.GitAuth(
        username=text("username"),
        password=text("password"),
        bearer_token=text("bearerToken"),
        ca=data.get("ca.crt") or data.get("caFile"),
        identity=data.get("identity"),
        known_hosts=data.get("known_hosts"),
    )


async def reconcile(ctx: Context, obj: api.GitRepository) -> Outcome:
    ns, name = obj.metadata.namespace or "default", obj.metadata.name or ""
    spec = obj.spec
    auth = await _auth(ctx, obj)
    ref = None
    if spec.ref is not None:
        r = spec.ref
        ref = git.Ref(branch=r.branch, tag=r.tag, semver=r.semver, name=r.name, commit=r.commit)
    timeout = parse_duration(spec.timeout).total_seconds() if spec.timeout else 60.0
    with tempfile.TemporaryDirectory(prefix="helmward-git-", dir=ctx.work_dir) as tmp:
        client = await asyncio.to_thread(git.Git, spec.url, auth, Path(tmp), timeout)
        tree = Path(tmp, "tree")
        try:
            label, commit = await client.checkout(ref, tree)
        except git.GitError as exc:
            reason = "AuthenticationFailed" if _is_auth(str(exc)) else "GitOperationFailed"
            raise Failure(
                "FetchFailed", reason, f"failed to checkout and determine revision: {exc}"
            ) from None
        revision = git_revision(label or None, commit)
        path = st.artifact_path(KIND, ns, name, f"{commit}.tar.gz")
        current = obj.status.artifact if obj.status else None
        observed_ignore = obj.status.observed_ignore if obj.status else None
        if (
            current is not None
            and current.revision == revision
            and observed_ignore == spec.ignore
            and ctx.storage.exists(current.path)
        ):
            artifact = {**current.to_wire(), "url": ctx.storage.url(current.path)}
            events: list[tuple[str, str, str]] = []
        else:
            rules = await asyncio.to_thread(ignore.load_rules, tree, spec.ignore)
            try:
                stored = await asyncio.to_thread(ctx.storage.archive, path, tree, rules.excluded)
                ctx.storage.symlink(path, "latest.tar.gz")
            except (OSError, st.StorageError) as exc:
                raise storage_failure(exc, "archive") from None
            artifact = artifact_dict(ctx.storage, path, revision, stored.digest, stored.size)
            events = [("Normal", "NewArtifact", f"stored artifact for commit '{revision}'")]
    await asyncio.to_thread(ctx.storage.garbage_collect, st.artifact_dir(KIND, ns, name), path)
    status: dict[str, object] = {
        "url": ctx.storage.url(f"{st.artifact_dir(KIND, ns, name)}/latest.tar.gz")
    }
    if spec.ignore is not None:
        status["observedIgnore"] = spec.ignore
    return Outcome(
        ready_message=f"stored artifact for revision '{revision}'",
        artifact=artifact,
        status=status,
        events=events,
    )


def _is_auth(message: str) -> bool:
    words = (
        "authentication failed",
        "401",
        "403",
        "permission denied",
        "could not read username",
        "host key verification failed",
    )
    lower = message.lower()
    return any(w in lower for w in words)
