"""HelmRelease, `helm.toolkit.fluxcd.io/v2`, as helm-controller v1.6 defines it."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from api.duration import Duration
from api.kustomize import CustomHealthCheck, Image, Patch, Selector
from api.meta import (
    FORCE_REQUEST_ANNOTATION,
    RECONCILE_REQUEST_ANNOTATION,
    RESET_REQUEST_ANNOTATION,
    Condition,
    DependencyReference,
    FluxModel,
    FluxObject,
    FreeForm,
    Int64,
    KubeConfigReference,
    Name,
    NamespaceName,
    ReconcileStatus,
    SignatureVerification,
    Time,
    ValuesReference,
)
from api.schema import Resource, Rule
from api.sources import ChartSelection, ChartSourceKind, ReconcileStrategy

GROUP = "helm.toolkit.fluxcd.io"
VERSION = "v2"
API_VERSION = f"{GROUP}/{VERSION}"

DEFAULT_MAX_HISTORY = 5
DEFAULT_TIMEOUT = "5m0s"
DEFAULT_RETRY_INTERVAL = "5m0s"
MAX_RELEASE_NAME_LENGTH = 53

DRIFT_DETECTION_METADATA_KEY = f"{GROUP}/driftDetection"
"""Label or annotation that, set to 'disabled', leaves an object out of drift detection."""


_DisableOpenAPIValidation = Annotated[bool | None, Field(alias="disableOpenAPIValidation")]


class HelmReleaseCondition(StrEnum):
    """Condition types of a HelmRelease, besides Ready, Reconciling and Stalled."""

    RELEASED = "Released"
    TEST_SUCCESS = "TestSuccess"
    REMEDIATED = "Remediated"
    DRIFTED = "Drifted"


class HelmReleaseReason(StrEnum):
    """Condition reasons a HelmRelease may carry, besides the shared ones in `api.meta`."""

    INSTALL_SUCCEEDED = "InstallSucceeded"
    INSTALL_FAILED = "InstallFailed"
    UPGRADE_SUCCEEDED = "UpgradeSucceeded"
    UPGRADE_FAILED = "UpgradeFailed"
    TEST_SUCCEEDED = "TestSucceeded"
    TEST_FAILED = "TestFailed"
    ROLLBACK_SUCCEEDED = "RollbackSucceeded"
    ROLLBACK_FAILED = "RollbackFailed"
    UNINSTALL_SUCCEEDED = "UninstallSucceeded"
    UNINSTALL_FAILED = "UninstallFailed"
    ARTIFACT_FAILED = "ArtifactFailed"
    DEPENDENCY_NOT_READY = "DependencyNotReady"
    DRIFT_DETECTED = "DriftDetected"
    NO_DRIFT_DETECTED = "NoDriftDetected"
    INVENTORY_BUILD_FAILED = "InventoryBuildFailed"
    NAMESPACE_CHECK_SKIPPED = "NamespaceCheckSkipped"
    RETRIES_EXCEEDED = "RetriesExceeded"
    MISSING_ROLLBACK_TARGET = "MissingRollbackTarget"


class ChartRefKind(StrEnum):
    OCI_REPOSITORY = "OCIRepository"
    HELM_CHART = "HelmChart"
    EXTERNAL_ARTIFACT = "ExternalArtifact"


class ActionStrategyName(StrEnum):
    REMEDIATE_ON_FAILURE = "RemediateOnFailure"
    RETRY_ON_FAILURE = "RetryOnFailure"


class RemediationStrategy(StrEnum):
    ROLLBACK = "rollback"
    UNINSTALL = "uninstall"


class CRDsPolicy(StrEnum):
    SKIP = "Skip"
    CREATE = "Create"
    CREATE_REPLACE = "CreateReplace"


class ServerSideApplyMode(StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"
    AUTO = "auto"


class ChartNameChangeStrategy(StrEnum):
    IN_PLACE_UPDATE = "InPlaceUpdate"
    REINSTALL = "Reinstall"


class DeletionPropagation(StrEnum):
    BACKGROUND = "background"
    FOREGROUND = "foreground"
    ORPHAN = "orphan"


class DriftDetectionMode(StrEnum):
    ENABLED = "enabled"
    WARN = "warn"
    DISABLED = "disabled"


class PostRenderStrategy(StrEnum):
    NO_HOOKS = "nohooks"
    COMBINED = "combined"
    SEPARATE = "separate"


class WaitStrategyName(StrEnum):
    POLLER = "poller"
    LEGACY = "legacy"


class CrossNamespaceObjectReference(FluxModel):
    """The source a chart template pulls its chart from."""

    api_version: str | None = None
    """API version of the source."""
    kind: ChartSourceKind
    """Kind of the source: HelmRepository, GitRepository or Bucket."""
    name: Name
    """Name of the source."""
    namespace: NamespaceName | None = None
    """Namespace of the source; the HelmRelease's namespace when empty."""


