"""Multi-tenancy: a release that names a service account (spec.serviceAccountName, or the
controller's --default-service-account) acts with that account's rights only, for Helm's
actions and for the controller's own reads (drift detection and correction, inventory);
spec.kubeConfig.configMapRef (workload identity) stalls."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client

from hack.testkit.charts import write_message_chart
from hack.testkit.plane import ControlPlane
from hack.testkit.wait import eventually
from tests.e2e.conftest import Harness, running_harness
from tests.engine.identities import service_account_with_role

pytestmark = pytest.mark.e2e

TENANT = "tenant"
ALL_VERBS = ["get", "list", "watch", "create", "update", "patch", "delete"]
NO_PATCH = [v for v in ALL_VERBS if v != "patch"]


def _rules(configmap_verbs: list[str]) -> list[client.V1PolicyRule]:
    """What Helm needs in the tenant's namespace: its storage, the chart's ConfigMap, events."""
    return [
        client.V1PolicyRule(api_groups=[""], resources=["secrets"], verbs=ALL_VERBS),
        client.V1PolicyRule(api_groups=[""], resources=["configmaps"], verbs=configmap_verbs),
        client.V1PolicyRule(api_groups=[""], resources=["events"], verbs=["create", "patch"]),
    ]


@pytest.fixture
async def other_namespace(kube: client.ApiClient) -> AsyncIterator[str]:
    """A namespace the tenant has no rights in."""
    core = client.CoreV1Api(kube)
    name = f"t-elsewhere-{uuid.uuid4().hex[:6]}"
    await core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    try:
        yield name
    finally:
        await core.delete_namespace(name)


@pytest.fixture
async def defaulting(
    control_plane: ControlPlane,
    kube: client.ApiClient,
    namespace: str,
    flux_crds: list[str],
    tmp_path: Path,
) -> AsyncIterator[Harness]:
    """The harness's set-up, with a controller run with --default-service-account tenant."""
    chart_dirs = [write_message_chart(tmp_path / "src", "demo", "1.0.0")]
    flags = ("--default-service-account", TENANT)
    async with running_harness(control_plane, kube, namespace, tmp_path, chart_dirs, flags) as h:
        yield h


def _condition(obj: dict[str, Any], type_: str) -> dict[str, Any] | None:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == type_), None)


async def _not_ready_saying(h: Harness, name: str, *texts: str) -> dict[str, Any]:
    """Wait until `name` is Ready=False with a message holding every one of `texts`."""

    async def probe() -> dict[str, Any] | None:
        ready = _condition(await h.get(name), "Ready")
        if ready and ready["status"] == "False" and all(t in ready["message"] for t in texts):
            return ready
        return None

    try:
        return await eventually(probe, within=90, what=f"{name} Ready=False saying {texts}")
    except AssertionError:
        raise AssertionError(f"{name}: {(await h.get(name)).get('status')}") from None


async def _released_configmaps(kube: client.ApiClient, namespace: str) -> list[str]:
    listing = await client.CoreV1Api(kube).list_namespaced_config_map(
        namespace, label_selector="app.kubernetes.io/managed-by=Helm"
    )
    return [cm.metadata.name for cm in listing.items]


async def _escape_is_refused(h: Harness, name: str, other: str, spec: dict[str, Any]) -> None:
    """A release the tenant points at a namespace it has no rights in fails Forbidden, as the
    tenant, and nothing lands there. Suspended afterwards, so deleting it uninstalls nothing
    (the tenant could not)."""
    await h.apply_release(name, {**spec, "targetNamespace": other})
    user = f'User "system:serviceaccount:{h.namespace}:{TENANT}"'
    ready = await _not_ready_saying(h, name, user, "forbidden", f'namespace "{other}"')
    assert ready["reason"] == "InstallFailed", ready
    assert await _released_configmaps(h.kube, other) == [], "the controller's rights unused"
    await h.apply_release(name, {**spec, "targetNamespace": other, "suspend": True})


