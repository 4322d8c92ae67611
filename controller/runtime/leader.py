"""Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection.

Optimistic concurrency (the Lease's resourceVersion) decides races between candidates. A leader
that cannot renew within `renew_deadline` steps down; on a clean shutdown it releases the Lease
so the next candidate takes over at once instead of waiting out the lease duration.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from kubernetes_asyncio.client import ApiClient
from kubernetes_asyncio.client.exceptions import ApiException

from internal.kube import rest
from internal.kube.resources import LEASES

log = logging.getLogger(__name__)


def default_identity() -> str:
    return f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"


def _now() -> datetime:
    return datetime.now(UTC)


def _micro(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.strptime(text.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z")


@dataclass
class LeaderElector:
    api: ApiClient
    namespace: str
    name: str
    identity: str = field(default_factory=default_identity)
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    clock: Callable[[], datetime] = _now
    is_leader: bool = False
    transitions_seen: int = 0

    async def acquire(self) -> None:
        """Return once this candidate holds the Lease."""
        while True:
            try:
                if await self._try_acquire_or_renew():
                    break
            except (ApiException, OSError, TimeoutError) as exc:
                log.warning("acquiring lease failed: %s", exc)
            await asyncio.sleep(self.retry_period)
        self.is_leader = True
        log.info("acquired lease %s/%s as %s", self.namespace, self.name, self.identity)

    async def hold(self) -> None:
        """Renew until renewal fails for `renew_deadline`; then return (leadership lost).

        A renewal that hangs (the API server waiting on a paused etcd) counts against the
        deadline too: the leader must stop before the Lease can expire for the others, and the
        Lease's renewTime is the moment an attempt began, so that is what the deadline counts
        from."""
        loop = asyncio.get_running_loop()
        last_renewed = loop.time()
        while True:
            await asyncio.sleep(self.retry_period)
            began = loop.time()
            left = last_renewed + self.renew_deadline - began
            try:
                renewed = left > 0 and await asyncio.wait_for(self._try_acquire_or_renew(), left)
            except (ApiException, OSError, TimeoutError) as exc:
                log.warning("renewing lease failed: %s", exc or "no answer before the deadline")
                renewed = False
            if renewed:
                last_renewed = began
            elif loop.time() - last_renewed >= self.renew_deadline:
                self.is_leader = False
                log.error("lost lease %s/%s", self.namespace, self.name)
                return

    async def release(self) -> None:
        """Give the Lease up so another candidate need not wait for it to expire."""
        if not self.is_leader:
            return
        self.is_leader = False
        try:
            lease = await rest.request(self.api, "GET", LEASES.path(self.namespace, self.name))
            if lease.get("spec", {}).get("holderIdentity") != self.identity:
                return
            lease["spec"]["holderIdentity"] = None
            lease["spec"]["leaseDurationSeconds"] = 1
            lease["spec"]["renewTime"] = _micro(self.clock())
            await rest.request(self.api, "PUT", LEASES.path(self.namespace, self.name), body=lease)
        except (ApiException, OSError) as exc:
            log.warning("releasing lease failed: %s", exc)

    async def _try_acquire_or_renew(self) -> bool:
        now = self.clock()
        path = LEASES.path(self.namespace, self.name)
        try:
            lease: dict[str, Any] = await rest.request(self.api, "GET", path)
        except ApiException as exc:
            if exc.status != 404:
                raise
            return await self._create(now)
        spec = lease.setdefault("spec", {})
        holder = spec.get("holderIdentity")
        renewed = _parse(spec.get("renewTime")) or datetime.min.replace(tzinfo=UTC)
        duration = timedelta(seconds=spec.get("leaseDurationSeconds") or self.lease_duration)
        if holder and holder != self.identity and renewed + duration > now:
            return False
        if holder != self.identity:
            spec["leaseTransitions"] = (spec.get("leaseTransitions") or 0) + 1
            spec["acquireTime"] = _micro(now)
        spec["holderIdentity"] = self.identity
        spec["leaseDurationSeconds"] = int(self.lease_duration)
        spec["renewTime"] = _micro(now)
        try:
            updated = await rest.request(self.api, "PUT", path, body=lease)
        except ApiException as exc:
            if exc.status == 409:  # another candidate won the race
                return False
            raise
        self.transitions_seen = int(updated.get("spec", {}).get("leaseTransitions") or 0)
        return True

    async def _create(self, now: datetime) -> bool:
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": int(self.lease_duration),
                "acquireTime": _micro(now),
                "renewTime": _micro(now),
                "leaseTransitions": 0,
            },
        }
        try:
            await rest.request(self.api, "POST", LEASES.path(self.namespace), body=body)
        except ApiException as exc:
            if exc.status == 409:
                return False
            raise
        return True
