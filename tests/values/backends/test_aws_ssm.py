"""awsssm against moto with IAM enforced: GetParameters 10 names a call, SecureStrings
decrypted, both spellings of a name, errors that name the parameter and never its value."""

from __future__ import annotations

import pytest

from hack.testkit.secret_stores import Moto
from internal.values.backends import open_backend
from internal.values.backends.aws_ssm import AwsSsm, parameter_name
from internal.values.backends.base import BackendError, Credentials
from internal.values.refs import parse
from tests.values.backends.conftest import api_calls


async def _backend(moto: Moto, keys: dict[str, str] | None = None) -> AwsSsm:
    backend = await open_backend("awsssm", Credentials(moto.credentials(keys), source="test"))
    assert isinstance(backend, AwsSsm)
    return backend


def test_the_name_is_the_path_with_one_leading_slash() -> None:
    assert parameter_name("/app/db") == "/app/db"
    assert parameter_name("app/db") == "/app/db"
    assert parameter_name("//app/db") == "/app/db"
    arn = "arn:aws:ssm:us-east-1:123456789012:parameter/app/db"
    assert parameter_name(arn) == arn


async def test_25_parameters_are_three_calls_and_secure_strings_are_decrypted(moto: Moto) -> None:
    for i in range(25):
        moto.put_parameter(f"/app/p{i}", f"MARK-{i}", "SecureString" if i % 2 else "String")
    refs = [parse(f"ref+awsssm:///app/p{i}") for i in range(25)]
    refs.append(parse("ref+awsssm://app/p1"))
    backend = await _backend(moto)
    calls = api_calls(backend.clients)
    try:
        got = await backend.get(refs)
    finally:
        await backend.close()
    assert calls == {"GetParameters": 3}
    assert [got[r] for r in refs[:25]] == [f"MARK-{i}" for i in range(25)]
    assert got[refs[25]] == "MARK-1", "ref+awsssm://app/p1 names /app/p1"
    raw = moto.client("ssm").get_parameter(Name="/app/p1")["Parameter"]["Value"]
    assert raw != "MARK-1", "stored encrypted: only WithDecryption gives the text"


async def test_a_missing_parameter_is_not_found_naming_it(moto: Moto) -> None:
    moto.put_parameter("/app/here", "MARK-here")
    backend = await _backend(moto)
    try:
        with pytest.raises(BackendError) as missing:
            await backend.get([parse("ref+awsssm:///app/here"), parse("ref+awsssm://app/gone")])
    finally:
        await backend.close()
    assert missing.value.code == "NotFound"
    assert str(missing.value) == (
        "awsssm: NotFound reading '/app/gone' (ref+awsssm://app/gone): no such parameter"
    )


async def test_a_denied_parameter_is_access_denied_naming_it(moto: Moto) -> None:
    moto.put_parameter("/prod/db", "MARK-denied")
    keys = moto.user(
        "denied",
        [
            {"Effect": "Allow", "Action": "ssm:*", "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": ["ssm:GetParameters", "ssm:GetParameter"],
                "Resource": "*",
            },
        ],
    )
    backend = await _backend(moto, keys)
    calls = api_calls(backend.clients)
    try:
        with pytest.raises(BackendError) as denied:
            await backend.get([parse("ref+awsssm:///prod/db")])
    finally:
        await backend.close()
    assert denied.value.code == "AccessDenied"
    message = str(denied.value)
    assert message.startswith("awsssm: AccessDenied reading '/prod/db' (ref+awsssm:///prod/db): ")
    assert "user/denied is not authorized to perform: ssm:GetParameter" in message
    assert "MARK" not in message
    assert calls == {"GetParameters": 1, "GetParameter": 1}


async def test_a_policy_with_only_get_parameter_falls_back_name_by_name(moto: Moto) -> None:
    moto.put_parameter("/app/a", "MARK-a")
    moto.put_parameter("/app/b", "MARK-b")
    keys = moto.user(
        "single",
        [
            {"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "*"},
            {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"},
        ],
    )
    refs = [parse("ref+awsssm:///app/a"), parse("ref+awsssm:///app/b")]
    backend = await _backend(moto, keys)
    calls = api_calls(backend.clients)
    try:
        got = await backend.get(refs)
    finally:
        await backend.close()
    assert [got[r] for r in refs] == ["MARK-a", "MARK-b"]
    assert calls == {"GetParameters": 1, "GetParameter": 2}


async def test_set_keeps_the_type_and_makes_new_ones_secure(moto: Moto) -> None:
    moto.put_parameter("/app/plain", "MARK-old", "String")
    plain = parse("ref+awsssm:///app/plain")
    fresh = parse("ref+awsssm://app/fresh")
    backend = await _backend(moto)
    try:
        await backend.set(plain, "MARK-new")
        await backend.set(fresh, "MARK-fresh")
        assert await backend.get([plain, fresh]) == {plain: "MARK-new", fresh: "MARK-fresh"}
    finally:
        await backend.close()
    ssm = moto.client("ssm")
    assert ssm.get_parameter(Name="/app/plain")["Parameter"]["Type"] == "String"
    assert ssm.get_parameter(Name="/app/fresh")["Parameter"]["Type"] == "SecureString"
