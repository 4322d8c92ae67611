"""The chaos run: a fleet of HelmReleases on a control plane of its own, upgraded in waves while
the controller is SIGKILLed, the API server stopped, etcd paused, the chart server made faulty
and the leader replica killed; then the end state is checked against invariants.

    .venv/bin/python hack/chaos/run.py --seed 1 --releases 30 --duration 240

Prints the seed first; exits 0 only when every invariant holds; the last line sums the run up.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import re
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from kubernetes_asyncio import client

from hack.chaos import fleet as fl
from hack.chaos import storage as st
from hack.chaos.replicas import Replica, Replicas
from hack.testkit.chart_server import ChartServer, Fault, chart_repository
from hack.testkit.charts import write_message_chart
from hack.testkit.kube import api_client, create_helm_repository, install_crds
from hack.testkit.plane import OwnPlane, cluster_env, own_control_plane
from internal.kube import rest
from internal.kube.resources import HELM_RELEASES

NAMESPACE = "chaos"
ACTIONS = ("install", "upgrade", "rollback", "test", "uninstall")
RUNNING = re.compile(r"^Running '(\w+)' action")
STORAGE_ACTIONS = {
    "pending-install": "install",
    "pending-upgrade": "upgrade",
    "pending-rollback": "rollback",
    "uninstalling": "uninstall",
}
CONTROLLER_FLAGS = (
    "--concurrent",
    "4",
    "--requeue-dependency",
    "5s",
    "--max-retry-delay",
    "20s",
)
MIN_KILL_GAP = 3.0
CHART_FAULTS: tuple[Fault, ...] = ("slow", "error", "cut")


@dataclass
class Tally:
    """What was injected, and what was seen."""

    kills: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    failovers: int = 0
    unreadable: list[str] = field(default_factory=list)
    decoded: int = 0
    overlaps: st.Overlaps = field(default_factory=st.Overlaps)
    changes: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class Plan:
    """When each plane and chart-server fault happens, in seconds from the start."""

    events: list[tuple[float, str]]

    @staticmethod
    def make(rng: random.Random, duration: float) -> Plan:
        n = max(1, int(duration // 200))
        kinds = [
            *(["apiserver"] * n),
            *(["etcd"] * n),
            *(f"charts-{f}" for f in CHART_FAULTS),
        ]
        return Plan(sorted((rng.uniform(0.1, 0.85) * duration, k) for k in kinds))


async def quiet(coro: Any) -> Any:
    """A harness call that may fail while the API server is down: None then."""
    try:
        return await asyncio.wait_for(coro, 10)
    except Exception:  # any failure of a probe is "not now"
        return None


async def list_releases(api: client.ApiClient) -> list[dict[str, Any]] | None:
    page = await quiet(rest.request(api, "GET", HELM_RELEASES.path(NAMESPACE)))
    return None if page is None else list(page.get("items") or [])


async def list_storage(api: client.ApiClient) -> list[dict[str, Any]] | None:
    path = f"/api/v1/namespaces/{NAMESPACE}/secrets"
    page = await quiet(rest.request(api, "GET", path, query={"labelSelector": "owner=helm"}))
    return None if page is None else list(page.get("items") or [])


def decode_all(secrets: list[dict[str, Any]], tally: Tally) -> dict[str, list[st.Record]]:
    records = []
    for s in secrets:
        try:
            records.append(st.decode(s))
            tally.decoded += 1
        except st.CorruptRecord as exc:
            tally.unreadable.append(str(exc))
    return st.by_release(records)


def running_actions(
    releases: list[dict[str, Any]] | None, records: dict[str, list[st.Record]] | None
) -> set[str]:
    """The actions in progress now, from the HelmReleases' status and from Helm storage."""
    seen: set[str] = set()
    for hr in releases or []:
        for c in (hr.get("status") or {}).get("conditions") or []:
            m = RUNNING.match(c.get("message") or "")
            if m and c.get("type") == "Reconciling" and c.get("status") == "True":
                seen.add(m.group(1))
    for hr in releases or []:
        meta = hr.get("metadata") or {}
        if meta.get("deletionTimestamp") and meta.get("finalizers"):
            seen.add("uninstall")  # the finalizer uninstalls the release
    for rs in (records or {}).values():
        seen.update(STORAGE_ACTIONS[r.status] for r in rs if r.status in STORAGE_ACTIONS)
    return seen


