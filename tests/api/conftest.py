"""The generated CRDs, installed once per session and left installed for other suites."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from tests.support import eventually

BASES = Path(__file__).resolve().parents[2] / "config" / "crd" / "bases"
FIELD_MANAGER = "helmward-api-tests"
APPLY = "application/apply-patch+yaml"


@pytest.fixture(scope="session")
async def flux_crds(kube: client.ApiClient) -> list[str]:
    """Server-side apply of config/crd/bases/*.yaml; waits until every CRD is Established."""
    extensions = client.ApiextensionsV1Api(kube)
    names = []
    for path in sorted(BASES.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        names.append(crd["metadata"]["name"])
        await extensions.patch_custom_resource_definition(
            crd["metadata"]["name"],
            crd,
            field_manager=FIELD_MANAGER,
            force=True,
            _content_type=APPLY,
        )

    async def established(name: str) -> bool:
        try:
            crd = await extensions.read_custom_resource_definition(name)
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        conditions = (crd.status and crd.status.conditions) or []
        return any(c.type == "Established" and c.status == "True" for c in conditions)

    for name in names:
        await eventually(lambda n=name: established(n), within=60, what=f"CRD {name} Established")
    return names
