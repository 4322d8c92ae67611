"""OCIRepository: resolve the ref (digest > semver > tag > `latest`), pull the manifest and
the selected layer through the Helm engine's registry client, and store it: extracted and
re-archived with the ignore rules (`extract`, the default) or as it is (`copy`)."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import api
from api.meta import ConditionStatus
from api.sources import OCIRepositorySpec
from controller.sources import artifacts, oci, verify
from controller.sources.context import Context, Failure, Notice, Outcome
from internal.artifacts import storage as st
from internal.helm import HelmError, RegistryNotFoundError, TooLargeError
from internal.helm.models import PullRequest, RegistryAccess, ResolveRequest, TagsRequest
from internal.sources import ignore
from internal.sources import oci as ocisrc
from internal.sources.archive import ArchiveError, extract_tgz
from internal.sources.revisions import digest_of_revision

KIND = "OCIRepository"
MAX_LAYER_SIZE = 512 * 1024 * 1024
pulls = 0
"""How many artifacts this process pulled (a digest already stored is not pulled again)."""


async def _resolve_tag(ctx: Context, obj: api.OCIRepository, access: RegistryAccess) -> str | None:
    """The tag to pull, or None when the ref is a digest."""
    ref = obj.spec.ref
    if ref is not None and ref.digest:
        return None
    if ref is not None and ref.semver:
        try:
            tags = await ctx.engine().tags(
                TagsRequest(ref=obj.spec.url, all=True, **oci.access_fields(access))
            )
        except HelmError as exc:
            raise oci.registry_failure(exc, "failed to determine artifact digest", access) from None
        try:
            return ocisrc.select_semver_tag(tags, ref.semver, ref.semver_filter)
        except ocisrc.OCIError as exc:
            raise Failure(
                "FetchFailed",
                "OCIArtifactPullFailed",
                f"failed to determine the artifact tag for '{obj.spec.url}': {exc}",
            ) from None
    if ref is not None and ref.tag:
        return ref.tag
    return "latest"


async def _resolve_digest(ctx: Context, url: str, tag: str, access: RegistryAccess) -> str:
    """The manifest digest `tag` points at, from a HEAD request: nothing is pulled."""
    try:
        resolved = await ctx.engine().resolve(
            ResolveRequest(ref=url, tag=tag, **oci.access_fields(access))
        )
    except RegistryNotFoundError as exc:
        raise Failure(
            "FetchFailed",
            "OCIArtifactPullFailed",
            f"failed to determine artifact digest of '{url}' tag {tag}: "
            f"{oci.message_of(exc, access)}",
        ) from None
    except HelmError as exc:
        raise oci.registry_failure(exc, "failed to determine artifact digest", access) from None
    return resolved.digest


def _verified_condition(obj: api.OCIRepository) -> tuple[str, str, str, str] | None:
    """The SourceVerified=True condition of the current generation, if the status has one."""
    for c in (obj.status.conditions if obj.status is not None else None) or []:
        if (
            c.type == verify.CONDITION
            and c.status == ConditionStatus.TRUE
            and c.observed_generation == obj.metadata.generation
        ):
            return (c.type, c.status.value, c.reason, c.message)
    return None


def _current(ctx: Context, obj: api.OCIRepository, revision: str) -> dict[str, Any] | None:
    """The stored artifact when it already holds `revision` and was made with the same ignore
    rules and layer selector: nothing needs pulling."""
    status, spec = obj.status, obj.spec
    if (
        status is None
        or status.observed_ignore != spec.ignore
        or status.observed_layer_selector != spec.layer_selector
    ):
        return None
    return artifacts.reusable(ctx, status.artifact, revision)


async def reconcile(ctx: Context, obj: api.OCIRepository) -> Outcome:
    ns = obj.metadata.namespace or "default"
    spec = obj.spec
    access = await oci.spec_access(ctx, ns, spec)
    tag = await _resolve_tag(ctx, obj, access)
    if tag is None:
        assert spec.ref is not None  # no tag means a digest ref
        digest = spec.ref.digest or ""
    else:
        digest = await _resolve_digest(ctx, spec.url, tag, access)
    revision = ocisrc.revision(tag, digest)
    current = _current(ctx, obj, revision)
    verified: tuple[tuple[str, str, str, str], ...] = ()
    if verify.wanted(spec.verify):
        # As source-controller: checked again only for a new digest or a new generation, or
        # after a failed check; always before anything is pulled or stored.
        kept = _verified_condition(obj) if current is not None else None
        if kept is None:
            await verify.check(ctx, ns, spec.verify, spec.url, digest, access)
            kept = verify.Verified(f"verified signature of revision {revision}").condition()
        verified = (kept,)
    status = _observed(spec)
    if current is None:
        current = await _pull_and_store(ctx, obj, access, tag, digest)
    status["url"] = current["url"]
    return Outcome(
        ready_message=f"stored artifact for digest '{revision}'",
        artifact=current,
        status=status,
        notice=Notice(f"stored artifact with revision '{revision}' from '{spec.url}'"),
        conditions=verified,
    )


def _observed(spec: OCIRepositorySpec) -> dict[str, Any]:
    status: dict[str, Any] = {}
    if spec.ignore is not None:
        status["observedIgnore"] = spec.ignore
    if spec.layer_selector is not None:
        status["observedLayerSelector"] = spec.layer_selector.to_wire()
    return status


async def _pull_and_store(
    ctx: Context, obj: api.OCIRepository, access: RegistryAccess, tag: str | None, digest: str
) -> dict[str, Any]:
    """Pull the manifest `digest` (the one resolved and, with verify, checked) and store its
    layer as the new artifact."""
    ns, name = obj.metadata.namespace or "default", obj.metadata.name or ""
    spec = obj.spec
    selector = spec.layer_selector
    media_type = selector.media_type if selector is not None else None
    operation = (selector.operation if selector is not None else None) or "extract"
    global pulls
    with tempfile.TemporaryDirectory(prefix="helmward-oci-", dir=ctx.work_dir) as tmp:
        layer_file = Path(tmp, "layer")
        try:
            pulls += 1
            pulled = await ctx.engine().pull(
                PullRequest(
                    ref=spec.url,
                    digest=digest,
                    artifact=True,
                    layer_media_type=media_type,
                    max_size=MAX_LAYER_SIZE,
                    dest=str(layer_file),
                    **oci.access_fields(access),
                )
            )
        except TooLargeError as exc:
            raise Failure(
                "FetchFailed", "OCILayerOperationFailed", oci.message_of(exc, access)
            ) from None
        except RegistryNotFoundError as exc:
            what = f"'{spec.url}' {'tag ' + tag if tag else 'digest ' + digest}"
            raise Failure(
                "FetchFailed",
                "OCIArtifactPullFailed",
                f"failed to pull artifact from {what}: {oci.message_of(exc, access)}",
            ) from None
        except HelmError as exc:
            raise oci.registry_failure(
                exc, f"failed to pull artifact from '{spec.url}'", access
            ) from None
        revision = ocisrc.revision(tag, pulled.manifest_digest)
        hexdigest = digest_of_revision(pulled.manifest_digest)
        path = st.artifact_path(KIND, ns, name, f"{hexdigest}.tar.gz")
        write = _write(ctx, spec, operation, layer_file, Path(tmp, "tree"), path)
        try:
            artifact = await artifacts.store(ctx, path, revision, write, "latest.tar.gz")
        except ArchiveError as exc:
            raise Failure(
                "FetchFailed",
                "OCILayerOperationFailed",
                f"failed to extract layer {pulled.layer_digest}: {exc}",
            ) from None
    await artifacts.collect_garbage(ctx, obj, path)
    annotations = pulled.manifest.get("annotations")
    if isinstance(annotations, dict) and annotations:
        artifact["metadata"] = {str(k): str(v) for k, v in annotations.items()}
    return artifact


async def _write(
    ctx: Context,
    spec: OCIRepositorySpec,
    operation: str,
    layer_file: Path,
    tree: Path,
    path: str,
) -> st.Stored:
    """The layer as it is (copy), or extracted and archived again with the ignore rules."""
    if operation == "copy":
        return await asyncio.to_thread(ctx.storage.write_file, path, layer_file)
    await asyncio.to_thread(tree.mkdir)
    await asyncio.to_thread(extract_tgz, layer_file, tree, max_total=MAX_LAYER_SIZE)
    rules = await asyncio.to_thread(ignore.load_rules, tree, spec.ignore)
    return await asyncio.to_thread(ctx.storage.archive, path, tree, rules.excluded)
