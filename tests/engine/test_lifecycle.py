"""Install, upgrade, rollback and uninstall through the engine, checked on the live objects, in
Helm's storage and with the stock helm CLI; server-side apply ownership; CRDs in crds/."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import yaml
from kubernetes_asyncio import client

from hack.testkit import charts
from hack.testkit.cli import helm_cli, kubectl
from hack.testkit.plane import ControlPlane
from hack.testkit.wait import eventually
from internal.helm import ConflictError
from tests.engine.helpers import gone, statuses
from tests.engine.releases import Releases

pytestmark = pytest.mark.engine

TIMEOUT = timedelta(minutes=2)


async def test_install_upgrade_rollback_uninstall(
    releases: Releases,
    namespace: str,
    core: client.CoreV1Api,
    apps: client.AppsV1Api,
    control_plane: ControlPlane,
) -> None:
    v1 = releases.chart(version="0.1.0")
    v2 = releases.chart(
        version="0.2.0",
        templates={
            "deployment.yaml": charts.DEPLOYMENT,
            "configmap.yaml": charts.CONFIGMAP,
            "service.yaml": charts.SERVICE,
        },
    )
    name = "life"

    installed = await releases.install(name, v1, values={"message": "one"}, timeout=TIMEOUT)
    rel = installed.result.release
    assert rel is not None
    assert (rel.version, rel.status, rel.chart.name, rel.chart.version) == (
        1,
        "deployed",
        "demo",
        "0.1.0",
    )
    assert rel.config == {"message": "one"}
    assert statuses(installed.observations) == [
        ("create", 1, "pending-install"),
        ("update", 1, "deployed"),
    ]
    assert installed.observations[-1].digest == rel.digest
    assert any("creating" in line.lower() for line in installed.logs), installed.logs

    cm = await core.read_namespaced_config_map(f"{name}-config", namespace)
    assert cm.data == {"message": "one"}
    assert cm.metadata.labels["app.kubernetes.io/managed-by"] == "Helm"
    assert cm.metadata.annotations["meta.helm.sh/release-name"] == name
    # The watcher strategy waited for the Deployment to be ready.
    dep = await apps.read_namespaced_deployment(name, namespace)
    assert dep.status.ready_replicas == 1
    record = await core.read_namespaced_secret(f"sh.helm.release.v1.{name}.v1", namespace)
    assert record.type == "helm.sh/release.v1"
    assert record.metadata.labels["owner"] == "helm"
    assert record.metadata.labels["status"] == "deployed"

    got = await releases.get(name)
    assert got.result.release.digest == rel.digest, "the stored release digests as the observed one"

    upgraded = await releases.upgrade(name, v2, values={"message": "two"}, timeout=TIMEOUT)
    assert upgraded.result.release is not None
    assert upgraded.result.release.version == 2
    assert statuses(upgraded.observations) == [
        ("create", 2, "pending-upgrade"),
        ("update", 1, "superseded"),
        ("update", 2, "deployed"),
    ]
    cm = await core.read_namespaced_config_map(f"{name}-config", namespace)
    assert cm.data == {"message": "two"}
    await core.read_namespaced_service(name, namespace)

    rolled = await releases.rollback(name, version=1, timeout=TIMEOUT)
    back = rolled.result.release
    assert back is not None
    assert (back.version, back.status, back.chart.version) == (3, "deployed", "0.1.0")
    assert back.rollback_revision == 1
    assert statuses(rolled.observations)[0] == ("create", 3, "pending-rollback")
    assert statuses(rolled.observations)[-1] == ("update", 3, "deployed")
    assert ("update", 2, "superseded") in statuses(rolled.observations)
    cm = await core.read_namespaced_config_map(f"{name}-config", namespace)
    assert cm.data == {"message": "one"}
    await gone(core.read_namespaced_service, name, namespace, what="the v2-only Service")

    history = await releases.history(name)
    assert [(r.version, r.status) for r in history.result.releases] == [
        (1, "superseded"),
        (2, "superseded"),
        (3, "deployed"),
    ]
    newest = await releases.get(name)
    assert newest.result.release.version == 3

    # The stock helm CLI reads what the engine wrote.
    listed = json.loads(await helm_cli(control_plane, "list", "-n", namespace, "-o", "json"))
    assert [(r["name"], r["revision"], r["status"], r["chart"]) for r in listed] == [
        (name, "3", "deployed", "demo-0.1.0")
    ]
    cli_history = json.loads(
        await helm_cli(control_plane, "history", name, "-n", namespace, "-o", "json")
    )
    assert [(h["revision"], h["status"], h["chart"]) for h in cli_history] == [
        (1, "superseded", "demo-0.1.0"),
        (2, "superseded", "demo-0.2.0"),
        (3, "deployed", "demo-0.1.0"),
    ]
    assert cli_history[2]["description"] == "Rollback to 1"
    print("\n$ helm history", name, "-n", namespace)
    print(await helm_cli(control_plane, "history", name, "-n", namespace))

    removed = await releases.uninstall(name, timeout=TIMEOUT)
    assert removed.result.release is not None
    assert removed.result.release.status == "uninstalled"
    ops = statuses(removed.observations)
    assert ops[0] == ("update", 3, "uninstalling")
    assert sorted(v for op, v, _ in ops if op == "delete") == [1, 2, 3]
    await gone(apps.read_namespaced_deployment, name, namespace, what="the Deployment")
    await gone(core.read_namespaced_config_map, f"{name}-config", namespace, what="the ConfigMap")
    records = await core.list_namespaced_secret(namespace, label_selector="owner=helm")
    assert records.items == []


async def test_storage_drivers_and_namespace(
    releases: Releases, namespace: str, core: client.CoreV1Api
) -> None:
    from internal.helm.models import StorageSpec

    chart = releases.configmap_chart()
    storage_ns = f"{namespace}-store"
    await core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=storage_ns)))
    try:
        cm_storage = StorageSpec(driver="configmap", namespace=storage_ns)
        out = await releases.install("cfg", chart, storage=cm_storage)
        assert out.observations[-1].key == "sh.helm.release.v1.cfg.v1"
        record = await core.read_namespaced_config_map("sh.helm.release.v1.cfg.v1", storage_ns)
        assert record.metadata.labels["owner"] == "helm"
        assert record.metadata.labels["status"] == "deployed"
        secrets = await core.list_namespaced_secret(namespace, label_selector="owner=helm")
        assert secrets.items == []

        # The memory driver keeps releases in the library's process only.
        mem = StorageSpec(driver="memory")
        out = await releases.install("mem", chart, storage=mem)
        assert out.result.release is not None
        assert out.result.release.status == "deployed"
        hist = await releases.history("mem", storage=mem)
        assert [r.version for r in hist.result.releases] == [1]
        await releases.uninstall("mem", storage=mem)
        await releases.uninstall("cfg", storage=cm_storage)
    finally:
        await core.delete_namespace(storage_ns)


async def test_server_side_apply_owns_fields_and_forces_conflicts(
    releases: Releases, namespace: str, core: client.CoreV1Api, control_plane: ControlPlane
) -> None:
    chart = releases.configmap_chart()
    name = "ssa"
    out = await releases.install(name, chart, values={"message": "a"})
    assert out.result.release is not None
    assert out.result.release.apply_method == "ssa"

    def owner_of_message(cm: client.V1ConfigMap) -> list[tuple[str, str]]:
        return [
            (m.manager, m.operation)
            for m in cm.metadata.managed_fields
            if "f:message" in (m.fields_v1 or {}).get("f:data", {})
        ]

    cm = await core.read_namespaced_config_map(f"{name}-config", namespace)
    assert owner_of_message(cm) == [("helm-controller", "Apply")]

    # Another field manager takes data.message with its own server-side apply.
    theirs = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"{name}-config", "namespace": namespace},
        "data": {"message": "theirs"},
    }
    await kubectl(
        control_plane,
        "apply",
        "--server-side",
        "--field-manager=intruder",
        "--force-conflicts",
        "-f",
        "-",
        stdin=yaml.safe_dump(theirs),
    )
    cm = await core.read_namespaced_config_map(f"{name}-config", namespace)
    assert owner_of_message(cm) == [("intruder", "Apply")]

    # Without forcing conflicts the upgrade is refused, and that failure is stored.
    with pytest.raises(ConflictError) as refused:
        await releases.upgrade(name, chart, values={"message": "b"}, force_conflicts=False)
    assert "intruder" in refused.value.message
    ops = statuses(refused.value.observations)
    assert ops[0] == ("create", 2, "pending-upgrade")
    assert ops[-1] == ("update", 2, "failed")
    cm = await core.read_namespaced_config_map(f"{name}-config", namespace)
    assert cm.data == {"message": "theirs"}

    # Forcing conflicts (the default under SSA) takes the field back.
    await releases.upgrade(name, chart, values={"message": "b"})
    cm = await core.read_namespaced_config_map(f"{name}-config", namespace)
    assert cm.data == {"message": "b"}
    assert owner_of_message(cm) == [("helm-controller", "Apply")]


async def test_chart_crds_are_installed_and_usable(
    releases: Releases, namespace: str, kube: client.ApiClient
) -> None:
    ext = client.ApiextensionsV1Api(kube)
    custom = client.CustomObjectsApi(kube)
    group = f"{namespace}.helmward.io"
    widget = f"apiVersion: {group}/v1\nkind: Widget\nmetadata:\n  name: w1\nspec:\n  size: 3\n"
    chart = releases.chart(
        name="widgets",
        crds={"widget.yaml": charts.crd(group, "Widget", "widgets")},
        templates={"widget.yaml": widget},
    )
    created: list[str] = []
    try:
        out = await releases.install("widgets", chart)
        created.append(f"widgets.{group}")
        assert out.result.release is not None
        assert out.result.release.status == "deployed"
        crd = await ext.read_custom_resource_definition(f"widgets.{group}")
        assert any(c.type == "Established" and c.status == "True" for c in crd.status.conditions)
        w1 = await custom.get_namespaced_custom_object(group, "v1", namespace, "widgets", "w1")
        assert w1["spec"] == {"size": 3}
        # crds/ objects are not part of the release manifest: Helm never upgrades or deletes them.
        assert "CustomResourceDefinition" not in out.result.release.manifest

        # A CRD created by someone else after this target's discovery was cached: the engine's
        # REST mapper notices the unknown kind and refreshes.
        gadget_group = f"g-{namespace}.helmward.io"
        gadget_crd = yaml.safe_load(charts.crd(gadget_group, "Gadget", "gadgets"))
        await ext.create_custom_resource_definition(gadget_crd)
        created.append(f"gadgets.{gadget_group}")

        async def established() -> bool:
            c = await ext.read_custom_resource_definition(f"gadgets.{gadget_group}")
            conds = c.status.conditions or []
            return any(x.type == "Established" and x.status == "True" for x in conds)

        await eventually(established, within=30, what="the Gadget CRD to be established")
        gadget = f"apiVersion: {gadget_group}/v1\nkind: Gadget\nmetadata:\n  name: g1\n"
        uses = releases.chart(name="gadgets", templates={"gadget.yaml": gadget})
        out = await releases.install("gadgets", uses)
        assert out.result.release is not None
        assert out.result.release.status == "deployed"
        await custom.get_namespaced_custom_object(gadget_group, "v1", namespace, "gadgets", "g1")
    finally:
        for crd_name in created:
            await ext.delete_custom_resource_definition(crd_name)


async def test_take_ownership_and_create_namespace(
    releases: Releases, namespace: str, core: client.CoreV1Api
) -> None:
    from internal.helm import ActionError

    chart = releases.configmap_chart()
    await core.create_namespaced_config_map(
        namespace,
        client.V1ConfigMap(metadata=client.V1ObjectMeta(name="own-config"), data={"message": "x"}),
    )
    with pytest.raises(ActionError, match="cannot be imported") as refused:
        await releases.install("own", chart)
    assert refused.value.observations == [], "Helm refused before storing anything"
    taken = await releases.install("own", chart, take_ownership=True)
    assert taken.result.release is not None
    cm = await core.read_namespaced_config_map("own-config", namespace)
    assert cm.metadata.annotations["meta.helm.sh/release-name"] == "own"
    assert cm.data == {"message": "hello"}

    fresh = f"{namespace}-new"
    try:
        await releases.install("made", chart, namespace=fresh, create_namespace=True)
        await core.read_namespace(fresh)
        await core.read_namespaced_config_map("made-config", fresh)
    finally:
        await core.delete_namespace(fresh)
