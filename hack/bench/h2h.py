"""Head to head: Flux's helm-controller and source-controller, then Helmward, each on a fresh
control plane of its own, installing the same N HelmReleases of the same chart (a Deployment,
a Service, a ServiceAccount and a ConfigMap, from a HelmRepository on 127.0.0.1) with the same
settings: 4 reconciles in parallel, unready dependencies retried every 5s, the same interval,
no leader election.

    PYTHONPATH=. .venv/bin/python hack/bench/h2h.py --releases 100 --layout flat \
        [--interval 60] [--only flux|helmward] [--json figures.json]

Layouts: flat (N independent releases in one namespace), namespaces (N spread over 10
namespaces, every namespace watched), chains (chains of 10 through dependsOn, in one
namespace), all (each in turn). Flux watches its runtime namespace alone unless the layout
spans several; Helmward is given the same scope.

Figures, for each controller and as Helmward/Flux ratios:
- wall: from the first HelmRelease applied to all of them Ready=True (polled every 0.25s);
- controller CPU-s (utime+stime of the process and its waited-for children, /proc/<pid>/stat;
  Flux's two processes summed) over that install phase, and over one idle interval after;
- the API server's and etcd's CPU-s over the install phase;
- peak RSS: the summed VmRSS of the controller's processes sampled every 0.2s over the whole
  run, and each process's own VmHWM;
- idle requests and writes (verbs other than GET, LIST and WATCH) per release over two
  intervals starting 5s after all are Ready: the first after the install, then the steady one
  (judged: Helmward <= 0.05), with the controller's CPU per idle release per hour from it;
  from apiserver_request_total on the kinds a Helm controller touches (HelmReleases,
  HelmCharts, HelmRepositories, Secrets, Events, ConfigMaps);
- dependency latency p50/p90 (chains): one source for both controllers, Helm storage. From a
  dependency's record first showing status deployed, as a watch of the storage Secrets sees it
  (Helm's release JSON has no time of reaching deployed: info.last_deployed is when the install
  began), to its dependent's install beginning, Helm's own sub-second stamp on the first record
  (info.first_deployed, the installing controller's clock, taken before it renders the chart).
  Ready's lastTransitionTime has whole seconds only. The watch lag printed (first record seen
  minus its stamp) bounds the watch's delay from above. For Helmward the latency from its own
  log (in sync -> install starting) is reported too.

Before each controller starts, the page cache is dropped when this process may (root), so
that neither side's binaries are counted resident because an earlier run or build left them
cached (see measure.drop_page_cache). The plane's kube-controller-manager runs at the rate
hack/cluster.sh gives it (HELMWARD_KCM_QPS), printed in the table's first line.

Targets of the issue (not gates: the exit status is 0 whenever every run completed, non-zero
when some release never became Ready): wall <= 0.2x, controller CPU <= 0.3x, peak RSS <= 0.6x,
Helmward's dependency latency p50 <= 0.1s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes_asyncio import client

from hack.bench.measure import (
    RssSampler,
    StorageWatch,
    api_requests,
    cpu_seconds,
    drop_page_cache,
    helmward_log_latencies,
    peak_rss_mib,
    quantile,
    release_traffic,
    total_cpu_seconds,
    writes,
)
from hack.testkit.chart_server import ChartServer, chart_repository
from hack.testkit.charts import write_workload_chart
from hack.testkit.flux import flux_bin_dir, running_flux
from hack.testkit.kube import (
    api_client,
    create_helm_repository,
    helm_release_body,
    install_crds,
)
from hack.testkit.launcher import running_controller
from hack.testkit.plane import OwnPlane, cluster_env, own_control_plane
from internal.kube import rest
from internal.kube.resources import HELM_RELEASES, HELM_REPOSITORIES, NAMESPACES

CONTROLLERS = ("flux", "helmward")
LAYOUTS = ("flat", "namespaces", "chains")
NAMESPACE = "h2h"
SPREAD = 10
CHAIN = 10
CONCURRENT = 4
REQUEUE_DEPENDENCY = "5s"
SETTLE = 5.0
KCM_QPS = "200"  # hack/cluster.sh's default; HELMWARD_KCM_QPS overrides both
CHART = ("app", "1.0.0")


@dataclass(frozen=True)
class Fleet:
    """The releases of one layout: namespace/name keys, and each dependent's dependency."""

    layout: str
    releases: tuple[str, ...]
    depends_on: dict[str, str]

    @property
    def namespaces(self) -> list[str]:
        return sorted({r.split("/")[0] for r in self.releases})

    @property
    def watch_all(self) -> bool:
        return len(self.namespaces) > 1


