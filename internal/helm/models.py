"""Typed requests and responses of the Helm engine shim.

Requests are validated here first (unknown fields, types and enums) and again by the shim, which
names the offending field by its wire path, e.g. `install.postRenderers[0].kustomize.patches[1]`.
On the wire every name is camelCase; in Python it is snake_case.
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
)
from pydantic.alias_generators import to_camel

WaitStrategy = Literal["watcher", "legacy", "hookOnly"]
PostRenderStrategy = Literal["combined", "separate", "nohooks"]
ServerSideApplyMode = Literal["auto", "true", "false"]
StorageDriver = Literal["secret", "configmap", "memory"]
DeletionPropagation = Literal["background", "foreground", "orphan"]
CRDsPolicy = Literal["Skip", "Create", "CreateReplace"]
"""What install and upgrade do with the chart's crds/ (and its subcharts'): Skip them, Create
the missing CRDs, or CreateReplace (also update the existing ones). CRDs are never deleted."""
Operation = Literal["create", "update", "delete"]


def go_duration(value: timedelta) -> str:
    """A timedelta as a Go duration string, to the millisecond: 300000ms."""
    return f"{round(value.total_seconds() * 1000)}ms"


def _text(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, Path):
        return str(value)
    return value


def _base64(value: Any) -> Any:
    if isinstance(value, str):
        return base64.b64decode(value, validate=True)
    return value


Base64Bytes = Annotated[bytes, BeforeValidator(_base64)]
Duration = Annotated[timedelta, PlainSerializer(go_duration, return_type=str)]
Text = Annotated[str, BeforeValidator(_text)]


class RequestModel(BaseModel):
    """A request object: camelCase on the wire, unknown fields refused, immutable."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        defer_build=True,
    )

    def wire(self) -> dict[str, Any]:
        """The JSON-ready form the shim expects."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class ResponseModel(BaseModel):
    """A response object: camelCase on the wire, immutable."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, defer_build=True
    )


# --- cluster access and storage ----------------------------------------------------------------


class ServiceAccountRef(RequestModel):
    namespace: str
    name: str


class ClusterTarget(RequestModel):
    """How to reach the Kubernetes API for a call: kubeconfig content or the in-cluster config.

    Calls with an equal target share discovery, the REST mapper, OpenAPI and connections, unless
    `cache` is False.
    """

    kubeconfig: Text | None = None
    context: str | None = None
    in_cluster: bool = False
    service_account: ServiceAccountRef | None = None
    qps: float | None = Field(default=None, ge=0)
    burst: int | None = Field(default=None, ge=0)
    cache: bool = True


class StorageSpec(RequestModel):
    """Helm's release storage: Secrets by default, in the release namespace by default."""

    driver: StorageDriver = "secret"
    namespace: str | None = None


class ObserveSpec(RequestModel):
    """What goes into the digests of the releases a call reports besides the releases: the OCI
    digest of the chart artifact, as Flux folds it in. `versions` gives known revisions the
    digest their snapshots carry; `oci_digest` goes to the rest, the revisions the call makes."""

    oci_digest: str | None = None
    versions: dict[str, str] = {}


class Envelope(RequestModel):
    """What every request holds besides the op's own options, which go under the op's name."""

    op: str
    cluster: ClusterTarget | None = None
    storage: StorageSpec | None = None
    observe: ObserveSpec | None = None


# --- post-rendering ------------------------------------------------------------------------------


class Selector(RequestModel):
    group: str | None = None
    version: str | None = None
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None
    label_selector: str | None = None
    annotation_selector: str | None = None


class Patch(RequestModel):
    """A strategic-merge or JSON6902 patch, in YAML or JSON."""

    patch: str
    target: Selector | None = None


class Image(RequestModel):
    name: str
    new_name: str | None = None
    new_tag: str | None = None
    digest: str | None = None


class Kustomize(RequestModel):
    patches: list[Patch] = []
    images: list[Image] = []


class PostRenderer(RequestModel):
    kustomize: Kustomize | None = None


class CommonMetadata(RequestModel):
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}


class Origin(RequestModel):
    """The object a release belongs to; becomes the `helm.toolkit.fluxcd.io/*` labels."""

    name: str
    namespace: str


class Owner(RequestModel):
    """The object a release's objects belong to, marked as operator-sdk's Helm operator marks
    them: one controller owner reference where Kubernetes allows it (a cluster-scoped owner, or a
    namespaced object in the owner's namespace) unless the object has `helm.sh/resource-policy:
    keep`; otherwise the `operator-sdk/primary-resource` (`<namespace>/<name>`) and
    `operator-sdk/primary-resource-type` (`<Kind>.<group>`) annotations. `namespace` is empty for
    a cluster-scoped owner. Install and upgrade only: render, with no cluster to tell which kinds
    are namespaced, refuses it."""

    api_version: str
    kind: str
    name: str
    namespace: str = ""
    uid: str


