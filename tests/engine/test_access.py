"""Cluster access per call: impersonating a service account, and each identity its own target."""

from __future__ import annotations

import pytest
from kubernetes_asyncio import client

from hack.testkit import charts
from internal.helm import Engine, ForbiddenError
from internal.helm.models import ClusterTarget, InstallRequest
from tests.engine.identities import acting_as, service_account_with_role
from tests.engine.releases import Releases

pytestmark = pytest.mark.engine


async def test_impersonated_service_account_acts_with_its_own_rights(
    releases: Releases,
    engine: Engine,
    target: ClusterTarget,
    namespace: str,
    kube: client.ApiClient,
    core: client.CoreV1Api,
) -> None:
    rule = client.V1PolicyRule(api_groups=[""], resources=["configmaps", "secrets"], verbs=["*"])
    await service_account_with_role(kube, namespace, "deployer", [rule])
    chart = releases.configmap_chart()
    deployer = acting_as(target, namespace, "deployer")
    before = (await engine.stats()).cached_targets
    out = await engine.install(
        InstallRequest(release_name="imp", namespace=namespace, chart=chart), cluster=deployer
    )
    assert out.result.release is not None
    assert out.result.release.status == "deployed"
    assert (await engine.stats()).cached_targets >= before + 1, "a target per identity"
    cm = await core.read_namespaced_config_map("imp-config", namespace)
    assert cm.metadata.managed_fields[0].manager == "helm-controller"

    # The same chart with a Service: the deployer may not create Services.
    with_service = releases.chart(
        version="0.2.0",
        templates={"configmap.yaml": charts.CONFIGMAP, "service.yaml": charts.SERVICE},
    )
    with pytest.raises(ForbiddenError) as refused:
        await engine.install(
            InstallRequest(release_name="imp2", namespace=namespace, chart=with_service),
            cluster=deployer,
        )
    assert f"system:serviceaccount:{namespace}:deployer" in refused.value.message

    nobody = acting_as(target, namespace, "nobody")
    with pytest.raises(ForbiddenError):
        await engine.install(
            InstallRequest(release_name="imp3", namespace=namespace, chart=chart), cluster=nobody
        )