async def apply(api: client.ApiClient, d: fl.Desired) -> None:
    if d.deleted:
        await quiet(rest.request(api, "DELETE", HELM_RELEASES.path(NAMESPACE, d.name)))
        return
    body = {
        "apiVersion": HELM_RELEASES.api_version,
        "kind": "HelmRelease",
        "metadata": {"name": d.name, "namespace": NAMESPACE},
        "spec": fl.spec(d),
    }
    for _ in range(30):
        done = await quiet(
            rest.request(
                api,
                "PATCH",
                HELM_RELEASES.path(NAMESPACE, d.name),
                body=body,
                content_type=rest.APPLY_PATCH,
                query={"fieldManager": "chaos", "force": True},
            )
        )
        if done is not None:
            return
        await asyncio.sleep(1)
    raise RuntimeError(f"could not apply {d.name}")


async def apply_changes(
    api: client.ApiClient, old: dict[str, fl.Desired], new: dict[str, fl.Desired], tally: Tally
) -> None:
    changed = [d for n, d in new.items() if old.get(n) != d and not (old.get(n) or d).deleted]
    changed += [d for n, d in new.items() if d.deleted and not (old.get(n) or d).deleted]
    for d in changed:
        tally.changes[d.name] += 1
    sem = asyncio.Semaphore(10)

    async def one(d: fl.Desired) -> None:
        async with sem:
            await apply(api, d)

    await asyncio.gather(*(one(d) for d in changed))


async def plane_fault(kind: str, plane: OwnPlane, charts: ChartServer, rng: random.Random) -> None:
    if kind == "apiserver":
        await asyncio.to_thread(plane.stop, "kube-apiserver")
        await asyncio.sleep(rng.uniform(3, 8))
        await asyncio.to_thread(plane.start_missing)
    elif kind == "etcd":
        plane.pause("etcd")
        try:
            await asyncio.sleep(rng.uniform(3, 8))
        finally:
            plane.resume("etcd")
    else:
        charts.fault = kind.removeprefix("charts-")  # type: ignore[assignment]
        try:
            await asyncio.sleep(rng.uniform(10, 20))
        finally:
            charts.fault = None


async def kill_leader(replicas: Replicas, tally: Tally, action: str) -> Replica | None:
    """SIGKILL the leader and restart it as the standby; the replica expected to take over, or
    None when no replica leads now."""
    leader = replicas.leader()
    if leader is None:
        return None
    await replicas.kill_and_restart(leader)
    tally.kills[action] += 1
    return next(r for r in replicas.members if r is not leader)


async def chaos(
    api: client.ApiClient,
    plane: OwnPlane,
    charts: ChartServer,
    replicas: Replicas,
    args: argparse.Namespace,
    rng: random.Random,
    tally: Tally,
) -> dict[str, fl.Desired]:
    """Apply the fleet and its waves while injecting faults for `args.duration` seconds; the
    final desired fleet."""
    desired = fl.build(args.releases, rng)
    await apply_changes(api, {}, desired, tally)
    plan = Plan.make(rng, args.duration)
    waves = [args.duration * f for f in (0.2, 0.4, 0.6)][: fl.WAVES]
    start = time.monotonic()
    kill_gap = max(4.0, args.duration / max(1, args.kills))
    last_kill = start - kill_gap  # the first kill may come during the first installs
    successor: Replica | None = None
    fault_task: asyncio.Task[None] | None = None
    events = list(plan.events)
    wave_no = 0
    while (elapsed := time.monotonic() - start) < args.duration:
        if wave_no < len(waves) and elapsed >= waves[wave_no]:
            wave_no += 1
            new = fl.wave(desired, wave_no, rng)
            await apply_changes(api, desired, new, tally)
            desired = new
        if events and elapsed >= events[0][0] and (fault_task is None or fault_task.done()):
            _, kind = events.pop(0)
            tally.faults[kind] += 1
            fault_task = asyncio.create_task(plane_fault(kind, plane, charts, rng))
        await replicas.revive()
        secrets = await list_storage(api)
        records = None if secrets is None else decode_all(secrets, tally)
        if records is not None:
            tally.overlaps.observe(records, elapsed)
        releases = await list_releases(api)
        busy = running_actions(releases, records)
        if successor is not None and (now := replicas.leader()) is not None:
            tally.failovers += now is successor
            successor = None
        since = time.monotonic() - last_kill
        # An action kind not killed yet is short and rare (a rollback, an uninstall): at once.
        rare = any(tally.kills[a] == 0 for a in busy) and since >= MIN_KILL_GAP
        if rare or since >= kill_gap * rng.uniform(0.6, 1.4):
            # The action killed least so far among those running; a quiet moment otherwise.
            action = min(busy, key=lambda a: (tally.kills[a], a)) if busy else "idle"
            if busy or rng.random() < 0.1:
                successor = await kill_leader(replicas, tally, action) or successor
                if successor is not None:
                    last_kill = time.monotonic()
        await asyncio.sleep(0.25)
    if fault_task is not None:
        await fault_task
    for _, kind in events:  # whatever did not fit in the window, now
        tally.faults[kind] += 1
        await plane_fault(kind, plane, charts, rng)
    return desired


