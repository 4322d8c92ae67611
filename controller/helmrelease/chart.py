"""The chart a release is made from: its source's artifact, downloaded once per digest and
loaded once per artifact."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from api.helmrelease import HelmRelease
from api.meta import Artifact
from api.naming import chart_source_namespace, helm_chart_name
from controller.helmrelease.artifacts import ArtifactCache, ArtifactError
from controller.runtime.informer import Informer
from internal.helm import errors as herr
from internal.helm import models as hm
from internal.helm.engine import Engine

CHART_INFO_CACHE = 256


class ChartUnavailable(Exception):
    """The chart cannot be had yet; `reason` is the Ready condition's."""

    def __init__(self, reason: str, message: str, *, retry: bool, stalled: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.retry = retry
        """Back off (a failure), rather than wait for the source to change."""
        self.stalled = stalled
        """Nothing but a change of the spec can help: Stalled, no requeue."""


@dataclass(frozen=True)
class ChartArtifact:
    source_kind: str
    artifact: Artifact

    @property
    def oci_digest(self) -> str | None:
        """As Flux: only an OCIRepository's artifact digest names the chart's revision."""
        return self.artifact.digest if self.source_kind == "OCIRepository" else None


def source_of(hr: HelmRelease) -> tuple[str, str]:
    """(kind, 'namespace/name') of the object whose artifact is the chart."""
    if hr.spec.chart is not None:
        return "HelmChart", f"{chart_source_namespace(hr)}/{helm_chart_name(hr)}"
    assert hr.spec.chart_ref is not None  # the model requires chart or chartRef
    return str(hr.spec.chart_ref.kind), f"{chart_source_namespace(hr)}/{hr.spec.chart_ref.name}"


def revision(info: hm.ChartInfo, artifact: ChartArtifact) -> str:
    """The chart version; with an OCIRepository, plus the digest, so a re-pushed tag upgrades."""
    version = str(info.metadata.get("version", ""))
    if artifact.oci_digest:
        return f"{version}+{artifact.oci_digest.partition(':')[2][:12]}"
    return version


class Charts:
    def __init__(self, engine: Engine, cache: ArtifactCache, sources: dict[str, Informer]):
        self.engine = engine
        self.cache = cache
        self.sources = sources
        self._info: OrderedDict[Path, hm.ChartInfo] = OrderedDict()

    def artifact(self, hr: HelmRelease) -> ChartArtifact:
        """The source's artifact, once the source has one for its current generation."""
        kind, key = source_of(hr)
        informer = self.sources.get(kind)
        if informer is None:
            raise ChartUnavailable(
                "ArtifactFailed",
                f"chartRef kind {kind} is not supported",
                retry=False,
                stalled=True,
            )
        obj = informer.get(key)
        if obj is None:
            raise ChartUnavailable("SourceNotReady", f"{kind} '{key}' not found", retry=False)
        status = obj.get("status") or {}
        ready: dict[str, Any] = next(
            (c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {}
        )
        stalled: dict[str, Any] = next(
            (c for c in status.get("conditions") or [] if c.get("type") == "Stalled"), {}
        )
        observed = status.get("observedGeneration") == obj["metadata"].get("generation")
        # As Flux's isReady: a stalled source's old artifact is not used either.
        if stalled.get("status") == "True":
            why = stalled.get("message") or stalled.get("reason") or "stalled"
            raise ChartUnavailable(
                "SourceNotReady", f"{kind} '{key}' is not ready: {why}", retry=False
            )
        if not status.get("artifact") or not observed:
            why = ready.get("message") or "no artifact yet"
            raise ChartUnavailable(
                "SourceNotReady", f"{kind} '{key}' is not ready: {why}", retry=False
            )
        return ChartArtifact(kind, Artifact.model_validate(status["artifact"]))

    async def load(self, artifact: ChartArtifact) -> tuple[Path, hm.ChartInfo]:
        """The chart on disk and its metadata."""
        try:
            path = await self.cache.fetch(artifact.artifact.url, artifact.artifact.digest or "")
        except ArtifactError as exc:
            raise ChartUnavailable("ArtifactFailed", str(exc), retry=True) from None
        try:
            return path, await self._chart_info(path)
        except herr.HelmError as exc:
            raise ChartUnavailable(
                "ArtifactFailed", f"could not load chart: {exc}", retry=True
            ) from None

    async def _chart_info(self, path: Path) -> hm.ChartInfo:
        """Read once per artifact: the path names its digest."""
        info = self._info.get(path)
        if info is None:
            info = await self.engine.load_chart(path)
            self._info[path] = info
            while len(self._info) > CHART_INFO_CACHE:
                self._info.popitem(last=False)
        else:
            self._info.move_to_end(path)
        return info
