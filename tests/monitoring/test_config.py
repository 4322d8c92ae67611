"""config/monitoring, rendered by kustomize and applied for real against prometheus-operator's
own CRDs (PodMonitor, PrometheusRule) at their pin, so the API server checks every field."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import yaml
from kubernetes_asyncio import client

from hack.testkit.crds import prometheus_operator_crds
from hack.testkit.kube import install_crds
from hack.testkit.plane import ControlPlane

MONITORING = Path(__file__).resolve().parents[2] / "config" / "monitoring"


def _kubectl(plane: ControlPlane, *args: str, stdin: str | None = None) -> str:
    env = {**os.environ, "KUBECONFIG": str(plane.kubeconfig)}
    done = subprocess.run(
        [str(plane.kubectl), *args], env=env, input=stdin, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr or done.stdout
    return done.stdout


async def test_config_monitoring_applies_against_prometheus_operators_crds(
    control_plane: ControlPlane, kube: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    crds = prometheus_operator_crds(tmp_path / "crds", ("podmonitors", "prometheusrules"))
    await install_crds(kube, crds)
    objects = list(yaml.safe_load_all(_kubectl(control_plane, "kustomize", str(MONITORING))))
    assert {(o["kind"], o["metadata"]["name"]) for o in objects} == {
        ("PodMonitor", "helmward"),
        ("PrometheusRule", "helmward"),
        ("ConfigMap", "helmward-grafana-dashboard"),
    }
    assert {o["metadata"]["namespace"] for o in objects} == {"flux-system"}
    for obj in objects:
        obj["metadata"]["namespace"] = namespace
    _kubectl(
        control_plane,
        "apply",
        "--server-side",
        "--field-manager=helmward-monitoring-test",
        "-f",
        "-",
        stdin=yaml.safe_dump_all(objects),
    )
    rule = json.loads(
        _kubectl(control_plane, "get", "prometheusrule", "helmward", "-n", namespace, "-o", "json")
    )
    shipped = yaml.safe_load((MONITORING / "rules.yaml").read_text())
    assert rule["spec"] == shipped
    monitor = json.loads(
        _kubectl(control_plane, "get", "podmonitor", "helmward", "-n", namespace, "-o", "json")
    )
    assert monitor["spec"]["podMetricsEndpoints"] == [{"port": "http-prom", "path": "/metrics"}]
    board = json.loads(
        _kubectl(
            control_plane,
            "get",
            "configmap",
            "helmward-grafana-dashboard",
            "-n",
            namespace,
            "-o",
            "json",
        )
    )
    assert json.loads(board["data"]["dashboard.json"])["uid"] == "helmward"
