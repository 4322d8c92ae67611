"""`helmward history NAME`: the release's versions in Helm's storage beside what the
HelmRelease's status.history records of them. Storage is read as metadata only: the labels
Helm puts on its Secrets `sh.helm.release.v1.<release>.v<N>` (owner=helm, name, version,
status), never the release payloads. A version the status does not record shows `-`; one the
status records but storage no longer holds shows `missing`. Oldest first, as `helm history`.
Exit 1 when the newest version in storage is not `deployed` (failed, pending-*, none)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from api.helmrelease import Snapshot
from api.naming import release_name, storage_namespace
from controller.cli import output
from controller.cli.command import Command, Exit
from controller.cli.objects import find_release
from controller.cli.session import Session, open_session
from internal.kube import rest
from internal.kube.resources import SECRETS

STORAGE_PREFIX = "sh.helm.release.v1"


@dataclass(frozen=True)
class Stored:
    """A release version in Helm's storage, from its Secret's labels."""

    version: int
    status: str
    secret: str
    modified: datetime | None


@dataclass(frozen=True)
class Version:
    version: int
    stored: Stored | None
    recorded: Snapshot | None

    @property
    def storage_status(self) -> str:
        return self.stored.status if self.stored else "missing"

    @property
    def deployed(self) -> datetime | None:
        if self.recorded is not None:
            return self.recorded.last_deployed
        return self.stored.modified if self.stored else None

    def row(self) -> list[str]:
        snap = self.recorded
        return [
            str(self.version),
            self.storage_status,
            snap.status if snap else "-",
            f"{snap.chart_name}-{snap.chart_version}" if snap else "-",
            (snap.app_version or "-") if snap else "-",
            (snap.action or "-") if snap else "-",
            output.age(self.deployed) if self.deployed else "-",
        ]

    def data(self) -> dict[str, Any]:
        snap = self.recorded
        return {
            "version": self.version,
            "storage": self.storage_status,
            "storageSecret": self.stored.secret if self.stored else None,
            "recorded": snap.to_wire() if snap else None,
        }


async def stored_versions(session: Session, namespace: str, release: str) -> list[Stored]:
    """The release's storage Secrets, by their labels (a metadata-only list: no data)."""
    listing = await rest.request(
        session.api,
        "GET",
        SECRETS.path(namespace),
        query={"labelSelector": f"owner=helm,name={release}"},
        accept=rest.METADATA_LIST,
    )
    out = []
    for item in listing.get("items") or []:
        meta = item.get("metadata") or {}
        labels = meta.get("labels") or {}
        name = str(meta.get("name", ""))
        if not name.startswith(f"{STORAGE_PREFIX}.{release}.v"):
            continue
        try:
            version = int(labels.get("version") or name.rsplit(".v", 1)[1])
        except ValueError:
            continue
        modified = str(labels.get("modifiedAt", ""))
        out.append(
            Stored(
                version,
                str(labels.get("status", "unknown")),
                name,
                datetime.fromtimestamp(int(modified), UTC) if modified.isdigit() else None,
            )
        )
    return out


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="the HelmRelease")


async def run(args: argparse.Namespace) -> int:
    async with open_session(args) as session:
        item = await find_release(session, args.name)
        if item is None:
            return Exit.NOT_READY
        hr = item.release
        if hr is None:
            print(f"✗ {item.ref} is invalid: {item.invalid}", file=sys.stderr)
            return Exit.NOT_READY
        status = hr.status
        namespace = (status.storage_namespace if status else None) or storage_namespace(hr)
        release = release_name(hr)
        stored = {s.version: s for s in await stored_versions(session, namespace, release)}
    recorded = {s.version: s for s in (status.history if status else None) or []}
    versions = [
        Version(v, stored.get(v), recorded.get(v)) for v in sorted(set(stored) | set(recorded))
    ]
    if args.output != "table":
        output.structured(
            {
                "release": release,
                "storageNamespace": namespace,
                "versions": [v.data() for v in versions],
            },
            args.output,
        )
    elif not versions:
        print(f"✗ release '{release}' has no versions in '{namespace}'", file=sys.stderr)
    else:
        headers = ["revision", "storage", "recorded", "chart", "app version", "action", "deployed"]
        output.table(headers, [v.row() for v in versions])
    newest = max(stored) if stored else None
    ok = newest is not None and stored[newest].status == "deployed"
    return Exit.OK if ok else Exit.NOT_READY


COMMANDS = (
    Command(
        "history",
        "a release's versions in Helm's storage beside its status.history",
        configure,
        run,
    ),
)
