"""spec.verify of a GitRepository: the signatures of the checked-out commit, its tag, or both,
checked on every reconcile before an artifact is stored, with the public keys of the Secret
(OpenPGP and SSH). A failure sets SourceVerified=False and Ready=False with source-controller's
reason, and the revision that failed gets no artifact. The artifact of the status stays, as in
Flux, only when it was itself verified; an artifact stored before verification was asked for is
withdrawn, so turning verification on never leaves an unverified artifact in use."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import api
from controller.sources import verify
from controller.sources.context import Context, Failure
from internal.kube import rest
from internal.kube.client import ApiException
from internal.kube.resources import SECRETS
from internal.sources import git, gitsignatures, gitverify

REASON = "VerificationError"


@dataclass(frozen=True)
class Verification:
    """What a passed (or not asked for) verification adds to a successful reconcile."""

    conditions: tuple[tuple[str, str, str, str], ...] = ()
    status: dict[str, Any] = field(default_factory=lambda: {"sourceVerificationMode": None})


async def check(
    ctx: Context,
    obj: api.GitRepository,
    client: git.Git,
    tree: Path,
    scratch: Path,
    label: str,
    commit: str,
) -> Verification:
    """Verify the checkout in `tree` as spec.verify asks; a Failure if it does not pass."""
    spec = obj.spec.verify
    if spec is None:
        return Verification()
    ns = obj.metadata.namespace or "default"
    withdraw = not _verified_before(obj)
    try:
        data = await _public_keys(ctx, ns, spec.secret_ref.name)
    except Failure as failure:
        failure.withdraw = withdraw
        raise
    keys = gitsignatures.TrustedKeys.from_secret(data)
    verifier = gitverify.Verifier(tree, scratch, keys, client.timeout)
    tag = gitsignatures.referencing_tag(obj.spec.ref, label)
    try:
        message = await gitverify.verify_checkout(verifier, client, spec.mode, tag, commit)
    except gitverify.Rejected as exc:
        raise Failure(
            verify.CONDITION, exc.reason, exc.message, stalled=exc.stalled, withdraw=withdraw
        ) from None
    mode = gitsignatures.effective_mode(spec.mode).value
    return Verification((verify.Verified(message).condition(),), {"sourceVerificationMode": mode})


def _verified_before(obj: api.GitRepository) -> bool:
    """Whether the artifact of the status passed verification when it was stored."""
    status = obj.status
    if status is None or status.artifact is None:
        return False
    return any(c.type == verify.CONDITION and c.status == "True" for c in status.conditions or [])


async def _public_keys(ctx: Context, namespace: str, name: str) -> dict[str, bytes]:
    try:
        secret = await rest.get_optional(ctx.kube, SECRETS.path(namespace, name))
    except ApiException as exc:
        raise Failure(verify.CONDITION, REASON, f"public keys secret error: {exc.reason}") from None
    if secret is None:
        raise Failure(
            verify.CONDITION, REASON, f'public keys secret error: secrets "{name}" not found'
        )
    return {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}
