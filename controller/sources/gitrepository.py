"""GitRepository: check out the ref (sparse directories, submodules, through a proxy), copy
the included GitRepositories' artifacts in, archive the tree (ignore rules applied) as
`<commit>.tar.gz`, revision `<ref>@sha1:<commit>`."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import api
from api.duration import parse_duration
from api.meta import Artifact
from api.sources import GitRepositoryInclude, GitRepositorySpec
from controller.sources import artifacts, gitverify
from controller.sources.context import Context, Failure, Outcome
from internal.artifacts import storage as st
from internal.sources import git, gitinclude, ignore
from internal.sources.proxy import Proxy, ProxySecretError
from internal.sources.revisions import git_revision

KIND = "GitRepository"
MAX_INCLUDE_SIZE = 512 * 1024 * 1024

Included = tuple[GitRepositoryInclude, gitinclude.IncludePaths, Artifact]


async def reconcile(ctx: Context, obj: api.GitRepository) -> Outcome:
    ns, name = obj.metadata.namespace or "default", obj.metadata.name or ""
    spec = obj.spec
    auth = git.GitAuth()
    if spec.secret_ref is not None:
        auth = git.GitAuth.from_secret(await ctx.secret(ns, spec.secret_ref.name))
    proxy = await _proxy(ctx, ns, spec)
    sparse = _sparse_directories(spec)
    included = await _included(ctx, ns, spec)
    timeout = parse_duration(spec.timeout).total_seconds() if spec.timeout else 60.0
    with tempfile.TemporaryDirectory(prefix="helmward-git-", dir=ctx.work_dir) as tmp:
        client = await asyncio.to_thread(
            git.Git, spec.url, auth, Path(tmp), timeout, proxy=proxy.url() if proxy else None
        )
        tree = Path(tmp, "tree")
        try:
            label, commit = await client.checkout(
                spec.ref, tree, sparse=sparse, submodules=bool(spec.recurse_submodules)
            )
        except git.GitError as exc:
            detail = proxy.scrub(str(exc)) if proxy else str(exc)
            reason = "AuthenticationFailed" if _is_auth(detail) else "GitOperationFailed"
            raise Failure(
                "FetchFailed", reason, f"failed to checkout and determine revision: {detail}"
            ) from None
        _check_sparse(tree, sparse)
        verified = await gitverify.check(ctx, obj, client, tree, Path(tmp, "verify"), label, commit)
        revision = git_revision(label or None, commit)
        path = st.artifact_path(KIND, ns, name, f"{commit}.tar.gz")
        artifact = None
        if not gitinclude.content_changed(spec, obj.status, [a for _, _, a in included]):
            artifact = artifacts.reusable(
                ctx, obj.status.artifact if obj.status else None, revision
            )
        if artifact is None:
            await _copy_included(ctx, included, tree, Path(tmp))
            rules = await asyncio.to_thread(ignore.load_rules, tree, spec.ignore)
            write = asyncio.to_thread(ctx.storage.archive, path, tree, rules.excluded)
            artifact = await artifacts.store(
                ctx, path, revision, write, "latest.tar.gz", verb="archive"
            )
    message = f"stored artifact for revision '{revision}'"
    notice = f"stored artifact for commit '{revision}'"
    status = {**observed(spec, included), **verified.status}
    outcome = await artifacts.finish(ctx, obj, artifact, path, message, notice, status=status)
    outcome.conditions = verified.conditions
    return outcome


def observed(spec: GitRepositorySpec, included: list[Included]) -> dict[str, Any]:
    """The content settings the artifact was built from, as Flux records them (unset ones
    cleared: a merge patch nulls them)."""
    return {
        "observedIgnore": spec.ignore,
        "observedRecurseSubmodules": True if spec.recurse_submodules else None,
        "observedSparseCheckout": spec.sparse_checkout or None,
        "observedInclude": [i.to_wire() for i, _, _ in included] or None,
        "includedArtifacts": [a.to_wire() for _, _, a in included] or None,
    }


async def _proxy(ctx: Context, ns: str, spec: GitRepositorySpec) -> Proxy | None:
    if spec.proxy_secret_ref is None:
        return None
    name = spec.proxy_secret_ref.name
    data = await ctx.secret(ns, name)
    try:
        return Proxy.from_secret(data)
    except ProxySecretError as exc:
        raise Failure(
            "FetchFailed",
            "AuthenticationFailed",
            f"failed to configure proxy options: invalid proxy secret '{ns}/{name}': {exc}",
        ) from None


def _sparse_directories(spec: GitRepositorySpec) -> list[str]:
    try:
        return git.sparse_directories(spec.sparse_checkout or [])
    except git.SparsePathError as exc:
        raise Failure(
            "FetchFailed",
            "GitOperationFailed",
            f"failed to sparse checkout directories: {exc}",
            stalled=True,
        ) from None


def _check_sparse(tree: Path, sparse: list[str]) -> None:
    missing = git.missing_sparse_directories(tree, sparse)
    if missing:
        raise Failure(
            "FetchFailed",
            "GitOperationFailed",
            f"failed to sparse checkout directories: sparse checkout dir '{missing[0]}' "
            "does not exist in repository",
        )


async def _included(ctx: Context, ns: str, spec: GitRepositorySpec) -> list[Included]:
    """Each include with its paths and the included GitRepository's current artifact; waits
    (IncludeUnavailable) while one is missing or has no artifact yet."""
    out: list[Included] = []
    for include in spec.include or []:
        name = include.repository.name
        try:
            paths = gitinclude.include_paths(include)
        except gitinclude.IncludePathError as exc:
            raise Failure(
                "StorageOperationFailed",
                "IllegalPath",
                f"path calculation for include '{name}' failed: {exc}",
                stalled=True,
            ) from None
        source = await ctx.source(KIND, ns, name)
        if source is None:
            raise Failure(
                "IncludeUnavailable",
                "NotFound",
                f"could not get resource for include '{name}': "
                f"GitRepository '{ns}/{name}' not found",
                event_type="Normal",
            )
        assert isinstance(source, api.GitRepository)
        if source.status is None or source.status.artifact is None:
            raise Failure(
                "IncludeUnavailable",
                "NoArtifact",
                f"no artifact available for include '{name}'",
                event_type="Normal",
            )
        out.append((include, paths, source.status.artifact))
    return out


async def _copy_included(ctx: Context, included: list[Included], tree: Path, scratch: Path) -> None:
    for include, paths, artifact in included:
        name = include.repository.name
        try:
            if not ctx.storage.exists(artifact.path):
                raise FileNotFoundError(f"artifact {artifact.path} is not in storage")
            local = ctx.storage.local_path(artifact.path)
            digest = await asyncio.to_thread(st.file_digest, local)
            if digest != artifact.digest:
                raise ValueError(f"digest {digest} is not the artifact's {artifact.digest}")
            await asyncio.to_thread(
                gitinclude.copy_include,
                local,
                paths,
                tree,
                max_total=MAX_INCLUDE_SIZE,
                scratch=scratch,
            )
        except (OSError, ValueError) as exc:
            raise Failure(
                "StorageOperationFailed",
                "CopyFailure",
                f"failed to copy '{name}' include from '{paths.source or '.'}' "
                f"to '{paths.target}': {exc}",
            ) from None


def _is_auth(message: str) -> bool:
    words = (
        "authentication failed",
        "401",
        "403",
        "407",
        "permission denied",
        "could not read username",
        "host key verification failed",
    )
    lower = message.lower()
    return any(w in lower for w in words)
