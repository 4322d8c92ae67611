"""markFailed: a stored revision recorded failed through Helm's storage, as the call's identity,
and the write observed like any other."""

from __future__ import annotations

import json

import pytest
from kubernetes_asyncio import client

from internal.helm import Engine, ForbiddenError, ReleaseNotFoundError
from internal.helm.models import (
    ClusterTarget,
    MarkFailedRequest,
    Response,
)
from tests.engine.identities import acting_as, service_account_with_role
from tests.engine.releases import Releases

pytestmark = pytest.mark.engine


async def _installed(releases: Releases) -> None:
    await releases.install("mf", releases.configmap_chart())


async def test_a_revision_is_recorded_failed_and_the_write_observed(
    releases: Releases, namespace: str, core: client.CoreV1Api
) -> None:
    await _installed(releases)
    done = await releases.mark_failed("mf", description="unhealthy")
    rel = done.result.release
    assert rel is not None
    assert (rel.version, rel.status, rel.description) == (1, "failed", "unhealthy")
    [written] = done.observations
    assert (written.operation, written.key) == ("update", "sh.helm.release.v1.mf.v1")
    assert written.digest == rel.digest
    assert written.release == rel

    stored = await releases.get("mf")
    assert stored.result.release.digest == rel.digest
    record = await core.read_namespaced_secret("sh.helm.release.v1.mf.v1", namespace)
    assert record.metadata.labels["status"] == "failed"
    assert record.metadata.labels["owner"] == "helm"

    with pytest.raises(ReleaseNotFoundError):
        await releases.mark_failed("mf", version=2, description="x")


async def test_the_write_is_made_as_the_impersonated_identity(
    releases: Releases,
    engine: Engine,
    target: ClusterTarget,
    namespace: str,
    kube: client.ApiClient,
) -> None:
    await _installed(releases)
    rule = client.V1PolicyRule(api_groups=[""], resources=["secrets"], verbs=["get", "list"])
    await service_account_with_role(kube, namespace, "reader", [rule])
    reader = acting_as(target, namespace, "reader")
    with pytest.raises(ForbiddenError) as refused:
        await engine.mark_failed(
            MarkFailedRequest(release_name="mf", namespace=namespace, description="unhealthy"),
            cluster=reader,
        )
    assert f"system:serviceaccount:{namespace}:reader" in refused.value.message
    assert refused.value.observations == []
    stored = await releases.get("mf")
    assert stored.result.release.status == "deployed"


async def test_a_description_is_required(engine: Engine, target: ClusterTarget) -> None:
    body = {"releaseName": "mf", "namespace": "ns", "description": ""}
    request = {"op": "markFailed", "markFailed": body, "cluster": target.wire()}
    resp = Response.model_validate_json(await engine.call_raw(json.dumps(request).encode()))
    assert resp.error is not None
    assert (resp.error.code, resp.error.field) == ("InvalidRequest", "markFailed.description")
