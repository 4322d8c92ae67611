"""The clusters a release can target: this one, or one a kubeConfig Secret reaches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from api.digests import digest
from internal.drift.live import DEFAULT_FIELD_MANAGER
from internal.helm import models as hm
from internal.kube.client import ApiClient, client_for
from internal.kube.discovery import Discovery


@dataclass
class Cluster:
    """One cluster the engine reaches, and a client for the reads Helm does not do for us."""

    target: hm.ClusterTarget
    api: ApiClient
    discovery: Discovery
    field_manager: str = DEFAULT_FIELD_MANAGER
    """The engine's: the reads and applies done beside Helm use Helm's field manager."""

    def impersonating(self, service_account: hm.ServiceAccountRef | None) -> Cluster:
        if service_account is None:
            return self
        target = self.target.model_copy(update={"service_account": service_account})
        return Cluster(target, self.api, self.discovery, self.field_manager)


class Clusters:
    """The local cluster and the remote ones kubeConfig Secrets reach (a client kept per
    kubeconfig), each as the service account a release names."""

    def __init__(self, local: Cluster) -> None:
        self.local = local
        self._remote: dict[str, Cluster] = {}

    async def get(
        self, kubeconfig: str | None = None, service_account: hm.ServiceAccountRef | None = None
    ) -> Cluster:
        if kubeconfig is None:
            return self.local.impersonating(service_account)
        key = digest(kubeconfig)
        remote = self._remote.get(key)
        if remote is None:
            loaded = kube_config_dict(kubeconfig)
            try:
                api = await client_for(loaded)
            except Exception as exc:  # the client's own errors may quote the content
                raise KubeConfigError(f"kubeconfig cannot be used ({type(exc).__name__})") from None
            target = self.local.target.model_copy(
                update={"kubeconfig": kubeconfig, "context": None, "in_cluster": False}
            )
            remote = Cluster(target, api, Discovery(api), self.local.field_manager)
            self._remote[key] = remote
        return remote.impersonating(service_account)

    async def close(self) -> None:
        for remote in self._remote.values():
            await remote.api.close()
        self._remote.clear()


class KubeConfigError(ValueError):
    """A kubeconfig that cannot be read; the message never includes its content."""


def kube_config_dict(text: str) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise KubeConfigError(f"kubeconfig is not valid YAML{where}") from None
    if not isinstance(loaded, dict) or not loaded.get("clusters"):
        raise KubeConfigError("kubeconfig has no clusters")
    for user in loaded.get("users") or []:
        auth = (user or {}).get("user") or {}
        for plugin in ("exec", "auth-provider"):
            if plugin in auth:
                # A Secret must not make the controller run programs.
                raise KubeConfigError(
                    f"kubeconfig user '{user.get('name', '')}' uses '{plugin}', which is not "
                    "allowed; use a token or client certificate"
                )
    return loaded