# --- requests ------------------------------------------------------------------------------------


class _ReleaseRef(RequestModel):
    release_name: str
    namespace: str


class _Rendering(_ReleaseRef):
    chart: Text
    values: dict[str, Any] = {}
    post_renderers: list[PostRenderer] = []
    common_metadata: CommonMetadata | None = None
    origin: Origin | None = None
    owner: Owner | None = None
    post_render_strategy: PostRenderStrategy = "combined"


class _Applying(_Rendering):
    """What install and upgrade share."""

    timeout: Duration = timedelta(minutes=5)
    wait_strategy: WaitStrategy = "watcher"
    wait_for_jobs: bool = False
    disable_hooks: bool = False
    disable_open_api_validation: bool = Field(default=False, alias="disableOpenAPIValidation")
    disable_schema_validation: bool = False
    force_conflicts: bool | None = None
    take_ownership: bool = False
    description: str | None = None
    labels: dict[str, str] = {}


class InstallRequest(_Applying):
    replace: bool = False
    create_namespace: bool = False
    crds: CRDsPolicy = "Create"
    server_side_apply: bool = True


class UpgradeRequest(_Applying):
    force: bool = False
    reset_values: bool = False
    reuse_values: bool = False
    reset_then_reuse_values: bool = False
    cleanup_on_fail: bool = False
    max_history: int = Field(default=0, ge=0)
    crds: CRDsPolicy = "Skip"
    server_side_apply: ServerSideApplyMode = "auto"


class RollbackRequest(_ReleaseRef):
    version: int = Field(default=0, ge=0)
    timeout: Duration = timedelta(minutes=5)
    wait_strategy: WaitStrategy = "watcher"
    wait_for_jobs: bool = False
    disable_hooks: bool = False
    force: bool = False
    cleanup_on_fail: bool = False
    max_history: int = Field(default=0, ge=0)
    server_side_apply: ServerSideApplyMode = "auto"
    force_conflicts: bool | None = None
    description: str | None = None


class UninstallRequest(_ReleaseRef):
    timeout: Duration = timedelta(minutes=5)
    wait_strategy: WaitStrategy = "watcher"
    disable_hooks: bool = False
    keep_history: bool = False
    deletion_propagation: DeletionPropagation = "background"
    ignore_not_found: bool = False
    description: str | None = None


class TestFilter(RequestModel):
    __test__ = False  # not a pytest class

    name: str
    exclude: bool = False


class TestRequest(_ReleaseRef):
    __test__ = False

    timeout: Duration = timedelta(minutes=5)
    filters: list[TestFilter] = []


class GetRequest(_ReleaseRef):
    """One stored revision: `version`, or the newest when 0. `all_values` also returns the
    values coalesced with the chart's defaults."""

    version: int = Field(default=0, ge=0)
    all_values: bool = False


class MarkFailedRequest(_ReleaseRef):
    """Record a stored revision (the newest when `version` is 0) as failed, with why."""

    version: int = Field(default=0, ge=0)
    description: str = Field(min_length=1)


class HistoryRequest(_ReleaseRef):
    max: int = Field(default=0, ge=0)


class RenderRequest(_Rendering):
    disable_hooks: bool = False
    disable_schema_validation: bool = False
    include_crds: bool = Field(default=False, alias="includeCRDs")
    is_upgrade: bool = False
    kube_version: str | None = None
    api_versions: list[str] = []


class LoadChartRequest(RequestModel):
    path: Text


class StatsRequest(RequestModel):
    """Stats takes no options."""


class SchemaRequest(RequestModel):
    """Schema takes no options."""


class DigestRequest(RequestModel):
    """The desired state of a HelmRelease whose digests Flux records: its values, and its
    `spec.postRenderers` and `spec.commonMetadata` as written (absent ones have no digest)."""

    values: dict[str, Any] = {}
    post_renderers: list[PostRenderer] | None = None
    common_metadata: CommonMetadata | None = None


class DigestResult(ResponseModel):
    """`sha256:<hex>` digests, or '' for an absent field."""

    values: str
    post_renderers: str
    common_metadata: str


class DiagnoseRequest(RequestModel):
    """Exercises the call machinery: `panic` panics in Go, `sleep` waits or until cancelled."""

    panic: str | None = None
    sleep: Duration | None = None


# --- registry ------------------------------------------------------------------------------------


