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
from collections.abc import Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar, overload

from internal.helm import library
from internal.helm import ops as o
from internal.helm.errors import error_for
from internal.helm.models import (
    ChartInfo,
    ClusterTarget,
    DependenciesRequest,
    DependenciesResult,
    DiagnoseRequest,
    DiagnoseResult,
    DigestRequest,
    DigestResult,
    Envelope,
    LoadChartRequest,
    LoginRequest,
    Observation,
    ObserveSpec,
    PullRequest,
    PullResult,
    RenderRequest,
    RenderResult,
    RequestModel,
    ResolveRequest,
    ResolveResult,
    Response,
    ResponseModel,
    SchemaRequest,
    SchemaResult,
    Stats,
    StatsRequest,
    StorageSpec,
    TagsRequest,
    VerifyRequest,
    VerifyResult,
    VersionInfo,
    WireError,
)

RequestT = TypeVar("RequestT", bound=RequestModel)
RequestT_contra = TypeVar("RequestT_contra", bound=RequestModel, contravariant=True)
ResultT = TypeVar("ResultT", bound=ResponseModel)
ResultT_co = TypeVar("ResultT_co", bound=ResponseModel, covariant=True)

# How long a cancelled call may take to hand back control before the task gives up on it.
CANCEL_GRACE_SECONDS = 30.0


@dataclass(frozen=True)
class Outcome(Generic[ResultT_co]):
    """A successful call: its result, the storage writes it made, Helm's log lines."""

    result: ResultT_co
    observations: list[Observation] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    duration_ms: float = 0.0


class _RunsAction(Protocol[RequestT_contra, ResultT_co]):
    def __call__(
        self,
        request: RequestT_contra,
        *,
        cluster: ClusterTarget,
        storage: StorageSpec | None = None,
        observe: ObserveSpec | None = None,
        cancel: asyncio.Event | None = None,
    ) -> Coroutine[Any, Any, Outcome[ResultT_co]]: ...


class _Action(Generic[RequestT, ResultT]):
    """An engine method that runs one op on a cluster and returns its Outcome: the result, with
    the storage writes the op made."""

    def __init__(self, op: o.Op[RequestT, ResultT]) -> None:
        self.op = op

    @overload
    def __get__(self, engine: None, owner: type[Engine]) -> _Action[RequestT, ResultT]: ...
    @overload
    def __get__(self, engine: Engine, owner: type[Engine]) -> _RunsAction[RequestT, ResultT]: ...
    def __get__(
        self, engine: Engine | None, owner: type[Engine]
    ) -> _Action[RequestT, ResultT] | _RunsAction[RequestT, ResultT]:
        if engine is None:
            return self
        op = self.op

        async def action(
            request: RequestT,
            *,
            cluster: ClusterTarget,
            storage: StorageSpec | None = None,
            observe: ObserveSpec | None = None,
            cancel: asyncio.Event | None = None,
        ) -> Outcome[ResultT]:
            return await engine.run(
                op, request, cluster=cluster, storage=storage, observe=observe, cancel=cancel
            )

        return action


