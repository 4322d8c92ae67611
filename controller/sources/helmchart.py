"""HelmChart: a chart pulled from a HelmRepository (HTTP index or OCI registry) or packaged
from a path in a GitRepository or Bucket artifact, stored as `<name>-<version>.tgz`."""

from __future__ import annotations

import asyncio
import dataclasses
import tempfile
from pathlib import Path
from typing import Any

import api
from controller.sources import artifacts, helmrepository, oci, unsupported, verify
from controller.sources.context import Context, Failure, Notice, Outcome
from internal.artifacts import storage as st
from internal.sources import chart as charts
from internal.sources import httpfetch
from internal.sources.archive import ArchiveError, extract_tgz
from internal.sources.helmindex import ChartNotFoundError, Index
from internal.sources.revisions import chart_version_metadata

KIND = "HelmChart"
MAX_SOURCE_SIZE = 512 * 1024 * 1024


def _build_error(reason: str, summary: str, err: object) -> Failure:
    return Failure("BuildFailed", reason, f"{summary}: {err}")


async def _ready_source(ctx: Context, obj: api.HelmChart) -> api.FluxObject:
    ns = obj.metadata.namespace or "default"
    ref = obj.spec.source_ref
    source = await ctx.source(ref.kind, ns, ref.name)
    if source is None:
        raise Failure(
            "FetchFailed",
            "SourceUnavailable",
            f"failed to get source: {ref.kind} '{ns}/{ref.name}' not found",
        )
    if isinstance(source, api.HelmRepository) and source.spec.type == "oci":
        # A static object: no status to wait on; the chart checks what it can act on.
        unsupported.check(
            "HelmRepository", source.spec, subject=f"HelmRepository '{ns}/{ref.name}'"
        )
        return source
    status: Any = getattr(source, "status", None)
    if status is None or status.artifact is None:
        # Not a warning: the HelmChart waits for its source, as source-controller traces it.
        raise Failure(
            "FetchFailed",
            "NoSourceArtifact",
            f"no artifact available for {ref.kind} source '{ref.name}'",
            event_type="Normal",
        )
    return source


async def reconcile(ctx: Context, obj: api.HelmChart) -> Outcome:
    source = await _ready_source(ctx, obj)
    if isinstance(source, api.HelmRepository) and source.spec.type == "oci":
        return await _from_oci_repository(ctx, obj, source)
    if obj.spec.verify is not None:
        # Only an OCI chart has a signature to check; anything else would be unverified.
        raise Failure(
            "FetchFailed",
            unsupported.VERIFICATION,
            f"not supported by Helmward: spec.verify (signature verification of a chart from a "
            f"{source.kind}{_type_of(source)}: only charts from an OCI HelmRepository are "
            "signed); no artifact is produced, so nothing unverified is used",
            stalled=True,
            withdraw=True,
        )
    if isinstance(source, api.HelmRepository):
        return await _from_helm_repository(ctx, obj, source)
    return await _from_tarball(ctx, obj, source)


def _type_of(source: api.FluxObject) -> str:
    return " of type default" if isinstance(source, api.HelmRepository) else ""


async def _store(
    ctx: Context, obj: api.HelmChart, name: str, version: str, data: bytes
) -> dict[str, Any]:
    """The chart package as the new artifact, its revision the chart version."""
    ns, hc = obj.metadata.namespace or "default", obj.metadata.name or ""
    path = st.artifact_path(KIND, ns, hc, charts.package_filename(name, version))
    write = asyncio.to_thread(ctx.storage.write_bytes, path, data)
    artifact = await artifacts.store(ctx, path, version, write, "latest.tar.gz")
    await artifacts.collect_garbage(ctx, obj, path)
    return artifact