class RegistryAccess(RequestModel):
    """How to reach an OCI registry. Credentials come only from here: the shim never reads the
    host's docker or helm configuration."""

    username: str | None = None
    password: str | None = None
    plain_http: bool = False
    """HTTP instead of HTTPS (Flux's `insecure`)."""
    insecure_skip_tls_verify: bool = False
    ca_pem: Text | None = None
    cert_pem: Text | None = None
    key_pem: Text | None = None
    timeout: Duration | None = None
    proxy_url: Text | None = None
    """The HTTP(S) proxy every request goes through, loopback hosts included; it may carry
    credentials (`http://user:pass@host:port`)."""


class LoginRequest(RegistryAccess):
    """Check that the registry accepts the credentials (Helm's registry login)."""

    host: str


class TagsRequest(RegistryAccess):
    """List the tags of `oci://host/repository`: Helm's strict semver tags, newest first, or
    every tag when `all`."""

    ref: str
    all: bool = False


class PullRequest(RegistryAccess):
    """Pull a chart (or, with `artifact`, one layer of any artifact) from `oci://host/repository`
    by tag or digest; the digest wins."""

    ref: str
    tag: str | None = None
    digest: str | None = None
    artifact: bool = False
    layer_media_type: str | None = None
    max_size: int | None = None
    dest: Text | None = None


class ResolveRequest(RegistryAccess):
    """The manifest digest `tag` of `oci://host/repository` points at, without pulling."""

    ref: str
    tag: str


class VerifyRequest(RegistryAccess):
    """Check a cosign key-based signature of the artifact `oci://host/repository@digest`.

    cosign keeps the signatures of a manifest digest in the manifest tagged `sha256-<hex>.sig` of
    the same repository. The check passes when one of its signatures verifies with one of
    `public_keys` (PEM, the content of cosign.pub: ECDSA, RSA or Ed25519) and its signed claim
    names `digest`. Anything else is an error: there is no unverified result."""

    ref: str
    """oci://host/repository, with neither tag nor digest."""
    digest: str
    """The artifact's manifest digest, sha256:<64 hex>."""
    public_keys: list[Text]


class DependencyRepository(RequestModel):
    """A chart repository dependencies name by URL, with the credentials and TLS of the
    HelmRepository that has that URL."""

    url: str
    username: str | None = None
    password: str | None = None
    pass_credentials: bool = False
    insecure_skip_tls_verify: bool = False
    ca_pem: Text | None = None
    cert_pem: Text | None = None
    key_pem: Text | None = None


class DependencyRegistry(RegistryAccess):
    """How to reach the OCI registry `host` (host[:port]) of oci:// dependencies."""

    host: str


class DependenciesRequest(RequestModel):
    """Helm's `helm dependency build` on the unpacked chart at `chart_path`: the locked versions
    when it has a Chart.lock (requirements.lock for apiVersion v1), else resolved as `helm
    dependency update` does, the lock written with Helm's digest. Only the repositories and
    registries given here have credentials; other URLs are fetched anonymously. `max_size`
    bounds every HTTP response of the call."""

    chart_path: Text
    repositories: list[DependencyRepository] = []
    registries: list[DependencyRegistry] = []
    max_size: int | None = None
    source_date_epoch: int | None = None
    timeout: Duration | None = None


# --- responses -----------------------------------------------------------------------------------


class HookRun(ResponseModel):
    phase: str
    started_at: datetime | None = None
    completed_at: datetime | None = None


class Hook(ResponseModel):
    name: str
    kind: str
    path: str
    manifest: str
    events: list[str]
    weight: int
    delete_policies: list[str]
    output_log_policies: list[str]
    last_run: HookRun | None = None


class ChartMeta(ResponseModel):
    name: str
    version: str
    app_version: str


class Release(ResponseModel):
    """A stored release, everything but the chart's templates and files."""

    name: str
    namespace: str
    version: int
    status: str
    description: str
    chart: ChartMeta
    config: dict[str, Any]
    manifest: str
    hooks: list[Hook]
    first_deployed: datetime | None = None
    last_deployed: datetime | None = None
    deleted: datetime | None = None
    notes: str
    labels: dict[str, str]
    apply_method: str
    rollback_revision: int
    digest: str
    """Flux's digest of the release record, with `oci_digest` folded in."""
    config_digest: str
    """Flux's digest of `config`."""
    oci_digest: str = ""


class Observation(ResponseModel):
    """One successful write to release storage, with the release as written."""

    operation: Operation
    key: str
    digest: str
    release: Release | None


class WireError(ResponseModel):
    code: str
    message: str
    field: str | None = None
    logs: list[str] = []


