"""The clusters a release can target: this one, or one a kubeConfig Secret reaches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from kubernetes_asyncio.client import ApiClient

from internal.helm import models as hm
from internal.kube.discovery import Discovery


@dataclass
class Cluster:
    """One cluster the engine reaches, and a client for the reads Helm does not do for us."""

    target: hm.ClusterTarget
    api: ApiClient
    discovery: Discovery

    def impersonating(self, service_account: hm.ServiceAccountRef | None) -> Cluster:
        if service_account is None:
            return self
        target = self.target.model_copy(update={"service_account": service_account})
        return Cluster(target, self.api, self.discovery)


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
