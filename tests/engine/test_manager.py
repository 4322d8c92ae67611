"""The release Manager on the real cluster: storage read by version, releases made outside the
controller, the inventory, drift corrected without a revision, uninstall twice; the clusters it
reaches: as a service account, through exec and insecure kubeconfigs only when allowed, and
with clients built per call (persistentClient: false)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, NamedTuple

import aiohttp
import pytest
import yaml
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

import api
from api.helmrelease import HelmRelease
from controller.helmrelease.cluster import release_cluster
from hack.testkit import charts
from hack.testkit.cli import helm_cli
from hack.testkit.plane import ControlPlane
from internal.helm import Engine
from internal.helm.models import ClusterTarget, ServiceAccountRef
from internal.kube import rest
from internal.kube.discovery import Discovery
from internal.manager.clusters import (
    Cluster,
    Clusters,
    KubeConfigError,
    KubeConfigOptions,
    kube_config_dict,
)
from internal.manager.manager import Chart, Manager, ManagerFactory
from internal.manager.options import Target
from internal.release import health
from tests.engine.identities import service_account_with_role

pytestmark = pytest.mark.engine


class Env(NamedTuple):
    """The fixtures the Manager's tests on the cluster take, together."""

    engine: Engine
    target: ClusterTarget
    kube: client.ApiClient
    namespace: str
    chart_root: Path


@pytest.fixture
def env(
    engine: Engine, target: ClusterTarget, kube: client.ApiClient, namespace: str, chart_root: Path
) -> Env:
    return Env(engine, target, kube, namespace, chart_root)


def _release(namespace: str, **spec: Any) -> HelmRelease:
    hr = api.parse(
        {
            "apiVersion": "helm.toolkit.fluxcd.io/v2",
            "kind": "HelmRelease",
            "metadata": {"name": "mgr", "namespace": namespace},
            "spec": {
                "interval": "5m",
                "chartRef": {"kind": "OCIRepository", "name": "unused"},
                "timeout": "2m",
                **spec,
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
    env: Env, core: client.CoreV1Api, control_plane: ControlPlane
) -> None:
    engine, target, kube, namespace, chart_root = env
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
        kube_config_dict(exec_user, KubeConfigOptions(allow_exec=True))
    assert "s3cr3t" not in str(bad.value)


@pytest.mark.parametrize(
    ("section", "field", "instead"),
    [
        ("cluster", "certificate-authority", "certificate-authority-data"),
        ("user", "client-certificate", "client-certificate-data"),
        ("user", "client-key", "client-key-data"),
        ("user", "tokenFile", "token"),
    ],
)
def test_kubeconfig_files_on_the_controllers_disk_are_refused(
    section: str, field: str, instead: str
) -> None:
    """A Secret must not make the controller read its own files, its token among them."""
    path = "/var/run/secrets/kubernetes.io/serviceaccount/token"
    doc: dict[str, Any] = {
        "clusters": [{"name": "c", "cluster": {"server": "https://x"}}],
        "users": [{"name": "u", "user": {}}],
    }
    entry = doc["clusters"][0]["cluster"] if section == "cluster" else doc["users"][0]["user"]
    entry[field] = path
    name = "c" if section == "cluster" else "u"
    with pytest.raises(KubeConfigError) as refused:
        kube_config_dict(yaml.safe_dump(doc))
    assert str(refused.value) == (
        f"kubeconfig {section} '{name}' names a file ('{field}'), which is not allowed; "
        f"use '{instead}'"
    )


async def _whoami(api: client.ApiClient) -> str:
    review = await rest.request(
        api,
        "POST",
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        body={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
    )
    return str(review["status"]["userInfo"]["username"])


async def _token(kube: client.ApiClient, namespace: str, account: str) -> str:
    """A short-lived token of the service account (TokenRequest)."""
    review = await rest.request(
        kube,
        "POST",
        f"/api/v1/namespaces/{namespace}/serviceaccounts/{account}/token",
        body={"spec": {"expirationSeconds": 600}},
    )
    return str(review["status"]["token"])


def _kubeconfig(plane: ControlPlane, user: dict[str, Any], *, verify: bool = True) -> str:
    """A kubeconfig for the local control plane as a Secret would hold it, for `user`; with
    `verify` false, no CA and insecure-skip-tls-verify instead."""
    local = yaml.safe_load(plane.kubeconfig.read_text())["clusters"][0]["cluster"]
    cluster: dict[str, Any] = {"server": local["server"]}
    if verify:
        ca = Path(local["certificate-authority"]).read_bytes()
        cluster["certificate-authority-data"] = base64.b64encode(ca).decode()
    else:
        cluster["insecure-skip-tls-verify"] = True
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "c", "cluster": cluster}],
            "users": [{"name": "u", "user": user}],
            "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
            "current-context": "c",
        }
    )