def fleet(layout: str, n: int) -> Fleet:
    names = [f"app-{i:04d}" for i in range(n)]
    if layout == "namespaces":
        keys = tuple(f"{NAMESPACE}-{i % SPREAD}/{name}" for i, name in enumerate(names))
    else:
        keys = tuple(f"{NAMESPACE}/{name}" for name in names)
    deps = {}
    if layout == "chains":
        deps = {keys[i]: keys[i - 1] for i in range(n) if i % CHAIN}
    return Fleet(layout, keys, deps)


@dataclass
class Figures:
    """One controller's run of one layout."""

    controller: str
    layout: str
    releases: int
    interval_s: int
    wall_s: float = 0.0
    cpu_install_s: float = 0.0
    cpu_idle_s: float = 0.0
    apiserver_cpu_install_s: float = 0.0
    etcd_cpu_install_s: float = 0.0
    peak_rss_mib: float = 0.0
    rss_samples: int = 0
    vmhwm_mib: dict[str, float] = field(default_factory=dict)
    first_idle_requests_per_release: float = 0.0
    idle_requests_per_release: float = 0.0
    idle_writes_per_release: float = 0.0
    idle_cpu_ms_per_release_hour: float = 0.0
    idle_requests: dict[str, int] = field(default_factory=dict)
    dependency_pairs: int = 0
    dependency_p50_s: float | None = None
    dependency_p90_s: float | None = None
    log_dependency_p50_s: float | None = None
    log_dependency_p90_s: float | None = None
    storage_watch_lag_p50_s: float | None = None
    page_cache_dropped: bool = False
    failed: str | None = None


# (figure, label, target ratio) for the rows that compare the two; None: no target.
ROWS: tuple[tuple[str, str, float | None], ...] = (
    ("wall_s", "wall, apply -> all Ready (s)", 0.2),
    ("cpu_install_s", "controller CPU, install (s)", 0.3),
    ("cpu_idle_s", "controller CPU, steady idle interval (s)", None),
    ("apiserver_cpu_install_s", "kube-apiserver CPU, install (s)", None),
    ("etcd_cpu_install_s", "etcd CPU, install (s)", None),
    ("peak_rss_mib", "peak RSS, processes summed (MiB)", 0.6),
    ("first_idle_requests_per_release", "requests / release, first interval", None),
    ("idle_requests_per_release", "idle requests / release / interval", None),
    ("idle_writes_per_release", "idle writes / release / interval", None),
    ("idle_cpu_ms_per_release_hour", "CPU ms / idle release / hour", None),
    ("dependency_p50_s", "dependency latency p50 (s)", None),
    ("dependency_p90_s", "dependency latency p90 (s)", None),
)
DEPENDENCY_P50_TARGET = 0.1
IDLE_REQUESTS_TARGET = 0.05


@dataclass(frozen=True)
class Tools:
    """What every run shares: the chart repository, kubectl, and Flux's binaries (None when
    Flux does not run)."""

    charts: ChartServer
    kubectl: str
    flux_bin: Path | None


@dataclass(frozen=True)
class Running:
    """A controller's processes (name -> pid) and whether they all still run."""

    pids: dict[str, int]
    alive: Callable[[], bool]
    log: Path | None


@contextlib.asynccontextmanager
async def running(
    which: str, plane: OwnPlane, fl: Fleet, work: Path, flux_bin: Path | None
) -> AsyncIterator[Running]:
    """Flux's two controllers, or `helmward run`, against `plane`, scoped to the fleet's
    namespace (all namespaces when it spans several), with the same settings."""
    runtime_namespace = fl.namespaces[0]
    if which == "flux":
        async with running_flux(
            plane.kubeconfig,
            runtime_namespace,
            work,
            bin_dir=flux_bin,
            watch_all_namespaces=fl.watch_all,
            concurrent=CONCURRENT,
        ) as flux:
            yield Running(
                {log.stem: proc.pid for proc, log in zip(flux.processes, flux.logs, strict=True)},
                lambda: all(p.returncode is None for p in flux.processes),
                None,
            )
        return
    log = work / "helmward.log"
    flags = (
        f"--concurrent={CONCURRENT}",
        f"--requeue-dependency={REQUEUE_DEPENDENCY}",
        "--enable-leader-election=false",
    )
    async with running_controller(
        plane.kubeconfig,
        work / "data",
        namespace=None if fl.watch_all else runtime_namespace,
        flags=flags,
        log=log,
        grace=120,
    ) as controller:
        yield Running({"helmward": controller.pid}, lambda: controller.returncode is None, log)


