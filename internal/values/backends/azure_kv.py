"""Azure Key Vault secrets: `ref+azurekv://<secret-name>[/<version>]`, in the vault named by the
credentials' AZURE_KEYVAULT_URL, through azure-keyvault-secrets with azure-identity.

Key Vault has no batch read: each distinct secret is one GET, at most eight in flight at
once. The identity is a service principal (AZURE_TENANT_ID, AZURE_CLIENT_ID,
AZURE_CLIENT_SECRET; AZURE_AUTHORITY_HOST for another cloud's Entra endpoint) or, only with
`ambient`, azure-identity's default chain (environment, workload identity, managed identity).
AZURE_CA_FILE, a PEM bundle, replaces the system's trust for the vault and the authority
(a private CA; the tests' stand-in vault). The SDK's check that the vault's challenge names a
resource of the vault's own domain stays on, except where a caller turns it off explicitly
(only the stand-in, served on 127.0.0.1, needs that).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
)
from azure.identity.aio import ClientSecretCredential, DefaultAzureCredential
from azure.keyvault.secrets.aio import SecretClient

from internal.values.backends.base import BackendError, Credentials
from internal.values.backends.common import (
    ACCESS_DENIED,
    NO_CREDENTIALS,
    NOT_FOUND,
    bounded,
    by_secret,
    failure,
    first_failure,
    our_code,
    whole_secret,
    write_failure,
)
from internal.values.refs import Ref

NAME = "azurekv"
SERVICE_PRINCIPAL = ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET")

Secret = tuple[str, str, tuple[tuple[str, str], ...]]


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def azure_error(exc: Exception) -> tuple[str, str]:
    """(our code, the service's message) of a failed call."""
    if isinstance(exc, ClientAuthenticationError):
        return "AuthenticationFailed", _first_line(str(exc.message))
    if isinstance(exc, HttpResponseError):
        detail = exc.error.message if exc.error and exc.error.message else exc.message
        if isinstance(exc, ResourceNotFoundError) or exc.status_code == 404:
            return NOT_FOUND, _first_line(str(detail))
        if exc.status_code == 403:
            return ACCESS_DENIED, _first_line(str(detail))
        code = exc.error.code if exc.error and exc.error.code else f"HTTP{exc.status_code}"
        return our_code(str(code)), _first_line(str(detail))
    if isinstance(exc, AzureError):
        return type(exc).__name__, _first_line(str(exc.message))
    # The SDK's challenge check raises ValueError for a vault whose challenge names another
    # domain's resource: a token for it must not be sent there.
    return "ChallengeRejected", _first_line(str(exc))


class AzureKeyVault:
    name = NAME

    def __init__(self, client: SecretClient, credential: AsyncTokenCredential) -> None:
        self.client = client
        self.credential = credential

    @staticmethod
    def _where(ref: Ref) -> tuple[str, str | None]:
        name, _, version = ref.path.strip("/").partition("/")
        if "/" in version:
            raise failure(
                ref, "InvalidReference", ref.path, "expected ref+azurekv://<name>[/<version>]"
            )
        return name, version or None

    async def get(self, refs: Sequence[Ref]) -> dict[Ref, str]:
        values: dict[Secret, str] = {}
        errors: dict[Secret, BackendError] = {}

        async def one(ref: Ref) -> None:
            try:
                name, version = self._where(ref)
                secret = await self.client.get_secret(name, version)
            except BackendError as exc:
                errors[ref.secret] = exc
                return
            except (AzureError, ValueError) as exc:
                code, message = azure_error(exc)
                errors[ref.secret] = failure(ref, code, ref.path, message)
                return
            values[ref.secret] = secret.value or ""

        wanted = by_secret(refs).values()
        await bounded(wanted, one)
        return first_failure(refs, values, errors)

    async def set(self, ref: Ref, value: str) -> None:
        name, version = self._where(ref)
        whole_secret(ref, name)
        if version:
            raise write_failure(
                ref, "Unsupported", ref.path, "a write makes a new version; drop the version"
            )
        try:
            await self.client.set_secret(name, value)
        except (AzureError, ValueError) as exc:
            code, message = azure_error(exc)
            raise write_failure(ref, code, name, message) from None

    async def close(self) -> None:
        await self.client.close()
        await self.credential.close()


def open_azure_kv(
    credentials: Credentials, *, verify_challenge_resource: bool = True
) -> AzureKeyVault:
    """The backend `credentials` allow; BackendError NoCredentials when they allow none."""
    values = credentials.values
    where = credentials.source or "the credentials"
    vault = values.get("AZURE_KEYVAULT_URL") or (
        os.environ.get("AZURE_KEYVAULT_URL", "") if credentials.ambient else ""
    )
    if not vault:
        raise BackendError(None, "NoVaultURL", f"{NAME}: {where} has no AZURE_KEYVAULT_URL")
    transport: dict[str, Any] = {}
    if values.get("AZURE_CA_FILE"):
        transport["connection_verify"] = values["AZURE_CA_FILE"]
    given = [key for key in SERVICE_PRINCIPAL if values.get(key)]
    credential: AsyncTokenCredential
    if given:
        missing = [key for key in SERVICE_PRINCIPAL if key not in given]
        if missing:
            raise BackendError(None, NO_CREDENTIALS, f"{NAME}: {where} has no {', '.join(missing)}")
        authority = values.get("AZURE_AUTHORITY_HOST")
        credential = ClientSecretCredential(
            values["AZURE_TENANT_ID"],
            values["AZURE_CLIENT_ID"],
            values["AZURE_CLIENT_SECRET"],
            **({"authority": authority} if authority else {}),
            **transport,
        )
    elif credentials.ambient:
        credential = DefaultAzureCredential(**transport)
    else:
        raise BackendError(
            None,
            NO_CREDENTIALS,
            f"{NAME}: {where} has no {', '.join(SERVICE_PRINCIPAL)}, and the controller's own "
            "identity is not allowed here",
        )
    client = SecretClient(
        vault, credential, verify_challenge_resource=verify_challenge_resource, **transport
    )
    return AzureKeyVault(client, credential)
