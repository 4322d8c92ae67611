"""The Helm engine: Helm v4 SDK actions through a Go shim (`internal/helm/shim`), driven from
async Python. `Engine` runs the actions; `models` types the requests and responses; `errors` maps
the shim's error codes to exceptions; `library` finds and loads `libhelmward.so`."""

from internal.helm.engine import Engine, Outcome
from internal.helm.errors import (
    ActionCancelledError,
    ActionError,
    ChartLoadError,
    ClusterAccessError,
    ClusterError,
    ConflictError,
    ForbiddenError,
    HelmError,
    HookFailedError,
    InputError,
    InternalError,
    InvalidRequestError,
    PendingOperationError,
    PostRenderError,
    ReleaseExistsError,
    ReleaseNotFoundError,
    ReleaseStateError,
    RenderError,
    ShimUnavailableError,
    ValidationError,
    WaitTimeoutError,
)

__all__ = [
    "ActionCancelledError",
    "ActionError",
    "ChartLoadError",
    "ClusterAccessError",
    "ClusterError",
    "ConflictError",
    "Engine",
    "ForbiddenError",
    "HelmError",
    "HookFailedError",
    "InputError",
    "InternalError",
    "InvalidRequestError",
    "Outcome",
    "PendingOperationError",
    "PostRenderError",
    "ReleaseExistsError",
    "ReleaseNotFoundError",
    "ReleaseStateError",
    "RenderError",
    "ShimUnavailableError",
    "ValidationError",
    "WaitTimeoutError",
]
