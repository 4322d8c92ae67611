"""Exceptions of the Helm engine, one class per error code of the shim.

Every exception from a call carries what the call produced before it failed: the storage writes
it observed (a failed upgrade may have stored a release), the op's partial result (the release
Helm returned, if any) and Helm's log lines for that call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from internal.helm.models import Observation, WireError


class HelmError(Exception):
    """Base of every engine error."""

    code: str = "Unknown"

    def __init__(
        self,
        message: str,
        *,
        op: str = "",
        field: str | None = None,
        observations: Sequence[Observation] = (),
        result: Any = None,
        logs: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.op = op
        self.field = field
        self.observations: list[Observation] = list(observations)
        self.result = result
        self.logs: list[str] = list(logs)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class ShimUnavailableError(HelmError):
    """The shim library is missing, unloadable or of another ABI version."""

    code = "ShimUnavailable"


class InputError(HelmError):
    """The request can never succeed as it is; `field` names what to fix."""


class InvalidRequestError(InputError):
    """Malformed JSON, an unknown option or an invalid value."""

    code = "InvalidRequest"


class ChartLoadError(InputError):
    """The chart archive or directory cannot be loaded."""

    code = "ChartLoad"


class PostRenderError(InputError):
    """A post-renderer is invalid (unparseable patch, unknown target kind) or failed."""

    code = "PostRender"


class RenderError(InputError):
    """A chart template failed to render."""

    code = "RenderFailed"


class ValidationError(InputError):
    """Values, manifests or the chart's kubeVersion failed validation."""

    code = "Validation"


class ClusterError(HelmError):
    """Talking to the Kubernetes API failed."""


class ClusterAccessError(ClusterError):
    """No usable cluster access: missing or bad kubeconfig, unreachable API server."""

    code = "ClusterAccess"


class ForbiddenError(ClusterError):
    """The API server refused the identity the call used."""

    code = "Forbidden"


class ConflictError(ClusterError):
    """A write conflicted with another field manager or a concurrent change."""

    code = "Conflict"


class ReleaseStateError(HelmError):
    """The stored release does not allow the action."""


class ReleaseNotFoundError(ReleaseStateError):
    code = "ReleaseNotFound"


class ReleaseExistsError(ReleaseStateError):
    code = "ReleaseExists"


class PendingOperationError(ReleaseStateError):
    """Another install, upgrade or rollback holds the release (a pending-* status)."""

    code = "PendingOperation"


class ActionError(HelmError):
    """The action ran and failed."""

    code = "ActionFailed"


class HookFailedError(ActionError):
    code = "HookFailed"


class WaitTimeoutError(ActionError):
    """The action timed out, usually waiting for resources or hooks."""

    code = "Timeout"


class ActionCancelledError(ActionError):
    """The caller cancelled the action; Helm saw the cancellation through its context."""

    code = "Cancelled"


class RegistryError(HelmError):
    """An OCI registry refused or failed a login, tags or pull call."""

    code = "Registry"


class RegistryAuthError(RegistryError):
    """The registry refused the credentials (401/403)."""

    code = "RegistryAuth"


class RegistryNotFoundError(RegistryError):
    """No such repository, tag, digest or layer."""

    code = "RegistryNotFound"


class SignatureError(HelmError):
    """An artifact's cosign signature is missing or does not hold: never treat it as verified."""


class NoSignatureError(SignatureError):
    """The artifact has no cosign signature (no `sha256-<hex>.sig` manifest, or one without
    signature layers)."""

    code = "NoSignature"


class InvalidSignatureError(SignatureError):
    """No signature verifies with any of the keys, or the one that does signs no cosign image
    claim."""

    code = "InvalidSignature"


class DigestMismatchError(SignatureError):
    """A signature verifies with a key but its claim names another manifest digest: a signature
    moved from another artifact."""

    code = "DigestMismatch"


class DependencyError(HelmError):
    """A chart's dependencies could not be resolved or downloaded."""

    code = "DependencyBuild"


class LockOutOfSyncError(DependencyError):
    """The chart's committed lock file does not match its dependencies: it needs a `helm
    dependency update`."""

    code = "LockOutOfSync"


class TooLargeError(InputError):
    """What was pulled is over the size asked for."""

    code = "TooLarge"


class InternalError(HelmError):
    """A bug in the shim, including a recovered Go panic; the logs hold the stack."""

    code = "Internal"


def _codes(base: type[HelmError]) -> dict[str, type[HelmError]]:
    """Every class below `base` that declares a code of its own, by code."""
    out: dict[str, type[HelmError]] = {}
    for cls in base.__subclasses__():
        if "code" in vars(cls):
            out[cls.code] = cls
        out.update(_codes(cls))
    return out


_BY_CODE = {code: cls for code, cls in _codes(HelmError).items() if cls is not ShimUnavailableError}
"""The exception class of each error code the shim answers with."""


def error_for(
    error: WireError,
    *,
    op: str,
    observations: Sequence[Observation] = (),
    result: Any = None,
) -> HelmError:
    """The exception for a wire error; an unknown code becomes a plain HelmError with it."""
    exc = _BY_CODE.get(error.code, HelmError)(
        error.message,
        op=op,
        field=error.field,
        observations=observations,
        result=result,
        logs=error.logs,
    )
    exc.code = error.code
    return exc
