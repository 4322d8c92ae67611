"""The Helm-facing half of a release, in the shape of operator-sdk's helm operator Manager.

A `ManagerFactory` holds what every release shares: the engine and the clusters it can reach.
A `Manager` is one release of one object for one reconcile. It reads the newest stored release
(`sync`), answers `is_installed` and `is_upgrade_required`, and runs the actions. It decides
nothing: which action runs when is the state machine's business (internal/release/plan.py), and
the caller folds the outcomes into the object's status.

Reading storage is the `reader.Reader`'s: from the watch of Helm storage when it covers the
release (an unchanged in-sync release costs no request), else by GETs of the newest version.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from api.helmrelease import HelmRelease
from internal.drift import live
from internal.drift.diff import Change, IgnoreRule
from internal.helm import errors as herr
from internal.helm import models as hm
from internal.helm.engine import Engine
from internal.kube.client import ApiException
from internal.manager import digests, options, polling
from internal.manager.clusters import Cluster, Clusters
from internal.manager.reader import Reader
from internal.manager.records import Records
from internal.release import health, inventory
from internal.release.plan import RollbackTarget
from internal.release.state import (
    Desired,
    Observed,
    ReleaseState,
    StoredRelease,
    determine_state,
)

UNLOCK_DESCRIPTION = "Release unlocked from stale state"


@dataclass(frozen=True)
class Done:
    """What one action stored, and its error if it failed."""

    observations: list[hm.Observation]
    error: herr.HelmError | None = None
    result: Any = None

    @property
    def failed(self) -> bool:
        return self.error is not None


@dataclass(frozen=True)
class Chart:
    """A loaded chart and the values to release it with."""

    path: Path
    info: hm.ChartInfo
    values: dict[str, Any]
    oci_digest: str = ""
    """The digest of the OCI artifact the chart came from, recorded in the releases it makes."""

    def crds(self) -> list[dict[str, str]]:
        return [c.model_dump(by_alias=True) for c in self.info.crd_objects or []]


class ReleaseClient:
    """One release of one object for one reconcile: what reads storage and needs no chart
    (sync, test, rollback, uninstall, unlock, drift, health, inventory)."""

    def __init__(
        self,
        engine: Engine,
        hr: HelmRelease,
        target: options.Target,
        cluster: Cluster,
        records: Records | None = None,
    ) -> None:
        self.engine = engine
        self.hr = hr
        self.target = target
        self.cluster = cluster
        self.reader = Reader(engine, hr, target, cluster, records)

    @property
    def release(self) -> hm.Release | None:
        """The newest release in storage, as of the last `sync`; `load` it first when the
        caller reads its body."""
        return self.reader.release

    async def load(self) -> hm.Release | None:
        """The newest release with its body: read now when `sync` answered from the watch."""
        return await self.reader.load()

    # --- what is stored ------------------------------------------------------------------------

    def release_name(self) -> str:
        return self.target.release_name

    def _storage(self) -> hm.StorageSpec:
        return hm.StorageSpec(namespace=self.target.storage_namespace)

    def _observe(self, oci_digest: str = "") -> hm.ObserveSpec:
        return digests.observe(self.hr, self.target, oci_digest)

    async def _get(self, version: int) -> hm.Release | None:
        return await self.reader.get(version)

    async def sync(self, known_version: int | None = None) -> None:
        """Know the newest stored release. `known_version` is the version the caller last
        recorded: a watch that has not yet seen it is not trusted."""
        await self.reader.sync(known_version)

    def stored(self) -> StoredRelease | None:
        return self.reader.stored()

    def is_installed(self) -> bool:
        stored = self.stored()
        return stored is not None and stored.status != "uninstalled"

    # --- actions -------------------------------------------------------------------------------

    async def _run(self, action: Any, request: Any, oci_digest: str = "") -> Done:
        """Run an engine action on this release's cluster and storage."""
        storage, observe = self._storage(), self._observe(oci_digest)
        return await self._act(
            action(request, cluster=self.cluster.target, storage=storage, observe=observe)
        )

    async def _act(self, call: Any) -> Done:
        self.reader.wrote()
        try:
            out = await call
        except herr.HelmError as exc:
            self.reader.written(exc.observations)
            return Done(exc.observations, exc, exc.result)
        self.reader.written(out.observations)
        return Done(out.observations, None, out.result)

    async def test_release(self) -> Done:
        request = options.test(self.hr, self.target)
        return await self._run(self.engine.test, request)

    async def rollback_release(self, version: int) -> Done:
        to = await self._get(version) if version else None
        request = options.rollback(self.hr, self.target, version, to.apply_method if to else None)
        return await self._run(self.engine.rollback, request)

    async def uninstall_release(self) -> Done:
        """Uninstall with the object's uninstall options. A release already gone is success."""
        request = options.uninstall(self.hr, self.target)
        done = await self._run(self.engine.uninstall, request)
        if isinstance(done.error, herr.ReleaseNotFoundError):
            return Done(done.observations)
        return done

    async def detect_drift(
        self, rules: Sequence[IgnoreRule]
    ) -> list[tuple[Change, dict[str, Any]]]:
        """Compare the live objects with the stored release's manifest (server-side-apply dry
        runs); the changes that would bring them back, each with its object."""
        release = await self.load()
        if release is None:
            return []
        return await live.detect(
            self.cluster.api,
            self.cluster.discovery,
            release.manifest,
            self.target.namespace,
            self.target.release_name,
            rules,
            self.cluster.field_manager,
        )

    async def reconcile_release(self, drifted: Sequence[tuple[Change, dict[str, Any]]]) -> None:
        """Bring the live objects back to the stored manifest by server-side apply, with no new
        Helm revision."""
        await live.correct(
            self.cluster.api, self.cluster.discovery, drifted, self.cluster.field_manager
        )

    async def unlock(self) -> tuple[str, Done]:
        """Mark a release left pending by a crash as failed, so it can be remediated. Returns
        the status it was left in and what the engine stored."""
        stored = self.stored()
        assert stored is not None
        return stored.status, await self.mark_failed(UNLOCK_DESCRIPTION)

    async def mark_failed(self, description: str) -> Done:
        """Record the newest stored release as failed, as Helm records a failed action, so the
        state machine remediates it. The engine writes it through Helm's storage (observed, as
        the cluster's identity, impersonated when the object names a service account) and reads
        the newest revision itself. The Done carries the release as now stored."""
        request = hm.MarkFailedRequest(
            release_name=self.target.release_name,
            namespace=self.target.namespace,
            description=description,
        )
        done = await self._run(self.engine.mark_failed, request)
        release = getattr(done.result, "release", None)
        if release is not None:
            self.reader.replace(release)
        return done

    async def wait_healthy(
        self, release: hm.Release, checks: Sequence[health.Check], within: float
    ) -> str | None:
        """Poll what the checks cover in `release` until it is all Current. None when healthy;
        else why not (one failed, or the timeout passed)."""
        return await polling.wait_healthy(
            self.cluster, self.target.namespace, release, checks, within
        )

    async def inventory(
        self, release: hm.Release, crds: Sequence[Mapping[str, str]] = ()
    ) -> list[dict[str, str]]:
        """The objects a release applies, then the chart's CRDs."""
        docs = inventory.manifest_documents(release.manifest)
        kinds: dict[tuple[str, str], bool | None] = {}
        for doc in docs:
            key = (str(doc.get("apiVersion", "")), str(doc.get("kind", "")))
            if key not in kinds:
                try:
                    res = await self.cluster.discovery.resource(*key)
                except ApiException:
                    res = None
                kinds[key] = None if res is None else res.namespaced
        return inventory.entries(docs, self.target.namespace, lambda v, k: kinds.get((v, k)), crds)

    async def verify(self, version: int, digest: str) -> RollbackTarget:
        """Whether a recorded snapshot is still in storage as recorded: a rollback target that
        is gone is missing; one modified outside the controller is corrupt."""
        stored = await self._get(version)
        if stored is None:
            return RollbackTarget.MISSING
        return RollbackTarget.OK if stored.digest == digest else RollbackTarget.CORRUPT


