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


class _Request(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )

    def wire(self) -> dict[str, Any]:
        """The JSON-ready form the shim expects."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class _Response(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


# --- cluster access and storage ----------------------------------------------------------------


class ServiceAccountRef(_Request):
    namespace: str
    name: str


class ClusterTarget(_Request):
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


class StorageSpec(_Request):
    """Helm's release storage: Secrets by default, in the release namespace by default."""

    driver: StorageDriver = "secret"
    namespace: str | None = None


# --- post-rendering ------------------------------------------------------------------------------


class Selector(_Request):
    group: str | None = None
    version: str | None = None
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None
    label_selector: str | None = None
    annotation_selector: str | None = None


class Patch(_Request):
    """A strategic-merge or JSON6902 patch, in YAML or JSON."""

    patch: str
    target: Selector | None = None


class Image(_Request):
    name: str
    new_name: str | None = None
    new_tag: str | None = None
    digest: str | None = None


class Kustomize(_Request):
    patches: list[Patch] = []
    images: list[Image] = []


class PostRenderer(_Request):
    kustomize: Kustomize | None = None


class CommonMetadata(_Request):
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}


class Origin(_Request):
    """The object a release belongs to; becomes the `helm.toolkit.fluxcd.io/*` labels."""

    name: str
    namespace: str


# --- requests ------------------------------------------------------------------------------------


class _ReleaseRef(_Request):
    release_name: str
    namespace: str


class _Rendering(_ReleaseRef):
    chart: Text
    values: dict[str, Any] = {}
    post_renderers: list[PostRenderer] = []
    common_metadata: CommonMetadata | None = None
    origin: Origin | None = None
    post_render_strategy: PostRenderStrategy = "combined"


class InstallRequest(_Rendering):
    timeout: Duration = timedelta(minutes=5)
    wait_strategy: WaitStrategy = "watcher"
    wait_for_jobs: bool = False
    disable_hooks: bool = False
    disable_open_api_validation: bool = Field(default=False, alias="disableOpenAPIValidation")
    disable_schema_validation: bool = False
    replace: bool = False
    create_namespace: bool = False
    crds: CRDsPolicy = "Create"
    server_side_apply: bool = True
    force_conflicts: bool | None = None
    take_ownership: bool = False
    description: str | None = None
    labels: dict[str, str] = {}


class UpgradeRequest(_Rendering):
    timeout: Duration = timedelta(minutes=5)
    wait_strategy: WaitStrategy = "watcher"
    wait_for_jobs: bool = False
    disable_hooks: bool = False
    disable_open_api_validation: bool = Field(default=False, alias="disableOpenAPIValidation")
    disable_schema_validation: bool = False
    force: bool = False
    reset_values: bool = False
    reuse_values: bool = False
    reset_then_reuse_values: bool = False
    cleanup_on_fail: bool = False
    max_history: int = Field(default=0, ge=0)
    crds: CRDsPolicy = "Skip"
    server_side_apply: ServerSideApplyMode = "auto"
    force_conflicts: bool | None = None
    take_ownership: bool = False
    description: str | None = None
    labels: dict[str, str] = {}


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


class TestFilter(_Request):
    __test__ = False  # not a pytest class

    name: str
    exclude: bool = False


class TestRequest(_ReleaseRef):
    __test__ = False

    timeout: Duration = timedelta(minutes=5)
    filters: list[TestFilter] = []


class StatusRequest(_ReleaseRef):
    version: int = Field(default=0, ge=0)


class GetRequest(_ReleaseRef):
    version: int = Field(default=0, ge=0)
    all_values: bool = False


class HistoryRequest(_ReleaseRef):
    max: int = Field(default=0, ge=0)


class RenderRequest(_Rendering):
    disable_hooks: bool = False
    disable_schema_validation: bool = False
    include_crds: bool = Field(default=False, alias="includeCRDs")
    is_upgrade: bool = False
    kube_version: str | None = None
    api_versions: list[str] = []


class LoadChartRequest(_Request):
    path: Text


class DiagnoseRequest(_Request):
    """Exercises the call machinery: `panic` panics in Go, `sleep` waits or until cancelled."""

    panic: str | None = None
    sleep: Duration | None = None


# --- registry ------------------------------------------------------------------------------------


class RegistryAccess(_Request):
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


# --- responses -----------------------------------------------------------------------------------


class HookRun(_Response):
    phase: str
    started_at: datetime | None = None
    completed_at: datetime | None = None


class Hook(_Response):
    name: str
    kind: str
    path: str
    manifest: str
    events: list[str]
    weight: int
    delete_policies: list[str]
    output_log_policies: list[str]
    last_run: HookRun | None = None


class ChartMeta(_Response):
    name: str
    version: str
    app_version: str


class Release(_Response):
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


class Observation(_Response):
    """One successful write to release storage, with the release as written."""

    operation: Operation
    key: str
    digest: str
    release: Release | None


class WireError(_Response):
    code: str
    message: str
    field: str | None = None
    logs: list[str] = []


class Response(_Response):
    """The shim's raw answer to one call."""

    ok: bool
    op: str
    error: WireError | None = None
    result: dict[str, Any] | None = None
    observations: list[Observation] = []
    logs: list[str] = []
    duration_ms: float = 0.0


class ActionResult(_Response):
    release: Release | None = None


class UninstallResult(_Response):
    release: Release | None = None
    info: str | None = None


class TestHookResult(_Response):
    __test__ = False

    name: str
    kind: str
    phase: str
    started_at: datetime | None = None
    completed_at: datetime | None = None


class TestResult(_Response):
    __test__ = False

    release: Release | None = None
    tests: list[TestHookResult] = []
    shutdown_error: str | None = None


class ReleaseResult(_Response):
    release: Release
    computed_values: dict[str, Any] | None = None


class HistoryResult(_Response):
    releases: list[Release]


class RenderResult(_Response):
    manifest: str
    hooks: list[Hook]
    notes: str


class ChartDependency(_Response):
    name: str
    version: str | None = None
    repository: str | None = None
    condition: str | None = None
    tags: list[str] | None = None
    alias: str | None = None


class Subchart(_Response):
    name: str
    version: str
    app_version: str | None = None


class ObjectRef(_Response):
    """One object of a chart's crds/ directories."""

    api_version: str
    kind: str
    name: str

    def wire(self) -> dict[str, str]:
        """{"apiVersion", "kind", "name"}, as on the wire."""
        return {"apiVersion": self.api_version, "kind": self.kind, "name": self.name}


class ChartInfo(_Response):
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


class RequestCounts(_Response):
    discovery: int
    openapi: int
    other: int
    discovery_cache_hits: int


class Stats(_Response):
    cached_targets: int
    inflight_calls: int
    goroutines: int
    heap_alloc_bytes: int
    heap_sys_bytes: int
    total_calls: int
    requests: RequestCounts


class DiagnoseResult(_Response):
    slept_ms: float = 0.0


class VersionInfo(_Response):
    abi: int
    go: str
    helm: str | None = None
    kustomize_api: str | None = None
    kyaml: str | None = None
    client_go: str | None = None
    field_manager: str | None = None


class LoginResult(_Response):
    host: str


class TagsResult(_Response):
    tags: list[str]


class PullResult(_Response):
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
