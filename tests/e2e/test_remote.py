"""spec.kubeConfig: a release on a second control plane, reached through a kubeconfig Secret.

The second control plane is a real one, started here on other ports and stopped after.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

from hack.testkit.plane import second_control_plane
from hack.testkit.wait import eventually
from internal.kube import rest
from internal.kube.resources import HELM_RELEASES
from tests.e2e.conftest import Harness

pytestmark = pytest.mark.e2e


@pytest.fixture
def remote_kubeconfig(tmp_path: Path) -> Iterator[Path]:
    """A second control plane; its kubeconfig, with the certificates inlined."""
    with second_control_plane(tmp_path / "remote") as kubeconfig:
        yield _inline(kubeconfig, tmp_path / "remote.kubeconfig")


def _inline(src: Path, dst: Path) -> Path:
    """The kubeconfig as a Secret would hold it: no paths to this machine's files."""
    doc = yaml.safe_load(src.read_text())
    for c in doc["clusters"]:
        ca = Path(c["cluster"].pop("certificate-authority")).read_bytes()
        c["cluster"]["certificate-authority-data"] = base64.b64encode(ca).decode()
    for u in doc["users"]:
        for key in ("client-certificate", "client-key"):
            data = base64.b64encode(Path(u["user"].pop(key)).read_bytes()).decode()
            u["user"][f"{key}-data"] = data
    dst.write_text(yaml.safe_dump(doc))
    return dst


@pytest.fixture
async def remote(remote_kubeconfig: Path) -> AsyncIterator[client.ApiClient]:
    api = await config.new_client_from_config(config_file=str(remote_kubeconfig))
    try:
        yield api
    finally:
        await api.close()


async def _secret(h: Harness, name: str, data: dict[str, str]) -> None:
    body = client.V1Secret(metadata=client.V1ObjectMeta(name=name), string_data=data)
    await client.CoreV1Api(h.kube).create_namespaced_secret(h.namespace, body)


async def _config_map(api: client.ApiClient, ns: str, name: str) -> dict[str, Any] | None:
    try:
        cm = await client.CoreV1Api(api).read_namespaced_config_map(name, ns)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return dict(cm.data or {})


async def test_release_lands_on_the_cluster_the_kubeconfig_reaches(
    harness: Harness, remote: client.ApiClient, remote_kubeconfig: Path
) -> None:
    h = harness
    text = remote_kubeconfig.read_text()  # noqa: ASYNC240 - a small local file
    await _secret(h, "remote-kubeconfig", {"value": text})
    spec = {
        **h.chart_spec(version="1.0.0"),
        "kubeConfig": {"secretRef": {"name": "remote-kubeconfig"}},
        "targetNamespace": "far",
        # Storage defaults to the HelmRelease's namespace, which the remote cluster lacks.
        "storageNamespace": "far",
        "install": {"createNamespace": True},
        "values": {"message": "over there"},
    }
    await h.apply_release("faraway", spec)
    obj = await h.wait("faraway", "Ready", "True", within=120)

    assert (await _config_map(remote, "far", "far-faraway-config")) == {
        "message": "over there",
        "chartVersion": "1.0.0",
    }
    assert await _config_map(h.kube, "far", "far-faraway-config") is None, (
        "not on the local cluster"
    )
    storage = await client.CoreV1Api(remote).list_namespaced_secret(
        "far", label_selector="owner=helm,name=far-faraway"
    )
    assert [s.metadata.name for s in storage.items] == ["sh.helm.release.v1.far-faraway.v1"]
    assert obj["status"]["inventory"]["entries"] == [
        {"id": "far_far-faraway-config__ConfigMap", "v": "v1"}
    ]

    await h.apply_release("faraway", {**spec, "values": {"message": "changed"}})
    await h.wait("faraway", "Released", "True", reason="UpgradeSucceeded", within=120)
    assert (await _config_map(remote, "far", "far-faraway-config") or {})["message"] == "changed"

    await rest.request(h.kube, "DELETE", HELM_RELEASES.path(h.namespace, "faraway"))

    async def uninstalled() -> bool:
        return await _config_map(remote, "far", "far-faraway-config") is None

    await eventually(uninstalled, within=60, what="remote release uninstalled")


async def test_unusable_kubeconfigs_are_named_not_shown(harness: Harness) -> None:
    h = harness
    await h.apply_release(
        "nosecret",
        {**h.chart_spec(), "kubeConfig": {"secretRef": {"name": "missing"}}},
    )
    obj = await h.wait("nosecret", "Ready", "False", reason="RESTClientError")
    ready = next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")
    assert f"could not get KubeConfig secret '{h.namespace}/missing'" in ready["message"]

    exec_config = yaml.safe_dump(
        {
            "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
            "users": [
                {
                    "name": "u",
                    "user": {"exec": {"command": "/bin/sh", "args": ["-c", "s3cr3t-token"]}},
                }
            ],
            "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
            "current-context": "c",
        }
    )
    await _secret(h, "exec-kubeconfig", {"value.yaml": exec_config})
    await h.apply_release(
        "withexec",
        {**h.chart_spec(), "kubeConfig": {"secretRef": {"name": "exec-kubeconfig"}}},
    )
    obj = await h.wait("withexec", "Ready", "False", reason="RESTClientError")
    ready = next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")
    assert "kubeconfig user 'u' uses 'exec', which is not allowed" in ready["message"]
    assert "s3cr3t" not in str(obj)

    await _secret(h, "wrong-key", {"other": exec_config})
    await h.apply_release(
        "wrongkey",
        {**h.chart_spec(), "kubeConfig": {"secretRef": {"name": "wrong-key", "key": "kc"}}},
    )
    obj = await h.wait("wrongkey", "Ready", "False", reason="RESTClientError")
    ready = next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")
    assert f"KubeConfig secret '{h.namespace}/wrong-key' has no key 'kc'" in ready["message"]
