"""The Kubernetes API for tests and scripts: a client, the Flux CRDs, and finalizers that a
stopped controller leaves behind."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

from hack.testkit.paths import CRD_BASES
from hack.testkit.wait import eventually
from internal.kube import rest
from internal.kube.resources import (
    BUCKETS,
    GIT_REPOSITORIES,
    HELM_CHARTS,
    HELM_RELEASES,
    HELM_REPOSITORIES,
    OCI_REPOSITORIES,
)

FIELD_MANAGER = "helmward-api-tests"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
# The kinds whose finalizer Helmward's controllers add.
FINALIZED = (
    HELM_REPOSITORIES,
    GIT_REPOSITORIES,
    BUCKETS,
    HELM_CHARTS,
    OCI_REPOSITORIES,
    HELM_RELEASES,
)


@contextlib.asynccontextmanager
async def api_client(kubeconfig: Path | str) -> AsyncIterator[client.ApiClient]:
    """A kubernetes-asyncio client as the kubeconfig's user."""
    configuration = client.Configuration()
    await config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    async with client.ApiClient(configuration) as api:
        yield api


async def install_crds(kube: client.ApiClient, directory: Path = CRD_BASES) -> list[str]:
    """Server-side apply of `directory`/*.yaml (config/crd/bases: Helmward's); waits until every
    CRD is Established. Their names."""
    names = []
    for path in sorted(directory.glob("*.yaml")):  # noqa: ASYNC240 - a few local files
        crd = yaml.safe_load(path.read_text())
        names.append(crd["metadata"]["name"])
        await rest.request(
            kube,
            "PATCH",
            f"{CRDS}/{crd['metadata']['name']}",
            body=crd,
            content_type=rest.APPLY_PATCH,
            query={"fieldManager": FIELD_MANAGER, "force": True},
        )

    async def established(name: str) -> bool:
        crd = await rest.get_optional(kube, f"{CRDS}/{name}")
        if crd is None:
            return False
        conditions = (crd.get("status") or {}).get("conditions") or []
        return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)

    for name in names:
        await eventually(
            functools.partial(established, name), within=60, what=f"CRD {name} Established"
        )
    return names


async def drop_finalizers(kube: client.ApiClient, namespace: str) -> None:
    """With the controller stopped, nothing removes its finalizers and the namespace could not
    be deleted: drop them from every source and HelmRelease in `namespace`."""
    for resource in FINALIZED:
        listing = await rest.request(kube, "GET", resource.path(namespace))
        for item in listing.get("items", []):
            with contextlib.suppress(ApiException):
                await rest.request(
                    kube,
                    "PATCH",
                    resource.path(namespace, item["metadata"]["name"]),
                    body={"metadata": {"finalizers": None}},
                    content_type=rest.MERGE_PATCH,
                )


async def create_helm_repository(
    kube: client.ApiClient, namespace: str, url: str, *, name: str = "charts", interval: str = "5m"
) -> None:
    """A HelmRepository of `url` in `namespace`."""
    body = {
        "apiVersion": HELM_REPOSITORIES.api_version,
        "kind": "HelmRepository",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"url": url, "interval": interval},
    }
    await rest.request(kube, "POST", HELM_REPOSITORIES.path(namespace), body=body)


def helm_release_body(
    name: str,
    namespace: str,
    *,
    interval: str,
    chart: tuple[str, str] = ("small", "1.0.0"),
    repository: str = "charts",
    depends_on: Sequence[str] = (),
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A HelmRelease of `chart` (name, version) from the HelmRepository `repository`, its values
    naming the release, as the benchmarks and the chaos fleet make them."""
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        metadata["labels"] = dict(labels)
    return {
        "apiVersion": HELM_RELEASES.api_version,
        "kind": "HelmRelease",
        "metadata": metadata,
        "spec": {
            "interval": interval,
            "chart": {
                "spec": {
                    "chart": chart[0],
                    "version": chart[1],
                    "sourceRef": {"kind": "HelmRepository", "name": repository},
                }
            },
            "dependsOn": [{"name": d} for d in depends_on],
            "values": {"message": name},
        },
    }