def ready(hr: dict[str, Any]) -> bool:
    status = hr.get("status") or {}
    if status.get("observedGeneration") != hr["metadata"].get("generation"):
        return False
    return any(
        c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions") or []
    )


def unconverged(
    desired: dict[str, fl.Desired],
    releases: list[dict[str, Any]],
    records: dict[str, list[st.Record]],
) -> list[str]:
    """Releases not yet at their desired end, with why."""
    by_name = {hr["metadata"]["name"]: hr for hr in releases}
    out = []
    for name, d in desired.items():
        rs = records.get(name) or []
        if d.deleted:
            if name in by_name or rs:
                out.append(f"{name}: still present")
            continue
        hr = by_name.get(name)
        if hr is None or not ready(hr):
            out.append(f"{name}: not Ready")
            continue
        last = rs[-1] if rs else None
        if last is None or last.status != "deployed":
            out.append(f"{name}: latest record {last and (last.version, last.status)}")
        elif last.chart_version != d.version or last.config.get("message") != d.message:
            out.append(f"{name}: deployed {last.chart_version} {last.config}")
    return out


async def converge(
    api: client.ApiClient,
    desired: dict[str, fl.Desired],
    bound: float,
    tally: Tally,
    replicas: Replicas,
) -> tuple[float | None, list[str], dict[str, list[st.Record]]]:
    start = time.monotonic()
    left = ["not listed yet"]
    records: dict[str, list[st.Record]] = {}
    while time.monotonic() - start < bound:
        await replicas.revive()
        secrets = await list_storage(api)
        releases = await list_releases(api)
        if secrets is not None and releases is not None:
            records = decode_all(secrets, tally)
            tally.overlaps.observe(records, -1)
            left = unconverged(desired, releases, records)
            if not left:
                return time.monotonic() - start, [], records
        await asyncio.sleep(1)
    return None, left, records


def revision_bound(name: str, tally: Tally) -> int:
    """Each change may take an attempt and a remediation per retry; each kill may cost one more
    (the unlocked revision, then its retry)."""
    attempts = 2 * (fl.RETRIES + 1)
    return tally.changes[name] * attempts + sum(tally.kills.values())


async def rendered(api: client.ApiClient, d: fl.Desired) -> bool:
    cm = await quiet(
        client.CoreV1Api(api).read_namespaced_config_map(f"{d.name}-config", NAMESPACE)
    )
    if cm is None:
        return False
    has = (cm.metadata.labels or {}).get("chaos") == "rendered"
    return has == d.post_render and (cm.data or {}).get("message") == d.message


async def invariants(
    api: client.ApiClient,
    desired: dict[str, fl.Desired],
    left: list[str],
    records: dict[str, list[st.Record]],
    tally: Tally,
) -> list[tuple[str, int, int, list[str]]]:
    """(name, passed, checked, failures) of each invariant."""
    live = [d for d in desired.values() if not d.deleted]
    every = [r for rs in records.values() for r in rs]
    pend = [f"{r.release} v{r.version} {r.status}" for r in st.pending(every)]
    holes = {n: st.holes(rs) for n, rs in records.items()}
    over = {
        n: (rs[-1].version, revision_bound(n, tally))
        for n, rs in records.items()
        if rs and rs[-1].version > revision_bound(n, tally)
    }
    shaped = [d.name for d in live if not await rendered(api, d)]
    overlaps = tally.overlaps.found or []
    return [
        (
            "converged (Ready, desired chart and values, or gone)",
            len(desired) - len(left),
            len(desired),
            left,
        ),
        ("no pending-* record", len(every) - len(pend), len(every), pend),
        (
            "storage records decode (every read of every Secret)",
            tally.decoded,
            tally.decoded + len(tally.unreadable),
            tally.unreadable[:5],
        ),
        (
            "no revision holes",
            sum(not h for h in holes.values()),
            len(holes),
            [f"{n}: {h}" for n, h in holes.items() if h],
        ),
        (
            "revisions within changes+remediations+unlocks",
            len(records) - len(over),
            len(records),
            [f"{n}: {v} > {b}" for n, (v, b) in over.items()],
        ),
        (
            "never two actions at once (storage snapshots)",
            tally.overlaps.snapshots - len(overlaps),
            tally.overlaps.snapshots,
            overlaps[:5],
        ),
        (
            "objects rendered (values, post-renderer label)",
            len(live) - len(shaped),
            len(live),
            shaped,
        ),
    ]


