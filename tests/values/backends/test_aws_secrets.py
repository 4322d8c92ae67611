"""awssecrets against moto with IAM enforced: batched reads, versions, binary secrets, errors
that name the secret and never its value, and writes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hack.testkit.secret_stores import Moto
from internal.values.backends import open_backend
from internal.values.backends.aws_secrets import AwsSecrets
from internal.values.backends.base import BackendError, Credentials
from internal.values.refs import parse
from tests.values.backends.conftest import api_calls

READ_ONLY_SINGLE: list[dict[str, Any]] = [
    {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"},
    {"Effect": "Deny", "Action": "secretsmanager:BatchGetSecretValue", "Resource": "*"},
]
DENIED: list[dict[str, Any]] = [
    {"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"},
    {
        "Effect": "Deny",
        "Action": ["secretsmanager:GetSecretValue", "secretsmanager:BatchGetSecretValue"],
        "Resource": "*",
    },
]


async def _backend(moto: Moto, keys: dict[str, str] | None = None) -> AwsSecrets:
    backend = await open_backend("awssecrets", Credentials(moto.credentials(keys), source="test"))
    assert isinstance(backend, AwsSecrets)
    return backend


async def test_25_secrets_are_two_batch_calls_and_pointers_share_a_fetch(moto: Moto) -> None:
    for i in range(25):
        moto.create_secret(f"app/s{i}", json.dumps({"user": f"u{i}", "password": f"MARK-{i}"}))
    refs = [parse(f"ref+awssecrets://app/s{i}#/password") for i in range(25)]
    refs.append(parse("ref+awssecrets://app/s0#/user"))
    refs.append(parse("ref+awssecrets://app/s0"))
    backend = await _backend(moto)
    calls = api_calls(backend.clients)
    try:
        got = await backend.get(refs)
    finally:
        await backend.close()
    assert calls == {"BatchGetSecretValue": 2}
    assert len(got) == 27
    assert json.loads(got[refs[3]])["password"] == "MARK-3"
    assert got[refs[25]] == got[refs[26]] == got[refs[0]]


async def test_version_stage_and_version_id_read_their_version_each(moto: Moto) -> None:
    moto.create_secret("app/db", "MARK-v1")
    first = moto.client("secretsmanager").describe_secret(SecretId="app/db")
    v1 = next(iter(first["VersionIdsToStages"]))
    moto.put_secret_version("app/db", "MARK-v2")
    moto.put_secret_version("app/db", "MARK-v3", ["AWSPENDING"])
    refs = [
        parse("ref+awssecrets://app/db"),
        parse("ref+awssecrets://app/db?version_stage=AWSPREVIOUS"),
        parse(f"ref+awssecrets://app/db?version_id={v1}"),
        parse("ref+awssecrets://app/db?version_stage=AWSPENDING"),
    ]
    backend = await _backend(moto)
    calls = api_calls(backend.clients)
    try:
        got = await backend.get(refs)
    finally:
        await backend.close()
    assert [got[r] for r in refs] == ["MARK-v2", "MARK-v1", "MARK-v1", "MARK-v3"]
    assert calls == {"BatchGetSecretValue": 1, "GetSecretValue": 3}


async def test_binary_secrets_by_arn_and_in_another_region(moto: Moto) -> None:
    arn = moto.create_secret("app/cert", b"MARK-binary")
    moto.client("secretsmanager", region="eu-west-1").create_secret(
        Name="app/eu", SecretString="MARK-eu"
    )
    by_arn = parse(f"ref+awssecrets://{arn}")
    by_partial_arn = parse(f"ref+awssecrets://{arn[:-7]}")
    eu = parse("ref+awssecrets://app/eu?region=eu-west-1")
    backend = await _backend(moto)
    try:
        got = await backend.get([by_arn, by_partial_arn, eu])
    finally:
        await backend.close()
    assert got == {by_arn: "MARK-binary", by_partial_arn: "MARK-binary", eu: "MARK-eu"}


async def test_a_missing_secret_is_not_found_naming_it(moto: Moto) -> None:
    moto.create_secret("app/here", "MARK-here")
    backend = await _backend(moto)
    try:
        with pytest.raises(BackendError) as missing:
            await backend.get(
                [parse("ref+awssecrets://app/here"), parse("ref+awssecrets://app/gone#/x")]
            )
    finally:
        await backend.close()
    assert missing.value.code == "NotFound"
    assert str(missing.value).startswith(
        "awssecrets: NotFound reading 'app/gone' (ref+awssecrets://app/gone#/x): "
    )
    assert "MARK" not in str(missing.value)


async def test_a_denied_secret_is_access_denied_naming_it(moto: Moto) -> None:
    moto.create_secret("prod/db", json.dumps({"password": "MARK-denied"}))
    keys = moto.user("denied", DENIED)
    backend = await _backend(moto, keys)
    calls = api_calls(backend.clients)
    try:
        with pytest.raises(BackendError) as denied:
            await backend.get([parse("ref+awssecrets://prod/db#/password")])
    finally:
        await backend.close()
    assert denied.value.code == "AccessDenied"
    message = str(denied.value)
    assert message.startswith(
        "awssecrets: AccessDenied reading 'prod/db' (ref+awssecrets://prod/db#/password): "
    )
    assert "user/denied is not authorized" in message
    assert "MARK" not in message
    # The batch was refused as a whole, then the secret alone.
    assert calls == {"BatchGetSecretValue": 1, "GetSecretValue": 1}


async def test_a_policy_without_batch_reads_falls_back_to_one_call_a_secret(moto: Moto) -> None:
    for i in range(3):
        moto.create_secret(f"app/one{i}", f"MARK-{i}")
    keys = moto.user("single", READ_ONLY_SINGLE)
    refs = [parse(f"ref+awssecrets://app/one{i}") for i in range(3)]
    backend = await _backend(moto, keys)
    calls = api_calls(backend.clients)
    try:
        got = await backend.get(refs)
    finally:
        await backend.close()
    assert [got[r] for r in refs] == ["MARK-0", "MARK-1", "MARK-2"]
    assert calls == {"BatchGetSecretValue": 1, "GetSecretValue": 3}


async def test_set_creates_then_updates_and_get_reads_it(moto: Moto) -> None:
    ref = parse("ref+awssecrets://app/written")
    backend = await _backend(moto)
    try:
        await backend.set(ref, "MARK-first")
        assert await backend.get([ref]) == {ref: "MARK-first"}
        await backend.set(ref, "MARK-second")
        assert await backend.get([ref]) == {ref: "MARK-second"}
        with pytest.raises(BackendError) as pointer:
            await backend.set(parse("ref+awssecrets://app/written#/k"), "MARK-third")
    finally:
        await backend.close()
    assert pointer.value.code == "Unsupported"
    assert "MARK" not in str(pointer.value)


async def test_a_denied_write_names_the_secret(moto: Moto) -> None:
    keys = moto.user(
        "nowrite",
        [
            {"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": ["secretsmanager:PutSecretValue", "secretsmanager:CreateSecret"],
                "Resource": "*",
            },
        ],
    )
    backend = await _backend(moto, keys)
    try:
        with pytest.raises(BackendError) as denied:
            await backend.set(parse("ref+awssecrets://app/locked"), "MARK-write")
    finally:
        await backend.close()
    assert denied.value.code == "AccessDenied"
    assert str(denied.value).startswith("awssecrets: AccessDenied writing 'app/locked'")
    assert "MARK" not in str(denied.value)
