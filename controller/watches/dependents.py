"""watchDependentResources: the kinds a watched object's release applies are watched too, and a
change to or deletion of one of its objects reconciles the object that owns it, which puts the
release's objects back.

An informer per kind, started the first time a release applies that kind, sees only the objects
the engine labelled with the watch's chart. A status change (a Deployment rolling out) is not a
change: only a new fingerprint or a deletion wakes the owner.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from controller.runtime.informer import Obj
from controller.runtime.manager import Manager
from internal.helm import models as hm
from internal.kube.client import ApiException
from internal.kube.discovery import Discovery
from internal.release.inventory import manifest_documents
from internal.watches.owners import fingerprint, owner_key
from internal.watches.release import CHART_LABEL

log = logging.getLogger(__name__)


class Dependents:
    def __init__(
        self,
        manager: Manager,
        discovery: Discovery,
        group: str,
        kind: str,
        chart_name: str,
        enqueue: Callable[[str], None],
    ) -> None:
        self.manager = manager
        self.discovery = discovery
        self.group = group
        self.kind = kind
        self.selector = f"{CHART_LABEL}={chart_name}"
        self.enqueue = enqueue
        self.watched: set[tuple[str, str]] = set()
        self._seen: dict[str, str] = {}

    async def watch_release(self, key: str, release: hm.Release | None) -> None:
        """Watch every kind `release` applies (once per kind)."""
        if release is None:
            return
        for doc in manifest_documents(release.manifest):
            api_version, kind = str(doc.get("apiVersion", "")), str(doc.get("kind", ""))
            if not kind or (api_version, kind) in self.watched:
                continue
            try:
                resource = await self.discovery.resource(api_version, kind)
            except ApiException as exc:
                log.warning("not watching %s %s: %s", api_version, kind, exc)
                continue
            if resource is None:
                continue
            self.watched.add((api_version, kind))
            informer = self.manager.informer(resource, label_selector=self.selector, sharded=False)
            informer.add_handler(self._on_event)
            self.manager.run_informer(informer)
            log.info("watching %s %s for %s", api_version, kind, key)

    def _on_event(self, event: str, obj: Obj) -> None:
        uid = str((obj.get("metadata") or {}).get("uid", ""))
        if event == "DELETED":
            self._seen.pop(uid, None)
        else:
            now = fingerprint(obj)
            before = self._seen.get(uid)
            self._seen[uid] = now
            if event != "MODIFIED" or before == now:
                return
        owner = owner_key(obj, self.group, self.kind)
        if owner is not None:
            self.enqueue(owner)