async def install_kinds(api: client.ApiClient, flux_bin: Path | None) -> None:
    """Each controller's own CRDs: Flux's from its pinned modules, Helmward's config/crd."""
    if flux_bin is not None:
        for name in ("source-controller", "helm-controller"):
            await install_crds(api, flux_bin / "crd" / name)
    else:
        await install_crds(api)


async def prepare(api: client.ApiClient, fl: Fleet, charts_url: str, within: float) -> None:
    """The namespaces and a HelmRepository in each, waited on until Ready."""
    for ns in fl.namespaces:
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
        await rest.request(api, "POST", NAMESPACES.path(), body=body)
        await create_helm_repository(api, ns, charts_url, interval="10m")
    await until_ready(api, HELM_REPOSITORIES.path(), len(fl.namespaces), within, lambda: True)


def is_ready(obj: dict[str, Any]) -> bool:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


async def until_ready(
    api: client.ApiClient, path: str, count: int, within: float, alive: Callable[[], bool]
) -> None:
    """Until `count` objects at `path` are Ready=True; raises on a deadline or a dead
    controller."""
    deadline = time.monotonic() + within
    while True:
        listing = await rest.request(api, "GET", path)
        ready = sum(is_ready(o) for o in listing["items"])
        if ready >= count:
            return
        if not alive():
            raise RuntimeError(f"the controller exited with {ready}/{count} Ready at {path}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out with {ready}/{count} Ready at {path}")
        await asyncio.sleep(0.25)


def release_body(key: str, fl: Fleet, interval: int) -> dict[str, Any]:
    ns, name = key.split("/")
    dep = fl.depends_on.get(key)
    return helm_release_body(
        name,
        ns,
        interval=f"{interval}s",
        chart=CHART,
        depends_on=[dep.split("/")[1]] if dep else [],
    )


async def apply_all(api: client.ApiClient, fl: Fleet, interval: int) -> None:
    sem = asyncio.Semaphore(20)

    async def apply(key: str) -> None:
        async with sem:
            body = release_body(key, fl, interval)
            await rest.request(api, "POST", HELM_RELEASES.path(key.split("/")[0]), body=body)

    await asyncio.gather(*(apply(k) for k in fl.releases))


async def measure(
    which: str, plane: OwnPlane, fl: Fleet, args: argparse.Namespace, tools: Tools, work: Path
) -> Figures:
    """One controller's run on `plane`: install the fleet, wait Ready, idle two intervals."""
    figures = Figures(which, fl.layout, len(fl.releases), args.interval)
    storage = StorageWatch()
    async with api_client(plane.kubeconfig) as api:
        flux_bin = tools.flux_bin if which == "flux" else None
        await install_kinds(api, flux_bin)
        figures.page_cache_dropped = drop_page_cache()
        async with running(which, plane, fl, work, flux_bin) as ctl:
            await prepare(api, fl, tools.charts.url, within=120)
            async with RssSampler(list(ctl.pids.values())).sampling() as rss:
                async with storage.watching(api):
                    await install(api, plane, fl, args, ctl, figures)
                    await asyncio.sleep(SETTLE)
                first = await idle(plane, args, tools, ctl, figures)
                traffic = await idle(plane, args, tools, ctl, figures)
            figures.peak_rss_mib, figures.rss_samples = rss.peak_mib, rss.samples
            figures.vmhwm_mib = {name: peak_rss_mib(pid) for name, pid in ctl.pids.items()}
    n = len(fl.releases)
    figures.first_idle_requests_per_release = sum(first.values()) / n
    figures.idle_cpu_ms_per_release_hour = figures.cpu_idle_s * 1000 / n * 3600 / args.interval
    figures.idle_requests = {f"{v} {r}": c for (v, r), c in sorted(traffic.items())}
    figures.idle_requests_per_release = sum(traffic.values()) / n
    figures.idle_writes_per_release = writes(traffic) / n
    dependencies(figures, fl, storage, ctl.log)
    return figures


async def install(
    api: client.ApiClient,
    plane: OwnPlane,
    fl: Fleet,
    args: argparse.Namespace,
    ctl: Running,
    figures: Figures,
) -> None:
    """Apply the fleet and wait for all Ready: the wall and the CPU it took."""
    pids = list(ctl.pids.values())
    apiserver, etcd = plane.pid("kube-apiserver"), plane.pid("etcd")
    cpu = [total_cpu_seconds(pids), cpu_seconds(apiserver), cpu_seconds(etcd)]
    start = time.monotonic()
    await apply_all(api, fl, args.interval)
    await until_ready(api, HELM_RELEASES.path(), len(fl.releases), args.timeout, ctl.alive)
    figures.wall_s = time.monotonic() - start
    figures.cpu_install_s = total_cpu_seconds(pids) - cpu[0]
    figures.apiserver_cpu_install_s = cpu_seconds(apiserver) - cpu[1]
    figures.etcd_cpu_install_s = cpu_seconds(etcd) - cpu[2]