async def test_a_service_account_release_acts_only_with_the_accounts_rights(
    harness: Harness, other_namespace: str
) -> None:
    h = harness
    await service_account_with_role(h.kube, h.namespace, TENANT, _rules(ALL_VERBS))
    tenant = {**h.chart_spec(version="1.0.0"), "serviceAccountName": TENANT}
    await _escape_is_refused(h, "escape", other_namespace, tenant)

    # In its own namespace the tenant installs, and drift is corrected as the tenant.
    home = {**tenant, "driftDetection": {"mode": "enabled"}}
    await h.apply_release("home", home)
    obj = await h.wait("home", "Ready", "True")
    assert obj["status"]["inventory"]["entries"] == [
        {"id": f"{h.namespace}_home-config__ConfigMap", "v": "v1"}
    ]
    await h.tamper("home")
    await h.request_reconcile("home", "t1")

    async def corrected() -> bool:
        return (await h.config("home"))["message"] == "hello"

    await eventually(corrected, within=60, what="drift corrected as the tenant")

    # Without `patch` the tenant can neither dry-run nor apply: drift detection fails, in the
    # condition, instead of the controller's own rights putting the object back.
    role = client.V1Role(metadata=client.V1ObjectMeta(name=TENANT), rules=_rules(NO_PATCH))
    await client.RbacAuthorizationV1Api(h.kube).replace_namespaced_role(TENANT, h.namespace, role)
    await h.tamper("home")
    await h.request_reconcile("home", "t2")
    user = f'User "system:serviceaccount:{h.namespace}:{TENANT}"'
    ready = await _not_ready_saying(
        h, "home", "unable to determine cluster state", user, 'cannot patch resource "configmaps"'
    )
    assert ready["reason"] == "StateError"
    assert (await h.config("home"))["message"] == "tampered"


async def test_the_default_service_account_applies_when_the_spec_names_none(
    defaulting: Harness, other_namespace: str
) -> None:
    h = defaulting
    # The tenant may create ConfigMaps but not patch them.
    await service_account_with_role(h.kube, h.namespace, TENANT, _rules(NO_PATCH))
    await _escape_is_refused(h, "escape", other_namespace, h.chart_spec(version="1.0.0"))

    # A client-side install creates the ConfigMap; the drift check's dry-run apply is a patch,
    # which the default account may not do.
    spec = {
        **h.chart_spec(version="1.0.0"),
        "install": {"serverSideApply": False},
        "driftDetection": {"mode": "enabled"},
    }
    await h.apply_release("home", spec)
    user = f'User "system:serviceaccount:{h.namespace}:{TENANT}"'
    ready = await _not_ready_saying(h, "home", user, 'cannot patch resource "configmaps"')
    assert ready["reason"] == "StateError"
    assert (await h.config("home"))["message"] == "hello", "installed as the tenant"


async def test_a_workload_identity_kubeconfig_stalls(harness: Harness) -> None:
    h = harness
    spec = {**h.chart_spec(), "kubeConfig": {"configMapRef": {"name": "identity"}}}
    await h.apply_release("cloudy", spec)
    obj = await h.wait("cloudy", "Stalled", "True", reason="UnsupportedKubeConfig")
    ready = _condition(obj, "Ready")
    assert ready is not None
    assert (ready["status"], ready["reason"]) == ("False", "UnsupportedKubeConfig")
    assert "spec.kubeConfig.configMapRef (workload identity) is not supported" in ready["message"]
    assert obj["status"]["observedGeneration"] == obj["metadata"]["generation"]
    await asyncio.sleep(3)  # a retry would have come after 0.75 s, and again after 1.5 s
    assert h.controller is not None
    assert h.controller.log is not None
    log = h.controller.log.read_text()
    assert f"{h.namespace}/cloudy: reconcile failed" not in log, "no retry until it changes"
