"""The shim's ops: each one's name on the wire, the model of its options and of its result, and
whether it reaches a cluster. The engine runs them by this table, and tests/engine/
test_contract.py holds it against the shim's own (the `schema` op)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from internal.helm import models as m

RequestT = TypeVar("RequestT", bound=m.RequestModel)
ResultT = TypeVar("ResultT", bound=m.ResponseModel)


@dataclass(frozen=True)
class Op(Generic[RequestT, ResultT]):
    name: str
    request: type[RequestT]
    result: type[ResultT]
    offline: bool = False
    """Never reaches a cluster: its request carries neither cluster nor storage."""


INSTALL = Op("install", m.InstallRequest, m.ActionResult)
UPGRADE = Op("upgrade", m.UpgradeRequest, m.ActionResult)
ROLLBACK = Op("rollback", m.RollbackRequest, m.ActionResult)
UNINSTALL = Op("uninstall", m.UninstallRequest, m.UninstallResult)
TEST = Op("test", m.TestRequest, m.TestResult)
MARK_FAILED = Op("markFailed", m.MarkFailedRequest, m.ActionResult)
GET = Op("get", m.GetRequest, m.ReleaseResult)
HISTORY = Op("history", m.HistoryRequest, m.HistoryResult)
RENDER = Op("render", m.RenderRequest, m.RenderResult, offline=True)
LOAD_CHART = Op("loadChart", m.LoadChartRequest, m.ChartInfo, offline=True)
STATS = Op("stats", m.StatsRequest, m.Stats, offline=True)
DIAGNOSE = Op("diagnose", m.DiagnoseRequest, m.DiagnoseResult, offline=True)
SCHEMA = Op("schema", m.SchemaRequest, m.SchemaResult, offline=True)
LOGIN = Op("login", m.LoginRequest, m.LoginResult, offline=True)
TAGS = Op("tags", m.TagsRequest, m.TagsResult, offline=True)
PULL = Op("pull", m.PullRequest, m.PullResult, offline=True)
DIGEST = Op("digest", m.DigestRequest, m.DigestResult, offline=True)
VERIFY = Op("verify", m.VerifyRequest, m.VerifyResult, offline=True)
DEPENDENCIES = Op("dependencies", m.DependenciesRequest, m.DependenciesResult, offline=True)
RESOLVE = Op("resolve", m.ResolveRequest, m.ResolveResult, offline=True)

OPS: dict[str, Op[Any, Any]] = {
    op.name: op
    for op in (
        INSTALL,
        UPGRADE,
        ROLLBACK,
        UNINSTALL,
        TEST,
        MARK_FAILED,
        GET,
        HISTORY,
        RENDER,
        LOAD_CHART,
        STATS,
        DIAGNOSE,
        SCHEMA,
        LOGIN,
        TAGS,
        PULL,
        DIGEST,
        VERIFY,
        DEPENDENCIES,
        RESOLVE,
    )
}
