"""kube-state-metrics (built by hack/lib/build-peers.sh at the pin in hack/tools/peers/versions)
on 127.0.0.1, serving only custom-resource-state metrics: Flux's `gotk_resource_info` for
HelmReleases and the sources, with the labels of Flux's monitoring example."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hack.testkit.paths import REPO_ROOT
from hack.testkit.ports import free_ports
from hack.testkit.process import Server, running

BUILD_PEERS = REPO_ROOT / "hack" / "lib" / "build-peers.sh"

FieldPath = list[str]

# Labels every kind gets; then each kind's own.
COMMON_LABELS: dict[str, FieldPath] = {
    "exported_namespace": ["metadata", "namespace"],
    "ready": ["status", "conditions", "[type=Ready]", "status"],
    "suspended": ["spec", "suspend"],
}
LAST_RELEASE = ["status", "history", "0"]
ARTIFACT_REVISION = ["status", "artifact", "revision"]


@dataclass(frozen=True)
class Kind:
    group: str
    version: str
    kind: str
    labels: Mapping[str, FieldPath]


KINDS = (
    Kind(
        "helm.toolkit.fluxcd.io",
        "v2",
        "HelmRelease",
        {
            "revision": [*LAST_RELEASE, "chartVersion"],
            "chart_name": [*LAST_RELEASE, "chartName"],
            "chart_app_version": [*LAST_RELEASE, "appVersion"],
            "chart_ref_name": ["spec", "chartRef", "name"],
            "chart_source_name": ["spec", "chart", "spec", "sourceRef", "name"],
        },
    ),
    Kind(
        "source.toolkit.fluxcd.io",
        "v1",
        "GitRepository",
        {"revision": ARTIFACT_REVISION, "url": ["spec", "url"]},
    ),
    Kind(
        "source.toolkit.fluxcd.io",
        "v1",
        "Bucket",
        {
            "revision": ARTIFACT_REVISION,
            "endpoint": ["spec", "endpoint"],
            "bucket_name": ["spec", "bucketName"],
        },
    ),
    Kind(
        "source.toolkit.fluxcd.io",
        "v1",
        "HelmRepository",
        {"revision": ARTIFACT_REVISION, "url": ["spec", "url"]},
    ),
    Kind(
        "source.toolkit.fluxcd.io",
        "v1",
        "HelmChart",
        {
            "revision": ARTIFACT_REVISION,
            "chart_name": ["spec", "chart"],
            "chart_version": ["spec", "version"],
            "source_name": ["spec", "sourceRef", "name"],
        },
    ),
    Kind(
        "source.toolkit.fluxcd.io",
        "v1",
        "OCIRepository",
        {"revision": ARTIFACT_REVISION, "url": ["spec", "url"]},
    ),
)


def custom_resource_state(kinds: tuple[Kind, ...] = KINDS) -> dict[str, Any]:
    """The --custom-resource-state-config-file: one Info metric gotk_resource_info per kind."""
    return {
        "kind": "CustomResourceStateMetrics",
        "spec": {
            "resources": [
                {
                    "groupVersionKind": {"group": k.group, "version": k.version, "kind": k.kind},
                    "metricNamePrefix": "gotk",
                    # Copies, so that the YAML has no anchors and aliases.
                    "labelsFromPath": {
                        label: list(path) for label, path in {**COMMON_LABELS, **k.labels}.items()
                    },
                    "metrics": [
                        {
                            "name": "resource_info",
                            "help": f"The current state of a Flux {k.kind} resource.",
                            "each": {
                                "type": "Info",
                                "info": {"labelsFromPath": {"name": ["metadata", "name"]}},
                            },
                        }
                    ],
                }
                for k in kinds
            ]
        },
    }


def peers_bin_dir() -> Path:
    """The directory of the pinned peers' binaries, built first when the cache has none."""
    out = subprocess.run(
        ["bash", str(BUILD_PEERS)], check=True, stdout=subprocess.PIPE, text=True
    ).stdout
    return Path(out.strip().splitlines()[-1])


@dataclass(frozen=True)
class KubeStateMetrics:
    url: str
    """The metrics URL, http://127.0.0.1:<port>/metrics."""
    telemetry_url: str
    server: Server


@contextlib.asynccontextmanager
async def running_kube_state_metrics(
    kubeconfig: Path, work_dir: Path, *, bin_dir: Path | None = None
) -> AsyncIterator[KubeStateMetrics]:
    """kube-state-metrics against `kubeconfig` with the config of `custom_resource_state()`,
    its config and log under `work_dir/kube-state-metrics`; serving on entry, stopped on
    exit."""
    binary = (bin_dir or peers_bin_dir()) / "kube-state-metrics"
    home = work_dir / "kube-state-metrics"
    home.mkdir(parents=True, exist_ok=True)
    config = home / "custom-resource-state.yaml"
    config.write_text(yaml.safe_dump(custom_resource_state(), sort_keys=False))
    port, telemetry = free_ports(2)
    argv = [
        str(binary),
        f"--kubeconfig={kubeconfig}",
        "--custom-resource-state-only=true",
        f"--custom-resource-state-config-file={config}",
        "--host=127.0.0.1",
        f"--port={port}",
        "--telemetry-host=127.0.0.1",
        f"--telemetry-port={telemetry}",
    ]
    url = f"http://127.0.0.1:{port}"
    async with running("kube-state-metrics", argv, home / "kube-state-metrics.log") as server:
        await server.wait_http(f"{url}/healthz")
        yield KubeStateMetrics(f"{url}/metrics", f"http://127.0.0.1:{telemetry}/metrics", server)
