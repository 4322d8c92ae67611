"""markFailed: a stored revision recorded failed through Helm's storage, as the call's identity,
and the write observed like any other."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kubernetes_asyncio import client

from hack.testkit import charts
from internal.helm import Engine, ForbiddenError, ReleaseNotFoundError
from internal.helm.models import (
    ClusterTarget,
    GetRequest,
    InstallRequest,
    MarkFailedRequest,
    Response,
    ServiceAccountRef,
)

pytestmark = pytest.mark.engine


async def _installed(engine: Engine, target: ClusterTarget, namespace: str, root: Path) -> None:
    chart = charts.make_chart(root, templates={"configmap.yaml": charts.CONFIGMAP})
    await engine.install(
        InstallRequest(release_name="mf", namespace=namespace, chart=chart), cluster=target
    )


async def test_a_revision_is_recorded_failed_and_the_write_observed(
    engine: Engine,
    target: ClusterTarget,
    namespace: str,
    chart_root: Path,
    core: client.CoreV1Api,
) -> None:
    await _installed(engine, target, namespace, chart_root)
    done = await engine.mark_failed(
        MarkFailedRequest(release_name="mf", namespace=namespace, description="unhealthy"),
        cluster=target,
    )
    rel = done.result.release
    assert rel is not None
    assert (rel.version, rel.status, rel.description) == (1, "failed", "unhealthy")
    [written] = done.observations
    assert (written.operation, written.key) == ("update", "sh.helm.release.v1.mf.v1")
    assert written.digest == rel.digest
    assert written.release == rel

    stored = await engine.get(GetRequest(release_name="mf", namespace=namespace), cluster=target)
    assert stored.result.release.digest == rel.digest
    record = await core.read_namespaced_secret("sh.helm.release.v1.mf.v1", namespace)
    assert record.metadata.labels["status"] == "failed"
    assert record.metadata.labels["owner"] == "helm"

    with pytest.raises(ReleaseNotFoundError):
        await engine.mark_failed(
            MarkFailedRequest(release_name="mf", namespace=namespace, version=2, description="x"),
            cluster=target,
        )


async def test_the_write_is_made_as_the_impersonated_identity(
    engine: Engine,
    target: ClusterTarget,
    namespace: str,
    chart_root: Path,
    kube: client.ApiClient,
    core: client.CoreV1Api,
) -> None:
    await _installed(engine, target, namespace, chart_root)
    rbac = client.RbacAuthorizationV1Api(kube)
    await core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="reader"))
    )
    await rbac.create_namespaced_role(
        namespace,
        client.V1Role(
            metadata=client.V1ObjectMeta(name="reader"),
            rules=[
                client.V1PolicyRule(api_groups=[""], resources=["secrets"], verbs=["get", "list"])
            ],
        ),
    )
    await rbac.create_namespaced_role_binding(
        namespace,
        client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name="reader"),
            role_ref=client.V1RoleRef(
                api_group="rbac.authorization.k8s.io", kind="Role", name="reader"
            ),
            subjects=[
                client.RbacV1Subject(kind="ServiceAccount", name="reader", namespace=namespace)
            ],
        ),
    )
    reader = target.model_copy(
        update={"service_account": ServiceAccountRef(namespace=namespace, name="reader")}
    )
    with pytest.raises(ForbiddenError) as refused:
        await engine.mark_failed(
            MarkFailedRequest(release_name="mf", namespace=namespace, description="unhealthy"),
            cluster=reader,
        )
    assert f"system:serviceaccount:{namespace}:reader" in refused.value.message
    assert refused.value.observations == []
    stored = await engine.get(GetRequest(release_name="mf", namespace=namespace), cluster=target)
    assert stored.result.release.status == "deployed"


async def test_a_description_is_required(engine: Engine, target: ClusterTarget) -> None:
    body = {"releaseName": "mf", "namespace": "ns", "description": ""}
    request = {"op": "markFailed", "markFailed": body, "cluster": target.wire()}
    resp = Response.model_validate_json(await engine.call_raw(json.dumps(request).encode()))
    assert resp.error is not None
    assert (resp.error.code, resp.error.field) == ("InvalidRequest", "markFailed.description")