def report(
    args: argparse.Namespace,
    tally: Tally,
    replicas: Replicas,
    checks: list[tuple[str, int, int, list[str]]],
    took: float | None,
) -> bool:
    print("\nfaults injected")
    print(f"  {'SIGKILL (leader) during':<34} count")
    for action in (*ACTIONS, "idle"):
        print(f"    {action:<32} {tally.kills[action]}")
    for kind in ("apiserver", "etcd", *(f"charts-{f}" for f in CHART_FAULTS)):
        label = {"apiserver": "kube-apiserver stopped+started", "etcd": "etcd paused"}.get(
            kind, f"chart server {kind.removeprefix('charts-')}"
        )
        print(f"  {label:<34} {tally.faults[kind]}")
    print(f"  {'leader failovers seen':<34} {tally.failovers}")
    print(f"  {'controller restarts':<34} {replicas.restarts}")
    print(f"  {'  of which after exiting itself':<34} {replicas.exits}")
    print("\ninvariants")
    ok = True
    for name, passed, checked, failures in checks:
        good = not failures and passed == checked
        ok = ok and good
        print(f"  {'PASS' if good else 'FAIL'}  {name:<52} {passed}/{checked}")
        for f in failures[:10]:
            print(f"          {f}")
    converge = "timeout" if took is None else f"{took:.1f}s"
    print(f"\ntime to converge after faults stopped: {converge} (bound {args.converge:.0f}s)")
    ok = ok and took is not None
    print(
        f"chaos seed={args.seed} releases={args.releases} kills={replicas.kills} "
        f"restarts={replicas.restarts} exits={replicas.exits} failovers={tally.failovers} "
        f"converge={converge} "
        f"{'PASS' if ok else 'FAIL'}"
    )
    return ok


async def run(plane: OwnPlane, work: Path, args: argparse.Namespace) -> bool:
    rng = random.Random(args.seed)
    tally = Tally()
    _, bin_dir = cluster_env(plane.env)
    dirs = [write_message_chart(work / "src", fl.CHART, v, test_hook=True) for v in fl.VERSIONS]
    async with (
        chart_repository(bin_dir / "helm", dirs, work / "repo") as charts,
        api_client(plane.kubeconfig) as api,
    ):
        await install_crds(api)
        await client.CoreV1Api(api).create_namespace(
            client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE))
        )
        await create_helm_repository(api, NAMESPACE, charts.url, interval="15s")
        replicas = Replicas(plane.kubeconfig, NAMESPACE, work, CONTROLLER_FLAGS)
        await replicas.start_all()
        try:
            desired = await chaos(api, plane, charts, replicas, args, rng, tally)
            print(f"faults stopped after {args.duration:.0f}s; converging", flush=True)
            took, left, records = await converge(api, desired, args.converge, tally, replicas)
            checks = await invariants(api, desired, left, records, tally)
        finally:
            await replicas.stop_all()
    return report(args, tally, replicas, checks, took)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--releases", type=int, default=30)
    parser.add_argument("--duration", type=float, default=240, help="seconds of faults")
    parser.add_argument(
        "--kills", type=int, default=0, help="SIGKILLs aimed for (default: one per 15s of duration)"
    )
    parser.add_argument("--converge", type=float, default=300, help="bound, seconds")
    parser.add_argument("--work-dir", type=Path, default=None, help="kept after the run")
    args = parser.parse_args()
    args.kills = args.kills or max(1, int(args.duration // 15))
    print(f"seed {args.seed}", flush=True)
    with contextlib.ExitStack() as stack:
        work = args.work_dir or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="helmward-chaos-"))
        )
        work.mkdir(parents=True, exist_ok=True)
        with own_control_plane(work / "plane") as plane:
            print(f"control plane up ({plane.kubeconfig}); work in {work}", flush=True)
            ok = asyncio.run(run(plane, work, args))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
