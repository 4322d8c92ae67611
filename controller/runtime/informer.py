"""An informer: list, then watch with bookmarks, relist on 410 Gone, periodic resync.

One store per resource, shared by every reconciler that reads it. Handlers run inline on each
change and must be quick: they only enqueue keys.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from kubernetes_asyncio.client import ApiClient
from kubernetes_asyncio.client.exceptions import ApiException

from internal.kube import rest
from internal.kube.resources import Resource, key_of

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Handler = Callable[[str, Obj], None]
"""Called with the event type (ADDED, MODIFIED, DELETED or SYNC) and the object."""


class Informer:
    def __init__(
        self,
        api: ApiClient,
        resource: Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        resync_period: float | None = None,
        watch_timeout: int = 300,
        page_size: int = 500,
        metadata_only: bool = False,
        transform: Callable[[Obj], Obj] | None = None,
    ) -> None:
        self.api = api
        self.resource = resource
        self.namespace = namespace
        self.label_selector = label_selector
        self.resync_period = resync_period
        self.watch_timeout = watch_timeout
        self.page_size = page_size
        self.metadata_only = metadata_only
        self.transform = transform
        """Applied to every object before it is stored: what a store need not keep is dropped."""
        self.store: dict[str, Obj] = {}
        self.resource_version = ""
        self.synced = asyncio.Event()
        self.relists = 0
        self.bookmarks = 0
        self._handlers: list[Handler] = []

    def add_handler(self, handler: Handler) -> None:
        self._handlers.append(handler)

    def get(self, key: str) -> Obj | None:
        return self.store.get(key)

    def observe_write(self, obj: Obj) -> None:
        """An object this process has just written, as the server answered. It is stored and
        announced now, so that handlers (a dependent waiting on this release) need not wait for
        the watch to echo it; the echo is then not announced again."""
        before = self.store.get(key_of(obj))
        if before is not None and not _newer(obj, before):
            return
        _trim(obj)
        self.store[key_of(obj)] = obj
        self._emit("MODIFIED", obj)

    async def run(self) -> None:
        """List and watch until cancelled. Errors back off and retry; they never end the loop."""
        resync = asyncio.create_task(self._resync()) if self.resync_period else None
        delay = 1.0
        try:
            while True:
                try:
                    if not self.resource_version:
                        await self._list()
                    await self._watch()
                    delay = 1.0
                except rest.WatchExpired as exc:
                    log.info("%s watch expired (%s): relisting", self.resource.plural, exc)
                    self.resource_version = ""
                    self.relists += 1
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # an informer must outlive any bad answer
                    if not isinstance(exc, (ApiException, OSError, TimeoutError, ValueError)):
                        log.exception("%s list/watch failed unexpectedly", self.resource.plural)
                    log.warning(
                        "%s list/watch failed: %s; retrying in %.0fs",
                        self.resource.plural,
                        exc,
                        delay,
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 30.0)
        finally:
            if resync:
                resync.cancel()

    async def _list(self) -> None:
        query: dict[str, str | int | bool] = {"limit": self.page_size}
        if self.label_selector:
            query["labelSelector"] = self.label_selector
        fresh: dict[str, Obj] = {}
        path = self.resource.path(self.namespace)
        while True:
            page = await rest.request(
                self.api,
                "GET",
                path,
                query=query,
                request_timeout=120,
                accept=rest.METADATA_LIST if self.metadata_only else "application/json",
            )
            # Metadata-only lists of nothing answer `"items": null`.
            for item in page.get("items") or []:
                _trim(item)
                if self.transform is not None:
                    item = self.transform(item)
                item.setdefault("apiVersion", self.resource.api_version)
                item.setdefault("kind", self.resource.kind)
                fresh[key_of(item)] = item
            meta = page.get("metadata", {})
            token = meta.get("continue")
            if not token:
                self.resource_version = str(meta.get("resourceVersion", ""))
                break
            query["continue"] = token
        old, self.store = self.store, fresh
        for key, obj in fresh.items():
            before = old.get(key)
            if before is None:
                self._emit("ADDED", obj)
            elif _rv(before) != _rv(obj):
                self._emit("MODIFIED", obj)
        for key, obj in old.items():
            if key not in fresh:
                self._emit("DELETED", obj)
        self.synced.set()

    async def _watch(self) -> None:
        query: dict[str, str | int | bool] = {}
        if self.label_selector:
            query["labelSelector"] = self.label_selector
        events = rest.watch(
            self.api,
            self.resource.path(self.namespace),
            resource_version=self.resource_version,
            query=query,
            timeout_seconds=self.watch_timeout,
            accept=rest.METADATA if self.metadata_only else "application/json",
        )
        async for event in events:
            kind, obj = event.get("type"), event.get("object", {})
            _trim(obj)
            if self.transform is not None and kind != "BOOKMARK":
                obj = self.transform(obj)
            rv = _rv(obj)
            if kind == "BOOKMARK":
                self.bookmarks += 1
            elif kind in ("ADDED", "MODIFIED"):
                before = self.store.get(key_of(obj))
                if before is None or _newer(obj, before):
                    self.store[key_of(obj)] = obj
                    self._emit(str(kind), obj)
            elif kind == "DELETED":
                self.store.pop(key_of(obj), None)
                self._emit("DELETED", obj)
            if rv:
                self.resource_version = rv

    async def _resync(self) -> None:
        assert self.resync_period
        while True:
            await asyncio.sleep(self.resync_period)
            for obj in list(self.store.values()):
                self._emit("SYNC", obj)

    def _emit(self, kind: str, obj: Obj) -> None:
        for handler in self._handlers:
            try:
                handler(kind, obj)
            except Exception:
                log.exception("informer handler failed for %s %s", kind, key_of(obj))


def _trim(obj: Obj) -> None:
    """Drop what no reconciler reads and that roughly doubles an object in memory: the
    server-side-apply bookkeeping (client-go informers are commonly set to do the same)."""
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)


def _rv(obj: Obj) -> str:
    return str(obj.get("metadata", {}).get("resourceVersion", ""))


def _newer(obj: Obj, than: Obj) -> bool:
    """Whether `obj` is a later state than `than`. Resource versions are opaque, but the API
    server's are etcd revisions, so numeric ones are compared as numbers."""
    a, b = _rv(obj), _rv(than)
    if a.isdigit() and b.isdigit():
        return int(a) > int(b)
    return a != b
