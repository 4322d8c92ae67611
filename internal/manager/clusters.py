"""The clusters a release can target: this one, or one a kubeConfig Secret reaches; each as
the controller or as the service account a release names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from api.digests import digest
from internal.drift.live import DEFAULT_FIELD_MANAGER
from internal.helm import models as hm
from internal.kube.client import ApiClient, client_for, impersonating
from internal.kube.discovery import Discovery
from internal.values import yamldoc

LOCAL = ""
"""The key of the controller's own cluster among the kubeconfig digests."""


@dataclass
class Cluster:
    """One cluster the engine reaches, and a client for the reads Helm does not do for us.
    Both act as the same identity: the target's service account, when it names one."""

    target: hm.ClusterTarget
    api: ApiClient
    discovery: Discovery
    field_manager: str = DEFAULT_FIELD_MANAGER
    """The engine's: the reads and applies done beside Helm use Helm's field manager."""

    def fresh(self) -> Cluster:
        """This cluster with nothing reused between calls: the engine builds its clients,
        discovery and REST mapper for each call, and kinds are looked up again here
        (spec.persistentClient: false)."""
        target = self.target.model_copy(update={"cache": False})
        return Cluster(target, self.api, Discovery(self.api), self.field_manager)


@dataclass(frozen=True)
class KubeConfigOptions:
    """What a kubeConfig Secret may ask of the controller: Flux's --insecure-kubeconfig-exec
    and --insecure-kubeconfig-tls."""

    allow_exec: bool = False
    """Run the kubeconfig's `exec` credential plugins."""
    allow_insecure_tls: bool = False
    """Honour `insecure-skip-tls-verify`; without it, the server's certificate is verified."""


def service_account_user(account: hm.ServiceAccountRef) -> str:
    return f"system:serviceaccount:{account.namespace}:{account.name}"


class Clusters:
    """The local cluster and the remote ones kubeConfig Secrets reach (a client kept per
    kubeconfig), and per cluster a client for each service account releases name, kept so a
    fleet does not make one per reconcile."""

    def __init__(self, local: Cluster, options: KubeConfigOptions | None = None) -> None:
        self.local = local
        self.options = options or KubeConfigOptions()
        self._remote: dict[str, Cluster] = {}
        self._acting: dict[tuple[str, str], Cluster] = {}

    async def get(
        self,
        kubeconfig: str | None = None,
        service_account: hm.ServiceAccountRef | None = None,
        *,
        persistent: bool = True,
    ) -> Cluster:
        key = LOCAL if kubeconfig is None else digest(kubeconfig)
        base = self.local if kubeconfig is None else await self._remote_cluster(key, kubeconfig)
        cluster = base if service_account is None else self._as(key, base, service_account)
        return cluster if persistent else cluster.fresh()

    def is_local(self, cluster: Cluster) -> bool:
        """Whether `cluster` is this one, as the controller or as a service account."""
        plain = cluster.target.model_copy(update={"service_account": None, "cache": True})
        return plain == self.local.target

    async def _remote_cluster(self, key: str, kubeconfig: str) -> Cluster:
        remote = self._remote.get(key)
        if remote is None:
            loaded = kube_config_dict(kubeconfig, self.options)
            try:
                api = await client_for(loaded)
            except Exception as exc:  # the client's own errors may quote the content
                raise KubeConfigError(f"kubeconfig cannot be used ({type(exc).__name__})") from None
            # The engine gets the content as checked: what it runs and verifies is what the
            # options allow.
            content = yaml.safe_dump(loaded, sort_keys=False)
            target = self.local.target.model_copy(
                update={"kubeconfig": content, "context": None, "in_cluster": False}
            )
            remote = Cluster(target, api, Discovery(api), self.local.field_manager)
            self._remote[key] = remote
        return remote

    def _as(self, key: str, base: Cluster, account: hm.ServiceAccountRef) -> Cluster:
        user = service_account_user(account)
        acting = self._acting.get((key, user))
        if acting is None:
            api = impersonating(base.api, user)
            target = base.target.model_copy(update={"service_account": account})
            acting = Cluster(target, api, Discovery(api), base.field_manager)
            self._acting[(key, user)] = acting
        return acting

    async def close(self) -> None:
        for cluster in [*self._acting.values(), *self._remote.values()]:
            await cluster.api.close()
        self._acting.clear()
        self._remote.clear()


class KubeConfigError(ValueError):
    """A kubeconfig that cannot be used; the message never includes its content. `reason` is
    the Ready condition's; `stalled` when retrying cannot help until the object changes."""

    def __init__(
        self, message: str, *, reason: str = "RESTClientError", stalled: bool = False
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.stalled = stalled


FILE_FIELDS = {
    "cluster": {"certificate-authority": "certificate-authority-data"},
    "user": {
        "client-certificate": "client-certificate-data",
        "client-key": "client-key-data",
        "tokenFile": "token",
    },
}
"""Paths on the controller's disk, and what to write instead: a Secret must not make the
controller read its own files (its service account token among them). Flux drops them; here
they are refused by name."""


def kube_config_dict(text: str, options: KubeConfigOptions | None = None) -> dict[str, Any]:
    """The parsed kubeconfig, checked against what a Secret may ask (`options`)."""
    options = options or KubeConfigOptions()
    try:
        loaded = yamldoc.load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise KubeConfigError(f"kubeconfig is not valid YAML{where}") from None
    if not isinstance(loaded, dict) or not loaded.get("clusters"):
        raise KubeConfigError("kubeconfig has no clusters")
    for entry in _named_list(loaded, "clusters"):
        cluster = _section(entry, "cluster")
        _refuse_files(cluster, "cluster", entry.get("name", ""))
        if not options.allow_insecure_tls:
            # As Flux: without --insecure-kubeconfig-tls the certificate is verified.
            cluster.pop("insecure-skip-tls-verify", None)
    for user in _named_list(loaded, "users"):
        auth = _section(user, "user")
        _refuse_files(auth, "user", user.get("name", ""))
        plugins = ("auth-provider",) if options.allow_exec else ("exec", "auth-provider")
        for plugin in plugins:
            if plugin in auth:
                # A Secret must not make the controller run programs unless it was told so.
                hint = " without --insecure-kubeconfig-exec" if plugin == "exec" else ""
                raise KubeConfigError(
                    f"kubeconfig user '{user.get('name', '')}' uses '{plugin}', which is not "
                    f"allowed{hint}; use a token or client certificate"
                )
    return loaded


def _named_list(doc: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """`clusters` or `users` as the list of objects client-go decodes, or KubeConfigError."""
    entries = doc.get(key) or []
    if not isinstance(entries, list) or not all(isinstance(e, dict | None) for e in entries):
        raise KubeConfigError(f"kubeconfig is not valid: '{key}' must be a list of objects")
    return [e or {} for e in entries]


def _section(entry: dict[str, Any], key: str) -> dict[str, Any]:
    section = entry.get(key) or {}
    if not isinstance(section, dict):
        raise KubeConfigError(f"kubeconfig is not valid: '{key}' must be an object")
    return section


def _refuse_files(section: dict[str, Any], kind: str, name: str) -> None:
    for field, instead in FILE_FIELDS[kind].items():
        if section.get(field):
            raise KubeConfigError(
                f"kubeconfig {kind} '{name}' names a file ('{field}'), which is not allowed; "
                f"use '{instead}'"
            )
