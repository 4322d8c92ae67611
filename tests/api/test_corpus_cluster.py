"""The corpus against a real API server holding the generated CRDs."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

import api
from api.kinds import BY_API_VERSION_AND_KIND
from hack.testkit.kube import FIELD_MANAGER
from hack.testkit.plane import ControlPlane
from internal.kube.rest import APPLY_PATCH as APPLY
from tests.api.corpus import DATA, INVALID, VALID, expectation, load

pytestmark = pytest.mark.api

VALID_DIR = DATA / "valid"


def _place(doc: dict[str, Any], namespace: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The document in `namespace`, and where the API serves it."""
    kind = BY_API_VERSION_AND_KIND[(doc["apiVersion"], doc["kind"])].resource
    body = json.loads(json.dumps(doc))
    body["metadata"]["namespace"] = namespace
    where = {
        "group": kind.group,
        "version": kind.version,
        "namespace": namespace,
        "plural": kind.plural,
        "name": body["metadata"]["name"],
    }
    return body, where


async def _apply(
    objects: client.CustomObjectsApi, body: dict[str, Any], where: dict[str, str]
) -> Any:
    return await objects.patch_namespaced_custom_object(
        body=body,
        field_manager=FIELD_MANAGER,
        force=True,
        field_validation="Strict",
        _content_type=APPLY,
        **where,
    )


@pytest.mark.usefixtures("flux_crds")
@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
async def test_valid_documents_apply(kube: client.ApiClient, namespace: str, path: Path) -> None:
    objects = client.CustomObjectsApi(kube)
    doc = load(path)
    body, where = _place(doc, namespace)
    await _apply(objects, body, where)
    if "status" in body:
        status_only = {key: body[key] for key in ("apiVersion", "kind", "metadata", "status")}
        status_only["metadata"] = {"name": where["name"], "namespace": namespace}
        await objects.patch_namespaced_custom_object_status(
            body=status_only,
            field_manager=FIELD_MANAGER,
            force=True,
            field_validation="Strict",
            _content_type=APPLY,
            **where,
        )
    stored = await objects.get_namespaced_custom_object(**where)
    try:
        served = api.parse(stored)
        wanted = api.parse(body)
        # The server applied its defaults; the models know the same defaults.
        assert served.spec == wanted.spec
        if "status" in body:
            assert served.status == wanted.status
        elif served.resource.status_default:
            assert served.status.observed_generation == -1
        assert stored["metadata"].get("annotations") == body["metadata"].get("annotations")
    finally:
        if stored["metadata"].get("finalizers"):
            await objects.patch_namespaced_custom_object(
                body={"metadata": {"finalizers": None}},
                _content_type="application/merge-patch+json",
                **where,
            )


@pytest.mark.usefixtures("flux_crds")
@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
async def test_invalid_documents_are_refused_by_the_server(
    kube: client.ApiClient, namespace: str, path: Path
) -> None:
    expect = expectation(path)
    body, where = _place(load(path), namespace)
    with pytest.raises(ApiException) as caught:
        await _apply(client.CustomObjectsApi(kube), body, where)
    message = json.loads(caught.value.body)["message"]
    # Server-side apply reports fields it cannot type (unknown, or of the wrong JSON type) as
    # a 500 "failed to create typed patch object"; everything else is a 422 Invalid.
    typed_patch = message.startswith("failed to create typed patch object")
    assert caught.value.status == 422 or (caught.value.status == 500 and typed_patch), message
    print(f"{path.name}: {message}")
    assert expect.field in message
    if expect.message:
        assert expect.message in message


@pytest.mark.usefixtures("flux_crds")
async def test_short_names_and_printer_columns(
    kube: client.ApiClient, namespace: str, control_plane: ControlPlane
) -> None:
    body, where = _place(load(VALID_DIR / "helmrelease-minimal.yaml"), namespace)
    await _apply(client.CustomObjectsApi(kube), body, where)
    kubectl = [str(control_plane.kubectl), "--kubeconfig", str(control_plane.kubeconfig)]
    process = await asyncio.create_subprocess_exec(
        *kubectl,
        "get",
        "hr,helmrepo,gitrepo,hc,ocirepo,ea,buckets",
        "--namespace",
        namespace,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    header, row = out.decode().splitlines()[:2]
    assert header.split() == ["NAME", "AGE", "READY", "STATUS"]
    assert row.split()[0] == "helmrelease.helm.toolkit.fluxcd.io/podinfo"