def _reusable(
    obj: api.HelmChart, ctx: Context, revision: str, source_revision: str | None
) -> dict[str, Any] | None:
    """The current artifact when it already is this build: same revision, same values files,
    same generation, and still in storage."""
    status = obj.status
    if status is None:
        return None
    if (status.observed_values_files or []) != (obj.spec.values_files or []):
        return None
    if status.observed_generation != obj.metadata.generation:
        return None
    if (
        source_revision is not None
        and obj.spec.reconcile_strategy == "Revision"
        and status.observed_source_artifact_revision != source_revision
    ):
        return None
    return artifacts.reusable(ctx, status.artifact, revision)


def _version(obj: api.HelmChart, chart_version: str, source_kind: str, source_revision: str) -> str:
    """The chart version with the build metadata Flux adds for this HelmChart, if any."""
    meta = chart_version_metadata(
        source_kind=source_kind,
        reconcile_strategy=obj.spec.reconcile_strategy,
        generation=obj.metadata.generation or 0,
        source_revision=source_revision,
        has_values_files=bool(obj.spec.values_files),
    )
    return charts.with_version_metadata(chart_version, meta) if meta else chart_version


def _observed(obj: api.HelmChart, chart_name: str, source_revision: str | None) -> dict[str, Any]:
    """The status fields that say what this build was made from."""
    out: dict[str, Any] = {}
    if source_revision is not None:
        out["observedSourceArtifactRevision"] = source_revision
    out["observedChartName"] = chart_name
    if obj.spec.values_files:
        out["observedValuesFiles"] = obj.spec.values_files
    return out


_PULLED = ("ChartPullSucceeded", "pulled")
_PACKAGED = ("ChartPackageSucceeded", "packaged")


def _how_pulled(obj: api.HelmChart) -> tuple[str, str]:
    """How a pulled chart's artifact was made: packaged again when valuesFiles were merged
    into it, so a reused artifact says what the build that made it said."""
    return _PACKAGED if obj.spec.values_files else _PULLED


def _built(
    how: tuple[str, str],
    name: str,
    version: str,
    artifact: dict[str, Any],
    status: dict[str, Any],
) -> Outcome:
    """Ready with the chart `how` was made (pulled or packaged), announced with the same reason
    when the artifact is new, as source-controller does."""
    reason, verb = how
    message = f"{verb} '{name}' chart with version '{version}'"
    return Outcome(
        ready_reason=reason,
        ready_message=message,
        artifact=artifact,
        status=status,
        notice=Notice(message, reason=reason, recovery=reason),
    )


async def _from_helm_repository(
    ctx: Context, obj: api.HelmChart, repo: api.HelmRepository
) -> Outcome:
    assert repo.status is not None
    assert repo.status.artifact is not None
    repo_artifact = repo.status.artifact
    index = await _index(ctx, repo_artifact.revision, repo_artifact.path, repo_artifact.url)
    try:
        cv = index.get(obj.spec.chart, obj.spec.version)
    except ChartNotFoundError as exc:
        raise _build_error("InvalidChartReference", "invalid chart reference", exc) from None
    version = _version(obj, cv.version, "HelmRepository", repo_artifact.revision)
    observed = _observed(obj, cv.name, repo_artifact.revision)
    if (reused := _reusable(obj, ctx, version, None)) is not None:
        return _built(_how_pulled(obj), cv.name, version, reused, observed)
    if not cv.urls:
        raise _build_error(
            "ChartPullError", "chart pull error", f"chart '{cv.name}' has no downloadable URLs"
        )
    options = await helmrepository.http_options(ctx, repo)
    url = httpfetch.resolve_reference_url(repo.spec.url, cv.urls[0])
    try:
        data = await httpfetch.download(
            url,
            options,
            max_size=ctx.chart_limits.chart,
            what="chart",
            credentials_origin=repo.spec.url,
        )
    except httpfetch.FetchError as exc:
        raise _build_error(
            "ChartPullError",
            "chart pull error",
            f"failed to download chart for remote reference: {exc}",
        ) from None
    return await _finish_pull(ctx, obj, data, version, observed)