class Response(ResponseModel):
    """The shim's raw answer to one call."""

    ok: bool
    op: str
    error: WireError | None = None
    result: dict[str, Any] | None = None
    observations: list[Observation] = []
    logs: list[str] = []
    duration_ms: float = 0.0


class ActionResult(ResponseModel):
    release: Release | None = None


class UninstallResult(ResponseModel):
    release: Release | None = None
    info: str | None = None


class TestHookResult(ResponseModel):
    __test__ = False

    name: str
    kind: str
    phase: str
    started_at: datetime | None = None
    completed_at: datetime | None = None


class TestResult(ResponseModel):
    __test__ = False

    release: Release | None = None
    tests: list[TestHookResult] = []
    shutdown_error: str | None = None


class ReleaseResult(ResponseModel):
    release: Release
    computed_values: dict[str, Any] | None = None


class HistoryResult(ResponseModel):
    releases: list[Release]


class RenderResult(ResponseModel):
    manifest: str
    hooks: list[Hook]
    notes: str


class ChartDependency(ResponseModel):
    name: str
    version: str | None = None
    repository: str | None = None
    condition: str | None = None
    tags: list[str] | None = None
    alias: str | None = None


class Subchart(ResponseModel):
    name: str
    version: str
    app_version: str | None = None


class ObjectRef(ResponseModel):
    """One object of a chart's crds/ directories."""

    api_version: str
    kind: str
    name: str

    def wire(self) -> dict[str, str]:
        """{"apiVersion", "kind", "name"}, as on the wire."""
        return {"apiVersion": self.api_version, "kind": self.kind, "name": self.name}


class ChartInfo(ResponseModel):
    metadata: dict[str, Any]
    values: dict[str, Any]
    dependencies: list[ChartDependency]
    subcharts: list[Subchart]
    missing_dependencies: list[str]
    crds: list[str]
    """The files of crds/, subcharts' included."""
    crd_objects: list[ObjectRef]
    """Every object those files hold, in file order."""
    templates: list[str]
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")


class RequestResult(ResponseModel):
    code: str
    method: str
    host: str
    count: int


class RequestCounts(ResponseModel):
    discovery: int
    openapi: int
    other: int
    discovery_cache_hits: int
    by_result: list[RequestResult] = []


class Stats(ResponseModel):
    cached_targets: int
    inflight_calls: int
    goroutines: int
    heap_alloc_bytes: int
    heap_sys_bytes: int
    total_calls: int
    go_version: str = ""
    requests: RequestCounts


class DiagnoseResult(ResponseModel):
    slept_ms: float = 0.0


class VersionInfo(ResponseModel):
    abi: int
    go: str
    helm: str | None = None
    kustomize_api: str | None = None
    kyaml: str | None = None
    client_go: str | None = None
    field_manager: str | None = None


class LoginResult(ResponseModel):
    host: str


class TagsResult(ResponseModel):
    tags: list[str]


class PullResult(ResponseModel):
    ref: str
    """host/repository@<manifest digest>"""
    manifest_digest: str
    manifest: dict[str, Any]
    layer_digest: str
    layer_media_type: str
    layer_size: int
    chart: dict[str, Any] | None = None
    """The chart's metadata (Chart.yaml) from the manifest config, for charts."""
    data: Base64Bytes | None = None
    """The layer, unless it was written to `dest`."""
    path: str | None = None


class ResolveResult(ResponseModel):
    digest: str
    media_type: str
    size: int


class VerifyResult(ResponseModel):
    """A signature that verified; a failed check raises instead."""

    verified: bool
    key: int
    """The index in `public_keys` of the key the signature verified with."""
    signatures: int
    """How many signatures were checked, the one that verified included."""


class LockedDependency(ResponseModel):
    name: str
    version: str
    repository: str


class DependenciesResult(ResponseModel):
    locked: bool
    """A committed lock file was followed."""
    lock_file: str
    """Chart.lock, or requirements.lock for apiVersion v1 charts."""
    digest: str
    dependencies: list[LockedDependency]
    charts: list[str]
    """The file names under charts/ after the build."""


class EnvelopeSchema(ResponseModel):
    request: list[str]
    response: list[str]


class OpSchema(ResponseModel):
    offline: bool
    request: list[str]
    result: list[str]


class SchemaResult(ResponseModel):
    """The wire protocol as the shim's Go types define it: JSON field paths (`a.b` a nested
    field, `a[]` an array, `a{}` a map of objects) of the envelope, of each op's options and
    result, and of the version info; and the error codes."""

    abi: int
    envelope: EnvelopeSchema
    version: list[str]
    ops: dict[str, OpSchema]
    error_codes: list[str]