async def idle(
    plane: OwnPlane, args: argparse.Namespace, tools: Tools, ctl: Running, figures: Figures
) -> Counter[tuple[str, str]]:
    """One interval with every release in sync: the CPU it took and the requests on the
    release kinds."""
    pids = list(ctl.pids.values())
    kubeconfig = str(plane.kubeconfig)
    before, cpu = api_requests(tools.kubectl, kubeconfig), total_cpu_seconds(pids)
    await asyncio.sleep(args.interval)
    traffic = release_traffic(api_requests(tools.kubectl, kubeconfig) - before)
    figures.cpu_idle_s = total_cpu_seconds(pids) - cpu
    return traffic


def dependencies(figures: Figures, fl: Fleet, storage: StorageWatch, log: Path | None) -> None:
    """The dependency latencies, from Helm storage and (Helmward) its log."""
    lags = storage.lags()
    if lags:
        figures.storage_watch_lag_p50_s = quantile(lags, 0.5)
    if not fl.depends_on:
        return
    latencies = storage.latencies(fl.depends_on)
    figures.dependency_pairs = len(latencies)
    if latencies:
        figures.dependency_p50_s = quantile(latencies, 0.5)
        figures.dependency_p90_s = quantile(latencies, 0.9)
    if log is not None:
        names = {n.split("/")[1]: d.split("/")[1] for n, d in fl.depends_on.items()}
        from_log = helmward_log_latencies(log, names)
        if from_log:
            figures.log_dependency_p50_s = quantile(from_log, 0.5)
            figures.log_dependency_p90_s = quantile(from_log, 0.9)


async def run_one(which: str, fl: Fleet, args: argparse.Namespace, tools: Tools) -> Figures:
    """`which` on a fresh control plane in a temporary directory, removed after."""
    work = Path(tempfile.mkdtemp(prefix=f"helmward-h2h-{which}-"))
    try:
        with own_control_plane(work / "plane") as plane:
            try:
                return await measure(which, plane, fl, args, tools, work)
            except RuntimeError as exc:
                figures = Figures(which, fl.layout, len(fl.releases), args.interval)
                figures.failed = str(exc)
                print(f"{which}: {exc}\n{logs_tail(work)}", file=sys.stderr)
                return figures
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def logs_tail(work: Path, chars: int = 3000) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()[-chars:]}" for p in sorted(work.glob("*.log")))


def ratios(flux: Figures, helmward: Figures) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for name, _, _ in ROWS:
        f, h = getattr(flux, name), getattr(helmward, name)
        out[name] = h / f if isinstance(f, float) and isinstance(h, float) and f > 0 else None
    return out


def targets(ratio: dict[str, float | None], helmward: Figures) -> dict[str, dict[str, Any]]:
    """Each target of the issue: its bound, the figure it is judged on, and whether it is met
    (None when this layout does not measure it)."""
    out: dict[str, dict[str, Any]] = {}
    for name, _, bound in ROWS:
        if bound is not None:
            value = ratio.get(name)
            out[name] = {
                "bound": bound,
                "ratio": value,
                "met": None if value is None else value <= bound,
            }
    p50 = helmward.dependency_p50_s
    out["dependency_p50_s"] = {
        "bound": DEPENDENCY_P50_TARGET,
        "seconds": p50,
        "met": None if p50 is None else p50 <= DEPENDENCY_P50_TARGET,
    }
    idle = helmward.idle_requests_per_release
    out["idle_requests_per_release"] = {
        "bound": IDLE_REQUESTS_TARGET,
        "requests": idle,
        "met": idle <= IDLE_REQUESTS_TARGET,
    }
    return out


