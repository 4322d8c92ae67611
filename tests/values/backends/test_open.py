"""open_backend: AWS clients from a Secret's keys read nothing of the controller's
environment; its environment and identity only with `ambient`; none at all is NoCredentials."""

from __future__ import annotations

from pathlib import Path

import pytest

from hack.testkit.secret_stores import Moto
from internal.values.backends import open_backend
from internal.values.backends.aws_secrets import AwsSecrets
from internal.values.backends.base import BackendError, Credentials
from internal.values.refs import parse


@pytest.mark.parametrize("name", ["awssecrets", "awsssm"])
async def test_no_keys_and_not_ambient_is_no_credentials(name: str) -> None:
    with pytest.raises(BackendError) as none:
        await open_backend(name, Credentials({"AWS_REGION": "eu-west-1"}, source="Secret a/b"))
    assert none.value.code == "NoCredentials"
    assert str(none.value).startswith(f"{name}: Secret a/b has no AWS_ACCESS_KEY_ID")
    with pytest.raises(BackendError) as half:
        await open_backend(name, Credentials({"AWS_ACCESS_KEY_ID": "AKID"}, source="Secret a/b"))
    assert str(half.value) == f"{name}: Secret a/b has no AWS_SECRET_ACCESS_KEY"


async def test_unknown_backend() -> None:
    with pytest.raises(BackendError) as unknown:
        await open_backend("vault", Credentials())
    assert unknown.value.code == "UnknownBackend"


def _controller_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, moto: Moto) -> None:
    """The controller's environment: moto's admin keys and endpoint, a profile with another
    region and endpoint. Set after the test kit's own clients are made (boto3's default
    session reads it once)."""
    config = tmp_path / "config"
    config.write_text("[profile ctl]\nregion = eu-west-3\nendpoint_url = http://127.0.0.1:9\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_PROFILE", "ctl")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-3")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto.admin["AWS_ACCESS_KEY_ID"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto.admin["AWS_SECRET_ACCESS_KEY"])


async def test_keys_from_a_secret_ignore_the_controllers_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, moto: Moto
) -> None:
    _controller_env(monkeypatch, tmp_path, moto)
    keys = {"AWS_ACCESS_KEY_ID": "AKIDFROMSECRET", "AWS_SECRET_ACCESS_KEY": "s"}
    backend = await open_backend("awssecrets", Credentials(keys))
    assert isinstance(backend, AwsSecrets)
    try:
        client = await backend.clients.client()
        assert client.meta.region_name == "us-east-1"
        assert client.meta.endpoint_url == "https://secretsmanager.us-east-1.amazonaws.com"
        frozen = await client._request_signer._credentials.get_frozen_credentials()
        assert frozen.access_key == "AKIDFROMSECRET"
    finally:
        await backend.close()
    with pytest.raises(BackendError) as none:
        await open_backend("awssecrets", Credentials({}))
    assert none.value.code == "NoCredentials"


async def test_ambient_uses_the_sdk_chain(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, moto: Moto
) -> None:
    moto.create_secret("app/ambient", "MARK-ambient")
    _controller_env(monkeypatch, tmp_path, moto)
    ref = parse("ref+awssecrets://app/ambient")
    backend = await open_backend("awssecrets", Credentials(ambient=True))
    assert isinstance(backend, AwsSecrets)
    try:
        assert (await backend.clients.client()).meta.region_name == "eu-west-3"
        with pytest.raises(BackendError) as elsewhere:
            await backend.get([ref])
        assert elsewhere.value.code == "NotFound", "moto keeps eu-west-3's secrets apart"
        eu = parse("ref+awssecrets://app/ambient?region=us-east-1")
        assert await backend.get([eu]) == {eu: "MARK-ambient"}
    finally:
        await backend.close()
