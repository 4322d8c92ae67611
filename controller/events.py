"""Kubernetes Events with Flux's reasons and annotations, deduplicated like client-go's.

The same (object, type, reason, message) within an hour bumps `count` on one Event instead of
creating another, so a retry loop cannot flood etcd.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import Any

from api.meta import timestamp
from internal.kube import rest
from internal.kube.client import ApiClient, ApiException
from internal.kube.rest import MERGE_PATCH
from internal.values.redact import REDACTOR

log = logging.getLogger(__name__)

COMPONENT = "helmward"
MAX_MESSAGE = 1024


def event_name(obj: Mapping[str, Any], type_: str, reason: str, message: str) -> str:
    digest = hashlib.sha256(f"{type_}\0{reason}\0{message}".encode()).hexdigest()[:16]
    return f"{obj['metadata']['name']}.{digest}"


class EventRecorder:
    def __init__(self, api: ApiClient, component: str = COMPONENT) -> None:
        self.api = api
        self.component = component

    async def emit(
        self,
        obj: Mapping[str, Any],
        type_: str,
        reason: str,
        message: str,
        annotations: Mapping[str, str] | None = None,
    ) -> None:
        """Record an event; failures are logged, never raised: events are best effort."""
        meta = obj["metadata"]
        namespace = meta.get("namespace") or "default"
        message = REDACTOR.scrub(message)
        message = message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 3] + "..."
        name = event_name(obj, type_, reason, message)
        stamp = timestamp()
        path = f"/api/v1/namespaces/{namespace}/events"
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "annotations": dict(annotations or {}),
            },
            "involvedObject": {
                "apiVersion": obj.get("apiVersion"),
                "kind": obj.get("kind"),
                "name": meta["name"],
                "namespace": meta.get("namespace"),
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "type": type_,
            "reason": reason,
            "message": message,
            "source": {"component": self.component},
            "reportingComponent": self.component,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        }
        try:
            await rest.request(self.api, "POST", path, body=body)
        except ApiException as exc:
            if exc.status != 409:
                log.warning("event %s for %s not recorded: %s", reason, meta["name"], exc)
                return
            await self._bump(f"{path}/{name}", stamp)
        except OSError as exc:
            log.warning("event %s for %s not recorded: %s", reason, meta["name"], exc)

    async def _bump(self, path: str, stamp: str) -> None:
        try:
            current = await rest.request(self.api, "GET", path)
            patch = {"count": int(current.get("count") or 1) + 1, "lastTimestamp": stamp}
            await rest.request(self.api, "PATCH", path, body=patch, content_type=MERGE_PATCH)
        except (ApiException, OSError) as exc:
            log.warning("event %s not updated: %s", path, exc)