SECRETS_READER = client.V1PolicyRule(api_groups=[""], resources=["secrets"], verbs=["get", "list"])


async def test_a_service_account_cluster_reads_as_the_account(
    target: ClusterTarget, kube: client.ApiClient, namespace: str
) -> None:
    """Drift, health and inventory reads go through Cluster.api and .discovery: for a release
    that names a service account, those act as it, as the engine's calls do."""
    await service_account_with_role(kube, namespace, "reader", [SECRETS_READER])
    clusters = Clusters(Cluster(target, kube, Discovery(kube)))
    account = ServiceAccountRef(namespace=namespace, name="reader")
    try:
        acting = await clusters.get(None, account)
        assert acting is await clusters.get(None, account), "one client per account, kept"
        assert acting.target.service_account == account
        assert await _whoami(acting.api) == f"system:serviceaccount:{namespace}:reader"
        assert await _whoami(acting.discovery.api) == f"system:serviceaccount:{namespace}:reader"
        assert (await clusters.get()).api is kube
        await rest.request(acting.api, "GET", f"/api/v1/namespaces/{namespace}/secrets")
        with pytest.raises(ApiException) as refused:
            await rest.request(acting.api, "GET", f"/api/v1/namespaces/{namespace}/configmaps")
        assert refused.value.status == 403
        assert f"system:serviceaccount:{namespace}:reader" in str(refused.value.reason)
    finally:
        await clusters.close()
    await rest.request(kube, "GET", f"/api/v1/namespaces/{namespace}/configmaps")  # still open


async def test_drift_and_health_reads_are_the_accounts(env: Env) -> None:
    """A release installed by the controller, then read for drift and health as an account
    that may read Helm's storage but not the release's ConfigMap."""
    engine, target, kube, namespace, chart_root = env
    await service_account_with_role(kube, namespace, "reader", [SECRETS_READER])
    chart = charts.make_chart(chart_root, templates={"cm.yaml": charts.CONFIGMAP})
    clusters = Clusters(Cluster(target, kube, Discovery(kube)))
    release = Target("mgr", namespace, namespace)
    info = await engine.load_chart(chart)
    installer = ManagerFactory(engine, clusters).new_manager(
        _release(namespace), release, await clusters.get(), Chart(chart, info, {})
    )
    assert not (await installer.install_release()).failed
    account = ServiceAccountRef(namespace=namespace, name="reader")
    try:
        reader = ManagerFactory(engine, clusters).new_client(
            _release(namespace), release, await clusters.get(None, account)
        )
        await reader.sync()  # the engine reads storage as the account
        assert reader.release is not None
        user = f"system:serviceaccount:{namespace}:reader"
        with pytest.raises(ApiException) as refused:
            await reader.detect_drift([])
        assert refused.value.status == 403
        assert user in str(refused.value.reason)
        check = health.Check("v1", "ConfigMap", "true")
        why = await reader.wait_healthy(reader.release, [check], within=5)
        assert why is not None
        assert why.startswith("ConfigMap/mgr-config could not be read: ")
        assert user in why
        assert await installer.wait_healthy(reader.release, [check], within=5) is None
    finally:
        await clusters.close()