class Engine:
    """Runs Helm actions through the shim. Safe to share; close it when done."""

    def __init__(self, lib: library.Library | None = None, *, max_workers: int = 128) -> None:
        self._lib = lib or library.load()
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="helm-engine")
        self._ids = itertools.count(1)
        self._running: set[int] = set()
        self._cancelling = False

    @property
    def cancelling(self) -> bool:
        """Whether `cancel_all` was called: every call from then on is cancelled."""
        return self._cancelling

    def cancel_all(self) -> None:
        """Cancel every running call and every later one, for a shutdown whose grace has run
        out: each ends as a cancelled call does (a release action's revision marked failed by
        Helm, then ActionCancelledError), so its caller can record the failure."""
        self._cancelling = True
        for call_id in list(self._running):
            self._lib.cancel(call_id)

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def version(self) -> VersionInfo:
        return VersionInfo.model_validate(self._lib.version())

    # --- on a cluster: actions, then reads of release storage ---------------------------------

    install = _Action(o.INSTALL)
    upgrade = _Action(o.UPGRADE)
    rollback = _Action(o.ROLLBACK)
    uninstall = _Action(o.UNINSTALL)
    test = _Action(o.TEST)
    mark_failed = _Action(o.MARK_FAILED)
    """Record a stored revision as failed, through Helm's storage: the write is observed."""
    get = _Action(o.GET)
    """One stored revision, the newest when the request's version is 0."""
    history = _Action(o.HISTORY)

    # --- offline ---------------------------------------------------------------------------

    async def render(self, request: RenderRequest) -> RenderResult:
        return (await self.run(o.RENDER, request)).result

    async def load_chart(self, path: Path | str) -> ChartInfo:
        return (await self.run(o.LOAD_CHART, LoadChartRequest(path=str(path)))).result

    async def stats(self) -> Stats:
        return (await self.run(o.STATS, StatsRequest())).result

    async def schema(self) -> SchemaResult:
        """The wire protocol as the shim's Go types define it."""
        return (await self.run(o.SCHEMA, SchemaRequest())).result

    async def diagnose(
        self, request: DiagnoseRequest, *, cancel: asyncio.Event | None = None
    ) -> DiagnoseResult:
        return (await self.run(o.DIAGNOSE, request, cancel=cancel)).result

    # --- OCI registries --------------------------------------------------------------------

    async def login(self, request: LoginRequest, *, cancel: asyncio.Event | None = None) -> str:
        """Check the registry accepts the credentials; returns the host logged in to."""
        return (await self.run(o.LOGIN, request, cancel=cancel)).result.host

    async def tags(self, request: TagsRequest, *, cancel: asyncio.Event | None = None) -> list[str]:
        return (await self.run(o.TAGS, request, cancel=cancel)).result.tags

    async def digest(self, request: DigestRequest) -> DigestResult:
        """The digests Flux records of a HelmRelease's values, post-renderers and common
        metadata, computed as Flux computes them."""
        return (await self.run(o.DIGEST, request)).result

    async def pull(
        self, request: PullRequest, *, cancel: asyncio.Event | None = None
    ) -> PullResult:
        return (await self.run(o.PULL, request, cancel=cancel)).result

    async def resolve(
        self, request: ResolveRequest, *, cancel: asyncio.Event | None = None
    ) -> ResolveResult:
        """The manifest digest a tag points at, from a HEAD request: nothing is pulled."""
        return (await self.run(o.RESOLVE, request, cancel=cancel)).result

    async def verify(
        self, request: VerifyRequest, *, cancel: asyncio.Event | None = None
    ) -> VerifyResult:
        """Check the artifact's cosign signature against the request's public keys. Returns
        only for a signature that verifies and names the digest; raises NoSignatureError,
        InvalidSignatureError or DigestMismatchError otherwise (a SignatureError each)."""
        return (await self.run(o.VERIFY, request, cancel=cancel)).result

    async def dependencies(
        self, request: DependenciesRequest, *, cancel: asyncio.Event | None = None
    ) -> DependenciesResult:
        """Build the charts/ directory of an unpacked chart as `helm dependency build` does.
        Raises LockOutOfSyncError when its lock no longer matches its dependencies, and
        DependencyError or TooLargeError when a dependency cannot be had."""
        return (await self.run(o.DEPENDENCIES, request, cancel=cancel)).result

    # --- the call --------------------------------------------------------------------------

    async def run(
        self,
        op: o.Op[RequestT, ResultT],
        request: RequestT,
        *,
        cluster: ClusterTarget | None = None,
        storage: StorageSpec | None = None,
        observe: ObserveSpec | None = None,
        cancel: asyncio.Event | None = None,
    ) -> Outcome[ResultT]:
        """Run one op; its error, if it failed, raised as the exception of its code."""
        resp = await self.call(op.name, request.wire(), cluster, storage, cancel, observe)
        return _outcome(resp, op.result)

    async def call(
        self,
        op: str,
        body: Mapping[str, Any],
        cluster: ClusterTarget | None = None,
        storage: StorageSpec | None = None,
        cancel: asyncio.Event | None = None,
        observe: ObserveSpec | None = None,
    ) -> Response:
        """Send one request and return the shim's answer, error or not."""
        envelope = Envelope(op=op, cluster=cluster, storage=storage, observe=observe).wire()
        envelope[op] = dict(body)
        raw = await self.call_raw(json.dumps(envelope).encode(), cancel)
        return Response.model_validate_json(raw)

    async def call_raw(self, request: bytes, cancel: asyncio.Event | None = None) -> bytes:
        """Send request bytes as they are; the shim validates them."""
        call_id = next(self._ids)
        if self._cancelling:
            self._lib.cancel(call_id)  # the shim starts a call cancelled before it began
        self._running.add(call_id)
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
            self._running.discard(call_id)
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
