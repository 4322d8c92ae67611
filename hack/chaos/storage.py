"""Helm's storage Secrets as the harness reads them, and the invariants over them: pure."""

from __future__ import annotations

import base64
import gzip
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Record:
    """One revision of one release, decoded from its Secret."""

    release: str
    version: int
    status: str
    chart_version: str
    config: Mapping[str, Any]


class CorruptRecord(ValueError):
    pass


def decode(secret: Mapping[str, Any]) -> Record:
    """The release in a Helm storage Secret (base64 of gzip of JSON, inside the Secret's own
    base64); CorruptRecord when any layer does not decode or disagrees with the labels."""
    name = (secret.get("metadata") or {}).get("name", "?")
    labels = (secret.get("metadata") or {}).get("labels") or {}
    try:
        raw = base64.b64decode(base64.b64decode((secret.get("data") or {})["release"]))
        if raw[:2] == GZIP_MAGIC:
            raw = gzip.decompress(raw)
        rel = json.loads(raw)
        record = Record(
            release=rel["name"],
            version=int(rel["version"]),
            status=rel["info"]["status"],
            chart_version=rel["chart"]["metadata"]["version"],
            config=rel.get("config") or {},
        )
    except (KeyError, ValueError, TypeError, OSError, EOFError) as exc:
        raise CorruptRecord(f"{name}: {exc!r}") from None
    if labels.get("name") != record.release or labels.get("version") != str(record.version):
        raise CorruptRecord(f"{name}: labels {labels} disagree with the record")
    return record


def by_release(records: Iterable[Record]) -> dict[str, list[Record]]:
    out: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        out[r.release].append(r)
    for rs in out.values():
        rs.sort(key=lambda r: r.version)
    return dict(out)


def holes(records: list[Record]) -> list[int]:
    """Revisions missing between the oldest kept and the newest (trimming drops only the
    oldest, so any gap inside is a lost record)."""
    if not records:
        return []
    kept = {r.version for r in records}
    return [v for v in range(records[0].version, records[-1].version + 1) if v not in kept]


def pending(records: Iterable[Record]) -> list[Record]:
    return [r for r in records if r.status.startswith("pending-")]


@dataclass
class Overlaps:
    """Concurrent actions seen from successive snapshots of storage: a release with two
    revisions pending at once had two actions at the same time."""

    snapshots: int = 0
    seen: int = 0
    found: list[str] | None = None

    def observe(self, snapshot: Mapping[str, list[Record]], at: float) -> None:
        self.snapshots += 1
        for release, records in snapshot.items():
            busy = pending(records)
            self.seen += bool(busy)
            if len(busy) > 1:
                self.found = [
                    *(self.found or []),
                    f"{release} at {at:.1f}s: {[(r.version, r.status) for r in busy]}",
                ]
