"""A HelmRelease whose chartRef is an OCIRepository: the chart comes from a real registry."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from hack.testkit.charts import write_message_chart
from hack.testkit.cli import helm_package
from hack.testkit.oci_registry import OCIRegistry
from hack.testkit.plane import ControlPlane
from internal.kube import rest
from internal.kube.resources import OCI_REPOSITORIES
from tests.e2e.conftest import Harness

pytestmark = pytest.mark.e2e

USER, PASSWORD = "flux", "oci-e2e-pass"


async def test_oci_repository_chart_ref_installs(
    harness: Harness, control_plane: ControlPlane, tmp_path: Path
) -> None:
    h = harness
    registry = OCIRegistry(tmp_path / "registry", USER, PASSWORD)
    registry.start()
    try:
        pkg = helm_package(
            control_plane.helm,
            write_message_chart(tmp_path / "oci", "ocidemo", "3.1.0"),
            tmp_path / "pkgs",
        )
        digest = registry.push_chart(control_plane.helm, pkg, "charts", tmp_path / "helm")
        auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/dockerconfigjson",
            "metadata": {"name": "regcred", "namespace": h.namespace},
            "stringData": {
                ".dockerconfigjson": json.dumps({"auths": {registry.host: {"auth": auth}}})
            },
        }
        await rest.request(h.kube, "POST", f"/api/v1/namespaces/{h.namespace}/secrets", body=secret)
        repo = {
            "apiVersion": OCI_REPOSITORIES.api_version,
            "kind": "OCIRepository",
            "metadata": {"name": "ocidemo", "namespace": h.namespace},
            "spec": {
                "url": f"oci://{registry.host}/charts/ocidemo",
                "interval": "10m",
                "insecure": True,
                "ref": {"semver": "3.x"},
                "secretRef": {"name": "regcred"},
                "layerSelector": {
                    "mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
                    "operation": "copy",
                },
            },
        }
        await rest.request(h.kube, "POST", OCI_REPOSITORIES.path(h.namespace), body=repo)
        await h.apply_release(
            "fromoci",
            {
                "chartRef": {"kind": "OCIRepository", "name": "ocidemo"},
                "interval": "5m",
                "values": {"message": "from a registry"},
            },
        )
        obj = await h.wait("fromoci", "Ready", "True", within=120)
        status = obj["status"]
        assert status["history"][0]["chartName"] == "ocidemo"
        assert status["history"][0]["chartVersion"] == "3.1.0"
        assert status["lastAttemptedRevision"].startswith("3.1.0+")
        assert (await h.config("fromoci"))["message"] == "from a registry"
        print(
            f"OCI chart {registry.host}/charts/ocidemo manifest {digest} -> "
            f"revision {status['lastAttemptedRevision']}"
        )
    finally:
        registry.stop()