class CrossNamespaceSourceReference(FluxModel):
    """An object that already holds the chart as an artifact."""

    api_version: str | None = None
    """API version of the referent."""
    kind: ChartRefKind
    """Kind of the referent: OCIRepository, HelmChart or ExternalArtifact."""
    name: Name
    """Name of the referent."""
    namespace: NamespaceName | None = None
    """Namespace of the referent; the HelmRelease's namespace when empty."""


class HelmChartTemplateObjectMeta(FluxModel):
    """Labels and annotations for the generated HelmChart."""

    labels: dict[str, str] | None = None
    """Labels of the HelmChart."""
    annotations: dict[str, str] | None = None
    """Annotations of the HelmChart."""


class HelmChartTemplateVerification(SignatureVerification):
    """How to verify the signature of an OCI chart."""


class HelmChartTemplateSpec(ChartSelection):
    """The HelmChart to generate for this release."""

    chart: Annotated[str, StringConstraints(min_length=1, max_length=2048)]
    """Name or path of the chart in the source."""
    source_ref: CrossNamespaceObjectReference
    """The source holding the chart."""
    interval: Duration | None = None
    """How often to check the source for a new chart; the release's interval when empty."""
    reconcile_strategy: ReconcileStrategy = "ChartVersion"
    """What makes a new chart artifact: a new ChartVersion, or any new source Revision."""
    verify: HelmChartTemplateVerification | None = None
    """Signature verification; OCI charts only."""


class HelmChartTemplate(FluxModel):
    """A template of the HelmChart the controller creates next to the source."""

    metadata: HelmChartTemplateObjectMeta | None = None
    """Labels and annotations of the HelmChart."""
    spec: HelmChartTemplateSpec
    """Spec of the HelmChart."""


class IgnoreRule(FluxModel):
    """Changes that drift detection disregards."""

    paths: list[str]
    """JSON Pointers (RFC 6901) to leave out of the comparison."""
    target: Selector | None = None
    """Objects the rule applies to; all objects of the release when empty."""


class DriftDetection(FluxModel):
    """Compares the release manifest with the cluster, and what to do about differences."""

    mode: DriftDetectionMode | None = None
    """enabled corrects drift, warn only reports it, disabled (the default) skips the check."""
    ignore: list[IgnoreRule] | None = None
    """Changes to disregard."""

    def effective_mode(self) -> DriftDetectionMode:
        return self.mode or DriftDetectionMode.DISABLED


class ActionStrategy(FluxModel):
    """What to do after a failed install or upgrade: the fields both have."""

    retry_interval: Duration | None = None
    """Wait between retries, 5m when empty; RetryOnFailure only."""

    def effective_retry_interval(self) -> str:
        return self.retry_interval or DEFAULT_RETRY_INTERVAL


def _install_retry_interval_allowed(strategy: InstallStrategy) -> bool:
    return (
        strategy.retry_interval is None or strategy.name != ActionStrategyName.REMEDIATE_ON_FAILURE
    )


