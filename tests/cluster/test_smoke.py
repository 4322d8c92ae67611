"""The local control plane is a real Kubernetes: controllers, scheduler, KWOK and SSA all work."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from hack.testkit import charts
from hack.testkit.paths import REPO_ROOT
from hack.testkit.wait import eventually

pytestmark = pytest.mark.cluster

FAIL_LABEL = "kwok.helmward.io/fail"


def _object(
    api_version: str, kind: str, name: str, spec: dict[str, Any], **metadata: Any
) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name, **metadata},
        "spec": spec,
    }


def _pod(name: str, *, restart_policy: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    containers = [{"name": "main", "image": "busybox:1.36"}]
    spec = {"restartPolicy": restart_policy, "containers": containers}
    return _object("v1", "Pod", name, spec, labels=labels or {})


async def _pod_phase(core: client.CoreV1Api, name: str, namespace: str) -> str:
    pod = await core.read_namespaced_pod(name, namespace)
    return str(pod.status.phase)


async def _run_to_the_end(
    core: client.CoreV1Api, namespace: str, name: str, labels: dict[str, str] | None = None
) -> tuple[str, Any]:
    """Run a pod that is not restarted; its final phase, and the pod as it ended."""
    await core.create_namespaced_pod(namespace, _pod(name, restart_policy="Never", labels=labels))

    async def finished() -> str | None:
        phase = await _pod_phase(core, name, namespace)
        return phase if phase in ("Succeeded", "Failed") else None

    phase = await eventually(finished, within=60, what=f"pod {name} finished")
    return phase, await core.read_namespaced_pod(name, namespace)


async def test_server_reports_the_pinned_version(kube: client.ApiClient) -> None:
    pinned = re.search(
        r"^\s*k8s\.io/kubernetes (v\S+)$",
        (REPO_ROOT / "hack" / "tools" / "go.mod").read_text(),
        re.MULTILINE,
    )
    assert pinned is not None
    info = await client.VersionApi(kube).get_code()
    assert info.git_version == pinned.group(1)


async def test_deployment_becomes_available(kube: client.ApiClient, namespace: str) -> None:
    apps = client.AppsV1Api(kube)
    pods = {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
    }
    spec = {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": pods}
    deployment = _object("apps/v1", "Deployment", "web", spec)
    await apps.create_namespaced_deployment(namespace, deployment)

    async def available() -> client.V1Deployment | None:
        d = await apps.read_namespaced_deployment_status("web", namespace)
        conditions = {c.type: c.status for c in d.status.conditions or []}
        if d.status.ready_replicas == 3 and conditions.get("Available") == "True":
            return d
        return None

    ready = await eventually(available, within=60, what="deployment web Available")
    assert ready.status.available_replicas == 3
    assert ready.status.updated_replicas == 3

    pods = await client.CoreV1Api(kube).list_namespaced_pod(namespace, label_selector="app=web")
    assert len(pods.items) == 3
    assert {p.spec.node_name for p in pods.items} == {"kwok-node-0"}
    assert all(p.status.phase == "Running" for p in pods.items)


async def test_run_to_completion_pod_succeeds(kube: client.ApiClient, namespace: str) -> None:
    phase, pod = await _run_to_the_end(client.CoreV1Api(kube), namespace, "once")
    assert phase == "Succeeded"
    assert pod.status.container_statuses[0].state.terminated.exit_code == 0


async def test_pod_labelled_to_fail_fails(kube: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(kube)
    phase, pod = await _run_to_the_end(core, namespace, "doomed", {FAIL_LABEL: "true"})
    assert phase == "Failed"
    assert pod.status.container_statuses[0].state.terminated.exit_code == 1


async def test_job_completes(kube: client.ApiClient, namespace: str) -> None:
    batch = client.BatchV1Api(kube)
    containers = [{"name": "migrate", "image": "busybox:1.36"}]
    template = {"spec": {"restartPolicy": "Never", "containers": containers}}
    job = _object("batch/v1", "Job", "migrate", {"backoffLimit": 0, "template": template})
    await batch.create_namespaced_job(namespace, job)

    async def complete() -> bool:
        j = await batch.read_namespaced_job_status("migrate", namespace)
        return any(c.type == "Complete" and c.status == "True" for c in j.status.conditions or [])

    await eventually(complete, within=60, what="job migrate Complete")


async def test_namespace_deletion_completes(kube: client.ApiClient) -> None:
    core = client.CoreV1Api(kube)
    name = "t-ns-deletion"
    await core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))

    async def sa_exists() -> bool:
        try:
            await core.read_namespaced_service_account("default", name)
        except ApiException:
            return False
        return True

    await eventually(sa_exists, what="default service account")
    await core.create_namespaced_pod(name, _pod("runner", restart_policy="Always"))
    await core.create_namespaced_config_map(
        name, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="data"), data={"k": "v"})
    )

    async def running() -> bool:
        return await _pod_phase(core, "runner", name) == "Running"

    await eventually(running, what="pod runner Running")
    await core.delete_namespace(name)

    async def gone() -> bool:
        try:
            await core.read_namespace(name)
        except ApiException as exc:
            return exc.status == 404
        return False

    await eventually(gone, within=90, what=f"namespace {name} deleted")


async def test_owner_reference_garbage_collection(kube: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(kube)
    parent = await core.create_namespaced_config_map(
        namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="parent"))
    )
    owner = client.V1OwnerReference(
        api_version="v1", kind="ConfigMap", name="parent", uid=parent.metadata.uid
    )
    for i in range(3):
        await core.create_namespaced_config_map(
            namespace,
            client.V1ConfigMap(
                metadata=client.V1ObjectMeta(name=f"child-{i}", owner_references=[owner])
            ),
        )
    await core.delete_namespaced_config_map(
        "parent", namespace, body=client.V1DeleteOptions(propagation_policy="Background")
    )

    async def children_gone() -> bool:
        left = await core.list_namespaced_config_map(namespace)
        return not [c for c in left.items if c.metadata.name.startswith("child-")]

    await eventually(children_gone, within=60, what="children garbage-collected")


async def test_crd_registers_and_serves(kube: client.ApiClient, namespace: str) -> None:
    ext = client.ApiextensionsV1Api(kube)
    group = f"{namespace}.smoke.helmward.io"
    crd = yaml.safe_load(charts.crd(group, "Widget", "widgets"))
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    schema["properties"]["spec"]["properties"]["size"]["minimum"] = 1
    await ext.create_custom_resource_definition(crd)
    try:

        async def established() -> bool:
            got = await ext.read_custom_resource_definition(f"widgets.{group}")
            return any(
                c.type == "Established" and c.status == "True" for c in got.status.conditions or []
            )

        await eventually(established, what="CRD Established")
        custom = client.CustomObjectsApi(kube)
        widget = _object(f"{group}/v1", "Widget", "w", {"size": 3})

        async def created() -> bool:
            try:
                await custom.create_namespaced_custom_object(
                    group, "v1", namespace, "widgets", widget
                )
            except ApiException as exc:
                if exc.status == 404:  # discovery not caught up yet
                    return False
                raise
            return True

        await eventually(created, what="first Widget created")
        got = await custom.get_namespaced_custom_object(group, "v1", namespace, "widgets", "w")
        assert got["spec"] == {"size": 3}

        bad = {**widget, "metadata": {"name": "bad"}, "spec": {"size": 0}}
        with pytest.raises(ApiException) as rejected:
            await custom.create_namespaced_custom_object(group, "v1", namespace, "widgets", bad)
        assert rejected.value.status == 422
        assert "spec.size" in str(rejected.value.body)
    finally:
        await ext.delete_custom_resource_definition(f"widgets.{group}")


async def test_server_side_apply_records_field_managers(
    kube: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(kube)

    async def apply(manager: str, data: dict[str, str]) -> client.V1ConfigMap:
        body = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "shared"},
            "data": data,
        }
        return await core.patch_namespaced_config_map(
            "shared",
            namespace,
            body,
            field_manager=manager,
            force=True,
            _content_type="application/apply-patch+yaml",
        )

    await apply("alpha", {"a": "1"})
    result = await apply("beta", {"b": "2"})
    assert result.data == {"a": "1", "b": "2"}
    managers = {m.manager: m for m in result.metadata.managed_fields}
    assert set(managers) >= {"alpha", "beta"}
    assert managers["alpha"].operation == "Apply"
    assert "f:a" in managers["alpha"].fields_v1["f:data"]
    assert "f:b" in managers["beta"].fields_v1["f:data"]

    # beta takes over a field alpha owns: with force, ownership moves.
    result = await apply("beta", {"a": "9", "b": "2"})
    managers = {m.manager: m for m in result.metadata.managed_fields}
    assert "f:a" in managers["beta"].fields_v1["f:data"]
    assert "alpha" not in managers or "f:a" not in managers["alpha"].fields_v1.get("f:data", {})
