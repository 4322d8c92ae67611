"""Logs log pipelines can read: with --log-encoding=json one JSON object per line in
controller-runtime's keys, the reconciled object and reconcile id on every record of a
reconcile, and an ordinary failure one line with no traceback."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client

from controller import logs
from controller.runtime.controller import Controller, Result
from hack.testkit.kube import create_helm_repository, drop_finalizers
from hack.testkit.launcher import running_controller
from hack.testkit.plane import ControlPlane
from hack.testkit.ports import free_ports
from hack.testkit.wait import eventually
from internal.kube import rest
from internal.kube.resources import HELM_RELEASES
from tests.api.conftest import flux_crds as flux_crds  # the session fixture, reused
from tests.controller.test_notify import receiver as receiver  # the fixture, reused

OBJECT_KEYS = {
    "controller",
    "controllerGroup",
    "controllerKind",
    "namespace",
    "name",
    "reconcileID",
}


def _capture(level: str, encoding: str) -> tuple[io.StringIO, logging.Logger]:
    out = io.StringIO()
    logs.setup(level, encoding, stream=out)
    return out, logging.getLogger("helmward.test")


@pytest.fixture(autouse=True)
def _restore_logging() -> Any:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(False)


def test_json_lines_carry_the_reconciled_object_in_controller_runtime_keys() -> None:
    out, log = _capture("info", "json")
    log.info("outside")
    with logs.reconciling("HelmRelease", "apps/podinfo") as state:
        log.info("inside %s", "a reconcile", extra={"fields": {"revision": "1.0.0"}})
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert list(first) == ["level", "ts", "logger", "msg"]
    assert first["level"] == "info"
    assert first["ts"].endswith("Z")
    assert second == {
        "level": "info",
        "ts": second["ts"],
        "logger": "helmward.test",
        "msg": "inside a reconcile",
        "controller": "helmrelease",
        "controllerGroup": "helm.toolkit.fluxcd.io",
        "controllerKind": "HelmRelease",
        "HelmRelease": {"name": "podinfo", "namespace": "apps"},
        "namespace": "apps",
        "name": "podinfo",
        "reconcileID": state.reconcile_id,
        "revision": "1.0.0",
    }


async def test_the_reconcile_reaches_tasks_and_threads_it_starts() -> None:
    out, log = _capture("info", "json")

    def in_thread() -> None:
        log.info("thread")

    async def in_task() -> None:
        log.info("task")

    with logs.reconciling("HelmChart", "apps/podinfo-chart") as state:
        await asyncio.create_task(in_task())
        await asyncio.to_thread(in_thread)
    log.info("after")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line.get("reconcileID") for line in lines] == [state.reconcile_id] * 2 + [None]
    assert lines[0]["controllerGroup"] == "source.toolkit.fluxcd.io"


def _logged_exception(level: str) -> str:
    """The one line a JSON logger at `level` writes for an exception logged while handled."""
    out, log = _capture(level, "json")
    try:
        raise ValueError("chart not found")
    except ValueError:
        log.exception("Reconciler error")
    (line,) = out.getvalue().splitlines()
    return line


def test_exceptions_are_one_line_unless_debugging() -> None:
    line = _logged_exception("info")
    assert json.loads(line)["error"] == "chart not found"
    assert "Traceback" not in line

    line = _logged_exception("debug")
    assert "Traceback" in json.loads(line)["stacktrace"]


def test_levels_as_flux() -> None:
    out, log = _capture("error", "json")
    log.info("hidden")
    log.warning("hidden too")
    log.error("shown")
    assert [json.loads(line)["msg"] for line in out.getvalue().splitlines()] == ["shown"]
    out, log = _capture("trace", "json")
    log.log(logs.TRACE, "very verbose")
    assert json.loads(out.getvalue())["level"] == "trace"
    out, log = _capture("warn", "console")  # not a Flux level: info, as Flux
    log.debug("hidden")
    log.info("shown")
    assert out.getvalue().count("\n") == 1


def test_console_is_for_people() -> None:
    out, log = _capture("info", "console")
    with logs.reconciling("HelmRelease", "apps/podinfo"):
        log.error("Reconciler error", extra={"human": "reconcile failed: boom"})
    (line,) = out.getvalue().splitlines()
    _ts, level, logger, message, fields = line.split("\t")
    assert (level, logger, message) == (
        "ERROR",
        "helmward.test",
        "HelmRelease apps/podinfo: reconcile failed: boom",
    )
    assert json.loads(fields)["controllerKind"] == "HelmRelease"


@pytest.mark.e2e
async def test_json_log_of_a_failing_release_against_the_cluster(
    control_plane: ControlPlane,
    kube: client.ApiClient,
    namespace: str,
    flux_crds: list[str],
    tmp_path: Path,
    receiver: tuple[str, list[dict[str, Any]], list[int]],
) -> None:
    events_addr, posted, _ = receiver
    (closed,) = free_ports(1)  # nothing listens there
    await create_helm_repository(kube, namespace, f"http://127.0.0.1:{closed}/", interval="1m")
    release = {
        "apiVersion": HELM_RELEASES.api_version,
        "kind": "HelmRelease",
        "metadata": {"name": "unreachable", "namespace": namespace},
        "spec": {
            "interval": "1m",
            "chart": {
                "spec": {
                    "chart": "demo",
                    "sourceRef": {"kind": "HelmRepository", "name": "charts"},
                    "interval": "1m",
                }
            },
        },
    }
    await rest.request(kube, "POST", HELM_RELEASES.path(namespace), body=release)
    log = tmp_path / "controller.log"
    try:
        async with running_controller(
            control_plane.kubeconfig,
            tmp_path / "data",
            namespace=namespace,
            flags=(
                "--log-encoding=json",
                "--leader-elect=false",
                "--min-retry-delay=200ms",
                f"--events-addr={events_addr}",
            ),
            log=log,
        ):

            def entries() -> list[dict[str, Any]]:
                return [json.loads(line) for line in log.read_text().splitlines() if line]

            async def failed() -> bool:
                kinds = {
                    e.get("controllerKind")
                    for e in entries()
                    if e.get("namespace") == namespace and e.get("level") != "debug"
                }
                return {"HelmRepository", "HelmChart"} <= kinds

            await eventually(failed, within=60, what="the repository's and chart's failures")

            async def event_posted() -> bool:
                return any(
                    b["involvedObject"]["kind"] == "HelmRepository"
                    and b["involvedObject"]["namespace"] == namespace
                    and b["severity"] == "error"
                    and b["reportingController"] == "source-controller"
                    for b in posted
                )

            await eventually(event_posted, within=30, what="the failure posted to --events-addr")
    finally:
        await drop_finalizers(kube, namespace)
    text = log.read_text()
    print(text[-4000:])
    assert "Traceback" not in text
    lines = text.splitlines()
    assert lines
    for line in lines:
        entry = json.loads(line)  # every line is one JSON object
        assert {"level", "ts", "msg"} <= entry.keys(), line
        assert entry["level"] in ("trace", "debug", "info", "warn", "error"), line
    ours = [json.loads(line) for line in lines if f'"namespace":"{namespace}"' in line]
    assert ours
    for entry in ours:
        assert entry.keys() >= OBJECT_KEYS, entry
        kind = entry["controllerKind"]
        assert entry[kind] == {"name": entry["name"], "namespace": namespace}
        assert entry["controller"] == kind.lower()
    unreachable = [e for e in ours if e["controllerKind"] == "HelmRepository"]
    assert any(f"127.0.0.1:{closed}" in e["msg"] for e in unreachable)
    errors = [e for e in ours if e["msg"] == "Reconciler error"]
    assert all(e["level"] == "error" and e["error"] for e in errors)


class _Informer:
    """What a Controller reads of its informer."""

    resource = HELM_RELEASES

    def __init__(self) -> None:
        self.synced = asyncio.Event()
        self.synced.set()

    def add_handler(self, handler: Any) -> None:
        pass


@pytest.mark.parametrize("encoding", ["json", "console"])
async def test_a_reconcile_failure_is_one_line(encoding: str) -> None:
    out, _ = _capture("info", encoding)
    failures = 0

    async def reconcile(key: str) -> Result:
        nonlocal failures
        failures += 1
        raise RuntimeError("chart source unreachable")

    controller = Controller("HelmRelease", _Informer(), reconcile, workers=1)  # type: ignore[arg-type]
    controller.queue.backoff.base = 0.01
    controller.enqueue("apps/podinfo")
    task = asyncio.create_task(controller.run())
    await eventually(lambda: asyncio.sleep(0, failures >= 2), within=10, what="two failures")
    controller.stop()
    await task
    lines = [line for line in out.getvalue().splitlines() if line]
    assert len(lines) >= 2
    assert "Traceback" not in out.getvalue()
    if encoding == "console":
        assert "HelmRelease apps/podinfo: reconcile failed, retrying in" in lines[0]
        assert lines[0].split("\t")[1] == "ERROR"
        return
    first, second = (json.loads(line) for line in lines[:2])
    assert first["msg"] == "Reconciler error"
    assert first["level"] == "error"
    assert first["error"] == "chart source unreachable"
    assert first["requeueAfter"] == "10ms"
    assert first.keys() >= OBJECT_KEYS
    assert (first["namespace"], first["name"]) == ("apps", "podinfo")
    assert first["reconcileID"] != second["reconcileID"], "one id per reconcile"
