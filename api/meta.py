"""Types shared by all kinds: the model base, object metadata, conditions, artifacts, references,
and the annotation, finalizer, condition and reason names Flux uses."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic.alias_generators import to_camel

from api.schema import OpenAPI, Resource, Rule

RECONCILE_REQUEST_ANNOTATION = "reconcile.fluxcd.io/requestedAt"
"""Any change of its value asks for a reconciliation outside the interval."""
FORCE_REQUEST_ANNOTATION = "reconcile.fluxcd.io/forceAt"
"""Asks for a one-off forced release; honoured when equal to the requestedAt value."""
RESET_REQUEST_ANNOTATION = "reconcile.fluxcd.io/resetAt"
"""Asks to reset the failure counters; honoured when equal to the requestedAt value."""
FINALIZER = "finalizers.fluxcd.io"
"""The finalizer the controller puts on every object it handles."""


class FluxModel(BaseModel):
    """Base of every model: snake_case in Python, Flux's camelCase on the wire, no unknown
    fields, and object-level rules checked after the fields."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        defer_build=True,
    )

    rules: ClassVar[tuple[Rule, ...]] = ()

    @model_validator(mode="after")
    def _check_rules(self) -> Self:
        for rule in type(self).rules:
            if not rule.check(self):
                raise ValueError(rule.message)
        return self

    def to_wire(self, *, exclude_unset: bool = True) -> dict[str, Any]:
        """The object as the API server would see it: camelCase keys, JSON values.

        By default only the fields that were set are dumped, so a parsed document comes back
        as written; with `exclude_unset=False`, every field that is not None."""
        return self.model_dump(
            mode="json", by_alias=True, exclude_unset=exclude_unset, exclude_none=not exclude_unset
        )


Int64 = Annotated[int, OpenAPI(format="int64")]
Time = Annotated[AwareDatetime, OpenAPI(replace={"type": "string", "format": "date-time"})]
"""An RFC 3339 timestamp with a zone, as Kubernetes writes them."""
FreeForm = Annotated[
    dict[str, Any], OpenAPI(replace={"x-kubernetes-preserve-unknown-fields": True})
]
"""Arbitrary JSON the API server keeps as given."""


def now() -> datetime:
    """The current time at Kubernetes' precision: whole seconds, UTC."""
    return datetime.now(UTC).replace(microsecond=0)


def wire_time(at: datetime) -> str:
    """A time as Kubernetes writes it: RFC 3339 in UTC, whole seconds, `Z`."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def timestamp() -> str:
    """The current time as Kubernetes writes it."""
    return wire_time(now())


Name = Annotated[str, StringConstraints(min_length=1, max_length=253)]
NamespaceName = Annotated[str, StringConstraints(min_length=1, max_length=63)]


class OwnerReference(FluxModel):
    api_version: str
    kind: str
    name: str
    uid: str
    controller: bool | None = None
    block_owner_deletion: bool | None = None


class ObjectMeta(FluxModel):
    """The parts of Kubernetes object metadata a client or the API server may write."""

    name: str | None = None
    generate_name: str | None = None
    namespace: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    creation_timestamp: Time | None = None
    deletion_timestamp: Time | None = None
    deletion_grace_period_seconds: int | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    owner_references: list[OwnerReference] | None = None
    finalizers: list[str] | None = None
    managed_fields: list[dict[str, Any]] | None = None
    self_link: str | None = None


class FluxObject(FluxModel):
    """Base of the top-level kinds. `apiVersion` and `kind` always appear on the wire."""

    resource: ClassVar[Resource]

    api_version: str
    """Version of the schema the object uses."""
    kind: str
    """Kind of the object."""
    metadata: ObjectMeta
    """Standard Kubernetes object metadata."""

    def model_post_init(self, context: Any, /) -> None:
        # Marked as set even when defaulted, so exclude_unset dumps never drop them.
        self.model_fields_set.update({"api_version", "kind"})


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class ConditionType(StrEnum):
    """Condition types every Flux kind may carry."""

    READY = "Ready"
    STALLED = "Stalled"
    RECONCILING = "Reconciling"
    HEALTHY = "Healthy"


class Reason(StrEnum):
    """Condition reasons shared by all Flux controllers."""

    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    PROGRESSING = "Progressing"
    PROGRESSING_WITH_RETRY = "ProgressingWithRetry"
    SUSPENDED = "Suspended"
    DEPENDENCY_NOT_READY = "DependencyNotReady"
    INVALID_PATH = "InvalidPath"
    INVALID_URL = "InvalidURL"
    INSECURE_CONNECTIONS_DISALLOWED = "InsecureConnectionsDisallowed"
    UNSUPPORTED_CONNECTION_TYPE = "UnsupportedConnectionType"
    PRUNE_FAILED = "PruneFailed"
    ARTIFACT_FAILED = "ArtifactFailed"
    BUILD_FAILED = "BuildFailed"
    HEALTH_CHECK_FAILED = "HealthCheckFailed"
    HEALTH_CHECK_CANCELED = "HealthCheckCanceled"
    RECONCILIATION_SUCCEEDED = "ReconciliationSucceeded"
    RECONCILIATION_FAILED = "ReconciliationFailed"
    INVALID_CEL_EXPRESSION = "InvalidCELExpression"
    FEATURE_GATE_DISABLED = "FeatureGateDisabled"
    ACCESS_DENIED = "AccessDenied"


_CONDITION_TYPE_PATTERN = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"
)
_REASON_PATTERN = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"


class Condition(FluxModel):
    """One aspect of the object's current state (the Kubernetes `metav1.Condition`)."""

    type: Annotated[str, StringConstraints(max_length=316, pattern=_CONDITION_TYPE_PATTERN)]
    """Kind of condition, in CamelCase, such as Ready."""
    status: ConditionStatus
    """True, False or Unknown."""
    observed_generation: Annotated[int, Field(ge=0), OpenAPI(format="int64")] | None = None
    """The metadata.generation the condition was set for."""
    last_transition_time: Time
    """When the status last changed."""
    reason: Annotated[
        str, StringConstraints(min_length=1, max_length=1024, pattern=_REASON_PATTERN)
    ]
    """Why the condition is in its status, as a CamelCase word."""
    message: Annotated[str, StringConstraints(max_length=32768)]
    """Details for humans; may be empty."""


