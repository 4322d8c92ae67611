"""The async Helm engine: one Helm action per call, run by the Go shim in a worker thread.

Each call is a blocking ctypes call (which releases the GIL) on a thread of the engine's own
pool, so many actions run in parallel while the event loop stays free. Cancelling the awaiting
task, or setting the `cancel` event, cancels the Go context Helm runs under; the call then
returns promptly with what Helm recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from internal.helm import library
from internal.helm.errors import error_for
from internal.helm.models import (
    ActionResult,
    ChartInfo,
    ClusterTarget,
    DiagnoseRequest,
    DiagnoseResult,
    GetRequest,
    HistoryRequest,
    HistoryResult,
    InstallRequest,
    LoadChartRequest,
    LoginRequest,
    LoginResult,
    Observation,
    PullRequest,
    PullResult,
    ReleaseResult,
    RenderRequest,
    RenderResult,
    Response,
    RollbackRequest,
    Stats,
    StatusRequest,
    StorageSpec,
    TagsRequest,
    TagsResult,
    TestRequest,
    TestResult,
    UninstallRequest,
    UninstallResult,
    UpgradeRequest,
    VersionInfo,
    WireError,
)

ResultT = TypeVar("ResultT", bound=BaseModel)

# How long a cancelled call may take to hand back control before the task gives up on it.
CANCEL_GRACE_SECONDS = 30.0


@dataclass(frozen=True)
class Outcome(Generic[ResultT]):
    """A successful call: its result, the storage writes it made, Helm's log lines."""

    result: ResultT
    observations: list[Observation] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    duration_ms: float = 0.0


