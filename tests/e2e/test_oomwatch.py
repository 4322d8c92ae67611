"""--feature-gates=OOMWatch=true: memory usage past the threshold in the middle of an install
stops the controller the way SIGTERM does. The install is cancelled through Helm (the release
is marked failed, not left pending-install), the Lease is given up, the process exits; a new
controller converges. With the gate off the same files change nothing."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from kubernetes_asyncio import client

from hack.testkit.launcher import running_controller
from hack.testkit.plane import ControlPlane
from hack.testkit.wait import eventually
from internal.kube import rest
from tests.e2e.conftest import Harness, _delete_releases

pytestmark = pytest.mark.e2e

LIMIT = 1000
THRESHOLD = 50
GRACE = 5.0
"""--graceful-shutdown-timeout: what a running Helm action gets before it is cancelled."""
NEAR_OOM = "reached 50% of the limit: near OOM, shutting down gracefully"


@pytest.fixture
def memory(tmp_path: Path) -> tuple[Path, Path]:
    """The limit and usage files the controller reads instead of its cgroup's."""
    limit, current = tmp_path / "memory.max", tmp_path / "memory.current"
    limit.write_text(f"{LIMIT}\n")
    current.write_text("100\n")
    return limit, current


@pytest.fixture
def gate() -> tuple[str, ...]:
    return ("--feature-gates=OOMWatch=true",)


@pytest.fixture
def controller_flags(memory: tuple[Path, Path], gate: tuple[str, ...]) -> tuple[str, ...]:
    limit, current = memory
    return (
        *gate,
        f"--oom-watch-max-memory-path={limit}",
        f"--oom-watch-current-memory-path={current}",
        f"--oom-watch-memory-threshold={THRESHOLD}",
        "--oom-watch-interval=100ms",
        f"--graceful-shutdown-timeout={GRACE}s",
    )


async def storage_statuses(h: Harness, release: str) -> dict[int, str]:
    """Each revision's status as Helm's storage Secret labels it."""
    secrets = await client.CoreV1Api(h.kube).list_namespaced_secret(
        h.namespace, label_selector=f"owner=helm,name={release}"
    )
    return {int(s.metadata.labels["version"]): s.metadata.labels["status"] for s in secrets.items}


def log_of(h: Harness, name: str = "controller.log") -> str:
    return (h.work_dir / name).read_text()


async def test_near_oom_cancels_the_install_releases_the_lease_and_exits(
    harness: Harness, memory: tuple[Path, Path]
) -> None:
    h = harness
    assert h.controller is not None
    _, current = memory
    spec = {**h.chart_spec(version="1.0.0"), "install": {"timeout": "10m"}}
    # The post-install hook pod never completes: the install waits on it, pending-install.
    await h.apply_release("oom", {**spec, "values": {"message": "a", "hang": True}})

    async def pending() -> bool:
        return (await storage_statuses(h, "oom")).get(1) == "pending-install"

    await eventually(pending, within=60, what="install pending")
    lease = await _lease(h)
    assert lease["spec"].get("holderIdentity"), "the controller leads"

    raised = time.monotonic()
    current.write_text(f"{LIMIT * THRESHOLD // 100}\n")
    code = await _exited(h, within=GRACE + 40)
    took = time.monotonic() - raised
    assert code == 0, "a graceful shutdown, as Flux's"
    assert took >= GRACE - 1, f"the running install was given the grace first ({took:.1f}s)"
    log = log_of(h)
    assert f"memory usage 500 B/1000 B {NEAR_OOM}" in log
    assert log.count(NEAR_OOM) == 1
    assert "graceful shutdown timed out with 1 controllers busy" in log
    # Cancelled through Helm: the revision is marked failed; no lock is left behind.
    assert await storage_statuses(h, "oom") == {1: "failed"}
    assert not (await _lease(h))["spec"].get("holderIdentity"), "the Lease was given up"
    # The install's failure is recorded before the exit, as Flux records it on cancellation.
    status = (await h.get("oom"))["status"]
    conds = {c["type"]: c for c in status["conditions"]}
    assert (conds["Ready"]["status"], conds["Ready"]["reason"]) == ("False", "InstallFailed")
    assert "context canceled" in conds["Ready"]["message"]
    assert [(s["version"], s["status"]) for s in status["history"]] == [(1, "failed")]
    assert (status["failures"], status["installFailures"]) == (1, 1)

    # A new controller (its memory back to normal) with the hook gone converges.
    current.write_text("100\n")
    await h.apply_release("oom", {**spec, "values": {"message": "b"}})
    async with h.restart() as again:
        h.controller = again
        obj = await h.wait("oom", "Ready", "True", within=120)
        assert (await h.config("oom"))["message"] == "b"
        assert await storage_statuses(h, "oom") == {1: "superseded", 2: "deployed"}
        history = obj["status"]["history"]
        assert [(s["version"], s["status"]) for s in history] == [
            (2, "deployed"),
            (1, "superseded"),  # the failed revision, as Helm's upgrade leaves it
        ]
        assert again.returncode is None
        assert NEAR_OOM not in log_of(h, "controller-2.log")
        await _delete_releases(h)


