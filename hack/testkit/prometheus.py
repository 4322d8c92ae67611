"""Prometheus (Debian's /usr/bin/prometheus, hack/lib/install-debs.sh) on 127.0.0.1, scraping
static targets, evaluating rule files and sending alerts to an Alertmanager."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import yaml

from hack.testkit.ports import free_port
from hack.testkit.process import Server, running

PROMETHEUS = Path("/usr/bin/prometheus")


@dataclass(frozen=True)
class ScrapeTarget:
    """One target: `address` is host:port. `labels` are target labels, as the
    prometheus-operator's PodMonitor adds (namespace, pod); with honor_labels false a metric's
    own label of the same name is kept as exported_<name>."""

    address: str
    labels: Mapping[str, str] = field(default_factory=dict)
    metrics_path: str = "/metrics"
    job: str = "targets"


class PrometheusError(RuntimeError):
    pass


@dataclass
class Prometheus:
    url: str
    server: Server
    http: aiohttp.ClientSession

    async def _get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        async with self.http.get(f"{self.url}{path}", params=params) as resp:
            body = await resp.json(content_type=None)
        if body.get("status") != "success":
            raise PrometheusError(f"{path} {dict(params or {})}: {body}")
        return body["data"]

    async def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query: its result, each {"metric": labels, "value": [time, "value"]}
        for a vector."""
        data = await self._get("/api/v1/query", {"query": expr})
        result: list[dict[str, Any]] = data["result"]
        return result

    async def alerts(self) -> list[dict[str, Any]]:
        """Alerts pending or firing, each with labels, annotations, state and activeAt."""
        data = await self._get("/api/v1/alerts")
        alerts: list[dict[str, Any]] = data["alerts"]
        return alerts

    async def targets(self) -> list[dict[str, Any]]:
        data = await self._get("/api/v1/targets", {"state": "active"})
        targets: list[dict[str, Any]] = data["activeTargets"]
        return targets

    async def wait_for_targets_up(self, within: float = 30.0) -> list[dict[str, Any]]:
        """Until every target has been scraped and is up; the targets."""
        deadline = time.monotonic() + within
        while True:
            targets = await self.targets()
            if targets and all(t["health"] == "up" for t in targets):
                return targets
            if time.monotonic() >= deadline:
                summary = [(t["scrapeUrl"], t["health"], t["lastError"]) for t in targets]
                raise AssertionError(f"targets not all up after {within}s: {summary}")
            await asyncio.sleep(0.2)


def config(
    targets: Sequence[ScrapeTarget],
    *,
    rule_files: Sequence[Path],
    alertmanager_url: str | None,
    scrape_interval: str,
    evaluation_interval: str,
    extra_labels: Mapping[str, str],
) -> dict[str, Any]:
    """prometheus.yml: a scrape job per job name, a static config per target."""
    jobs: dict[str, list[dict[str, Any]]] = {}
    for t in targets:
        labels = {**extra_labels, **t.labels}
        if t.metrics_path != "/metrics":
            # A target's own __metrics_path__ wins over its job's.
            labels["__metrics_path__"] = t.metrics_path
        jobs.setdefault(t.job, []).append({"targets": [t.address], "labels": labels})
    cfg: dict[str, Any] = {
        # A scrape timeout longer than the interval is refused, and the default is 10s.
        "global": {
            "scrape_interval": scrape_interval,
            "scrape_timeout": scrape_interval,
            "evaluation_interval": evaluation_interval,
        },
        "rule_files": [str(p) for p in rule_files],
        "scrape_configs": [
            {"job_name": job, "honor_labels": False, "static_configs": statics}
            for job, statics in jobs.items()
        ],
    }
    if alertmanager_url is not None:
        am = urlsplit(alertmanager_url)
        cfg["alerting"] = {
            "alertmanagers": [
                {
                    "scheme": am.scheme or "http",
                    "path_prefix": am.path or "/",
                    "static_configs": [{"targets": [am.netloc]}],
                }
            ]
        }
    return cfg


def as_target(t: ScrapeTarget | str) -> ScrapeTarget:
    """A URL (http://host:port/path) or host:port as a target."""
    if isinstance(t, ScrapeTarget):
        return t
    if "://" not in t:
        return ScrapeTarget(t)
    u = urlsplit(t)
    return ScrapeTarget(u.netloc, metrics_path=u.path or "/metrics")


@contextlib.asynccontextmanager
async def running_prometheus(
    work_dir: Path,
    scrape_targets: Sequence[ScrapeTarget | str],
    rule_files: Sequence[Path] = (),
    alertmanager_url: str | None = None,
    scrape_interval: str = "1s",
    evaluation_interval: str = "1s",
    extra_labels: Mapping[str, str] | None = None,
) -> AsyncIterator[Prometheus]:
    """Prometheus scraping `scrape_targets`, `extra_labels` added to every target's labels,
    its TSDB, config and log under `work_dir/prometheus`; ready (its /-/ready answers) on
    entry, stopped on exit."""
    home = work_dir / "prometheus"
    home.mkdir(parents=True, exist_ok=True)
    cfg = config(
        [as_target(t) for t in scrape_targets],
        rule_files=rule_files,
        alertmanager_url=alertmanager_url,
        scrape_interval=scrape_interval,
        evaluation_interval=evaluation_interval,
        extra_labels=extra_labels or {},
    )
    (home / "prometheus.yml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    port = free_port()
    argv = [
        str(PROMETHEUS),
        f"--config.file={home / 'prometheus.yml'}",
        f"--storage.tsdb.path={home / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=info",
    ]
    url = f"http://127.0.0.1:{port}"
    async with running("prometheus", argv, home / "prometheus.log", cwd=home) as server:
        await server.wait_http(f"{url}/-/ready")
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            yield Prometheus(url, server, http)