class InstallStrategy(ActionStrategy):
    """What to do after a failed install."""

    rules = (
        Rule(
            "!has(self.retryInterval) || self.name != 'RemediateOnFailure'",
            ".retryInterval cannot be set when .name is 'RemediateOnFailure'",
            _install_retry_interval_allowed,
        ),
    )

    name: ActionStrategyName
    """RemediateOnFailure applies the remediation settings; RetryOnFailure retries with an
    upgrade after retryInterval."""


class InstallRemediation(FluxModel):
    """How to recover from a failed install."""

    retries: int | None = None
    """Attempts after the first failure, with an uninstall in between; negative means no
    limit."""
    ignore_test_failures: bool | None = None
    """Do not remediate failed tests after an install; test.ignoreFailures when empty."""
    remediate_last_failure: bool | None = None
    """Remediate the last failure too, when no retries remain."""


class ActionOptions(FluxModel):
    """Settings every Helm action has."""

    timeout: Duration | None = None
    """Time for each Kubernetes operation; spec.timeout when empty."""


class WaitOptions(ActionOptions):
    """Settings of the actions that apply resources: install, upgrade and rollback."""

    disable_wait: bool | None = None
    """Do not wait for resources to be ready."""
    disable_wait_for_jobs: bool | None = None
    """Do not wait for Jobs to complete."""
    disable_hooks: bool | None = None
    """Do not run chart hooks."""


class ReleaseOptions(WaitOptions):
    """Settings of the actions that render a chart: install and upgrade."""

    disable_take_ownership: bool | None = None
    """Do not adopt existing resources."""
    disable_open_api_validation: _DisableOpenAPIValidation = None
    """Do not validate rendered manifests against the Kubernetes OpenAPI schema."""
    disable_schema_validation: bool | None = None
    """Do not validate values against the chart's JSON schema."""


class Install(ReleaseOptions):
    """Settings of the Helm install action."""

    strategy: InstallStrategy | None = None
    """What to do after a failure; RemediateOnFailure when empty."""
    remediation: InstallRemediation | None = None
    """How to remediate a failure."""
    replace: bool | None = None
    """Reuse the release name if it belongs to a deleted release still in the history."""
    skip_crds: Annotated[bool | None, Field(alias="skipCRDs")] = None
    """Deprecated, without effect: use crds: Skip."""
    crds: CRDsPolicy | None = None
    """What to do with the chart's CRDs: Skip, Create (the default) or CreateReplace."""
    create_namespace: bool | None = None
    """Create the target namespace if it does not exist; it is kept on uninstall."""
    server_side_apply: bool | None = None
    """Apply resources with server-side apply; true when empty."""

    def effective_crds(self) -> CRDsPolicy:
        return self.crds or CRDsPolicy.CREATE


def _upgrade_retry_interval_allowed(strategy: UpgradeStrategy) -> bool:
    return strategy.retry_interval is None or strategy.name == ActionStrategyName.RETRY_ON_FAILURE


class UpgradeStrategy(ActionStrategy):
    """What to do after a failed upgrade."""

    rules = (
        Rule(
            "!has(self.retryInterval) || self.name == 'RetryOnFailure'",
            ".retryInterval can only be set when .name is 'RetryOnFailure'",
            _upgrade_retry_interval_allowed,
        ),
    )

    name: ActionStrategyName
    """RemediateOnFailure applies the remediation settings; RetryOnFailure retries the upgrade
    every retryInterval."""


class UpgradeRemediation(FluxModel):
    """How to recover from a failed upgrade."""

    retries: int | None = None
    """Attempts after the first failure, with a remediation in between; negative means no
    limit."""
    ignore_test_failures: bool | None = None
    """Do not remediate failed tests after an upgrade; test.ignoreFailures when empty."""
    remediate_last_failure: bool | None = None
    """Remediate the last failure too; true when empty and retries is above 0."""
    strategy: RemediationStrategy | None = None
    """rollback (the default) or uninstall."""

    def effective_strategy(self) -> RemediationStrategy:
        return self.strategy or RemediationStrategy.ROLLBACK

    def effective_remediate_last_failure(self) -> bool:
        if self.remediate_last_failure is None:
            return (self.retries or 0) > 0
        return self.remediate_last_failure


