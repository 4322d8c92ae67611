"""Alertmanager (Debian's /usr/bin/prometheus-alertmanager, hack/lib/install-debs.sh) on
127.0.0.1, alone (clustering off), sending every notification to one webhook."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from hack.testkit.ports import free_port
from hack.testkit.process import Server, running

ALERTMANAGER = Path("/usr/bin/prometheus-alertmanager")


@dataclass
class Alertmanager:
    url: str
    server: Server
    http: aiohttp.ClientSession

    async def post_alerts(self, alerts: Sequence[Mapping[str, Any]]) -> None:
        """POST /api/v2/alerts, as Prometheus sends them: each with labels, and optionally
        annotations, startsAt, endsAt, generatorURL."""
        async with self.http.post(f"{self.url}/api/v2/alerts", json=list(alerts)) as resp:
            if resp.status != 200:
                raise RuntimeError(
                    f"alertmanager refused the alerts: {resp.status} {await resp.text()}"
                )

    async def alerts(self) -> list[dict[str, Any]]:
        """GET /api/v2/alerts: the alerts it holds."""
        async with self.http.get(f"{self.url}/api/v2/alerts") as resp:
            resp.raise_for_status()
            alerts: list[dict[str, Any]] = await resp.json()
            return alerts


def config(
    webhook_url: str,
    *,
    group_by: Sequence[str],
    group_wait: str,
    group_interval: str,
    repeat_interval: str,
) -> dict[str, Any]:
    return {
        "route": {
            "receiver": "webhook",
            "group_by": list(group_by),
            "group_wait": group_wait,
            "group_interval": group_interval,
            "repeat_interval": repeat_interval,
        },
        "receivers": [
            {"name": "webhook", "webhook_configs": [{"url": webhook_url, "send_resolved": True}]}
        ],
    }


@contextlib.asynccontextmanager
async def running_alertmanager(
    work_dir: Path,
    webhook_url: str,
    group_wait: str = "1s",
    group_interval: str = "1s",
    repeat_interval: str = "1h",
    group_by: Sequence[str] = ("alertname",),
) -> AsyncIterator[Alertmanager]:
    """Alertmanager routing every alert to `webhook_url` (resolved ones too), its config, data
    and log under `work_dir/alertmanager`; ready on entry, stopped on exit."""
    home = work_dir / "alertmanager"
    home.mkdir(parents=True, exist_ok=True)
    cfg = config(
        webhook_url,
        group_by=group_by,
        group_wait=group_wait,
        group_interval=group_interval,
        repeat_interval=repeat_interval,
    )
    (home / "alertmanager.yml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    port = free_port()
    argv = [
        str(ALERTMANAGER),
        f"--config.file={home / 'alertmanager.yml'}",
        f"--storage.path={home / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        # Empty: no gossip, so no port 9094 and no wait for peers.
        "--cluster.listen-address=",
        "--log.level=info",
    ]
    url = f"http://127.0.0.1:{port}"
    async with running("alertmanager", argv, home / "alertmanager.log", cwd=home) as server:
        await server.wait_http(f"{url}/-/ready")
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            yield Alertmanager(url, server, http)
