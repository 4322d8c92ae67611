"""Steady-state and restart benchmark: N in-sync HelmReleases, what an idle interval costs, and
what a restart of the controller costs.

1. Installs N HelmReleases of a small chart and waits until all are Ready.
2. Idle: the API requests (from the API server's apiserver_request_total) per release over two
   intervals in turn (`--interval`, also every release's spec.interval), and the writes among
   them.
3. Restart: stops the controller and starts another on the same storage; prints the time until
   every release was confirmed InSync, the Helm actions and status writes the restart made, the
   API requests per release until then, and the CPU the new process spent before its first
   reconcile (utime+stime from /proc at the first reconcile log line).
4. Idle again, after the restart.

    PYTHONPATH=. .venv/bin/python hack/bench/steady.py --releases 100 --interval 30

On a control plane of its own by default (`--shared` uses hack/cluster.sh's, where other
clients' requests are counted too). Not part of `make test`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp

from hack.bench.fleet import sh, wait_gone
from hack.testkit.chart_server import chart_repository
from hack.testkit.charts import write_message_chart
from hack.testkit.kube import (
    api_client,
    create_helm_repository,
    helm_release_body,
    install_crds,
)
from hack.testkit.launcher import Controller, running_controller
from hack.testkit.plane import cluster_env, second_control_plane
from hack.testkit.ports import free_ports
from internal.kube import rest
from internal.kube.resources import HELM_RELEASES

NAMESPACE = "steady-bench"
KINDS = ("helmreleases", "helmcharts", "helmrepositories", "secrets", "events", "configmaps")
WRITES = ("POST", "PUT", "PATCH", "APPLY", "DELETE")
# The console log: time, level, logger, the object, then the state the loop found.
STATE_LINE = re.compile(
    r"^\S+\tINFO\tcontroller\.helmrelease\.\w+\tHelmRelease \S+/(\S+): "
    r"state (\S+) .*-> ([\w-]+)"
)
Key = tuple[str, str, str]


def api_requests(kubectl: str, kubeconfig: str) -> Counter[Key]:
    """apiserver_request_total by (verb, resource, subresource), for the release kinds and the
    non-resource paths the API server counts (discovery: /api, /apis, /openapi/v3; it does not
    count /version, which only the controller's rest_client_requests_total shows)."""
    counts: Counter[Key] = Counter()
    text = sh(kubectl, "--kubeconfig", kubeconfig, "get", "--raw", "/metrics")
    for line in text.splitlines():
        if not line.startswith("apiserver_request_total{"):
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
        key = (labels.get("verb", ""), labels.get("resource", ""), labels.get("subresource", ""))
        if key[1] in KINDS or not key[1]:
            counts[key] += int(float(line.split()[-1]))
    return counts


def report(delta: Counter[Key], releases: int, what: str) -> None:
    total = sum(delta.values())
    writes = sum(v for (verb, _, _), v in delta.items() if verb in WRITES)
    gets = delta[("GET", "secrets", "")]
    print(
        f"{what}: {total} requests on the release kinds = {total / releases:.3f} per release; "
        f"{writes / releases:.3f} writes per release; {gets} GETs of Secrets"
    )
    for (verb, res, sub), v in sorted(delta.items(), key=lambda kv: -kv[1])[:10]:
        if v:
            what = (res + ("/" + sub if sub else "")) or "(non-resource)"
            print(f"  {verb:<7} {what:<22} {v}")


def cpu_seconds(pid: int) -> float:
    """utime + stime of `pid`, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0


def memory_mib(pid: int) -> dict[str, float]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key = line.split(":")[0]
        if key in ("VmRSS", "VmHWM", "RssAnon"):
            out[key] = int(line.split()[1]) / 1024
    return out


def read_log(log: Path) -> str:
    return log.read_text(errors="replace") if log.exists() else ""


def states(log: Path) -> Iterator[tuple[str, str, str]]:
    """(release, state, action) of each reconcile the log shows."""
    for line in read_log(log).splitlines():
        m = STATE_LINE.match(line)
        if m:
            yield m.group(1), m.group(2), m.group(3)


def storage_records(kubectl: str, kubeconfig: str) -> int:
    listed = sh(
        kubectl, "--kubeconfig", kubeconfig, "get", "secrets", "-n", NAMESPACE, "-l", "owner=helm"
    )
    return len(listed.splitlines()[1:])


async def apply_releases(
    api: Any, names: list[str], interval: int, namespace: str = NAMESPACE
) -> None:
    sem = asyncio.Semaphore(20)

    async def apply(name: str) -> None:
        body = helm_release_body(name, namespace, interval=f"{interval}s")
        async with sem:
            await rest.request(api, "POST", HELM_RELEASES.path(namespace), body=body)

    await asyncio.gather(*(apply(n) for n in names))


async def wait_ready(api: Any, count: int, within: float, namespace: str = NAMESPACE) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        page = await rest.request(api, "GET", HELM_RELEASES.path(namespace))
        ready = sum(
            any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in (o.get("status") or {}).get("conditions") or []
            )
            for o in page["items"]
        )
        if ready == count:
            return True
        await asyncio.sleep(1)
    print(f"timed out with {ready}/{count} Ready")
    return False


async def sent(controller: Controller) -> Counter[str]:
    """The controller's own rest_client_requests_total by method (its engine's included)."""
    counts: Counter[str] = Counter()
    async with aiohttp.ClientSession() as http, http.get(controller.metrics_url) as resp:
        text = await resp.text()
    for method, value in re.findall(
        r'^rest_client_requests_total\{[^}]*method="(\w+)"[^}]*\} (\S+)$', text, re.M
    ):
        counts[method] += int(float(value))
    return counts


def report_sent(delta: Counter[str], releases: int) -> None:
    total = sum(delta.values())
    print(
        f"  as the controller counts them (rest_client_requests_total, /version included): "
        f"{total} = {total / releases:.3f} per release {dict(delta)}"
    )


async def idle(
    args: argparse.Namespace, kubectl: str, kubeconfig: str, controller: Controller, what: str
) -> None:
    before, mine = api_requests(kubectl, kubeconfig), await sent(controller)
    await asyncio.sleep(args.interval * 1.1)
    report(api_requests(kubectl, kubeconfig) - before, args.releases, what)
    report_sent(await sent(controller) - mine, args.releases)


async def first_reconcile_cpu(controller: Controller, log: Path) -> tuple[float, float]:
    """Seconds from the start to the first reconcile log line, and the CPU spent by then."""
    start = time.monotonic()
    while True:
        if "\tcontroller.helmrelease." in read_log(log):
            return time.monotonic() - start, cpu_seconds(controller.pid)
        await asyncio.sleep(0.02)


def compile_bytecode() -> None:
    """Compile the controller's modules, as `pip install` does in the image: with
    PYTHONDONTWRITEBYTECODE set (as on a developer's machine) every start would compile them
    again, a fifth of a second of start-up CPU the image does not spend."""
    root = Path(__file__).resolve().parents[2]
    dirs = [str(root / d) for d in ("api", "controller", "internal")]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *dirs], check=True)


async def run(args: argparse.Namespace, kubeconfig: Path, bin_dir: Path) -> int:
    compile_bytecode()
    kubectl = str(bin_dir / "kubectl")
    kc = str(kubeconfig)
    work = Path(tempfile.mkdtemp(prefix="helmward-steady-"))
    chart = write_message_chart(work / "src", "small", "1.0.0")
    names = [f"app-{i:04d}" for i in range(args.releases)]
    flags = [
        "--concurrent",
        str(args.concurrent),
        "--kube-api-qps",
        str(args.kube_api_qps),
        "--kube-api-burst",
        str(args.kube_api_burst),
    ]
    async with (
        chart_repository(bin_dir / "helm", [chart], work / "repo") as charts,
        api_client(kubeconfig) as api,
    ):
        await install_crds(api)
        wait_gone(kubectl, kc, NAMESPACE)
        sh(kubectl, "--kubeconfig", kc, "create", "namespace", NAMESPACE)
        await create_helm_repository(api, NAMESPACE, charts.url, interval="10m")
        first = work / "controller-1.log"
        # The artifacts' address is the same across the restart, as a Deployment's Service is:
        # another one would rewrite every HelmChart's artifact URL.
        (port,) = free_ports(1)
        controller_at = functools.partial(
            running_controller,
            kubeconfig,
            work / "data",
            namespace=NAMESPACE,
            flags=flags,
            grace=120,
            storage_port=port,
        )
        async with controller_at(log=first) as controller:
            start = time.monotonic()
            await apply_releases(api, names, args.interval)
            if not await wait_ready(api, args.releases, 1800):
                return 1
            print(f"{args.releases} HelmReleases Ready in {time.monotonic() - start:.1f}s")
            await asyncio.sleep(5)
            await idle(args, kubectl, kc, controller, f"first idle interval ({args.interval}s)")
            await idle(args, kubectl, kc, controller, f"second idle interval ({args.interval}s)")
            mem = memory_mib(controller.pid)
            print("controller memory (MiB): " + ", ".join(f"{k} {v:.0f}" for k, v in mem.items()))
        records_before = storage_records(kubectl, kc)
        second = work / "controller-2.log"
        before = api_requests(kubectl, kc)
        async with controller_at(log=second) as controller:
            start = time.monotonic()
            to_first, cpu = await first_reconcile_cpu(controller, second)
            print(
                f"restart: first reconcile {to_first:.2f}s after start, "
                f"start-up CPU (utime+stime) {cpu:.2f}s"
            )
            confirmed: dict[str, str] = {}
            actions: Counter[str] = Counter()
            deadline = start + 600
            while time.monotonic() < deadline:
                confirmed.clear()
                actions.clear()
                for name, state, action in states(second):
                    confirmed.setdefault(name, state)
                    if action != "none":
                        actions[action] += 1
                if len(confirmed) == args.releases:
                    break
                await asyncio.sleep(0.1)
            took = time.monotonic() - start
            in_sync = sum(s == "InSync" for s in confirmed.values())
            print(
                f"restart: {in_sync}/{args.releases} confirmed InSync "
                f"{took:.1f}s after start; Helm actions: {dict(actions) or 0}"
            )
            await asyncio.sleep(2)
            report(api_requests(kubectl, kc) - before, args.releases, "restart until confirmed")
            report_sent(await sent(controller), args.releases)
            mem = memory_mib(controller.pid)
            print("controller memory (MiB): " + ", ".join(f"{k} {v:.0f}" for k, v in mem.items()))
            after = f"idle interval after the restart ({args.interval}s)"
            await idle(args, kubectl, kc, controller, after)
            records = storage_records(kubectl, kc)
            if args.shared:  # deleted while a controller runs, which uninstalls the releases
                sh(kubectl, "--kubeconfig", kc, "delete", "namespace", NAMESPACE, "--timeout=600s")
        print(f"Helm storage records: {records_before} before the restart, {records} after")
    return 0


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--releases", type=int, default=100)
    parser.add_argument("--interval", type=int, default=30, help="spec.interval, seconds")
    parser.add_argument("--concurrent", type=int, default=8)
    parser.add_argument("--kube-api-qps", type=float, default=50.0, help="the controller's")
    parser.add_argument("--kube-api-burst", type=int, default=300, help="the controller's")
    parser.add_argument("--shared", action="store_true", help="use hack/cluster.sh's plane")
    args = parser.parse_args()
    if args.shared:
        kubeconfig, bin_dir = cluster_env()
        return await run(args, kubeconfig, bin_dir)
    with contextlib.ExitStack() as stack:
        state = Path(tempfile.mkdtemp(prefix="helmward-steady-plane-"))
        kubeconfig = stack.enter_context(second_control_plane(state))
        _, bin_dir = cluster_env()
        return await run(args, kubeconfig, bin_dir)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
