"""Secret-store backends for references in values (see base.py), opened by name.

The cloud backends' SDKs are imported when one is first opened: most controllers never open
one, and importing them costs a controller's start a third of a second of CPU."""

from __future__ import annotations

from internal.kube.client import ApiClient
from internal.values.backends.base import Backend, BackendError, Credentials
from internal.values.backends.k8s import KubeSecrets

__all__ = ["Backend", "BackendError", "Credentials", "open_backend"]


async def open_backend(
    name: str,
    credentials: Credentials,
    *,
    api: ApiClient | None = None,
    namespace: str = "",
    azure_any_resource: bool = False,
) -> Backend:
    """The backend `name` with a client made from `credentials` (for k8s: the release's
    namespace through `api`). BackendError NoCredentials when the credentials allow no
    identity; the controller's own only with `credentials.ambient`. Close it when done.
    `azure_any_resource` lets a Key Vault's challenge name a resource outside the vault's own
    domain (a vault that is not on Azure's domains, such as the tests' stand-in); the
    operator's choice (`--values-azure-any-resource`), never a tenant's."""
    if name in ("awssecrets", "awsssm"):
        from internal.values.backends.aws_clients import aws_clients
        from internal.values.backends.aws_secrets import AwsSecrets
        from internal.values.backends.aws_ssm import AwsSsm

        aws = AwsSecrets if name == AwsSecrets.name else AwsSsm
        service = "secretsmanager" if aws is AwsSecrets else "ssm"
        return aws(aws_clients(service, name, credentials))
    if name == KubeSecrets.name:
        if api is None or not namespace:
            raise BackendError(None, "NoNamespace", "k8s: needs a client and the namespace")
        return KubeSecrets(api, namespace)
    if name == "azurekv":
        from internal.values.backends.azure_kv import open_azure_kv

        return open_azure_kv(credentials, verify_challenge_resource=not azure_any_resource)
    raise BackendError(None, "UnknownBackend", f"no backend named {name!r}")
