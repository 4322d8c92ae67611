"""A Helmward controller with its chart repository (the e2e harness), scraped by a real
Prometheus with the target labels a PodMonitor gives a pod of Flux's namespace."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import yaml

from hack.testkit.prometheus import Prometheus, ScrapeTarget, running_prometheus
from hack.testkit.wait import eventually
from tests.e2e.conftest import Harness
from tests.e2e.conftest import controller_flags as controller_flags  # fixtures, reused
from tests.e2e.conftest import flux_crds as flux_crds
from tests.e2e.conftest import harness as harness

OPERATOR_NAMESPACE = "flux-system"
POD = "helmward-controller-6c9d8f7b5d-x4k2p"
"""A pod name as the Deployment in config/manager makes them."""
RULES = Path(__file__).resolve().parents[2] / "config" / "monitoring" / "rules.yaml"


def controller_target(h: Harness) -> ScrapeTarget:
    assert h.controller is not None
    return ScrapeTarget(
        urlsplit(h.controller.metrics_url).netloc,
        {"namespace": OPERATOR_NAMESPACE, "pod": POD},
        job="helmward",
    )


def shipped_rules(work_dir: Path, **for_: str) -> Path:
    """config/monitoring/rules.yaml, with the `for:` of the alerts named shortened."""
    groups = yaml.safe_load(RULES.read_text())
    for group in groups["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") in for_:
                rule["for"] = for_[rule["alert"]]
    path = work_dir / "rules.yaml"
    path.write_text(yaml.safe_dump(groups, sort_keys=False))
    return path


@contextlib.asynccontextmanager
async def scraping(
    h: Harness,
    others: Sequence[ScrapeTarget] = (),
    rule_files: Sequence[Path] = (),
    alertmanager_url: str | None = None,
) -> AsyncIterator[Prometheus]:
    async with running_prometheus(
        h.work_dir,
        [controller_target(h), *others],
        rule_files=rule_files,
        alertmanager_url=alertmanager_url,
    ) as prom:
        await prom.wait_for_targets_up()
        yield prom


async def metric_names(url: str) -> set[str]:
    """The metric families a /metrics endpoint exposes (from its TYPE lines), once it serves."""

    async def scrape() -> str | None:
        try:
            async with aiohttp.ClientSession() as http, http.get(url) as resp:
                return await resp.text()
        except aiohttp.ClientConnectionError:
            return None

    text = await eventually(scrape, within=30, what=f"{url} serving")
    return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}


async def has_data(prom: Prometheus, expr: str, within: float = 60) -> list[dict[str, object]]:
    async def probe() -> list[dict[str, object]] | None:
        return await prom.query(expr) or None

    return await eventually(probe, within=within, what=f"data for {expr!r}")
