"""--events-addr: every event also posted to Flux's notification-controller, in Flux's format.

Flux's controllers record each event as a Kubernetes Event and, when --events-addr is set, POST
it as an `event.toolkit.fluxcd.io` Event (fluxcd/pkg/apis/event/v1beta1): the involved object's
reference, `severity` (`info`, or `error` for a Warning), `timestamp`, `message`, `reason`,
`metadata` (the event's annotations and the object's `event.toolkit.fluxcd.io/` ones),
`reportingController` and `reportingInstance`. Posting is best effort, as in Flux: connection
errors and 5xx answers are retried a few times with backoff, a 429 (a duplicate to
notification-controller) is not, and a failure is logged, never raised. Unlike Flux, whose
reconcile waits for its post and retries, the post runs beside the reconcile, so a slow or absent
receiver never holds one up; at most `max_backlog` posts wait at once, and an event past that is
dropped and counted.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp

from controller.events import EventRecorder
from internal.kube.client import ApiClient
from internal.values.redact import REDACTOR

log = logging.getLogger(__name__)

EVENT_GROUP = "event.toolkit.fluxcd.io"
REPORTING = {
    "helm.toolkit.fluxcd.io": "helm-controller",
    "source.toolkit.fluxcd.io": "source-controller",
}
TIMEOUT = 5.0
RETRIES = 4
MAX_BACKLOG = 500

Dropped = Callable[[str], None]
"""Told why an event was not delivered: `backlog` (too many waiting) or `undelivered`."""


def flux_event(
    obj: Mapping[str, Any],
    type_: str,
    reason: str,
    message: str,
    annotations: Mapping[str, str] | None,
    instance: str,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The body Flux's event recorder posts for this event."""
    meta = obj.get("metadata") or {}
    api_version = str(obj.get("apiVersion") or "")
    reference = {
        "kind": obj.get("kind"),
        "namespace": meta.get("namespace"),
        "name": meta.get("name"),
        "uid": meta.get("uid"),
        "apiVersion": api_version,
        "resourceVersion": meta.get("resourceVersion"),
    }
    metadata = dict(annotations or {})
    for key, value in (meta.get("annotations") or {}).items():
        if key.startswith(EVENT_GROUP + "/"):
            metadata[key] = value
    body: dict[str, Any] = {
        "involvedObject": {k: v for k, v in reference.items() if v},
        "severity": "error" if type_ == "Warning" else "info",
        "timestamp": (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "message": message,
        "reason": reason,
    }
    if metadata:
        body["metadata"] = metadata
    body["reportingController"] = REPORTING.get(api_version.partition("/")[0], "helmward")
    body["reportingInstance"] = instance
    return body


class ForwardingRecorder(EventRecorder):
    """Kubernetes Events as before, and each one posted to `address`."""

    def __init__(
        self,
        api: ApiClient,
        component: str,
        address: str,
        dropped: Dropped | None = None,
        max_backlog: int = MAX_BACKLOG,
    ) -> None:
        super().__init__(api, component)
        self.address = address
        self.instance = socket.gethostname()
        self.backoff = 1.0
        self.dropped = dropped
        self.max_backlog = max_backlog
        self._posts: set[asyncio.Task[None]] = set()
        self._http: aiohttp.ClientSession | None = None

    async def emit(
        self,
        obj: Mapping[str, Any],
        type_: str,
        reason: str,
        message: str,
        annotations: Mapping[str, str] | None = None,
    ) -> None:
        await super().emit(obj, type_, reason, message, annotations)
        if type_ == "Trace":  # Flux keeps trace events in Kubernetes only
            return
        if len(self._posts) >= self.max_backlog:
            self._drop("backlog")
            return
        body = flux_event(obj, type_, reason, REDACTOR.scrub(message), annotations, self.instance)
        task = asyncio.create_task(self.post(body))
        self._posts.add(task)
        task.add_done_callback(self._posts.discard)

    async def post(self, body: dict[str, Any]) -> None:
        """POST `body`, retrying connection errors and 5xx; never raises."""
        problem = ""
        for attempt in range(RETRIES + 1):
            if attempt:
                await asyncio.sleep(min(30.0, self.backoff * 2 ** (attempt - 1)))
            try:
                async with self._session().post(self.address, json=body) as resp:
                    if resp.status < 500:
                        if resp.status >= 400 and resp.status != 429:
                            problem = f"HTTP {resp.status}"
                            break
                        return
                    problem = f"HTTP {resp.status}"
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                problem = str(exc) or type(exc).__name__
        self._drop("undelivered")
        log.error(
            "unable to record event",
            extra={"fields": {"error": problem, "reason": body["reason"], "url": self.address}},
        )

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT))
        return self._http

    def _drop(self, reason: str) -> None:
        if self.dropped is not None:
            self.dropped(reason)

    async def drain(self, grace: float = 10.0) -> None:
        """On shutdown: give the posts under way `grace` seconds, drop the rest, close the
        connections."""
        if self._posts:
            _, late = await asyncio.wait(set(self._posts), timeout=grace)
            for task in late:
                task.cancel()
                self._drop("undelivered")
            await asyncio.gather(*late, return_exceptions=True)
        if self._http is not None:
            await self._http.close()
            self._http = None
