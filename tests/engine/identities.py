"""Service accounts with a Role of their own, and the cluster target that acts as one."""

from __future__ import annotations

from kubernetes_asyncio import client

from internal.helm.models import ClusterTarget, ServiceAccountRef


async def service_account_with_role(
    kube: client.ApiClient, namespace: str, name: str, rules: list[client.V1PolicyRule]
) -> None:
    """A service account `name` bound to a Role `name` of `rules`, in `namespace`."""
    meta = client.V1ObjectMeta(name=name)
    await client.CoreV1Api(kube).create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=meta)
    )
    rbac = client.RbacAuthorizationV1Api(kube)
    await rbac.create_namespaced_role(namespace, client.V1Role(metadata=meta, rules=rules))
    role = client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name=name)
    subject = client.RbacV1Subject(kind="ServiceAccount", name=name, namespace=namespace)
    await rbac.create_namespaced_role_binding(
        namespace, client.V1RoleBinding(metadata=meta, role_ref=role, subjects=[subject])
    )


def acting_as(target: ClusterTarget, namespace: str, name: str) -> ClusterTarget:
    """`target`, impersonating the service account `namespace/name`."""
    account = ServiceAccountRef(namespace=namespace, name=name)
    return target.model_copy(update={"service_account": account})
