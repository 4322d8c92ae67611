"""A minimal manager for the source reconcilers: list then watch each kind, a queue of object
keys with one reconcile at a time per key, and requeues at each object's interval. Issue 6
replaces it with informers, rate-limited queues and leader election; the reconcilers stay."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from kubernetes_asyncio import client, watch
from kubernetes_asyncio.client.exceptions import ApiException

from api.meta import RECONCILE_REQUEST_ANNOTATION
from api.sources import GROUP, VERSION
from controller.sources.context import PLURALS, Context
from controller.sources.driver import reconcile_object

log = logging.getLogger("helmward.sources")

Key = tuple[str, str, str]
"""(kind, namespace, name)"""


class Manager:
    def __init__(self, ctx: Context, *, namespace: str | None = None, workers: int = 4) -> None:
        self.ctx = ctx
        self.namespace = namespace
        self.workers = workers
        self.queue: asyncio.Queue[Key] = asyncio.Queue()
        self._queued: set[Key] = set()
        self._active: set[Key] = set()
        self._again: set[Key] = set()
        self._seen: dict[Key, tuple[Any, Any]] = {}
        self._artifacts: dict[Key, tuple[Any, Any]] = {}
        self._timers: dict[Key, asyncio.TimerHandle] = {}
        self.ready = asyncio.Event()

    def enqueue(self, key: Key) -> None:
        if key in self._active:
            self._again.add(key)
            return
        if key not in self._queued:
            self._queued.add(key)
            self.queue.put_nowait(key)

    def _requeue_after(self, key: Key, delay: float) -> None:
        old = self._timers.pop(key, None)
        if old is not None:
            old.cancel()
        self._timers[key] = asyncio.get_running_loop().call_later(delay, self.enqueue, key)

    async def run(self) -> None:
        tasks = [asyncio.create_task(self._watch(kind)) for kind in PLURALS]
        tasks += [asyncio.create_task(self._work()) for _ in range(self.workers)]
        try:
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            for h in self._timers.values():
                h.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _list(self, custom: client.CustomObjectsApi, plural: str, **kw: Any) -> Any:
        if self.namespace:
            return await custom.list_namespaced_custom_object(
                GROUP, VERSION, self.namespace, plural, **kw
            )
        return await custom.list_cluster_custom_object(GROUP, VERSION, plural, **kw)

    def _observe(self, kind: str, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        key = (kind, meta["namespace"], meta["name"])
        marker = (
            meta.get("generation"),
            (meta.get("annotations") or {}).get(RECONCILE_REQUEST_ANNOTATION),
        )
        if self._seen.get(key) != marker or meta.get("deletionTimestamp"):
            self._seen[key] = marker
            self.enqueue(key)
        if kind != "HelmChart":
            # Charts follow their sources: a new source artifact (or readiness) re-checks the
            # namespace's charts.
            status = obj.get("status") or {}
            ready = [
                c.get("status") for c in status.get("conditions") or [] if c.get("type") == "Ready"
            ]
            artifact = (status.get("artifact") or {}).get("revision")
            if self._artifacts.get(key) != (artifact, tuple(ready)):
                self._artifacts[key] = (artifact, tuple(ready))
                for other in list(self._seen):
                    if other[0] == "HelmChart" and other[1] == key[1]:
                        self.enqueue(other)

    async def _watch(self, kind: str) -> None:
        custom = client.CustomObjectsApi(self.ctx.kube)
        plural = PLURALS[kind]
        while True:
            try:
                listed = await self._list(custom, plural)
                for item in listed.get("items", []):
                    item.setdefault("kind", kind)
                    self._observe(kind, item)
                rv = listed["metadata"]["resourceVersion"]
                if kind == "HelmChart":
                    self.ready.set()
                w = watch.Watch()
                fn = (
                    custom.list_namespaced_custom_object
                    if self.namespace
                    else custom.list_cluster_custom_object
                )
                args = (
                    (GROUP, VERSION, self.namespace, plural)
                    if self.namespace
                    else (GROUP, VERSION, plural)
                )
                async with w.stream(
                    fn, *args, resource_version=rv, timeout_seconds=300, allow_watch_bookmarks=True
                ) as stream:
                    async for event in stream:
                        obj = event["object"]
                        if event["type"] in ("ADDED", "MODIFIED"):
                            self._observe(kind, obj)
                        elif event["type"] == "DELETED":
                            self._seen.pop(
                                (kind, obj["metadata"]["namespace"], obj["metadata"]["name"]), None
                            )
            except asyncio.CancelledError:
                raise
            except ApiException as exc:
                if exc.status != 410:
                    log.warning("watch %s: %s", plural, exc.reason)
                    await asyncio.sleep(1)
            except Exception:
                log.exception("watch %s failed; relisting", plural)
                await asyncio.sleep(1)

    async def _work(self) -> None:
        custom = client.CustomObjectsApi(self.ctx.kube)
        while True:
            key = await self.queue.get()
            self._queued.discard(key)
            self._active.add(key)
            kind, ns, name = key
            try:
                raw = await custom.get_namespaced_custom_object(
                    GROUP, VERSION, ns, PLURALS[kind], name
                )
                delay = await reconcile_object(self.ctx, raw)
                if delay is not None:
                    self._requeue_after(key, delay)
            except ApiException as exc:
                if exc.status != 404:
                    log.warning("%s %s/%s: %s", kind, ns, name, exc.reason)
                    self._requeue_after(key, 2.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s %s/%s: reconcile crashed", kind, ns, name)
                self._requeue_after(key, 5.0)
            finally:
                self._active.discard(key)
                if key in self._again:
                    self._again.discard(key)
                    self.enqueue(key)
