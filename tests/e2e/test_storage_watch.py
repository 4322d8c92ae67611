"""In-sync releases are confirmed from the watch of Helm storage: an idle interval reads no
storage record, a restart makes no Helm action and no status write, and a revision written
behind the controller's back is still seen."""

from __future__ import annotations

import asyncio
import re
import subprocess

import pytest

from hack.testkit.launcher import running_controller
from hack.testkit.wait import eventually
from tests.e2e.conftest import CONTROLLER_FLAGS, Harness

pytestmark = pytest.mark.e2e

RELEASES = ("quiet-a", "quiet-b", "quiet-c")
INTERVAL = 2


@pytest.fixture
def controller_flags() -> tuple[str, ...]:
    """No Lease: its renewals would be the only requests of an idle controller."""
    return ("--leader-elect=false",)


def requests_by_method(metrics: str) -> dict[str, int]:
    """rest_client_requests_total summed by method: the controller's and its engine's."""
    totals: dict[str, int] = {}
    for method, value in re.findall(
        r'^rest_client_requests_total\{[^}]*method="(\w+)"[^}]*\} (\S+)$', metrics, re.M
    ):
        totals[method] = totals.get(method, 0) + int(float(value))
    return totals


def reconciles(metrics: str) -> int:
    found = re.findall(
        r'^controller_runtime_reconcile_total\{controller="(?i:helmrelease)"[^}]*\} (\S+)$',
        metrics,
        re.M,
    )
    return sum(int(float(v)) for v in found)


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}


async def install(h: Harness, *names: str) -> None:
    for name in names:
        spec = {**h.chart_spec(version="1.0.0"), "interval": f"{INTERVAL}s"}
        await h.apply_release(name, {**spec, "values": {"message": name}})
    for name in names:
        await h.wait(name, "Ready", "True")


async def settled(h: Harness) -> None:
    """Wait until a whole interval passes with no request but the reconciles' own."""
    await asyncio.sleep(INTERVAL * 2)


def helm(h: Harness, *args: str) -> str:
    argv = [str(h.helm), *args, "-n", h.namespace, "--kubeconfig", str(h.kubeconfig)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def kubectl(h: Harness, *args: str) -> str:
    argv = [str(h.helm.parent / "kubectl"), *args, "-n", h.namespace]
    argv += ["--kubeconfig", str(h.kubeconfig)]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


async def test_an_idle_interval_reads_no_storage_and_writes_nothing(harness: Harness) -> None:
    h = harness
    await install(h, *RELEASES)
    await settled(h)
    before, runs = requests_by_method(await h.metrics()), reconciles(await h.metrics())
    await asyncio.sleep(INTERVAL * 3)
    metrics = await h.metrics()
    assert reconciles(metrics) - runs >= len(RELEASES) * 2, "the releases were reconciled"
    assert delta(requests_by_method(metrics), before) == {}


async def test_a_restart_confirms_in_sync_releases_with_no_action_or_write(
    harness: Harness,
) -> None:
    h = harness
    await install(h, *RELEASES)
    await settled(h)
    statuses = {name: (await h.get(name))["status"] for name in RELEASES}
    revisions = {name: helm(h, "history", name, "-o", "json") for name in RELEASES}
    assert h.controller is not None
    await h.controller.stop()

    # On the same artifact address, as a Deployment behind its Service: a new one would
    # rewrite every HelmChart's artifact URL.
    again_ = running_controller(
        h.kubeconfig,
        h.work_dir / "data",
        namespace=h.namespace,
        flags=(*CONTROLLER_FLAGS, *h.flags),
        log=h.work_dir / "controller-2.log",
        storage_port=h.controller.storage_port,
    )
    async with again_ as again:
        h.controller = again
        log = h.work_dir / "controller-2.log"

        async def confirmed() -> bool:
            text = log.read_text() if log.exists() else ""
            return all(f"/{name}: state InSync" in text for name in RELEASES)

        await eventually(confirmed, within=60, what="every release confirmed InSync")
        await asyncio.sleep(1)
        text = log.read_text()
        found = re.findall(r": state (\w+) \(.*\) -> ([\w-]+)", text)
        assert set(found) == {("InSync", "none")}
        sent = requests_by_method(await h.metrics())
        # One GET of each release's newest record (the summary is rebuilt), a LIST and a WATCH
        # per informer: no PATCH, PUT or POST.
        assert set(sent) == {"GET"}
        for name in RELEASES:
            assert (await h.get(name))["status"] == statuses[name]
            assert helm(h, "history", name, "-o", "json") == revisions[name]
        await settled(h)
        before = requests_by_method(await h.metrics())
        await asyncio.sleep(INTERVAL * 3)
        assert delta(requests_by_method(await h.metrics()), before) == {}


async def test_a_revision_written_behind_the_controllers_back_is_seen(harness: Harness) -> None:
    """The helm CLI writes v2 while the release waits out a long interval; the next reconcile
    knows v2 from the watch alone (the controller's summary is of v1), reads it, and upgrades
    the release it did not make."""
    h = harness
    spec = {**h.chart_spec(version="1.0.0"), "interval": "1h", "values": {"message": "behind"}}
    await h.apply_release("behind", spec)
    await h.wait("behind", "Ready", "True")
    chart = h.work_dir / "src" / "demo-1.0.0"
    helm(h, "upgrade", "behind", str(chart), "--set", "message=cli", "--force-conflicts")
    assert (await h.config("behind"))["message"] == "cli"
    await h.request_reconcile("behind", "after-the-cli")

    async def upgraded_back() -> bool:
        history = ((await h.get("behind")).get("status") or {}).get("history") or []
        return bool(history) and history[0]["version"] == 3

    await eventually(upgraded_back, within=60, what="the controller's upgrade to v3")
    assert (await h.config("behind"))["message"] == "behind"
    log = (h.work_dir / "controller.log").read_text()
    assert "release not observed: storage has behind.v2, last observed behind.v1" in log


async def test_a_record_edited_in_place_is_read_again(harness: Harness) -> None:
    """A changed resourceVersion with the same version: one GET of it, and no action when
    what it holds is unchanged."""
    h = harness
    await install(h, "touched")
    await settled(h)
    before = requests_by_method(await h.metrics())
    kubectl(h, "annotate", "secret", "sh.helm.release.v1.touched.v1", "touched=yes")

    async def read_again() -> bool:
        return delta(requests_by_method(await h.metrics()), before).get("GET", 0) >= 1

    await eventually(read_again, within=30, what="the record read again")
    await settled(h)
    assert delta(requests_by_method(await h.metrics()), before) == {"GET": 1}
    assert len((await h.get("touched"))["status"]["history"]) == 1
