"""OCIRepository: resolve the ref (digest > semver > tag > `latest`), pull the manifest and
the selected layer through the Helm engine's registry client, and store it: extracted and
re-archived with the ignore rules (`extract`, the default) or as it is (`copy`)."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import api
from api.sources import OCIRepositorySpec
from controller.sources import artifacts, oci, verify
from controller.sources.context import Context, Failure, Notice, Outcome
from internal.artifacts import storage as st
from internal.helm import HelmError, RegistryNotFoundError, TooLargeError
from internal.helm.models import PullRequest, TagsRequest
from internal.sources import ignore
from internal.sources import oci as ocisrc
from internal.sources.archive import ArchiveError, extract_tgz
from internal.sources.revisions import digest_of_revision

KIND = "OCIRepository"
MAX_LAYER_SIZE = 512 * 1024 * 1024


async def _resolve_tag(ctx: Context, obj: api.OCIRepository, access: Any) -> str | None:
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
            raise oci.registry_failure(exc, "failed to determine artifact digest") from None
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


async def reconcile(ctx: Context, obj: api.OCIRepository) -> Outcome:
    ns, name = obj.metadata.namespace or "default", obj.metadata.name or ""
    spec = obj.spec
    access = await oci.spec_access(ctx, ns, spec)
    tag = await _resolve_tag(ctx, obj, access)
    digest = spec.ref.digest if spec.ref is not None and tag is None else None
    selector = spec.layer_selector
    media_type = selector.media_type if selector is not None else None
    operation = (selector.operation if selector is not None else None) or "extract"
    with tempfile.TemporaryDirectory(prefix="helmward-oci-", dir=ctx.work_dir) as tmp:
        layer_file = Path(tmp, "layer")
        try:
            pulled = await ctx.engine().pull(
                PullRequest(
                    ref=spec.url,
                    tag=tag,
                    digest=digest,
                    artifact=True,
                    layer_media_type=media_type,
                    max_size=MAX_LAYER_SIZE,
                    dest=str(layer_file),
                    **oci.access_fields(access),
                )
            )
        except TooLargeError as exc:
            raise Failure("FetchFailed", "OCILayerOperationFailed", exc.message) from None
        except RegistryNotFoundError as exc:
            what = f"'{spec.url}' {'tag ' + tag if tag else 'digest ' + (digest or '')}"
            raise Failure(
                "FetchFailed",
                "OCIArtifactPullFailed",
                f"failed to pull artifact from {what}: {exc.message}",
            ) from None
        except HelmError as exc:
            raise oci.registry_failure(exc, f"failed to pull artifact from '{spec.url}'") from None
        revision = ocisrc.revision(tag, pulled.manifest_digest)
        verified: tuple[tuple[str, str, str, str], ...] = ()
        if verify.wanted(spec.verify):
            # Checked on the digest pulled, before anything is stored.
            await verify.check(ctx, ns, spec.verify, spec.url, pulled.manifest_digest, access)
            verified = (verify.Verified(f"verified signature of revision {revision}").condition(),)
        status: dict[str, Any] = {}
        if spec.ignore is not None:
            status["observedIgnore"] = spec.ignore
        if selector is not None:
            status["observedLayerSelector"] = selector.to_wire()
        artifact = None
        if (
            obj.status is not None
            and obj.status.observed_ignore == spec.ignore
            and obj.status.observed_layer_selector == selector
        ):
            artifact = artifacts.reusable(ctx, obj.status.artifact, revision)
        if artifact is None:
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
    status["url"] = artifact["url"]
    return Outcome(
        ready_message=f"stored artifact for digest '{revision}'",
        artifact=artifact,
        status=status,
        notice=Notice(f"stored artifact with revision '{revision}' from '{spec.url}'"),
        conditions=verified,
    )


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
