"""cosign signatures of OCI artifacts, checked with the public keys of `spec.verify.secretRef`
(every key of the Secret whose name ends in `.pub`, as source-controller reads them) before an
artifact is stored. Verification fails closed: a signature that is missing, made with another
key, or made for another digest leaves the source with no artifact and SourceVerified=False.
Keyless verification and notation cannot be done here and stall the source instead (see
controller/sources/unsupported.py)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from controller.sources import oci
from controller.sources.context import Context, Failure
from internal.helm.errors import HelmError
from internal.helm.models import RegistryAccess, VerifyRequest
from internal.kube import rest

CONDITION = "SourceVerified"
REASON = "VerificationError"
PROVIDER = "cosign"


@dataclass(frozen=True)
class Verified:
    """The condition a verified artifact's status carries."""

    message: str

    def condition(self) -> tuple[str, str, str, str]:
        return (CONDITION, "True", "Succeeded", self.message)


def failure(message: str) -> Failure:
    return Failure(CONDITION, REASON, message, withdraw=True)


def wanted(verify: Any) -> bool:
    """Whether the spec asks for a check this module does: cosign with public keys, no
    transparency log or timestamp authority (a trusted root) to check against."""
    return (
        verify is not None
        and (verify.provider or PROVIDER) == PROVIDER
        and verify.secret_ref is not None
        and getattr(verify, "trusted_root_secret_ref", None) is None
    )


async def public_keys(ctx: Context, namespace: str, verify: Any) -> list[str]:
    name = verify.secret_ref.name
    secret = await _read_secret(ctx, namespace, name)
    keys = [
        base64.b64decode(value).decode("utf-8", "replace")
        for key, value in sorted((secret.get("data") or {}).items())
        if key.endswith(".pub")
    ]
    if not keys:
        raise failure(
            f"failed to verify the signature using provider '{PROVIDER}': no public keys "
            f"(keys ending in .pub) in Secret '{namespace}/{name}'"
        )
    return keys


async def _read_secret(ctx: Context, namespace: str, name: str) -> dict[str, Any]:
    secret = await rest.get_optional(ctx.kube, f"/api/v1/namespaces/{namespace}/secrets/{name}")
    if secret is None:
        raise failure(
            f"failed to verify the signature using provider '{PROVIDER}': "
            f"Secret '{namespace}/{name}' not found"
        )
    return secret


async def check(
    ctx: Context,
    namespace: str,
    verify: Any,
    ref: str,
    digest: str,
    access: RegistryAccess,
) -> None:
    """Verify the signature of `ref@digest`; a Failure (SourceVerified=False) if it does not."""
    keys = await public_keys(ctx, namespace, verify)
    try:
        await ctx.engine().verify(
            VerifyRequest(ref=ref, digest=digest, public_keys=keys, **oci.access_fields(access))
        )
    except HelmError as exc:
        raise failure(
            f"failed to verify the signature using provider '{PROVIDER}': "
            f"{oci.message_of(exc, access)}"
        ) from None
