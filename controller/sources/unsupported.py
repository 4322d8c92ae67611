"""Spec fields Helmward parses but cannot act on. Each one set makes the source say so, as
Ready=False and Stalled=True, instead of being ignored: one reason per kind of gap, a message
naming every field path, and no artifact (the current one is withdrawn), so nothing builds on
an artifact that does not honour the spec. A requested signature verification fails closed.

Fields left out of this table are acted on, or ignoring them is what Flux does too;
docs/fields.md says which, field by field."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from api.sources import SourceReason
from controller.sources import verify
from controller.sources.context import Failure
from internal.sources import git

VERIFICATION = SourceReason.VERIFICATION_NOT_SUPPORTED.value
PROVIDER = SourceReason.PROVIDER_NOT_SUPPORTED.value
UNSUPPORTED = SourceReason.UNSUPPORTED_FIELD.value

_SEVERITY = (VERIFICATION, PROVIDER, UNSUPPORTED)


@dataclass(frozen=True)
class Gap:
    kinds: tuple[str, ...]
    path: str
    reason: str
    what: str
    """What the field asks for, as the message says it."""
    applies: Callable[[Any], bool]
    """Whether the spec asks for it."""


def _set(attr: str) -> Callable[[Any], bool]:
    return lambda spec: bool(getattr(spec, attr))


def _provider_other_than(*supported: str) -> Callable[[Any], bool]:
    return lambda spec: spec.provider not in (None, *supported)


GAPS: tuple[Gap, ...] = (
    Gap(
        ("HelmChart", "OCIRepository"),
        "spec.verify",
        VERIFICATION,
        "keyless or notation signature verification, or a trusted root: only cosign with "
        "spec.verify.secretRef public keys is verified",
        lambda spec: spec.verify is not None and not verify.wanted(spec.verify),
    ),
    Gap(
        ("HelmRepository",),
        "spec.provider",
        PROVIDER,
        "cloud provider authentication to an OCI registry",
        lambda spec: spec.type == "oci" and spec.provider not in (None, "generic"),
    ),
    Gap(
        ("OCIRepository",),
        "spec.provider",
        PROVIDER,
        "cloud provider authentication",
        _provider_other_than("generic"),
    ),
    Gap(
        ("GitRepository",),
        "spec.provider",
        PROVIDER,
        "cloud provider or GitHub App authentication",
        _provider_other_than("generic"),
    ),
    Gap(
        ("GitRepository",),
        "spec.serviceAccountName",
        PROVIDER,
        "workload identity",
        _set("service_account_name"),
    ),
    Gap(
        ("Bucket",),
        "spec.provider",
        PROVIDER,
        "the gcp and azure object stores",
        _provider_other_than("generic", "aws"),
    ),
    Gap(
        ("Bucket",),
        "spec.sts",
        PROVIDER,
        "temporary credentials from a security token service",
        lambda spec: spec.sts is not None,
    ),
    Gap(
        ("Bucket",),
        "spec.serviceAccountName",
        PROVIDER,
        "workload identity",
        _set("service_account_name"),
    ),
    Gap(
        ("OCIRepository",),
        "spec.serviceAccountName",
        UNSUPPORTED,
        "the image pull secrets of a service account",
        _set("service_account_name"),
    ),
    Gap(
        ("GitRepository",),
        "spec.proxySecretRef",
        UNSUPPORTED,
        "a proxy for an SSH URL (only HTTP(S) URLs go through one)",
        lambda spec: spec.proxy_secret_ref is not None and git.is_ssh(spec.url),
    ),
)


def gaps(kind: str, spec: Any) -> list[Gap]:
    """The gaps the spec of a `kind` falls into, the most severe first."""
    found = [g for g in GAPS if kind in g.kinds and g.applies(spec)]
    return sorted(found, key=lambda g: _SEVERITY.index(g.reason))


def check(kind: str, spec: Any, *, subject: str = "") -> None:
    """Raise the Failure that says which fields of the spec Helmward cannot act on, if any;
    `subject` names the object the spec is of when it is not the one reconciled (the static
    OCI HelmRepository of a HelmChart)."""
    found = gaps(kind, spec)
    if not found:
        return
    fields = "; ".join(f"{g.path} ({g.what})" for g in found)
    if subject:
        fields = f"{subject}: {fields}"
    consequence = (
        "no artifact is produced, so nothing unverified is used"
        if found[0].reason == VERIFICATION
        else "no artifact is produced"
    )
    raise Failure(
        "FetchFailed",
        found[0].reason,
        f"not supported by Helmward: {fields}; {consequence}",
        stalled=True,
        withdraw=True,
    )
