"""AWS Systems Manager Parameter Store: `ref+awsssm://<name>[?region=..]`.

The parameter's name is the path with one leading `/`, as vals reads it: `ref+awsssm:///app/db`
and `ref+awsssm://app/db` both name `/app/db` (a top-level name without a slash cannot be
written; an ARN is used as it is). Parameters are read with GetParameters, 10 names a call,
WithDecryption so a SecureString comes back as its plain text. Names the answer lists as
InvalidParameters do not exist (NotFound). A call refused as a whole (a policy that allows
ssm:GetParameter but not GetParameters, or denies one of the names) is retried name by name
with GetParameter, so the error names the parameter refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from internal.values.backends.aws_clients import AwsClients, client_error, sdk_error
from internal.values.backends.base import BackendError
from internal.values.backends.common import (
    ACCESS_DENIED,
    NOT_FOUND,
    bounded,
    by_secret,
    chunks,
    failure,
    first_failure,
    whole_secret,
    write_failure,
)
from internal.values.refs import Ref

NAME = "awsssm"
BATCH = 10

Secret = tuple[str, str, tuple[tuple[str, str], ...]]


def parameter_name(path: str) -> str:
    if path.startswith("arn:"):
        return path
    return "/" + path.lstrip("/")


def _named(asked: str, parameter: Mapping[str, Any]) -> bool:
    name = str(parameter.get("Name", ""))
    return asked in (name, parameter.get("ARN"), name + str(parameter.get("Selector", "")))


class AwsSsm:
    name = NAME

    def __init__(self, clients: AwsClients) -> None:
        self.clients = clients

    async def get(self, refs: Sequence[Ref]) -> dict[Ref, str]:
        by_region: dict[str | None, list[Ref]] = {}
        for ref in by_secret(refs).values():
            by_region.setdefault(ref.option("region"), []).append(ref)
        values: dict[Secret, str] = {}
        errors: dict[Secret, BackendError] = {}
        for region, group in by_region.items():
            for chunk in chunks(group, BATCH):
                await self._batch(region, chunk, values, errors)
        return first_failure(refs, values, errors)

    async def _batch(
        self,
        region: str | None,
        refs: Sequence[Ref],
        values: dict[Secret, str],
        errors: dict[Secret, BackendError],
    ) -> None:
        names = {ref.secret: parameter_name(ref.path) for ref in refs}
        try:
            client = await self.clients.client(region)
            asked = sorted(set(names.values()))
            answer = await client.get_parameters(Names=asked, WithDecryption=True)
        except ClientError as exc:
            code, message = client_error(exc)
            if code == ACCESS_DENIED:
                await self._singly(refs, values, errors)
                return
            for ref in refs:
                errors[ref.secret] = failure(ref, code, names[ref.secret], message)
            return
        except BotoCoreError as exc:
            code, message = sdk_error(exc)
            for ref in refs:
                errors[ref.secret] = failure(ref, code, names[ref.secret], message)
            return
        invalid = set(answer.get("InvalidParameters", []))
        for ref in refs:
            name = names[ref.secret]
            found = [p for p in answer.get("Parameters", []) if _named(name, p)]
            if found:
                values[ref.secret] = str(found[0].get("Value", ""))
            elif name in invalid:
                errors[ref.secret] = failure(ref, NOT_FOUND, name, "no such parameter")

    async def _singly(
        self, refs: Sequence[Ref], values: dict[Secret, str], errors: dict[Secret, BackendError]
    ) -> None:
        async def one(ref: Ref) -> None:
            name = parameter_name(ref.path)
            try:
                client = await self.clients.client(ref.option("region"))
                answer = await client.get_parameter(Name=name, WithDecryption=True)
                values[ref.secret] = str(answer["Parameter"].get("Value", ""))
            except ClientError as exc:
                code, message = client_error(exc)
                errors[ref.secret] = failure(ref, code, name, message)
            except BotoCoreError as exc:
                code, message = sdk_error(exc)
                errors[ref.secret] = failure(ref, code, name, message)

        await bounded(refs, one)

    async def set(self, ref: Ref, value: str) -> None:
        """Overwrite the parameter keeping its type; a new one is a SecureString."""
        name = parameter_name(ref.path)
        whole_secret(ref, name)
        try:
            client = await self.clients.client(ref.option("region"))
            try:
                current = await client.get_parameter(Name=name)
                kind = str(current["Parameter"].get("Type", "SecureString"))
            except ClientError as exc:
                if client_error(exc)[0] != NOT_FOUND:
                    raise
                kind = "SecureString"
            await client.put_parameter(Name=name, Value=value, Type=kind, Overwrite=True)
        except ClientError as exc:
            code, message = client_error(exc)
            raise write_failure(ref, code, name, message) from None
        except BotoCoreError as exc:
            code, message = sdk_error(exc)
            raise write_failure(ref, code, name, message) from None

    async def close(self) -> None:
        await self.clients.close()
