"""AWS Secrets Manager: `ref+awssecrets://<secret id>[?version_stage=..|version_id=..][&region=..]`.

The path is the secret's name or ARN. References without a version option are read with
BatchGetSecretValue, 20 ids a call; one with `version_stage` or `version_id` (as vals and
helmfile spell them) with its own GetSecretValue. When a batch call is refused as a whole
(a policy that grants secretsmanager:GetSecretValue but not BatchGetSecretValue, or denies
one of its secrets), its secrets are read one by one, so the allowed ones still resolve and
the error names the one refused. A binary secret is read as UTF-8 text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from internal.values.backends.aws_clients import AwsClients, client_error, sdk_error
from internal.values.backends.base import BackendError
from internal.values.backends.common import (
    ACCESS_DENIED,
    INVALID_VALUE,
    NOT_FOUND,
    UNSUPPORTED,
    bounded,
    by_secret,
    chunks,
    failure,
    first_failure,
    our_code,
    whole_secret,
    write_failure,
)
from internal.values.refs import Ref

NAME = "awssecrets"
BATCH = 20
VERSION_OPTIONS = ("version_stage", "version_id")

Secret = tuple[str, str, tuple[tuple[str, str], ...]]


def _versioned(ref: Ref) -> bool:
    return any(ref.option(name) for name in VERSION_OPTIONS)


def _matches(asked: str, entry: Mapping[str, Any]) -> bool:
    """Whether a batch answer's entry is the secret asked for by name, full ARN or the ARN
    without its six-character suffix."""
    arn = str(entry.get("ARN", ""))
    if asked in (entry.get("Name"), arn):
        return True
    return arn.startswith(asked + "-") and len(arn) == len(asked) + 7


def _text(ref: Ref, answer: Mapping[str, Any]) -> str:
    if "SecretString" in answer:
        return str(answer["SecretString"])
    try:
        return bytes(answer.get("SecretBinary", b"")).decode("utf-8")
    except UnicodeDecodeError:
        raise failure(ref, INVALID_VALUE, ref.path, "the binary secret is not UTF-8") from None


class AwsSecrets:
    name = NAME

    def __init__(self, clients: AwsClients) -> None:
        self.clients = clients

    async def get(self, refs: Sequence[Ref]) -> dict[Ref, str]:
        wanted = by_secret(refs)
        values: dict[Secret, str] = {}
        errors: dict[Secret, BackendError] = {}
        plain: dict[str | None, list[Ref]] = {}
        versioned: list[Ref] = []
        for ref in wanted.values():
            if _versioned(ref):
                versioned.append(ref)
            else:
                plain.setdefault(ref.option("region"), []).append(ref)
        for region, group in plain.items():
            for chunk in chunks(group, BATCH):
                await self._batch(region, chunk, values, errors)
        await self._singly(versioned, values, errors)
        return first_failure(refs, values, errors)

    async def _batch(
        self,
        region: str | None,
        refs: Sequence[Ref],
        values: dict[Secret, str],
        errors: dict[Secret, BackendError],
    ) -> None:
        pending = list(refs)
        token: str | None = None
        while True:
            extra = {"NextToken": token} if token else {}
            try:
                client = await self.clients.client(region)
                answer = await client.batch_get_secret_value(
                    SecretIdList=list(dict.fromkeys(ref.path for ref in refs)), **extra
                )
            except ClientError as exc:
                code, message = client_error(exc)
                if code == ACCESS_DENIED:
                    await self._singly(pending, values, errors)
                    return
                for ref in pending:
                    errors[ref.secret] = failure(ref, code, ref.path, message)
                return
            except BotoCoreError as exc:
                code, message = sdk_error(exc)
                for ref in pending:
                    errors[ref.secret] = failure(ref, code, ref.path, message)
                return
            for entry in answer.get("SecretValues", []):
                for ref in [r for r in pending if _matches(r.path, entry)]:
                    try:
                        values[ref.secret] = _text(ref, entry)
                    except BackendError as exc:
                        errors[ref.secret] = exc
                    pending.remove(ref)
            for entry in answer.get("Errors", []):
                for ref in [r for r in pending if r.path == entry.get("SecretId")]:
                    code = our_code(str(entry.get("ErrorCode", "")))
                    errors[ref.secret] = failure(ref, code, ref.path, str(entry.get("Message", "")))
                    pending.remove(ref)
            token = answer.get("NextToken")
            if not token or not pending:
                return

    async def _singly(
        self, refs: Sequence[Ref], values: dict[Secret, str], errors: dict[Secret, BackendError]
    ) -> None:
        async def one(ref: Ref) -> None:
            try:
                values[ref.secret] = await self._one(ref)
            except BackendError as exc:
                errors[ref.secret] = exc

        await bounded(refs, one)

    async def _one(self, ref: Ref) -> str:
        options: dict[str, str] = {"SecretId": ref.path}
        if ref.option("version_id"):
            options["VersionId"] = str(ref.option("version_id"))
        if ref.option("version_stage"):
            options["VersionStage"] = str(ref.option("version_stage"))
        try:
            client = await self.clients.client(ref.option("region"))
            answer = await client.get_secret_value(**options)
        except ClientError as exc:
            code, message = client_error(exc)
            raise failure(ref, code, ref.path, message) from None
        except BotoCoreError as exc:
            code, message = sdk_error(exc)
            raise failure(ref, code, ref.path, message) from None
        return _text(ref, answer)

    async def set(self, ref: Ref, value: str) -> None:
        whole_secret(ref, ref.path)
        if ref.option("version_id"):
            raise write_failure(
                ref, UNSUPPORTED, ref.path, "a new version gets its own id; drop version_id"
            )
        stage = ref.option("version_stage")
        options: dict[str, Any] = {"SecretId": ref.path, "SecretString": value}
        if stage:
            options["VersionStages"] = [stage]
        try:
            client = await self.clients.client(ref.option("region"))
            try:
                await client.put_secret_value(**options)
            except ClientError as exc:
                if client_error(exc)[0] != NOT_FOUND or stage or ref.path.startswith("arn:"):
                    raise
                await client.create_secret(Name=ref.path, SecretString=value)
        except ClientError as exc:
            code, message = client_error(exc)
            raise write_failure(ref, code, ref.path, message) from None
        except BotoCoreError as exc:
            code, message = sdk_error(exc)
            raise write_failure(ref, code, ref.path, message) from None

    async def close(self) -> None:
        await self.clients.close()
