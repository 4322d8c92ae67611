"""azurekv against the Key Vault stand-in (hack/testkit/secret_stores.py) with the real SDK:
the challenge flow and the token endpoint, one bounded GET per secret, versions, errors that
name the secret and never a value, writes, and the SDK's challenge check kept on."""

from __future__ import annotations

import json

import pytest

from hack.testkit.secret_stores import KeyVaultStandIn
from internal.values.backends import open_backend
from internal.values.backends.azure_kv import AzureKeyVault, open_azure_kv
from internal.values.backends.base import BackendError, Credentials
from internal.values.refs import parse


def _backend(vault: KeyVaultStandIn, **changes: str) -> AzureKeyVault:
    values = {**vault.credentials(), **changes}
    # The stand-in is served on 127.0.0.1, not under vault.azure.net: see its docstring.
    return open_azure_kv(Credentials(values, source="test"), verify_challenge_resource=False)


async def test_one_read_per_secret_at_most_eight_at_once(keyvault: KeyVaultStandIn) -> None:
    for i in range(20):
        keyvault.put(f"s{i}", json.dumps({"password": f"MARK-{i}"}))
    keyvault.delay = 0.05
    refs = [parse(f"ref+azurekv://s{i}#/password") for i in range(20)]
    refs.append(parse("ref+azurekv://s0"))
    backend = _backend(keyvault)
    try:
        got = await backend.get(refs)
    finally:
        await backend.close()
    assert keyvault.secret_reads() == 20
    assert keyvault.peak == 8
    assert json.loads(got[refs[7]]) == {"password": "MARK-7"}
    assert got[refs[20]] == got[refs[0]]
    tokens = [entry for entry in keyvault.log if entry[1].endswith("/oauth2/v2.0/token")]
    assert tokens == [("POST", f"/{keyvault.tenant}/oauth2/v2.0/token", 200)]


async def test_a_version_reads_that_version(keyvault: KeyVaultStandIn) -> None:
    first = keyvault.put("db", "MARK-v1")
    keyvault.put("db", "MARK-v2")
    latest, pinned = parse("ref+azurekv://db"), parse(f"ref+azurekv://db/{first}")
    backend = _backend(keyvault)
    try:
        assert await backend.get([latest, pinned]) == {latest: "MARK-v2", pinned: "MARK-v1"}
    finally:
        await backend.close()


async def test_missing_and_denied_secrets_name_the_secret(keyvault: KeyVaultStandIn) -> None:
    keyvault.put("locked", "MARK-locked")
    keyvault.put("here", "MARK-here")
    keyvault.denied.add("locked")
    backend = _backend(keyvault)
    try:
        with pytest.raises(BackendError) as missing:
            await backend.get([parse("ref+azurekv://here"), parse("ref+azurekv://gone")])
        with pytest.raises(BackendError) as denied:
            await backend.get([parse("ref+azurekv://locked#/x")])
        with pytest.raises(BackendError) as no_version:
            await backend.get([parse("ref+azurekv://here/0123")])
    finally:
        await backend.close()
    assert missing.value.code == "NotFound"
    assert str(missing.value) == (
        "azurekv: NotFound reading 'gone' (ref+azurekv://gone): "
        "A secret with (name/id) gone was not found in this key vault."
    )
    assert denied.value.code == "AccessDenied"
    assert str(denied.value) == (
        "azurekv: AccessDenied reading 'locked' (ref+azurekv://locked#/x): "
        "Caller is not authorized to perform action on resource."
    )
    assert no_version.value.code == "NotFound"
    for error in (missing, denied, no_version):
        assert "MARK" not in str(error.value)


async def test_set_then_get(keyvault: KeyVaultStandIn) -> None:
    ref = parse("ref+azurekv://written")
    backend = _backend(keyvault)
    try:
        await backend.set(ref, "MARK-first")
        await backend.set(ref, "MARK-second")
        assert await backend.get([ref]) == {ref: "MARK-second"}
        with pytest.raises(BackendError) as versioned:
            await backend.set(parse("ref+azurekv://written/abc"), "MARK-third")
    finally:
        await backend.close()
    assert [v.value for v in keyvault.store["written"]] == ["MARK-first", "MARK-second"]
    assert versioned.value.code == "Unsupported"


async def test_a_wrong_client_secret_fails_authentication_without_showing_it(
    keyvault: KeyVaultStandIn,
) -> None:
    keyvault.put("db", "MARK-db")
    backend = _backend(keyvault, AZURE_CLIENT_SECRET="MARK-wrong-client-secret")
    try:
        with pytest.raises(BackendError) as refused:
            await backend.get([parse("ref+azurekv://db")])
    finally:
        await backend.close()
    assert refused.value.code == "AuthenticationFailed"
    assert str(refused.value).startswith("azurekv: AuthenticationFailed reading 'db'")
    assert "MARK" not in str(refused.value)


async def test_open_backend_keeps_the_challenge_check(keyvault: KeyVaultStandIn) -> None:
    """A vault whose challenge names another domain's resource gets no token: the stand-in's
    names vault.azure.net, but it is served on 127.0.0.1."""
    keyvault.put("db", "MARK-db")
    backend = await open_backend("azurekv", Credentials(keyvault.credentials()))
    try:
        with pytest.raises(BackendError) as rejected:
            await backend.get([parse("ref+azurekv://db")])
    finally:
        await backend.close()
    assert rejected.value.code == "ChallengeRejected"
    assert not [entry for entry in keyvault.log if entry[0] == "POST"], "no token was asked for"


async def test_without_a_service_principal_or_ambient_there_are_no_credentials(
    keyvault: KeyVaultStandIn,
) -> None:
    url = {"AZURE_KEYVAULT_URL": keyvault.url}
    with pytest.raises(BackendError) as none:
        await open_backend("azurekv", Credentials(url, source="Secret apps/azure"))
    assert none.value.code == "NoCredentials"
    assert "Secret apps/azure has no AZURE_TENANT_ID" in str(none.value)
    partial = {**url, "AZURE_TENANT_ID": keyvault.tenant, "AZURE_CLIENT_ID": "x"}
    with pytest.raises(BackendError) as half:
        await open_backend("azurekv", Credentials(partial, source="Secret apps/azure"))
    assert half.value.code == "NoCredentials"
    assert str(half.value) == "azurekv: Secret apps/azure has no AZURE_CLIENT_SECRET"
    with pytest.raises(BackendError) as no_vault:
        await open_backend("azurekv", Credentials({}, ambient=False))
    assert no_vault.value.code == "NoVaultURL"