class Engine:
    """Runs Helm actions through the shim. Safe to share; close it when done."""

    def __init__(self, lib: library.Library | None = None, *, max_workers: int = 128) -> None:
        self._lib = lib or library.load()
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="helm-engine")
        self._ids = itertools.count(1)

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def version(self) -> VersionInfo:
        return VersionInfo.model_validate(self._lib.version())

    # --- actions ---------------------------------------------------------------------------

    async def install(
        self,
        request: InstallRequest,
        *,
        cluster: ClusterTarget,
        storage: StorageSpec | None = None,
        cancel: asyncio.Event | None = None,
    ) -> Outcome[ActionResult]:
        resp = await self.call("install", request.wire(), cluster, storage, cancel)
        return _outcome(resp, ActionResult)

    async def upgrade(
        self,
        request: UpgradeRequest,
        *,
        cluster: ClusterTarget,
        storage: StorageSpec | None = None,
        cancel: asyncio.Event | None = None,
    ) -> Outcome[ActionResult]:
        resp = await self.call("upgrade", request.wire(), cluster, storage, cancel)
        return _outcome(resp, ActionResult)

    async def rollback(
        self,
        request: RollbackRequest,
        *,
        cluster: ClusterTarget,
        storage: StorageSpec | None = None,
        cancel: asyncio.Event | None = None,
    ) -> Outcome[ActionResult]:
        resp = await self.call("rollback", request.wire(), cluster, storage, cancel)
        return _outcome(resp, ActionResult)

    async def uninstall(
        self,
        request: UninstallRequest,
        *,
        cluster: ClusterTarget,
        storage: StorageSpec | None = None,
        cancel: asyncio.Event | None = None,
    ) -> Outcome[UninstallResult]:
        resp = await self.call("uninstall", request.wire(), cluster, storage, cancel)
        return _outcome(resp, UninstallResult)

    async def test(
        self,
        request: TestRequest,
        *,
        cluster: ClusterTarget,
        storage: StorageSpec | None = None,
        cancel: asyncio.Event | None = None,
    ) -> Outcome[TestResult]:
        resp = await self.call("test", request.wire(), cluster, storage, cancel)
        return _outcome(resp, TestResult)

    # --- queries ---------------------------------------------------------------------------

    async def status(
        self, request: StatusRequest, *, cluster: ClusterTarget, storage: StorageSpec | None = None
    ) -> ReleaseResult:
        resp = await self.call("status", request.wire(), cluster, storage)
        return _outcome(resp, ReleaseResult).result

    async def get(
        self, request: GetRequest, *, cluster: ClusterTarget, storage: StorageSpec | None = None
    ) -> ReleaseResult:
        resp = await self.call("get", request.wire(), cluster, storage)
        return _outcome(resp, ReleaseResult).result

    async def history(
        self, request: HistoryRequest, *, cluster: ClusterTarget, storage: StorageSpec | None = None
    ) -> HistoryResult:
        resp = await self.call("history", request.wire(), cluster, storage)
        return _outcome(resp, HistoryResult).result

    # --- offline ---------------------------------------------------------------------------

    async def render(self, request: RenderRequest) -> RenderResult:
        resp = await self.call("render", request.wire())
        return _outcome(resp, RenderResult).result

    async def load_chart(self, path: Path | str) -> ChartInfo:
        resp = await self.call("loadChart", LoadChartRequest(path=str(path)).wire())
        return _outcome(resp, ChartInfo).result

    # --- OCI registries --------------------------------------------------------------------

    async def login(self, request: LoginRequest, *, cancel: asyncio.Event | None = None) -> str:
        """Check the registry accepts the credentials; returns the host logged in to."""
        resp = await self.call("login", request.wire(), cancel=cancel)
        return _outcome(resp, LoginResult).result.host

    async def tags(self, request: TagsRequest, *, cancel: asyncio.Event | None = None) -> list[str]:
        resp = await self.call("tags", request.wire(), cancel=cancel)
        return _outcome(resp, TagsResult).result.tags

    async def pull(
        self, request: PullRequest, *, cancel: asyncio.Event | None = None
    ) -> PullResult:
        resp = await self.call("pull", request.wire(), cancel=cancel)
        return _outcome(resp, PullResult).result

    async def stats(self) -> Stats:
        resp = await self.call("stats", {})
        return _outcome(resp, Stats).result

    async def diagnose(
        self, request: DiagnoseRequest, *, cancel: asyncio.Event | None = None
    ) -> DiagnoseResult:
        resp = await self.call("diagnose", request.wire(), cancel=cancel)
        return _outcome(resp, DiagnoseResult).result

    # --- the call --------------------------------------------------------------------------

    async def call(
        self,
        op: str,
        body: Mapping[str, Any],
        cluster: ClusterTarget | None = None,
        storage: StorageSpec | None = None,
        cancel: asyncio.Event | None = None,
    ) -> Response:
        """Send one request and return the shim's answer, error or not."""
        envelope: dict[str, Any] = {"op": op, op: dict(body)}
        if cluster is not None:
            envelope["cluster"] = cluster.wire()
        if storage is not None:
            envelope["storage"] = storage.wire()
        raw = await self.call_raw(json.dumps(envelope).encode(), cancel)
        return Response.model_validate_json(raw)

    async def call_raw(self, request: bytes, cancel: asyncio.Event | None = None) -> bytes:
        """Send request bytes as they are; the shim validates them."""
        call_id = next(self._ids)
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool, self._lib.call, call_id, request)
        watcher: asyncio.Task[None] | None = None
        if cancel is not None:
            watcher = asyncio.create_task(self._cancel_on(cancel, call_id))
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            # Reach Helm's context, then let the call wind down so its thread is free and
            # what Helm stored on the way out is stored before the task ends.
            self._lib.cancel(call_id)
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(future), CANCEL_GRACE_SECONDS)
            raise
        finally:
            if watcher is not None:
                watcher.cancel()

    async def _cancel_on(self, event: asyncio.Event, call_id: int) -> None:
        await event.wait()
        self._lib.cancel(call_id)


def _outcome(resp: Response, model: type[ResultT]) -> Outcome[ResultT]:
    result = model.model_validate(resp.result) if resp.result is not None else None
    if resp.error is not None:
        raise error_for(resp.error, op=resp.op, observations=resp.observations, result=result)
    if result is None:
        missing = WireError(
            code="Internal", message=f"the shim answered {resp.op} without a result"
        )
        raise error_for(missing, op=resp.op, observations=resp.observations)
    return Outcome(
        result=result,
        observations=list(resp.observations),
        logs=list(resp.logs),
        duration_ms=resp.duration_ms,
    )
