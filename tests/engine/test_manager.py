"""The release Manager on the real cluster: storage read by version, releases made outside the
controller, the inventory, drift corrected without a revision, uninstall twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

import api
from api.helmrelease import HelmRelease
from hack.testkit import charts
from hack.testkit.cli import helm_cli
from hack.testkit.plane import ControlPlane
from internal.helm import Engine
from internal.helm.models import ClusterTarget
from internal.kube.discovery import Discovery
from internal.manager.clusters import Cluster, Clusters, KubeConfigError, kube_config_dict
from internal.manager.manager import Chart, Manager, ManagerFactory
from internal.manager.options import Target

pytestmark = pytest.mark.engine


def _release(namespace: str) -> HelmRelease:
    hr = api.parse(
        {
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease",
            "metadata": {"name": "mgr", "namespace": namespace},
            "spec": {
                "interval": "5m",
                "chartRef": {"kind": "OCIRepository", "name": "unused"},
                "timeout": "2m",
            },
        }
    )
    assert isinstance(hr, HelmRelease)
    return hr


async def _manager(
    engine: Engine,
    target: ClusterTarget,
    kube: client.ApiClient,
    hr: HelmRelease,
    release: Target,
    chart: Path,
    values: dict[str, str] | None = None,
) -> Manager:
    factory = ManagerFactory(engine, Clusters(Cluster(target, kube, Discovery(kube))))
    loaded = Chart(chart, await engine.load_chart(chart), dict(values or {}))
    return factory.new_manager(hr, release, await factory.clusters.get(), loaded)


async def test_manager_lifecycle(
    engine: Engine,
    target: ClusterTarget,
    kube: client.ApiClient,
    namespace: str,
    chart_root: Path,
    core: client.CoreV1Api,
    control_plane: ControlPlane,
) -> None:
    chart = charts.make_chart(chart_root, version="0.1.0")
    mgr = await _manager(
        engine,
        target,
        kube,
        _release(namespace),
        Target("mgr", namespace, namespace),
        chart,
        {"message": "one"},
    )
    assert mgr.release_name() == "mgr"
    await mgr.sync()
    assert mgr.stored() is None
    assert not mgr.is_installed()

    done = await mgr.install_release()
    assert not done.failed, done.error
    await mgr.sync(1)
    stored = mgr.stored()
    assert stored is not None
    assert (stored.version, stored.status) == (1, "deployed")
    assert mgr.is_installed()

    # A release made outside the controller is seen through the probe of the next version.
    await helm_cli(
        control_plane,
        "upgrade",
        "mgr",
        str(chart),
        "-n",
        namespace,
        "--set",
        "message=two",
        "--force-conflicts",
    )
    await mgr.sync(1)
    assert (mgr.release.version if mgr.release else None) == 2
    # A version storage does not hold: Sync falls back to listing.
    await mgr.sync(9)
    assert (mgr.release.version if mgr.release else None) == 2

    assert mgr.release is not None
    entries = await mgr.inventory(mgr.release)
    assert entries == [
        {"id": f"{namespace}_mgr-config__ConfigMap", "v": "v1"},
        {"id": f"{namespace}_mgr_apps_Deployment", "v": "v1"},
    ]

    # Drift: the ConfigMap edited by hand is found, and put back with no new revision.
    await core.patch_namespaced_config_map(
        "mgr-config", namespace, {"data": {"message": "by hand"}}
    )
    drifted = await mgr.detect_drift([])
    # The helm CLI's upgrade left out the origin labels the engine's releases carry, so the
    # Deployment drifted from its manifest too.
    changes = {c.object_id: c.patch for c, _ in drifted}
    assert set(changes) == {f"ConfigMap/{namespace}/mgr-config", f"Deployment/{namespace}/mgr"}
    assert {"op": "replace", "path": "/data/message", "value": "two"} in changes[
        f"ConfigMap/{namespace}/mgr-config"
    ]
    await mgr.reconcile_release(drifted)
    cm = await core.read_namespaced_config_map("mgr-config", namespace)
    assert (cm.data or {})["message"] == "two"
    assert await mgr.detect_drift([]) == []
    await mgr.sync(2)
    assert (mgr.release.version if mgr.release else None) == 2

    done = await mgr.uninstall_release()
    assert not done.failed, done.error
    await mgr.sync(2)
    assert mgr.stored() is None
    assert not (await mgr.uninstall_release()).failed, "a release already gone is success"
    with pytest.raises(ApiException):
        await core.read_namespaced_config_map("mgr-config", namespace)


def test_kubeconfig_errors_never_quote_the_content() -> None:
    with pytest.raises(KubeConfigError, match="not valid YAML at line") as bad:
        kube_config_dict("clusters:\n  - [token: s3cr3t\n")
    assert "s3cr3t" not in str(bad.value)
    with pytest.raises(KubeConfigError, match="has no clusters"):
        kube_config_dict("users: []\n")
    exec_user = (
        "clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
        "users: [{name: robot, user: {auth-provider: {name: gcp, config: {token: s3cr3t}}}}]\n"
    )
    with pytest.raises(KubeConfigError, match="user 'robot' uses 'auth-provider'") as bad:
        kube_config_dict(exec_user)
    assert "s3cr3t" not in str(bad.value)


async def test_upgrade_after_a_client_side_install_applies_client_side(
    engine: Engine,
    target: ClusterTarget,
    kube: client.ApiClient,
    namespace: str,
    chart_root: Path,
) -> None:
    chart = charts.make_chart(chart_root, version="0.1.0", templates={"cm.yaml": charts.CONFIGMAP})
    hr = _release(namespace).model_copy(deep=True)
    spec = hr.model_dump(by_alias=True, exclude_none=True, mode="json")
    spec["spec"]["install"] = {"serverSideApply": False}
    csa = api.parse(spec)
    assert isinstance(csa, HelmRelease)
    tgt = Target("csa", namespace, namespace)
    mgr = await _manager(engine, target, kube, csa, tgt, chart)
    assert not (await mgr.install_release()).failed
    await mgr.sync(1)
    assert mgr.release is not None
    assert mgr.release.apply_method == "csa"
    # upgrade.serverSideApply is unset (auto): the upgrade follows the client-side install.
    mgr = await _manager(engine, target, kube, csa, tgt, chart, {"message": "two"})
    await mgr.sync(1)
    done = await mgr.upgrade_release()
    assert not done.failed, done.error
    await mgr.sync(1)
    assert (mgr.release.version, mgr.release.apply_method) == (2, "csa")


async def test_mark_failed_records_the_newest_release_failed_through_the_engine(
    engine: Engine,
    target: ClusterTarget,
    kube: client.ApiClient,
    namespace: str,
    chart_root: Path,
    core: client.CoreV1Api,
) -> None:
    chart = charts.make_chart(chart_root, templates={"cm.yaml": charts.CONFIGMAP})
    mgr = await _manager(
        engine, target, kube, _release(namespace), Target("mf", namespace, namespace), chart
    )
    assert not (await mgr.install_release()).failed
    await mgr.sync(1)
    done = await mgr.mark_failed("health check failed: Widget/w")
    assert done.error is None
    rel = done.result.release
    assert [(o.operation, o.key) for o in done.observations] == [
        ("update", "sh.helm.release.v1.mf.v1")
    ]
    assert (rel.version, rel.status, rel.description) == (
        1,
        "failed",
        "health check failed: Widget/w",
    )
    assert mgr.release == rel
    record = await core.read_namespaced_secret("sh.helm.release.v1.mf.v1", namespace)
    assert record.metadata.labels["status"] == "failed"
    await mgr.sync(1)
    assert mgr.release is not None
    assert mgr.release.digest == rel.digest, "what sync reads is what mark_failed returned"
