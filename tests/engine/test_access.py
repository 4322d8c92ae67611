"""Cluster access per call: impersonating a service account, and each identity its own target."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes_asyncio import client

from hack.testkit import charts
from internal.helm import Engine, ForbiddenError
from internal.helm.models import ClusterTarget, InstallRequest, ServiceAccountRef

pytestmark = pytest.mark.engine


async def test_impersonated_service_account_acts_with_its_own_rights(
    engine: Engine,
    target: ClusterTarget,
    namespace: str,
    chart_root: Path,
    kube: client.ApiClient,
    core: client.CoreV1Api,
) -> None:
    rbac = client.RbacAuthorizationV1Api(kube)
    await core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="deployer"))
    )
    await rbac.create_namespaced_role(
        namespace,
        client.V1Role(
            metadata=client.V1ObjectMeta(name="deployer"),
            rules=[
                client.V1PolicyRule(
                    api_groups=[""], resources=["configmaps", "secrets"], verbs=["*"]
                )
            ],
        ),
    )
    await rbac.create_namespaced_role_binding(
        namespace,
        client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name="deployer"),
            role_ref=client.V1RoleRef(
                api_group="rbac.authorization.k8s.io", kind="Role", name="deployer"
            ),
            subjects=[
                client.RbacV1Subject(kind="ServiceAccount", name="deployer", namespace=namespace)
            ],
        ),
    )
    chart = charts.make_chart(chart_root, templates={"configmap.yaml": charts.CONFIGMAP})
    deployer = target.model_copy(
        update={"service_account": ServiceAccountRef(namespace=namespace, name="deployer")}
    )
    before = (await engine.stats()).cached_targets
    out = await engine.install(
        InstallRequest(release_name="imp", namespace=namespace, chart=chart), cluster=deployer
    )
    assert out.result.release is not None
    assert out.result.release.status == "deployed"
    assert (await engine.stats()).cached_targets >= before + 1, "a target per identity"
    cm = await core.read_namespaced_config_map("imp-config", namespace)
    assert cm.metadata.managed_fields[0].manager == "helmward"

    # The same chart with a Service: the deployer may not create Services.
    with_service = charts.make_chart(
        chart_root,
        version="0.2.0",
        templates={"configmap.yaml": charts.CONFIGMAP, "service.yaml": charts.SERVICE},
    )
    with pytest.raises(ForbiddenError) as refused:
        await engine.install(
            InstallRequest(release_name="imp2", namespace=namespace, chart=with_service),
            cluster=deployer,
        )
    assert f"system:serviceaccount:{namespace}:deployer" in refused.value.message

    nobody = target.model_copy(
        update={"service_account": ServiceAccountRef(namespace=namespace, name="nobody")}
    )
    with pytest.raises(ForbiddenError):
        await engine.install(
            InstallRequest(release_name="imp3", namespace=namespace, chart=chart), cluster=nobody
        )