class Upgrade(ReleaseOptions):
    """Settings of the Helm upgrade action."""

    strategy: UpgradeStrategy | None = None
    """What to do after a failure; RemediateOnFailure when empty."""
    remediation: UpgradeRemediation | None = None
    """How to remediate a failure."""
    force: bool | None = None
    """Replace resources instead of patching them; ignored with server-side apply."""
    preserve_values: bool | None = None
    """Start from the last release's values; makes the release non-declarative."""
    cleanup_on_fail: bool | None = None
    """Delete resources created by a failed upgrade."""
    crds: CRDsPolicy | None = None
    """What to do with the chart's CRDs: Skip, Create or CreateReplace."""
    server_side_apply: ServerSideApplyMode | None = None
    """enabled, disabled, or auto (the default) to keep what the release used before."""
    chart_name_change_strategy: ChartNameChangeStrategy | None = None
    """When the chart name changes: Reinstall (the default) or InPlaceUpdate."""

    def effective_crds(self) -> CRDsPolicy:
        return self.crds or CRDsPolicy.CREATE

    def effective_chart_name_change_strategy(self) -> ChartNameChangeStrategy:
        return self.chart_name_change_strategy or ChartNameChangeStrategy.REINSTALL


class Filter(FluxModel):
    """Selects a Helm test by name."""

    name: Name
    """Name of the test."""
    exclude: bool | None = None
    """Leave the test out instead of running only the selected ones."""


class Test(ActionOptions):
    """Settings of the Helm test action."""

    __test__ = False

    enable: bool | None = None
    """Run the chart's tests after each install or upgrade."""
    ignore_failures: bool | None = None
    """Do not remediate when tests fail."""
    filters: list[Filter] | None = None
    """Tests to run or to leave out."""


class Rollback(WaitOptions):
    """Settings of the Helm rollback action."""

    recreate: bool | None = None
    """Deprecated, without effect since Helm 4."""
    force: bool | None = None
    """Replace resources instead of patching them; ignored with server-side apply."""
    cleanup_on_fail: bool | None = None
    """Delete resources created by a failed rollback."""
    server_side_apply: ServerSideApplyMode | None = None
    """enabled, disabled, or auto (the default) to keep what the release used before."""


class Uninstall(ActionOptions):
    """Settings of the Helm uninstall action."""

    disable_hooks: bool | None = None
    """Do not run chart hooks."""
    keep_history: bool | None = None
    """Keep the release history, marking the release as uninstalled."""
    disable_wait: bool | None = None
    """Do not wait for the resources to be deleted."""
    deletion_propagation: DeletionPropagation = DeletionPropagation.BACKGROUND
    """Deletion propagation policy: background, foreground or orphan."""


class Kustomize(FluxModel):
    """A kustomize post-renderer."""

    patches: list[Patch] | None = None
    """Strategic-merge and JSON 6902 patches."""
    images: list[Image] | None = None
    """Image name, tag and digest replacements."""


class PostRenderer(FluxModel):
    """A step that transforms the rendered manifests."""

    kustomize: Kustomize | None = None
    """A kustomize post-renderer."""


class CommonMetadata(FluxModel):
    """Labels and annotations added to every object of the release."""

    annotations: dict[str, str] | None = None
    """Annotations to add; they win over the chart's."""
    labels: dict[str, str] | None = None
    """Labels to add; they win over the chart's."""


class WaitStrategy(FluxModel):
    """How Helm waits for resources to become ready."""

    name: WaitStrategyName
    """poller (kstatus, the default) or legacy (Helm 3's checks)."""


def _chart_xor_chart_ref(spec: HelmReleaseSpec) -> bool:
    return (spec.chart is None) != (spec.chart_ref is None)


