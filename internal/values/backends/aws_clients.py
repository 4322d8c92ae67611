"""aiobotocore clients for the AWS backends, made from a release's credentials: explicit keys
from a Secret, or, only when `ambient`, the SDK's default chain (environment, web identity,
instance role). Without `ambient` the session reads nothing of the controller's: no
environment variables, no ~/.aws files, no configured endpoints."""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextlib import AsyncExitStack
from typing import Any

from aiobotocore.config import AioConfig  # type: ignore[import-untyped]
from aiobotocore.session import AioSession  # type: ignore[import-untyped]
from botocore.configprovider import (  # type: ignore[import-untyped]
    BOTOCORE_DEFAUT_SESSION_VARIABLES,
)
from botocore.exceptions import (  # type: ignore[import-untyped]
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
)

from internal.values.backends.base import BackendError, Credentials
from internal.values.backends.common import (
    ACCESS_DENIED,
    NO_CREDENTIALS,
    NOT_FOUND,
    our_code,
    plain_message,
)

DEFAULT_REGION = "us-east-1"
_FILES = {"config_file", "credentials_file"}


def isolated_session() -> AioSession:
    """A session whose every setting comes from its arguments: each variable loses its
    environment name and config-file name, and the files are the null device."""
    variables = {
        name: (None, None, os.devnull if name in _FILES else default, convert)
        for name, (_, _, default, convert) in BOTOCORE_DEFAUT_SESSION_VARIABLES.items()
    }
    variables["ignore_configured_endpoint_urls"] = (None, None, True, None)
    return AioSession(session_vars=variables)


class AwsClients:
    """Clients of one service, made on first use, one per region (a ref's `?region=`)."""

    def __init__(self, service: str, session: AioSession, options: Mapping[str, Any]) -> None:
        self.service = service
        self.session = session
        """Exposed so that tests can register botocore event hooks before the first call."""
        self._options = dict(options)
        self._clients: dict[str, Any] = {}
        self._stack = AsyncExitStack()

    @property
    def default_region(self) -> str:
        return str(self._options["region_name"])

    async def client(self, region: str | None = None) -> Any:
        region = region or self.default_region
        if region not in self._clients:
            options = {**self._options, "region_name": region}
            made = self.session.create_client(self.service, **options)
            self._clients[region] = await self._stack.enter_async_context(made)
        return self._clients[region]

    async def close(self) -> None:
        self._clients.clear()
        await self._stack.aclose()


def aws_clients(service: str, backend: str, credentials: Credentials) -> AwsClients:
    """The clients `credentials` allow; BackendError NoCredentials when they allow none."""
    values = credentials.values
    key = values.get("AWS_ACCESS_KEY_ID", "")
    secret = values.get("AWS_SECRET_ACCESS_KEY", "")
    where = credentials.source or "the credentials"
    if bool(key) != bool(secret):
        missing = "AWS_SECRET_ACCESS_KEY" if key else "AWS_ACCESS_KEY_ID"
        raise BackendError(None, NO_CREDENTIALS, f"{backend}: {where} has no {missing}")
    if not key and not credentials.ambient:
        raise BackendError(
            None,
            NO_CREDENTIALS,
            f"{backend}: {where} has no AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and the "
            "controller's own identity is not allowed here",
        )
    session = AioSession() if credentials.ambient else isolated_session()
    options: dict[str, Any] = {
        "config": AioConfig(
            connect_timeout=10, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"}
        ),
        "region_name": values.get("AWS_REGION")
        or (session.get_config_variable("region") if credentials.ambient else None)
        or DEFAULT_REGION,
    }
    if key:
        options["aws_access_key_id"] = key
        options["aws_secret_access_key"] = secret
        options["aws_session_token"] = values.get("AWS_SESSION_TOKEN") or None
    if values.get("AWS_ENDPOINT_URL"):
        options["endpoint_url"] = values["AWS_ENDPOINT_URL"]
    return AwsClients(service, session, options)


def client_error(exc: ClientError) -> tuple[str, str]:
    """(our code, the store's message) of an API error. An error body botocore could not
    parse leaves the HTTP status as the code; 403 and 404 then still mean what they say."""
    error: Mapping[str, Any] = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    raw = str(error.get("Message", ""))
    message = plain_message(raw)
    if code.isdigit():
        code = {"403": ACCESS_DENIED, "404": NOT_FOUND}.get(code, f"HTTP{code}")
    return our_code(code), message


def sdk_error(exc: BotoCoreError) -> tuple[str, str]:
    """(code, message) of a failure before or around the call (no answer, no credentials)."""
    if isinstance(exc, NoCredentialsError):
        return NO_CREDENTIALS, "the SDK's default chain found no credentials"
    if isinstance(exc, NoRegionError):
        return "NoRegion", str(exc)
    return type(exc).__name__, str(exc)