def _cell(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"


def _verdict(met: bool | None) -> str:
    return "n/a" if met is None else "MET" if met else "NOT MET"


def table(result: dict[str, Any]) -> str:
    """The printed form of one layout's figures (and its targets when both ran)."""
    runs: dict[str, Figures] = result["runs"]
    goals: dict[str, dict[str, Any]] = result.get("targets", {})
    ratio: dict[str, float | None] = result.get("ratios", {})
    first = next(iter(runs.values()))
    dropped = all(f.page_cache_dropped for f in runs.values())
    lines = [
        f"layout {first.layout}: {first.releases} releases, interval {first.interval_s}s, "
        f"--concurrent {CONCURRENT}, requeue-dependency {REQUEUE_DEPENDENCY}, "
        f"kube-controller-manager qps {os.environ.get('HELMWARD_KCM_QPS', KCM_QPS)}, page cache "
        + ("dropped before each start" if dropped else "warm"),
        f"{'':40} " + " ".join(f"{c:>10}" for c in runs) + ("   ratio   target" if ratio else ""),
    ]
    for name, label, bound in ROWS:
        row = f"{label:40} " + " ".join(
            f"{'FAILED' if f.failed else _cell(getattr(f, name)):>10}" for f in runs.values()
        )
        if ratio:
            row += f" {_cell(ratio[name]):>7}"
            goal = goals.get(name)
            if goal is None:
                pass
            elif name == "dependency_p50_s":
                row += f"   Helmward <= {goal['bound']}s {_verdict(goal['met'])}"
            elif name == "idle_requests_per_release":
                row += f"   Helmward <= {goal['bound']} {_verdict(goal['met'])}"
            else:
                row += f"   <= {bound}x {_verdict(goal['met'])}"
        lines.append(row)
    for f in runs.values():
        if f.failed:
            lines.append(f"  {f.controller}: FAILED: {f.failed}")
            continue
        hwm = ", ".join(f"{k} {v:.0f}" for k, v in f.vmhwm_mib.items())
        lines.append(
            f"  {f.controller}: VmHWM (MiB) {hwm}; {f.rss_samples} RSS samples; Helm storage "
            f"watch lag p50 {_cell(f.storage_watch_lag_p50_s)}s"
        )
        if f.log_dependency_p50_s is not None:
            lines.append(
                f"  {f.controller}: dependency latency from its log p50 "
                f"{f.log_dependency_p50_s:.3f}s p90 {_cell(f.log_dependency_p90_s)}s over "
                f"{f.dependency_pairs} pairs"
            )
        top = sorted(f.idle_requests.items(), key=lambda kv: -kv[1])[:6]
        lines.append(f"  {f.controller}: idle requests " + ", ".join(f"{k} {v}" for k, v in top))
    return "\n".join(lines)


async def run_layout(layout: str, args: argparse.Namespace, tools: Tools) -> dict[str, Any]:
    fl = fleet(layout, args.releases)
    chosen = [c for c in CONTROLLERS if args.only in (None, c)]
    runs = {which: await run_one(which, fl, args, tools) for which in chosen}
    result: dict[str, Any] = {"runs": runs}
    if len(runs) == 2 and not any(f.failed for f in runs.values()):
        result["ratios"] = ratios(runs["flux"], runs["helmward"])
        result["targets"] = targets(result["ratios"], runs["helmward"])
    return result


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--releases", type=int, default=100)
    parser.add_argument("--layout", choices=(*LAYOUTS, "all"), default="flat")
    parser.add_argument(
        "--interval", type=int, default=60, help="HelmRelease interval and idle window, seconds"
    )
    parser.add_argument("--only", choices=CONTROLLERS, default=None)
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument(
        "--timeout", type=float, default=1800, help="seconds until all must be Ready"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directories")
    return parser.parse_args(argv)


async def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    _, bin_dir = cluster_env()
    layouts = LAYOUTS if args.layout == "all" else (args.layout,)
    src = Path(tempfile.mkdtemp(prefix="helmward-h2h-charts-"))
    results: dict[str, dict[str, Any]] = {}
    try:
        chart = write_workload_chart(src / "src", *CHART)
        async with chart_repository(bin_dir / "helm", [chart], src / "repo") as charts:
            flux_bin = flux_bin_dir() if args.only in (None, "flux") else None
            tools = Tools(charts, str(bin_dir / "kubectl"), flux_bin)
            for layout in layouts:
                results[layout] = await run_layout(layout, args, tools)
                print(table(results[layout]), flush=True)
    finally:
        shutil.rmtree(src, ignore_errors=True)
    if args.json is not None:
        args.json.write_text(json.dumps(as_json(args, results), indent=2) + "\n")
    failed = [f for r in results.values() for f in r["runs"].values() if f.failed]
    return 1 if failed else 0


def as_json(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "releases": args.releases,
        "interval_s": args.interval,
        "concurrent": CONCURRENT,
        "requeue_dependency": REQUEUE_DEPENDENCY,
        "layouts": {
            layout: {
                **r,
                "runs": {c: dataclasses.asdict(f) for c, f in r["runs"].items()},
            }
            for layout, r in results.items()
        },
    }


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