class HelmReleaseSpec(FluxModel):
    """The desired state of a Helm release."""

    rules = (
        Rule(
            "(has(self.chart) && !has(self.chartRef)) || (!has(self.chart) && has(self.chartRef))",
            "either chart or chartRef must be set",
            _chart_xor_chart_ref,
        ),
    )

    chart: HelmChartTemplate | None = None
    """Template of the HelmChart to create for this release. Excludes chartRef."""
    chart_ref: CrossNamespaceSourceReference | None = None
    """An existing object holding the chart artifact. Excludes chart."""
    interval: Duration
    """How often to reconcile the release."""
    kube_config: KubeConfigReference | None = None
    """Credentials of a remote cluster to release to."""
    suspend: bool | None = None
    """Stop reconciling; a reconciliation under way finishes."""
    release_name: Annotated[str, StringConstraints(min_length=1, max_length=53)] | None = None
    """Name of the Helm release; '[targetNamespace-]name' when empty, shortened past 53
    characters."""
    target_namespace: NamespaceName | None = None
    """Namespace of the release's objects; the HelmRelease's namespace when empty."""
    storage_namespace: NamespaceName | None = None
    """Namespace of Helm's release storage; the HelmRelease's namespace when empty."""
    depends_on: list[DependencyReference] | None = None
    """HelmReleases that must be ready before this one is reconciled."""
    timeout: Duration | None = None
    """Time for each Kubernetes operation of a Helm action; 5m0s when empty."""
    max_history: int | None = None
    """Release revisions Helm keeps; 5 when empty, 0 for no limit."""
    service_account_name: Name | None = None
    """Service account to impersonate."""
    persistent_client: bool | None = None
    """Reuse one Kubernetes client for the whole reconciliation; true when empty."""
    drift_detection: DriftDetection | None = None
    """Detection and correction of changes made to the release's objects in the cluster."""
    install: Install | None = None
    """Settings of the install action."""
    upgrade: Upgrade | None = None
    """Settings of the upgrade action."""
    test: Test | None = None
    """Settings of the test action."""
    rollback: Rollback | None = None
    """Settings of the rollback action."""
    uninstall: Uninstall | None = None
    """Settings of the uninstall action."""
    values_from: list[ValuesReference] | None = None
    """Secrets and ConfigMaps holding values, merged in order before values."""
    values: FreeForm | None = None
    """Inline Helm values, merged last."""
    common_metadata: CommonMetadata | None = None
    """Labels and annotations for every object of the release."""
    post_renderers: list[PostRenderer] | None = None
    """Post-renderers, applied in order."""
    post_render_strategy: PostRenderStrategy | None = None
    """Which manifests reach the post-renderers: nohooks, combined (the default) or
    separate."""
    wait_strategy: WaitStrategy | None = None
    """How to wait for readiness; poller when empty."""
    health_check_exprs: list[CustomHealthCheck] | None = None
    """CEL health checks for custom resources, used by the poller wait strategy."""

    def effective_timeout(self) -> str:
        return self.timeout or DEFAULT_TIMEOUT

    def effective_max_history(self) -> int:
        return DEFAULT_MAX_HISTORY if self.max_history is None else self.max_history

    def effective_persistent_client(self) -> bool:
        return True if self.persistent_client is None else self.persistent_client

    def effective_post_render_strategy(self) -> PostRenderStrategy:
        return self.post_render_strategy or PostRenderStrategy.COMBINED

    def effective_wait_strategy(self) -> WaitStrategyName:
        return self.wait_strategy.name if self.wait_strategy else WaitStrategyName.POLLER

    def effective_chart_interval(self) -> str:
        if self.chart is not None and self.chart.spec.interval:
            return self.chart.spec.interval
        return self.interval


class TestHookStatus(FluxModel):
    """A test hook as the controller saw it run."""

    __test__ = False

    last_started: Time | None = None
    """When the hook last started."""
    last_completed: Time | None = None
    """When the hook last completed."""
    phase: str | None = None
    """Phase the hook was last seen in, such as Succeeded or Failed."""


