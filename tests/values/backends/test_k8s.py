"""k8s against the local control plane: one GET per Secret, base64 data as text, RBAC
refusals and missing Secrets or keys named, writes merged into the Secret."""

from __future__ import annotations

import base64
import json

import pytest
from kubernetes_asyncio import client

from internal.kube import rest
from internal.kube.client import impersonating
from internal.values.backends import open_backend
from internal.values.backends.base import BackendError, Credentials
from internal.values.backends.k8s import KubeSecrets
from internal.values.refs import parse
from tests.engine.identities import service_account_with_role


async def _secret(kube: client.ApiClient, namespace: str, name: str, data: dict[str, str]) -> None:
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    body = client.V1Secret(metadata=client.V1ObjectMeta(name=name), data=encoded)
    await client.CoreV1Api(kube).create_namespaced_secret(namespace, body)


def _gets() -> int:
    return sum(n for (_, method, _), n in rest.requests_sent.items() if method == "GET")


async def test_one_get_per_secret_whatever_the_keys(kube: client.ApiClient, namespace: str) -> None:
    await _secret(
        kube, namespace, "app", {"a": "MARK-a", "b": "MARK-b", "doc": '{"pw": "MARK-pw"}'}
    )
    await _secret(kube, namespace, "other", {"x": "MARK-x"})
    refs = [
        parse("ref+k8s://app/a"),
        parse("ref+k8s://app/b"),
        parse("ref+k8s://app/doc#/pw"),
        parse("ref+k8s://other/x"),
    ]
    backend = await open_backend("k8s", Credentials(), api=kube, namespace=namespace)
    before = _gets()
    got = await backend.get(refs)
    assert _gets() - before == 2
    assert [got[r] for r in refs] == ["MARK-a", "MARK-b", '{"pw": "MARK-pw"}', "MARK-x"]
    assert json.loads(got[refs[2]]) == {"pw": "MARK-pw"}


async def test_a_missing_secret_or_key_is_not_found(kube: client.ApiClient, namespace: str) -> None:
    await _secret(kube, namespace, "app", {"a": "MARK-a"})
    backend = KubeSecrets(kube, namespace)
    with pytest.raises(BackendError) as no_secret:
        await backend.get([parse("ref+k8s://nope/a")])
    assert no_secret.value.code == "NotFound"
    assert str(no_secret.value) == (
        f"k8s: NotFound reading 'Secret {namespace}/nope' (ref+k8s://nope/a): no such Secret"
    )
    with pytest.raises(BackendError) as no_key:
        await backend.get([parse("ref+k8s://app/a"), parse("ref+k8s://app/zz")])
    assert no_key.value.code == "NotFound"
    assert "the Secret has no key 'zz'" in str(no_key.value)
    assert "MARK" not in str(no_key.value)
    for text in ("ref+k8s://app", "ref+k8s://../x", "ref+k8s://app/a/b", "ref+k8s://A%2F/k"):
        with pytest.raises(BackendError) as invalid:
            await backend.get([parse(text)])
        assert invalid.value.code == "InvalidReference", text


async def test_rbac_refusal_is_access_denied_naming_the_secret(
    kube: client.ApiClient, namespace: str
) -> None:
    await _secret(kube, namespace, "allowed", {"k": "MARK-allowed"})
    await _secret(kube, namespace, "locked", {"k": "MARK-locked"})
    rule = client.V1PolicyRule(
        api_groups=[""], resources=["secrets"], verbs=["get"], resource_names=["allowed"]
    )
    await service_account_with_role(kube, namespace, "reader", [rule])
    async with impersonating(kube, f"system:serviceaccount:{namespace}:reader") as reader:
        backend = KubeSecrets(reader, namespace)
        allowed = parse("ref+k8s://allowed/k")
        assert await backend.get([allowed]) == {allowed: "MARK-allowed"}
        with pytest.raises(BackendError) as denied:
            await backend.get([allowed, parse("ref+k8s://locked/k")])
    assert denied.value.code == "AccessDenied"
    message = str(denied.value)
    assert message.startswith(
        f"k8s: AccessDenied reading 'Secret {namespace}/locked' (ref+k8s://locked/k): "
    )
    assert f"system:serviceaccount:{namespace}:reader" in message
    assert "MARK" not in message


async def test_set_creates_the_secret_then_merges_keys(
    kube: client.ApiClient, namespace: str
) -> None:
    backend = KubeSecrets(kube, namespace)
    first, second = parse("ref+k8s://written/one"), parse("ref+k8s://written/two")
    await backend.set(first, "MARK-one")
    await backend.set(second, "MARK-two")
    await backend.set(first, "MARK-one-again")
    assert await backend.get([first, second]) == {first: "MARK-one-again", second: "MARK-two"}
    with pytest.raises(BackendError) as pointer:
        await backend.set(parse("ref+k8s://written/one#/x"), "MARK-p")
    assert pointer.value.code == "Unsupported"


async def test_a_refused_write_names_the_secret(kube: client.ApiClient, namespace: str) -> None:
    rule = client.V1PolicyRule(api_groups=[""], resources=["secrets"], verbs=["get"])
    await service_account_with_role(kube, namespace, "viewer", [rule])
    async with impersonating(kube, f"system:serviceaccount:{namespace}:viewer") as viewer:
        with pytest.raises(BackendError) as denied:
            await KubeSecrets(viewer, namespace).set(parse("ref+k8s://w/k"), "MARK-w")
    assert denied.value.code == "AccessDenied"
    assert str(denied.value).startswith(f"k8s: AccessDenied writing 'Secret {namespace}/w'")
    assert "MARK" not in str(denied.value)


async def test_k8s_needs_a_client_and_a_namespace() -> None:
    with pytest.raises(BackendError) as refused:
        await open_backend("k8s", Credentials())
    assert refused.value.code == "NoNamespace"