async def _finish_pull(
    ctx: Context, obj: api.HelmChart, data: bytes, version: str, observed: dict[str, Any]
) -> Outcome:
    """Store a pulled chart package, repackaged when valuesFiles are merged into it."""
    values_files = obj.spec.values_files or []
    try:
        files = await asyncio.to_thread(charts.read_package, data, ctx.chart_limits)
        metadata = charts.parse_metadata(files["Chart.yaml"])
    except charts.ChartError as exc:
        raise _build_error("ChartPullError", "chart pull error", exc) from None
    how = _PULLED
    if values_files:
        files = _apply_values_files(files, [(f, files.get(f)) for f in values_files], obj)
        files["Chart.yaml"] = charts.set_chart_version(files["Chart.yaml"], version)
        data = charts.package(files, metadata.name)
        how = _PACKAGED
    artifact = await _store(ctx, obj, metadata.name, version, data)
    return _built(how, metadata.name, version, artifact, observed)


async def _from_oci_repository(
    ctx: Context, obj: api.HelmChart, repo: api.HelmRepository
) -> Outcome:
    """A chart pulled from an OCI HelmRepository through the Helm engine's registry client: the
    version picked from the repository's semver tags, the package checked and stored."""
    ns = obj.metadata.namespace or "default"
    access = await oci.registry_access(
        ctx,
        ns,
        repo.spec.url,
        secret_ref=repo.spec.secret_ref,
        cert_secret_ref=repo.spec.cert_secret_ref,
        insecure=repo.spec.insecure,
        spec_timeout=repo.spec.timeout,
    )
    ref, chart_version = await oci.resolve_chart_version(
        ctx, repo.spec.url, obj.spec.chart, obj.spec.version or "*", access
    )
    version = _version(obj, chart_version, "HelmRepository", "")
    observed = _observed(obj, obj.spec.chart, None)
    checked = verify.wanted(obj.spec.verify)
    if not checked and (reused := _reusable(obj, ctx, version, None)) is not None:
        return _built(_how_pulled(obj), obj.spec.chart, version, reused, observed)
    pulled = await oci.pull_chart(ctx, ref, chart_version, access, ctx.chart_limits.chart)
    assert pulled.data is not None
    if not checked:
        return await _finish_pull(ctx, obj, pulled.data, version, observed)
    # Checked before anything is stored, on the digest the package came with.
    await verify.check(ctx, ns, obj.spec.verify, ref, pulled.manifest_digest, access)
    outcome = await _finish_pull(ctx, obj, pulled.data, version, observed)
    verified = verify.Verified(f"verified signature of version {version}")
    return dataclasses.replace(outcome, conditions=(verified.condition(),))


async def _index(ctx: Context, revision: str, path: str, url: str) -> Index:
    """The parsed index of a HelmRepository artifact: from the shared cache, else from local
    storage, else downloaded from the artifact URL."""

    def load() -> bytes:
        if ctx.storage.exists(path):
            return ctx.storage.local_path(path).read_bytes()
        raise FileNotFoundError(path)

    try:
        return await asyncio.to_thread(ctx.indexes.get, revision, load)
    except FileNotFoundError:
        data = await httpfetch.download(
            url, httpfetch.HTTPOptions(), max_size=ctx.max_index_size, what="index"
        )
        return await asyncio.to_thread(ctx.indexes.get, revision, lambda: data)
    except Exception as exc:
        raise Failure(
            "FetchFailed", "IndexationFailed", f"failed to load index of the HelmRepository: {exc}"
        ) from None


def _apply_values_files(
    files: dict[str, bytes], documents: list[tuple[str, bytes | None]], obj: api.HelmChart
) -> dict[str, bytes]:
    present = []
    for name, data in documents:
        if data is None:
            if obj.spec.ignore_missing_values_files:
                continue
            raise _build_error(
                "ValuesFilesError",
                "values files merge error",
                f"no values file found at path '{name}'",
            )
        present.append((name, data))
    try:
        merged = charts.merge_values_files(present)
    except charts.ChartError as exc:
        raise _build_error("ValuesFilesError", "values files merge error", exc) from None
    import yaml

    out = dict(files)
    out["values.yaml"] = yaml.safe_dump(merged, sort_keys=False).encode()
    return out


