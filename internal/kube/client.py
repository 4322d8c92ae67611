"""The one door to kubernetes-asyncio: its client and error types, and the ways a client is
configured (a kubeconfig file, the in-cluster account, or a kubeconfig's content). Everything
else imports these from here, so the library can be swapped or pinned in one place."""

from __future__ import annotations

from typing import Any

from kubernetes_asyncio import config
from kubernetes_asyncio.client import ApiClient, Configuration
from kubernetes_asyncio.client.exceptions import ApiException

__all__ = [
    "ApiClient",
    "ApiException",
    "Configuration",
    "client_for",
    "configuration",
    "configuration_of",
    "impersonating",
]


async def configuration(kubeconfig: str | None) -> Configuration:
    """The client configuration of a kubeconfig file, or of the in-cluster service account."""
    conf = Configuration()
    if kubeconfig:
        await config.load_kube_config(config_file=kubeconfig, client_configuration=conf)
    else:
        config.load_incluster_config(client_configuration=conf)  # type: ignore[no-untyped-call]
    return conf


async def configuration_of(kubeconfig: str, context: str | None = None) -> Configuration:
    """The client configuration of a kubeconfig file and one of its contexts (its current one
    when None), as kubectl's `--kubeconfig` and `--context` choose."""
    conf = Configuration()
    await config.load_kube_config(
        config_file=kubeconfig, context=context, client_configuration=conf
    )
    return conf


async def client_for(kubeconfig: dict[str, Any]) -> ApiClient:
    """A client for a parsed kubeconfig (the content of a kubeConfig Secret)."""
    return await config.new_client_from_config_dict(kubeconfig)


def impersonating(api: ApiClient, user: str) -> ApiClient:
    """A client with `api`'s configuration and credentials that acts as `user`. Like client-go's
    ImpersonationConfig with a user name only (what Flux sets): for a service account the API
    server adds its groups itself. Its connections are its own; close it when done."""
    return ApiClient(api.configuration, header_name="Impersonate-User", header_value=user)
