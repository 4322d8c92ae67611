"""Writes config/monitoring/dashboard.json, Helmward's Grafana dashboard, from the panel table
below: `.venv/bin/python hack/monitoring/dashboard.py`. It reads only metrics Helmward exports
(tests/monitoring checks each query against a real Prometheus scraping Helmward)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[2] / "config" / "monitoring" / "dashboard.json"
SOURCES = "GitRepository|HelmRepository|Bucket|OCIRepository|HelmChart"

# (title, kind of panel, unit, width, [(query, legend)])
PANELS: list[tuple[str, str, str, int, list[tuple[str, str]]]] = [
    (
        "Ready releases",
        "stat",
        "none",
        6,
        [
            ('sum(gotk_reconcile_condition{kind="HelmRelease",type="Ready",status="True"})', ""),
        ],
    ),
    (
        "Failing releases",
        "stat",
        "none",
        6,
        [
            ('sum(gotk_reconcile_condition{kind="HelmRelease",type="Ready",status="False"})', ""),
        ],
    ),
    (
        "Failing sources",
        "stat",
        "none",
        6,
        [
            (f'sum(gotk_reconcile_condition{{kind=~"{SOURCES}",type="Ready",status="False"}})', ""),
        ],
    ),
    (
        "Suspended objects",
        "stat",
        "none",
        6,
        [
            ("sum(gotk_suspend_status)", ""),
        ],
    ),
    (
        "Objects not ready",
        "table",
        "none",
        24,
        [
            ('gotk_reconcile_condition{type="Ready",status!="True"} == 1', "{{kind}} {{name}}"),
        ],
    ),
    (
        "Reconcile duration by kind (avg)",
        "timeseries",
        "s",
        12,
        [
            (
                "sum by (kind) (rate(gotk_reconcile_duration_seconds_sum[5m]))"
                " / sum by (kind) (rate(gotk_reconcile_duration_seconds_count[5m]))",
                "{{kind}}",
            ),
        ],
    ),
    (
        "Reconciles per minute by controller and result",
        "timeseries",
        "none",
        12,
        [
            (
                "sum by (controller, result) (increase(controller_runtime_reconcile_total[1m]))",
                "{{controller}} {{result}}",
            ),
        ],
    ),
    (
        "Reconcile time p90 by controller",
        "timeseries",
        "s",
        12,
        [
            (
                "histogram_quantile(0.90, sum by (controller, le)"
                " (rate(controller_runtime_reconcile_time_seconds_bucket[5m])))",
                "{{controller}}",
            ),
        ],
    ),
    (
        "Work queues",
        "timeseries",
        "none",
        12,
        [
            ("sum by (name) (workqueue_depth)", "depth {{name}}"),
            ("max by (name) (workqueue_longest_running_processor_seconds)", "longest {{name}}"),
        ],
    ),
    (
        "Helm actions per minute",
        "timeseries",
        "none",
        12,
        [
            (
                "sum by (action, result) (increase(helmward_actions_total[1m]))",
                "{{action}} {{result}}",
            ),
        ],
    ),
    (
        "Helm action duration p90",
        "timeseries",
        "s",
        12,
        [
            (
                "histogram_quantile(0.90, sum by (action, le)"
                " (rate(helmward_action_duration_seconds_bucket[5m])))",
                "{{action}}",
            ),
        ],
    ),
    (
        "Chart artifacts",
        "timeseries",
        "none",
        12,
        [
            ("sum by (result) (increase(helmward_artifact_fetches_total[5m]))", "{{result}}"),
            ("rate(helmward_artifact_fetched_bytes_total[5m])", "bytes/s"),
        ],
    ),
    (
        "API requests per second by code",
        "timeseries",
        "reqps",
        12,
        [
            ("sum by (code) (rate(rest_client_requests_total[1m]))", "{{code}}"),
        ],
    ),
    (
        "Memory",
        "timeseries",
        "bytes",
        12,
        [
            ("process_resident_memory_bytes", "resident"),
            ("helmward_engine_heap_bytes", "engine heap"),
        ],
    ),
    (
        "CPU",
        "timeseries",
        "none",
        12,
        [
            ("rate(process_cpu_seconds_total[1m])", "cores"),
        ],
    ),
    (
        "Events not delivered",
        "timeseries",
        "none",
        12,
        [
            ("sum by (reason) (increase(helmward_events_dropped_total[10m]))", "{{reason}}"),
        ],
    ),
]


def panel(
    index: int, x: int, y: int, spec: tuple[str, str, str, int, list[tuple[str, str]]]
) -> dict[str, Any]:
    title, kind, unit, width, queries = spec
    return {
        "id": index + 1,
        "title": title,
        "type": kind,
        "datasource": {"type": "prometheus", "uid": "${DS_PROMETHEUS}"},
        "gridPos": {"h": 4 if kind == "stat" else 8, "w": width, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [
            {
                "refId": chr(ord("A") + i),
                "expr": expr,
                "legendFormat": legend,
                "instant": kind in ("stat", "table"),
            }
            for i, (expr, legend) in enumerate(queries)
        ],
    }


def dashboard() -> dict[str, Any]:
    panels, x, y, row_height = [], 0, 0, 0
    for i, spec in enumerate(PANELS):
        width = spec[3]
        if x + width > 24:
            x, y = 0, y + row_height
        made = panel(i, x, y, spec)
        row_height = made["gridPos"]["h"]
        panels.append(made)
        x += width
    return {
        "title": "Helmward",
        "uid": "helmward",
        "tags": ["helmward", "flux"],
        "schemaVersion": 39,
        "time": {"from": "now-1h", "to": "now"},
        "refresh": "30s",
        "templating": {
            "list": [
                {
                    "name": "DS_PROMETHEUS",
                    "type": "datasource",
                    "query": "prometheus",
                    "label": "Prometheus",
                }
            ]
        },
        "panels": panels,
    }


def queries(board: dict[str, Any]) -> list[str]:
    """Every query of a dashboard, nested rows included."""
    found: list[str] = []

    def walk(panels: list[dict[str, Any]]) -> None:
        for p in panels:
            walk(p.get("panels") or [])
            found.extend(t["expr"] for t in p.get("targets") or [] if t.get("expr"))

    walk(board.get("panels") or [])
    return found


if __name__ == "__main__":
    OUT.write_text(json.dumps(dashboard(), indent=2) + "\n")
    print(f"wrote {OUT} ({len(PANELS)} panels)")
