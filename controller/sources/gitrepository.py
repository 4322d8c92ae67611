"""GitRepository: check out the ref, archive the tree (ignore rules applied) as
`<commit>.tar.gz`, revision `<ref>@sha1:<commit>`."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import api
from api.duration import parse_duration
from controller.sources import artifacts, gitverify
from controller.sources.context import Context, Failure, Outcome
from internal.artifacts import storage as st
from internal.sources import git, ignore
from internal.sources.revisions import git_revision

KIND = "GitRepository"


async def reconcile(ctx: Context, obj: api.GitRepository) -> Outcome:
    ns, name = obj.metadata.namespace or "default", obj.metadata.name or ""
    spec = obj.spec
    auth = git.GitAuth()
    if spec.secret_ref is not None:
        auth = git.GitAuth.from_secret(await ctx.secret(ns, spec.secret_ref.name))
    timeout = parse_duration(spec.timeout).total_seconds() if spec.timeout else 60.0
    with tempfile.TemporaryDirectory(prefix="helmward-git-", dir=ctx.work_dir) as tmp:
        client = await asyncio.to_thread(git.Git, spec.url, auth, Path(tmp), timeout)
        tree = Path(tmp, "tree")
        try:
            label, commit = await client.checkout(spec.ref, tree)
        except git.GitError as exc:
            reason = "AuthenticationFailed" if _is_auth(str(exc)) else "GitOperationFailed"
            raise Failure(
                "FetchFailed", reason, f"failed to checkout and determine revision: {exc}"
            ) from None
        verified = await gitverify.check(ctx, obj, client, tree, Path(tmp, "verify"), label, commit)
        revision = git_revision(label or None, commit)
        path = st.artifact_path(KIND, ns, name, f"{commit}.tar.gz")
        artifact = None
        if obj.status is not None and obj.status.observed_ignore == spec.ignore:
            artifact = artifacts.reusable(ctx, obj.status.artifact, revision)
        if artifact is None:
            rules = await asyncio.to_thread(ignore.load_rules, tree, spec.ignore)
            write = asyncio.to_thread(ctx.storage.archive, path, tree, rules.excluded)
            artifact = await artifacts.store(
                ctx, path, revision, write, "latest.tar.gz", verb="archive"
            )
    observed = {} if spec.ignore is None else {"observedIgnore": spec.ignore}
    message = f"stored artifact for revision '{revision}'"
    notice = f"stored artifact for commit '{revision}'"
    status = {**observed, **verified.status}
    outcome = await artifacts.finish(ctx, obj, artifact, path, message, notice, status=status)
    outcome.conditions = verified.conditions
    return outcome


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
