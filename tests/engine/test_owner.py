"""The owner setting: an install ties what it applies to an owner object, as operator-sdk's Helm
operator does, with a controller owner reference where Kubernetes allows one and the
`operator-sdk/primary-resource*` annotations elsewhere; render, without a cluster, refuses it."""

from __future__ import annotations

import contextlib

import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from internal.helm import Engine, InvalidRequestError
from internal.helm.models import Owner, RenderRequest
from tests.engine.releases import Releases

pytestmark = pytest.mark.engine

CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: owned
data:
  a: b
"""

CLUSTERROLE = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {{ .Release.Namespace }}-reader
rules:
  - apiGroups: [""]
    resources: [configmaps]
    verbs: [get]
"""


async def test_owner_on_install_sets_the_reference_or_the_annotations(
    releases: Releases,
    engine: Engine,
    namespace: str,
    core: client.CoreV1Api,
    kube: client.ApiClient,
) -> None:
    rbac = client.RbacAuthorizationV1Api(kube)
    chart = releases.chart(
        name="owned", templates={"configmap.yaml": CONFIGMAP, "clusterrole.yaml": CLUSTERROLE}
    )
    anchor = await core.create_namespaced_config_map(
        namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="owner"))
    )
    owner = Owner(
        api_version="v1",
        kind="ConfigMap",
        name="owner",
        namespace=namespace,
        uid=anchor.metadata.uid,
    )
    role_name = f"{namespace}-reader"
    try:
        out = await releases.install("owned", chart, owner=owner)
        assert out.result.release is not None
        assert out.result.release.status == "deployed"

        cm = await core.read_namespaced_config_map("owned", namespace)
        assert [r.to_dict() for r in cm.metadata.owner_references] == [
            {
                "api_version": "v1",
                "kind": "ConfigMap",
                "name": "owner",
                "uid": anchor.metadata.uid,
                "controller": True,
                "block_owner_deletion": True,
            }
        ]
        assert not any(k.startswith("operator-sdk/") for k in cm.metadata.annotations or {})

        # Cluster-scoped: a namespaced owner cannot own it, so it is named in annotations.
        role = await rbac.read_cluster_role(role_name)
        assert role.metadata.owner_references is None
        annotations = {
            k: v for k, v in role.metadata.annotations.items() if k.startswith("operator-sdk/")
        }
        assert annotations == {
            "operator-sdk/primary-resource": f"{namespace}/owner",
            "operator-sdk/primary-resource-type": "ConfigMap",
        }
    finally:
        with contextlib.suppress(ApiException):
            await rbac.delete_cluster_role(role_name)

    with pytest.raises(InvalidRequestError) as refused:
        await engine.render(
            RenderRequest(release_name="owned", namespace=namespace, chart=chart, owner=owner)
        )
    assert refused.value.field == "render.owner"
