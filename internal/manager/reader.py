"""Reading one release's storage for one reconcile: the newest release, known from the watch of
storage (`records.Records`) when it covers the release, else read by GETs.

From the watch, a release whose newest record has not changed since it was last read costs no
request, and a changed one one GET of that version; the body (manifest, values) is read only
when a caller needs it (`load`). Without the watch (another cluster, storage outside the watched
namespace, or once this reconcile wrote), the newest version is fetched by name
(`sh.helm.release.v1.<name>.v<N>`) and the next version probed, so a release made outside the
controller is still seen.
"""

from __future__ import annotations

from collections.abc import Sequence

from api.helmrelease import HelmRelease
from internal.helm import errors as herr
from internal.helm import models as hm
from internal.helm.engine import Engine
from internal.manager import digests, options
from internal.manager.clusters import Cluster
from internal.manager.records import Records, Summary
from internal.release.state import StoredRelease


class Reader:
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
        self.records = records
        """The watch of this release's storage; None when it does not cover it."""
        self._release: hm.Release | None = None
        self._summary: StoredRelease | None = None
        """The newest release as last read, when `sync` knew it unchanged from the watch."""
        self._wrote = False
        self._written: hm.Release | None = None
        """The newest record the last action wrote, as the engine's observer saw it written."""

    @property
    def release(self) -> hm.Release | None:
        if self._release is None and self._summary is not None:
            raise RuntimeError("the release's body was not read: await load() first")
        return self._release

    async def load(self) -> hm.Release | None:
        if self._release is None and self._summary is not None:
            self._release = await self.get(self._summary.version)
            self._summary = None
        return self._release

    def stored(self) -> StoredRelease | None:
        if self._summary is not None:
            return self._summary
        return None if self._release is None else stored_of(self._release)

    def replace(self, release: hm.Release) -> None:
        """The newest release as an action just stored it."""
        self._release, self._summary = release, None

    def wrote(self) -> None:
        """An action is writing this release: from now on storage is read directly, as the
        watch may not have delivered the write yet."""
        self._wrote = True
        if self.records is not None:
            self.records.forget(self.target.storage_namespace, self.target.release_name)

    def written(self, observations: Sequence[hm.Observation]) -> None:
        """What an action wrote: the next `sync` takes the newest record from these (the
        observer's copy of what reached storage) instead of reading it back, unless the action
        deleted it."""
        newest: tuple[int, hm.Observation] | None = None
        for o in observations:
            # The last write of the highest version is that record as it is now.
            if o.release is not None and (newest is None or o.release.version >= newest[0]):
                newest = (o.release.version, o)
        if newest is None or newest[1].operation == "delete":
            self._written = None
        else:
            self._written = newest[1].release

    async def get(self, version: int) -> hm.Release | None:
        """The stored release at `version`, the newest when 0; None when there is none."""
        try:
            got = await self.engine.get(
                hm.GetRequest(
                    release_name=self.target.release_name,
                    namespace=self.target.namespace,
                    version=version,
                ),
                cluster=self.cluster.target,
                storage=hm.StorageSpec(namespace=self.target.storage_namespace),
                observe=digests.observe(self.hr, self.target),
            )
        except herr.ReleaseNotFoundError:
            return None
        return got.result.release

    async def sync(self, known_version: int | None = None) -> None:
        self._release, self._summary = None, None
        written, self._written = self._written, None
        if written is not None and written.version >= (known_version or 0):
            self._release = written
            return
        records = self._watching()
        if records is None:
            await self._read(known_version)
            return
        ns, name = self.target.storage_namespace, self.target.release_name
        newest = records.newest(ns, name)
        if newest is None and not known_version:
            return
        if newest is None or newest.version < (known_version or 0):
            await self._read(known_version)
            return
        oci = digests.observe(self.hr, self.target).versions.get(str(newest.version), "")
        read = records.summary(ns, name, newest, oci)
        if read is not None:
            self._summary = read.stored
            return
        rel = await self.get(newest.version)
        if rel is None:  # deleted since the watch saw it
            await self._read(known_version)
            return
        self._release = rel
        records.remember(ns, name, Summary(newest.resource_version, oci, stored_of(rel)))

    def _watching(self) -> Records | None:
        records = self.records
        if records is None or self._wrote or not records.covers(self.target.storage_namespace):
            return None
        return records

    async def _read(self, known_version: int | None) -> None:
        """With the version the caller last saw, two GETs; without it (a release never seen),
        one List of the release's storage."""
        rel = await self.get(known_version) if known_version else None
        if rel is None:
            self._release = await self.get(0)
            return
        while (newer := await self.get(rel.version + 1)) is not None:
            rel = newer
        self._release = rel


def stored_of(rel: hm.Release) -> StoredRelease:
    return StoredRelease(
        rel.name, rel.version, rel.status, rel.chart.name, rel.chart.version, rel.digest
    )