_DIGEST_PATTERN = r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$"


class Artifact(FluxModel):
    """The output of a source reconciliation, as stored by the source controller."""

    path: str
    """Path of the file, relative to the root of the artifact storage."""
    url: str
    """HTTP address where the controller serves the file."""
    revision: str
    """Identifier in the origin system: a commit, a tag, a chart version, ..."""
    digest: Annotated[str, StringConstraints(pattern=_DIGEST_PATTERN)]
    """Digest of the file, as '<algorithm>:<checksum>'."""
    last_update_time: Time
    """When the artifact last changed."""
    size: Int64 | None = None
    """Size of the file in bytes."""
    metadata: dict[str, str] | None = None
    """Upstream information, such as OCI annotations."""


class LocalObjectReference(FluxModel):
    """An object in the same namespace, by name."""

    name: str
    """Name of the referent."""


class ReconcileStatus(FluxModel):
    """Status fields every Flux kind has."""

    observed_generation: Int64 | None = None
    """Last generation the controller observed."""
    last_handled_reconcile_at: str | None = None
    """Last requestedAt annotation value handled."""


class VerificationProvider(StrEnum):
    COSIGN = "cosign"
    NOTATION = "notation"


class SignatureVerification(FluxModel):
    """How to verify the signature of an OCI artifact: the fields every kind has."""

    provider: Annotated[VerificationProvider, OpenAPI(required=True)] = VerificationProvider.COSIGN
    """Signing technology: cosign or notation."""
    secret_ref: LocalObjectReference | None = None
    """Secret with the trusted public keys."""


class SecretKeyReference(FluxModel):
    """A Secret in the same namespace, and optionally one of its keys."""

    name: str
    """Name of the Secret."""
    key: str | None = None
    """Key in the Secret; each use has its own default."""


class NamespacedObjectKindReference(FluxModel):
    """A typed object in any namespace."""

    api_version: str | None = None
    """API version of the referent; the preferred version when empty."""
    kind: str
    """Kind of the referent."""
    name: str
    """Name of the referent."""
    namespace: str | None = None
    """Namespace of the referent; the referrer's namespace when empty."""


def _one_kubeconfig_source(ref: KubeConfigReference) -> bool:
    return ref.config_map_ref is not None or ref.secret_ref is not None


def _not_both_kubeconfig_sources(ref: KubeConfigReference) -> bool:
    return ref.config_map_ref is None or ref.secret_ref is None


_KUBECONFIG_MESSAGE = (
    "exactly one of spec.kubeConfig.configMapRef or spec.kubeConfig.secretRef must be specified"
)


class KubeConfigReference(FluxModel):
    """Where to find the credentials of a remote cluster."""

    rules = (
        Rule(
            "has(self.configMapRef) || has(self.secretRef)",
            _KUBECONFIG_MESSAGE,
            _one_kubeconfig_source,
        ),
        Rule(
            "!has(self.configMapRef) || !has(self.secretRef)",
            _KUBECONFIG_MESSAGE,
            _not_both_kubeconfig_sources,
        ),
    )

    config_map_ref: LocalObjectReference | None = None
    """A ConfigMap describing the cluster for secret-less authentication (keys provider,
    cluster, address, ca.crt, audiences, serviceAccountName). Excludes secretRef."""
    secret_ref: SecretKeyReference | None = None
    """A Secret holding a kubeconfig file under key, 'value' by default. Excludes
    configMapRef."""


class DependencyReference(FluxModel):
    """An object that must be ready first."""

    name: str
    """Name of the referent."""
    namespace: str | None = None
    """Namespace of the referent; the referrer's namespace when empty."""
    ready_expr: str | None = None
    """A CEL expression that decides readiness instead of the built-in check."""


class ValuesKind(StrEnum):
    SECRET = "Secret"
    CONFIG_MAP = "ConfigMap"


DEFAULT_VALUES_KEY = "values.yaml"


class ValuesReference(FluxModel):
    """A Secret or ConfigMap holding Helm values, and how to merge them."""

    kind: ValuesKind
    """Kind of the referent: Secret or ConfigMap."""
    name: Name
    """Name of the referent, in the referrer's namespace."""
    values_key: (
        Annotated[str, StringConstraints(max_length=253, pattern=r"^[\-._a-zA-Z0-9]+$")] | None
    ) = None
    """Data key holding the values, 'values.yaml' when empty."""
    target_path: (
        Annotated[
            str,
            StringConstraints(max_length=250, pattern=r"^([a-zA-Z0-9_\-.\\\/]|\[[0-9]{1,5}\])+$"),
        ]
        | None
    ) = None
    """Dot-notation path where a single value is merged; the root when empty."""
    optional: bool | None = None
    """Ignore the reference when the referent does not exist."""
    literal: bool | None = None
    """With targetPath, take the value as it is, without Helm's --set parsing."""

    def key(self) -> str:
        return self.values_key or DEFAULT_VALUES_KEY
