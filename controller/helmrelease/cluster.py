"""The cluster a release lives on: this one, or the one spec.kubeConfig's Secret reaches; as
spec.serviceAccountName (or the controller's default account) when one is set, for the
engine's calls and the controller's own reads alike; built afresh for each call when
spec.persistentClient is false."""

from __future__ import annotations

import base64

from api.helmrelease import HelmRelease
from internal.helm import models as hm
from internal.kube import rest
from internal.kube.client import ApiClient, ApiException
from internal.manager.clusters import Cluster, Clusters, KubeConfigError

UNSUPPORTED_KUBECONFIG = "UnsupportedKubeConfig"
"""Ready=False and Stalled: the object asks for what this controller cannot do; only a change
to it helps."""


async def release_cluster(
    api: ApiClient, clusters: Clusters, hr: HelmRelease, default_account: str | None
) -> Cluster:
    ns = hr.metadata.namespace or "default"
    account = hr.spec.service_account_name or default_account
    impersonate = hm.ServiceAccountRef(namespace=ns, name=account) if account else None
    kubeconfig = await kubeconfig_of(api, hr) if hr.spec.kube_config is not None else None
    persistent = hr.spec.effective_persistent_client()
    return await clusters.get(kubeconfig, impersonate, persistent=persistent)


async def kubeconfig_of(api: ApiClient, hr: HelmRelease) -> str:
    """The kubeconfig in spec.kubeConfig.secretRef; errors name the Secret, never its data."""
    kc = hr.spec.kube_config
    assert kc is not None
    ns = hr.metadata.namespace or "default"
    if kc.secret_ref is None:
        raise KubeConfigError(
            "spec.kubeConfig.configMapRef (workload identity) is not supported by this "
            "controller; use spec.kubeConfig.secretRef",
            reason=UNSUPPORTED_KUBECONFIG,
            stalled=True,
        )
    name = kc.secret_ref.name
    try:
        secret = await rest.request(api, "GET", f"/api/v1/namespaces/{ns}/secrets/{name}")
    except ApiException as exc:
        raise KubeConfigError(
            f"could not get KubeConfig secret '{ns}/{name}': {exc.reason}"
        ) from None
    data = secret.get("data") or {}
    keys = [kc.secret_ref.key] if kc.secret_ref.key else ["value", "value.yaml"]
    for key in keys:
        if key in data:
            try:
                return base64.b64decode(data[key]).decode()
            except (ValueError, UnicodeDecodeError):
                raise KubeConfigError(
                    f"KubeConfig secret '{ns}/{name}' key '{key}' is not UTF-8 text"
                ) from None
    raise KubeConfigError(
        f"KubeConfig secret '{ns}/{name}' has no key {' or '.join(repr(k) for k in keys)}"
    )