async def test_near_oom_mid_upgrade_leaves_no_pending_upgrade(
    harness: Harness, memory: tuple[Path, Path]
) -> None:
    h = harness
    assert h.controller is not None
    _, current = memory
    spec = {**h.chart_spec(version="1.0.0"), "upgrade": {"timeout": "10m"}}
    await h.apply_release("up", {**spec, "values": {"message": "a"}})
    await h.wait("up", "Ready", "True")
    await h.apply_release("up", {**spec, "values": {"message": "b", "hang": True}})

    async def pending() -> bool:
        return (await storage_statuses(h, "up")).get(2) == "pending-upgrade"

    await eventually(pending, within=60, what="upgrade pending")
    current.write_text(f"{LIMIT}\n")
    assert await _exited(h, within=GRACE + 40) == 0
    assert NEAR_OOM in log_of(h)
    assert await storage_statuses(h, "up") == {1: "deployed", 2: "failed"}
    status = (await h.get("up"))["status"]
    conds = {c["type"]: c for c in status["conditions"]}
    assert (conds["Ready"]["status"], conds["Ready"]["reason"]) == ("False", "UpgradeFailed")
    assert [(s["version"], s["status"]) for s in status["history"]] == [
        (2, "failed"),
        (1, "deployed"),
    ]
    assert status["upgradeFailures"] == 1

    current.write_text("100\n")
    await h.apply_release("up", {**spec, "values": {"message": "c"}})
    async with h.restart() as again:
        h.controller = again
        await h.wait("up", "Ready", "True", within=120)
        assert (await h.config("up"))["message"] == "c"
        # Helm supersedes the deployed revision it upgrades from; the failed one stays failed.
        assert await storage_statuses(h, "up") == {
            1: "superseded",
            2: "failed",
            3: "deployed",
        }
        await _delete_releases(h)


@pytest.mark.parametrize("gate", [(), ("--feature-gates=OOMWatch=false",)])
async def test_without_the_gate_the_memory_files_change_nothing(
    harness: Harness, memory: tuple[Path, Path]
) -> None:
    h = harness
    assert h.controller is not None
    _, current = memory
    current.write_text(f"{LIMIT}\n")  # 100%: the gate would stop the controller at once
    await h.apply_release("calm", {**h.chart_spec(version="1.0.0"), "values": {"message": "a"}})
    await h.wait("calm", "Ready", "True")
    assert await storage_statuses(h, "calm") == {1: "deployed"}
    assert h.controller.returncode is None
    log = log_of(h)
    assert NEAR_OOM not in log
    assert "setting up the OOM watcher" not in log
    assert (
        f"--oom-watch-memory-threshold={THRESHOLD}: no effect without "
        "--feature-gates=OOMWatch=true" in log
    )


async def test_no_memory_limit_stops_the_controller_from_starting(
    control_plane: ControlPlane, namespace: str, tmp_path: Path, memory: tuple[Path, Path]
) -> None:
    limit, current = memory
    limit.write_text("max\n")
    flags = (
        "--feature-gates=OOMWatch=true",
        f"--oom-watch-max-memory-path={limit}",
        f"--oom-watch-current-memory-path={current}",
    )
    log = tmp_path / "controller.log"
    async with running_controller(
        control_plane.kubeconfig, tmp_path / "data", namespace=namespace, flags=flags, log=log
    ) as controller:
        code = await _wait_exit(controller.process, within=30)
    assert code == 1
    assert log.read_text().splitlines()[-1] == (
        f"helmward: unable to set up the OOM watcher: {limit} says max: the cgroup has no "
        "memory limit to watch"
    )


async def _exited(h: Harness, within: float) -> int:
    assert h.controller is not None
    return await _wait_exit(h.controller.process, within)


async def _wait_exit(process: asyncio.subprocess.Process, within: float) -> int:
    try:
        return await asyncio.wait_for(process.wait(), within)
    except TimeoutError:
        raise AssertionError(f"the controller did not exit within {within}s") from None


async def _lease(h: Harness) -> dict[str, object]:
    leases = await rest.request(
        h.kube, "GET", f"/apis/coordination.k8s.io/v1/namespaces/{h.namespace}/leases"
    )
    ours = [lease for lease in leases["items"] if "helmward" in lease["metadata"]["name"]]
    assert len(ours) == 1, ours
    return ours[0]