async def test_exec_kubeconfigs_run_only_with_insecure_kubeconfig_exec(
    engine: Engine,
    target: ClusterTarget,
    kube: client.ApiClient,
    namespace: str,
    control_plane: ControlPlane,
    tmp_path: Path,
) -> None:
    await service_account_with_role(kube, namespace, "robot", [SECRETS_READER])
    credential = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "status": {"token": await _token(kube, namespace, "robot")},
    }
    plugin = tmp_path / "credential.sh"
    plugin.write_text(f"#!/bin/sh\ncat <<'EOF'\n{json.dumps(credential)}\nEOF\n")
    plugin.chmod(0o700)
    exec_user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": str(plugin),
            "interactiveMode": "Never",
        }
    }
    text = _kubeconfig(control_plane, exec_user)
    local = Cluster(target, kube, Discovery(kube))

    refused = Clusters(local)
    with pytest.raises(KubeConfigError) as err:
        await refused.get(text)
    assert str(err.value) == (
        "kubeconfig user 'u' uses 'exec', which is not allowed without "
        "--insecure-kubeconfig-exec; use a token or client certificate"
    )

    allowed = Clusters(local, KubeConfigOptions(allow_exec=True))
    try:
        remote = await allowed.get(text)
        assert await _whoami(remote.api) == f"system:serviceaccount:{namespace}:robot"
        # The engine runs the plugin too: its storage read is the account's.
        hr = _release(namespace)
        mgr = ManagerFactory(engine, allowed).new_client(
            hr, Target("mgr", namespace, namespace), remote
        )
        await mgr.sync()
        assert mgr.release is None
    finally:
        await allowed.close()


async def test_insecure_skip_tls_verify_is_honoured_only_with_insecure_kubeconfig_tls(
    target: ClusterTarget,
    kube: client.ApiClient,
    namespace: str,
    control_plane: ControlPlane,
) -> None:
    await service_account_with_role(kube, namespace, "robot", [SECRETS_READER])
    token = await _token(kube, namespace, "robot")
    text = _kubeconfig(control_plane, {"token": token}, verify=False)
    local = Cluster(target, kube, Discovery(kube))

    verifying = Clusters(local)
    try:
        remote = await verifying.get(text)
        assert "insecure-skip-tls-verify" not in (remote.target.kubeconfig or "")
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await _whoami(remote.api)
    finally:
        await verifying.close()

    trusting = Clusters(local, KubeConfigOptions(allow_insecure_tls=True))
    try:
        remote = await trusting.get(text)
        assert "insecure-skip-tls-verify: true" in (remote.target.kubeconfig or "")
        assert await _whoami(remote.api) == f"system:serviceaccount:{namespace}:robot"
    finally:
        await trusting.close()


async def test_persistent_client_false_builds_the_engines_clients_per_call(env: Env) -> None:
    engine, target, kube, namespace, chart_root = env
    chart = charts.make_chart(chart_root, templates={"cm.yaml": charts.CONFIGMAP})
    clusters = Clusters(Cluster(target, kube, Discovery(kube)))
    kept = _release(namespace)
    fresh = _release(namespace, persistentClient=False)
    assert (await release_cluster(kube, clusters, kept, None)).target.cache
    one_off = await release_cluster(kube, clusters, fresh, None)
    assert not one_off.target.cache
    assert one_off.discovery is not clusters.local.discovery, "kinds looked up afresh too"

    async def discovery_requests(hr: HelmRelease, name: str) -> tuple[int, int]:
        """Discovery GETs an install sends through the release's cluster, and the targets
        the engine holds after it."""
        cluster = await release_cluster(kube, clusters, hr, None)
        info = await engine.load_chart(chart)
        mgr = ManagerFactory(engine, clusters).new_manager(
            hr, Target(name, namespace, namespace), cluster, Chart(chart, info, {})
        )
        before = (await engine.stats()).requests.discovery
        done = await mgr.install_release()
        assert not done.failed, done.error
        stats = await engine.stats()
        return stats.requests.discovery - before, stats.cached_targets

    await discovery_requests(kept, "warm")  # the shared target is warm from here on
    warm, targets = await discovery_requests(kept, "kept")
    cold, targets_after = await discovery_requests(fresh, "fresh")
    assert warm == 0, "a persistent client reuses the target's discovery"
    assert cold > 0, "a fresh client downloads discovery again"
    assert targets_after == targets, "and is not kept"


async def test_upgrade_after_a_client_side_install_applies_client_side(env: Env) -> None:
    engine, target, kube, namespace, chart_root = env
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
    env: Env, core: client.CoreV1Api
) -> None:
    engine, target, kube, namespace, chart_root = env
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
