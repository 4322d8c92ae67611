"""What a watch of Helm's storage Secrets says about each release, without reading a record.

Helm labels every record Secret with the release's name, the revision's version and its status
(`owner=helm`). A metadata-only watch of them gives the newest version of every release and the
resourceVersion of its record; with what the controller last read of that record (a `Summary`),
an unchanged release is known without a GET. A record whose resourceVersion moved is read again.

Pure: the informer that feeds `on_event` lives with the controller.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from internal.release.state import StoredRelease

LABEL_SELECTOR = "owner=helm"


@dataclass(frozen=True, slots=True)
class Record:
    """One revision's record, as its labels and metadata tell."""

    version: int
    status: str
    resource_version: str


@dataclass(frozen=True, slots=True)
class Summary:
    """What the controller last read of a release's newest record: the facts the state machine
    needs, the record's resourceVersion as the watch showed it before the read, and the OCI
    digest that went into the record's digest."""

    resource_version: str
    oci_digest: str
    stored: StoredRelease


def record_of(obj: Mapping[str, Any]) -> tuple[str, str, Record] | None:
    """(storage namespace, release name, record) of a storage Secret's metadata; None for a
    Secret that is not a release record."""
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    name, version = labels.get("name"), str(labels.get("version", ""))
    if labels.get("owner") != "helm" or not name or not version.isdigit():
        return None
    record = Record(int(version), str(labels.get("status", "")), str(meta.get("resourceVersion")))
    return str(meta.get("namespace", "")), str(name), record


def slim(obj: dict[str, Any]) -> dict[str, Any]:
    """The part of a storage Secret's metadata the index and the informer need: the rest (uid,
    timestamps, other labels) is not kept in memory."""
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    return {
        "metadata": {
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "resourceVersion": meta.get("resourceVersion"),
            "labels": {k: labels[k] for k in ("name", "owner", "status", "version") if k in labels},
        }
    }


class Records:
    """The newest record of each release in the watched storage, and the summary of what was
    last read of it. `namespace` is the one watched (None: all); `synced` tells whether the
    watch has listed everything once."""

    def __init__(self, namespace: str | None, synced: Callable[[], bool]) -> None:
        self.namespace = namespace
        self._synced = synced
        self._versions: dict[tuple[str, str], dict[int, Record]] = {}
        self._read: dict[tuple[str, str], Summary] = {}

    def covers(self, namespace: str) -> bool:
        """Whether the watch answers for releases stored in `namespace`."""
        return self._synced() and self.namespace in (None, namespace)

    def on_event(self, kind: str, obj: dict[str, Any]) -> None:
        found = record_of(obj)
        if found is None or kind == "SYNC":
            return
        ns, name, record = found
        key = (ns, name)
        versions = self._versions.setdefault(key, {})
        if kind == "DELETED":
            versions.pop(record.version, None)
            if not versions:
                del self._versions[key]
                self._read.pop(key, None)
            return
        versions[record.version] = record

    def newest(self, namespace: str, name: str) -> Record | None:
        versions = self._versions.get((namespace, name))
        return versions[max(versions)] if versions else None

    def summary(self, namespace: str, name: str, record: Record, oci_digest: str) -> Summary | None:
        """What was last read of `record`, if it is still the record as then."""
        read = self._read.get((namespace, name))
        if read is None or (read.resource_version, read.oci_digest) != (
            record.resource_version,
            oci_digest,
        ):
            return None
        if read.stored.version != record.version:
            return None
        return read

    def remember(self, namespace: str, name: str, summary: Summary) -> None:
        if (namespace, name) in self._versions:
            self._read[(namespace, name)] = summary

    def forget(self, namespace: str, name: str) -> None:
        self._read.pop((namespace, name), None)