class Manager(ReleaseClient):
    """A release and the chart it is to be: install, upgrade, and all a ReleaseClient does."""

    def __init__(
        self,
        engine: Engine,
        hr: HelmRelease,
        target: options.Target,
        cluster: Cluster,
        chart: Chart,
        records: Records | None = None,
    ) -> None:
        super().__init__(engine, hr, target, cluster, records)
        self.chart = chart

    def is_upgrade_required(self, desired: Desired, observed: Observed) -> bool:
        state = determine_state(self.stored(), desired, observed).state
        return state in (ReleaseState.OUT_OF_SYNC, ReleaseState.UNMANAGED)

    async def install_release(self) -> Done:
        request = options.install(self.hr, self.target, self.chart.path, self.chart.values)
        return await self._run(self.engine.install, request, self.chart.oci_digest)

    async def upgrade_release(self) -> Done:
        stored = await self.load()
        method = stored.apply_method if stored else None
        request = options.upgrade(self.hr, self.target, self.chart.path, self.chart.values, method)
        return await self._run(self.engine.upgrade, request, self.chart.oci_digest)


class ManagerFactory:
    """Builds the Manager or ReleaseClient of one release, on the clusters it can reach."""

    def __init__(self, engine: Engine, clusters: Clusters, records: Records | None = None) -> None:
        self.engine = engine
        self.clusters = clusters
        self.records = records
        """The watch of Helm storage on the local cluster, when the controller runs one."""

    def new_manager(
        self, hr: HelmRelease, target: options.Target, cluster: Cluster, chart: Chart
    ) -> Manager:
        records = self.records if self.clusters.is_local(cluster) else None
        return Manager(self.engine, hr, target, cluster, chart, records)

    async def digests(self, hr: HelmRelease, values: Mapping[str, Any]) -> hm.DigestResult:
        """What Flux records of the object's desired state, computed as Flux computes it."""
        return await digests.desired(self.engine, hr, values)

    def new_client(
        self, hr: HelmRelease, target: options.Target, cluster: Cluster
    ) -> ReleaseClient:
        return ReleaseClient(self.engine, hr, target, cluster)