class Snapshot(FluxModel):
    """A point-in-time copy of a Helm release's state."""

    api_version: str | None = None
    """Version of the snapshot format, telling digest methods apart."""
    digest: str
    """Digest of the release object in storage, as '<algorithm>:<checksum>'."""
    name: str
    """Name of the release."""
    namespace: str
    """Namespace the release is deployed to."""
    version: int
    """Version of the release object in storage."""
    status: str
    """State of the release, such as deployed or superseded."""
    action: str | None = None
    """The action that made this release: install, upgrade, rollback, ..."""
    chart_name: str
    """Name of the chart."""
    chart_version: str
    """Version of the chart."""
    app_version: str | None = None
    """App version of the chart."""
    config_digest: str
    """Digest of the release's values, as '<algorithm>:<checksum>'."""
    first_deployed: Time
    """When the release was first deployed."""
    last_deployed: Time
    """When the release was last deployed."""
    deleted: Time | None = None
    """When the release was deleted."""
    test_hooks: dict[str, TestHookStatus | None] | None = None
    """Test hooks observed to run, by name."""
    oci_digest: str | None = None
    """Digest of the OCI artifact the chart came from."""

    def has_been_tested(self) -> bool:
        """As Flux: no hooks recorded means never tested; a failure, or every hook succeeded,
        means tested; hooks still running (or with no phase yet) mean not tested."""
        if self.test_hooks is None:
            return False
        phases = [h.phase if h else None for h in self.test_hooks.values()]
        return "Failed" in phases or all(p == "Succeeded" for p in phases)

    def has_test_in_phase(self, phase: str) -> bool:
        return any(h is not None and h.phase == phase for h in (self.test_hooks or {}).values())

    def failed_tests(self) -> list[str]:
        return [
            n for n, h in (self.test_hooks or {}).items() if h is not None and h.phase == "Failed"
        ]


class ResourceRef(FluxModel):
    """An object applied by the release."""

    id: str
    """'<namespace>_<name>_<group>_<kind>'."""
    v: str
    """API version of the object's kind."""


class ResourceInventory(FluxModel):
    """The objects applied by the release."""

    entries: list[ResourceRef]
    """One entry per object."""


class HelmReleaseStatus(ReconcileStatus):
    """The observed state of a HelmRelease."""

    observed_post_renderers_digest: str | None = None
    """Digest of the post-renderers at the last successful reconciliation."""
    observed_common_metadata_digest: str | None = None
    """Digest of the common metadata at the last successful reconciliation."""
    last_attempted_generation: Int64 | None = None
    """Last generation the controller tried to reconcile."""
    conditions: list[Condition] | None = None
    """Conditions of the HelmRelease."""
    helm_chart: str | None = None
    """'<namespace>/<name>' of the HelmChart created for the release."""
    storage_namespace: NamespaceName | None = None
    """Namespace of the current release's storage."""
    history: list[Snapshot] | None = None
    """Releases made for this object, newest first, back to the last successful one."""
    inventory: ResourceInventory | None = None
    """Objects applied by the release."""
    last_attempted_release_action: Literal["install", "upgrade"] | None = None
    """Last release action tried: install or upgrade."""
    last_attempted_release_action_duration: str | None = None
    """How long the last release action took."""
    failures: Int64 | None = None
    """Failed reconciliations against the latest desired state."""
    install_failures: Int64 | None = None
    """Failed installs against the latest desired state."""
    upgrade_failures: Int64 | None = None
    """Failed upgrades against the latest desired state."""
    last_attempted_revision: str | None = None
    """Source revision of the last attempt."""
    last_attempted_revision_digest: str | None = None
    """Digest of the last attempt's artifact; OCIRepository sources only."""
    last_attempted_values_checksum: str | None = None
    """Deprecated: SHA1 of the last attempt's values."""
    last_release_revision: int | None = None
    """Deprecated: revision of the last successful release."""
    last_attempted_config_digest: str | None = None
    """Digest of the last attempt's values."""
    last_handled_reset_at: str | None = None
    """Last resetAt annotation value handled."""
    last_handled_force_at: str | None = None
    """Last forceAt annotation value handled."""

    def latest(self) -> Snapshot | None:
        """The newest snapshot in the history."""
        return self.history[0] if self.history else None

    def previous(self, ignore_test_failures: bool) -> Snapshot | None:
        """The rollback target: the newest good snapshot after the latest one."""
        ordered = sorted(self.history or [], key=lambda s: s.version, reverse=True)
        for snap in ordered[1:]:
            if snap.status in ("deployed", "superseded") and (
                ignore_test_failures or not snap.has_test_in_phase("Failed")
            ):
                return snap
        return None