# Charts from GitRepository and Bucket artifacts


async def _source_archive(ctx: Context, artifact: api.meta.Artifact, dest: Path) -> None:
    if ctx.storage.exists(artifact.path):
        local = ctx.storage.local_path(artifact.path)
        digest = await asyncio.to_thread(st.file_digest, local)
        if digest != artifact.digest:
            raise Failure(
                "FetchFailed",
                "ArtifactFailed",
                f"artifact {artifact.path} digest mismatch: {digest} != {artifact.digest}",
            )
        await asyncio.to_thread(extract_tgz, local, dest, max_total=MAX_SOURCE_SIZE)
        return
    try:
        data = await httpfetch.download(
            artifact.url, httpfetch.HTTPOptions(), max_size=MAX_SOURCE_SIZE, what="artifact"
        )
    except httpfetch.FetchError as exc:
        raise Failure(
            "FetchFailed", "ArtifactFailed", f"failed to download source artifact: {exc}"
        ) from None
    if st.bytes_digest(data) != artifact.digest:
        raise Failure(
            "FetchFailed",
            "ArtifactFailed",
            f"source artifact from {artifact.url} does not match digest {artifact.digest}",
        )
    await asyncio.to_thread(extract_tgz, data, dest, max_total=MAX_SOURCE_SIZE)


async def _from_tarball(ctx: Context, obj: api.HelmChart, source: api.FluxObject) -> Outcome:
    status: Any = getattr(source, "status", None)
    artifact: api.meta.Artifact = status.artifact
    kind = obj.spec.source_ref.kind
    with tempfile.TemporaryDirectory(prefix="helmward-chart-", dir=ctx.work_dir) as tmp:
        root = Path(tmp, "source")
        await asyncio.to_thread(root.mkdir)
        try:
            await _source_archive(ctx, artifact, root)
        except ArchiveError as exc:
            raise Failure(
                "FetchFailed", "ArtifactFailed", f"failed to extract source artifact: {exc}"
            ) from None
        chart_dir = await asyncio.to_thread(charts.inside, root, obj.spec.chart)
        if chart_dir is None:
            raise _build_error(
                "InvalidChartReference",
                "invalid chart reference",
                f"path '{obj.spec.chart}' leaves the source",
            )
        if not await asyncio.to_thread(charts.is_chart_dir, chart_dir):
            raise _build_error(
                "InvalidChartReference",
                "invalid chart reference",
                f"no chart found at path '{obj.spec.chart}' in {kind} '{obj.spec.source_ref.name}'",
            )
        try:
            files = await asyncio.to_thread(charts.read_directory, chart_dir, ctx.chart_limits)
            metadata = charts.parse_metadata(files["Chart.yaml"])
        except charts.ChartError as exc:
            raise _build_error("ChartPackageError", "chart package error", exc) from None
        values_files = obj.spec.values_files or []
        version = _version(obj, metadata.version, kind, artifact.revision)
        observed = _observed(obj, metadata.name, artifact.revision)
        if (reused := _reusable(obj, ctx, version, artifact.revision)) is not None:
            return _built(_PACKAGED, metadata.name, version, reused, observed)
        if values_files:
            docs = await asyncio.to_thread(charts.read_values_files, root, values_files)
            files = _apply_values_files(files, docs, obj)
        from controller.sources import dependencies

        files = await dependencies.build(
            ctx, obj, chart_dir, root, files, metadata, artifact.revision
        )
        if version != metadata.version:
            files["Chart.yaml"] = charts.set_chart_version(files["Chart.yaml"], version)
        data = charts.package(files, metadata.name)
        if len(data) > ctx.chart_limits.chart:
            raise _build_error(
                "ChartPackageError",
                "chart package error",
                f"packaged chart exceeds the maximum chart size of {ctx.chart_limits.chart} bytes",
            )
    stored = await _store(ctx, obj, metadata.name, version, data)
    return _built(_PACKAGED, metadata.name, version, stored, observed)