class HelmRelease(FluxObject):
    """A Helm release, kept in the state this object describes."""

    resource = Resource(
        group=GROUP,
        version=VERSION,
        kind="HelmRelease",
        plural="helmreleases",
        short_names=("hr",),
        categories=("all", "fluxcd", "fluxcd-appliers"),
        status_default={"observedGeneration": -1},
        # Stops Flux's kustomize-controller from substituting ${...} inside the CRD.
        annotations={"kustomize.toolkit.fluxcd.io/substitute": "disabled"},
    )

    api_version: Literal["helm.toolkit.fluxcd.io/v2"] = "helm.toolkit.fluxcd.io/v2"
    kind: Literal["HelmRelease"] = "HelmRelease"
    spec: HelmReleaseSpec
    status: HelmReleaseStatus | None = None

    # Flux's object helpers (helm-controller's api/v2 methods), here so that every decision
    # reads the same definitions.

    def active_remediation(self) -> InstallRemediation | UpgradeRemediation | None:
        """The remediation of the release action last attempted, if any."""
        last = self.status.last_attempted_release_action if self.status else None
        if last == "install":
            return (self.spec.install.remediation if self.spec.install else None) or (
                InstallRemediation()
            )
        if last == "upgrade":
            return (self.spec.upgrade.remediation if self.spec.upgrade else None) or (
                UpgradeRemediation()
            )
        return None

    def ignore_test_failures(self) -> bool:
        """Whether test failures are ignored: the active remediation's own setting (the
        upgrade's when none is active), else spec.test.ignoreFailures."""
        last = self.status.last_attempted_release_action if self.status else None
        if last == "install":
            rem: InstallRemediation | UpgradeRemediation | None = (
                self.spec.install.remediation if self.spec.install else None
            )
        else:
            rem = self.spec.upgrade.remediation if self.spec.upgrade else None
        if rem is not None and rem.ignore_test_failures is not None:
            return rem.ignore_test_failures
        return bool(self.spec.test and self.spec.test.ignore_failures)

    def failure_count(self) -> int:
        """Failures of the release action last attempted."""
        status = self.status or HelmReleaseStatus()
        if status.last_attempted_release_action == "install":
            return status.install_failures or 0
        if status.last_attempted_release_action == "upgrade":
            return status.upgrade_failures or 0
        return 0

    def retries_exhausted(self) -> bool:
        """The active remediation has no retries left (a negative count never runs out)."""
        rem = self.active_remediation()
        if rem is None:
            return False
        retries = rem.retries or 0
        return retries >= 0 and self.failure_count() > retries

    def _requested(self, annotation: str, handled: str | None) -> str | None:
        annotations = self.metadata.annotations or {}
        value = annotations.get(annotation)
        if value and value == annotations.get(RECONCILE_REQUEST_ANNOTATION) and value != handled:
            return value
        return None

    def force_request(self) -> str | None:
        """The forceAt value to handle now: set, equal to requestedAt, and not yet handled."""
        handled = self.status.last_handled_force_at if self.status else None
        return self._requested(FORCE_REQUEST_ANNOTATION, handled)

    def reset_request(self) -> str | None:
        """The resetAt value to handle now: set, equal to requestedAt, and not yet handled."""
        handled = self.status.last_handled_reset_at if self.status else None
        return self._requested(RESET_REQUEST_ANNOTATION, handled)

    def reconcile_request(self) -> str | None:
        return (self.metadata.annotations or {}).get(RECONCILE_REQUEST_ANNOTATION)
