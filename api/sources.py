"""Source kinds, `source.toolkit.fluxcd.io/v1`, as source-controller v1.9 defines them."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from api.duration import Duration, Timeout
from api.meta import (
    Artifact,
    Condition,
    FluxModel,
    FluxObject,
    LocalObjectReference,
    NamespacedObjectKindReference,
    ReconcileStatus,
    SignatureVerification,
)
from api.schema import AGE, READY, STATUS, PrinterColumn, Resource, Rule

GROUP = "source.toolkit.fluxcd.io"
VERSION = "v1"
API_VERSION = f"{GROUP}/{VERSION}"

DEFAULT_TIMEOUT = "60s"
DEFAULT_GIT_BRANCH = "master"

_CATEGORIES = ("all", "fluxcd", "fluxcd-sources")
_URL = PrinterColumn("URL", ".spec.url")
_STANDARD_COLUMNS = (_URL, AGE, READY, STATUS)


def _resource(
    kind: str,
    plural: str,
    *short_names: str,
    columns: tuple[PrinterColumn, ...] = _STANDARD_COLUMNS,
    defaulted_status: bool = True,
) -> Resource:
    """How a source kind is served: this group and version, the sources' categories."""
    status_default = {"observedGeneration": -1} if defaulted_status else {}
    return Resource(GROUP, VERSION, kind, plural, short_names, _CATEGORIES, columns, status_default)


class SourceObject(FluxObject):
    """Base of the source kinds."""

    api_version: Literal["source.toolkit.fluxcd.io/v1"] = "source.toolkit.fluxcd.io/v1"


class SourceSpec(FluxModel):
    """Fields every source spec has."""

    suspend: bool | None = None
    """Stop reconciling."""


class FetchedSourceSpec(SourceSpec):
    """Fields of the sources that fetch a tree and archive it: Git, Bucket, OCI."""

    proxy_secret_ref: LocalObjectReference | None = None
    """Secret with the proxy settings."""
    ignore: str | None = None
    """Exclusion patterns, .gitignore style, replacing the defaults."""


class SourceCondition(StrEnum):
    """Condition types of sources, besides Ready, Reconciling and Stalled."""

    ARTIFACT_IN_STORAGE = "ArtifactInStorage"
    ARTIFACT_OUTDATED = "ArtifactOutdated"
    SOURCE_VERIFIED = "SourceVerified"
    FETCH_FAILED = "FetchFailed"
    BUILD_FAILED = "BuildFailed"
    STORAGE_OPERATION_FAILED = "StorageOperationFailed"
    INCLUDE_UNAVAILABLE = "IncludeUnavailable"


class SourceReason(StrEnum):
    """Condition reasons sources may carry, besides the shared ones in `api.meta`."""

    URL_INVALID = "URLInvalid"
    AUTHENTICATION_FAILED = "AuthenticationFailed"
    VERIFICATION_ERROR = "VerificationError"
    DIRECTORY_CREATION_FAILED = "DirectoryCreationFailed"
    STAT_OPERATION_FAILED = "StatOperationFailed"
    READ_OPERATION_FAILED = "ReadOperationFailed"
    ACQUIRE_LOCK_FAILED = "AcquireLockFailed"
    INVALID_PATH = "InvalidPath"
    ARCHIVE_OPERATION_FAILED = "ArchiveOperationFailed"
    SYMLINK_UPDATE_FAILED = "SymlinkUpdateFailed"
    ARTIFACT_UP_TO_DATE = "ArtifactUpToDate"
    CACHE_OPERATION_FAILED = "CacheOperationFailed"
    PATCH_OPERATION_FAILED = "PatchOperationFailed"
    INVALID_STS_CONFIGURATION = "InvalidSTSConfiguration"
    INVALID_PROVIDER_CONFIGURATION = "InvalidProviderConfiguration"
    INDEXATION_FAILED = "IndexationFailed"
    GIT_OPERATION_SUCCEEDED = "GitOperationSucceeded"
    GIT_OPERATION_FAILED = "GitOperationFailed"
    BUCKET_OPERATION_SUCCEEDED = "BucketOperationSucceeded"
    BUCKET_OPERATION_FAILED = "BucketOperationFailed"
    CHART_PULL_SUCCEEDED = "ChartPullSucceeded"
    CHART_PACKAGE_SUCCEEDED = "ChartPackageSucceeded"
    OCI_PULL_FAILED = "OCIArtifactPullFailed"
    OCI_LAYER_OPERATION_FAILED = "OCIArtifactLayerOperationFailed"
    # Helmward's own: a spec field it cannot act on (docs/fields.md lists them).
    VERIFICATION_NOT_SUPPORTED = "VerificationNotSupported"
    """spec.verify is set; the source fails closed: no artifact."""
    PROVIDER_NOT_SUPPORTED = "ProviderNotSupported"
    """A cloud provider or workload identity (provider, sts, serviceAccountName)."""
    UNSUPPORTED_FIELD = "UnsupportedField"
    """Any other field Helmward does not implement yet."""


HelmRepositoryProvider = Literal["generic", "aws", "azure", "gcp"]
OCIProvider = Literal["generic", "aws", "azure", "gcp"]
BucketProvider = Literal["generic", "aws", "gcp", "azure"]
GitProvider = Literal["generic", "aws", "azure", "github"]


class OIDCIdentityMatch(FluxModel):
    """Regular expressions the keyless-signing certificate must match."""

    issuer: str
    """Pattern for the OIDC issuer."""
    subject: str
    """Pattern for the identity subject."""


class NamespaceSelector(FluxModel):
    """Selects namespaces by their labels."""

    match_labels: dict[str, str] | None = None
    """Labels a namespace must all carry."""


class AccessFrom(FluxModel):
    """Namespaces allowed to refer to this object. Not enforced by Flux either."""

    namespace_selectors: list[NamespaceSelector]
    """Selectors of the allowed namespaces."""


# HelmRepository


class HelmRepositorySpec(SourceSpec):
    """A Helm repository: an HTTP/S index, or an OCI registry."""

    url: Annotated[str, StringConstraints(pattern=r"^(http|https|oci)://.*$")]
    """Address of the repository, http(s):// or oci://."""
    secret_ref: LocalObjectReference | None = None
    """Secret with credentials: username and password."""
    cert_secret_ref: LocalObjectReference | None = None
    """Secret with TLS material: tls.crt and tls.key, and/or ca.crt."""
    pass_credentials: bool | None = None
    """Send the credentials to hosts other than the URL's, for charts served elsewhere."""
    interval: Duration | None = None
    """How often to fetch the index."""
    insecure: bool | None = None
    """Allow plain HTTP to an OCI registry; type oci only."""
    timeout: Timeout | None = None
    """Timeout of index fetches and OCI operations; 60s when empty."""
    access_from: AccessFrom | None = None
    """Namespaces allowed to refer to this repository."""
    type: Literal["default", "oci"] | None = None
    """default for an HTTP/S index, oci for an OCI registry."""
    provider: HelmRepositoryProvider = "generic"
    """Cloud provider for authentication to an OCI registry."""


class HelmRepositoryStatus(ReconcileStatus):
    """The observed state of a HelmRepository."""

    conditions: list[Condition] | None = None
    """Conditions of the HelmRepository."""
    url: str | None = None
    """Address of the latest artifact, best effort."""
    artifact: Artifact | None = None
    """The last index fetched."""


class HelmRepository(SourceObject):
    """A Helm chart repository."""

    resource = _resource("HelmRepository", "helmrepositories", "helmrepo")

    kind: Literal["HelmRepository"] = "HelmRepository"
    spec: HelmRepositorySpec
    status: HelmRepositoryStatus | None = None


# GitRepository


class GitRepositoryRef(FluxModel):
    """The Git reference to check out. The most specific field set wins."""

    branch: str | None = None
    """Branch; master when nothing is set."""
    tag: str | None = None
    """Tag; wins over branch."""
    semver: str | None = None
    """SemVer range of tags; wins over tag."""
    name: str | None = None
    """Full reference name such as refs/heads/main; wins over branch, tag and semver."""
    commit: str | None = None
    """Commit SHA; wins over everything, and can be combined with branch."""


class GitVerificationMode(StrEnum):
    HEAD_LEGACY = "head"
    HEAD = "HEAD"
    TAG = "Tag"
    TAG_AND_HEAD = "TagAndHEAD"


class GitRepositoryVerification(FluxModel):
    """Verification of commit and tag signatures."""

    mode: GitVerificationMode = GitVerificationMode.HEAD
    """What to verify: HEAD (or head), Tag, or TagAndHEAD."""
    secret_ref: LocalObjectReference
    """Secret with the trusted keys: PGP under *.asc, SSH under *.sshpub."""


class GitRepositoryInclude(FluxModel):
    """Another GitRepository whose artifact is copied into this one."""

    repository: LocalObjectReference
    """The GitRepository to include."""
    from_path: str | None = None
    """Path to copy from; the root of its artifact when empty."""
    to_path: str | None = None
    """Path to copy to; the included repository's name when empty."""


def _git_service_account_allowed(spec: GitRepositorySpec) -> bool:
    return spec.service_account_name is None or spec.provider in ("azure", "aws")


class GitRepositorySpec(FetchedSourceSpec):
    """A Git repository to fetch."""

    rules = (
        Rule(
            "!has(self.serviceAccountName) || (has(self.provider) && "
            "(self.provider == 'azure' || self.provider == 'aws'))",
            "serviceAccountName can only be set when provider is 'azure' or 'aws'",
            _git_service_account_allowed,
        ),
    )

    url: Annotated[str, StringConstraints(pattern=r"^(http|https|ssh)://.*$")]
    """Address of the repository, http(s):// or ssh://."""
    secret_ref: LocalObjectReference | None = None
    """Secret with credentials: username and password, bearerToken, or identity and
    known_hosts."""
    provider: GitProvider | None = None
    """Provider for authentication; generic when empty."""
    service_account_name: str | None = None
    """Service account for workload identity; azure and aws providers only."""
    interval: Duration
    """How often to check the repository for changes."""
    timeout: Timeout = DEFAULT_TIMEOUT
    """Timeout of Git operations."""
    ref: GitRepositoryRef | None = None
    """Reference to check out; the master branch when empty."""
    verify: GitRepositoryVerification | None = None
    """Signature verification."""
    recurse_submodules: bool | None = None
    """Check out submodules too."""
    include: list[GitRepositoryInclude] | None = None
    """Other GitRepositories to copy into the artifact."""
    sparse_checkout: list[str] | None = None
    """Directories to check out; the whole tree when empty."""


class GitRepositoryStatus(ReconcileStatus):
    """The observed state of a GitRepository."""

    conditions: list[Condition] | None = None
    """Conditions of the GitRepository."""
    artifact: Artifact | None = None
    """The last artifact produced."""
    included_artifacts: list[Artifact] | None = None
    """Artifacts of the included repositories."""
    observed_ignore: str | None = None
    """Exclusion patterns of the current artifact."""
    observed_recurse_submodules: bool | None = None
    """Submodule setting of the current artifact."""
    observed_include: list[GitRepositoryInclude] | None = None
    """Includes of the current artifact."""
    observed_sparse_checkout: list[str] | None = None
    """Sparse checkout directories of the current artifact."""
    source_verification_mode: str | None = None
    """What was last verified."""


class GitRepository(SourceObject):
    """A Git repository."""

    resource = _resource("GitRepository", "gitrepositories", "gitrepo")

    kind: Literal["GitRepository"] = "GitRepository"
    spec: GitRepositorySpec
    status: GitRepositoryStatus | None = None


# Bucket


class BucketSTSSpec(FluxModel):
    """A Security Token Service issuing temporary credentials for the bucket."""

    provider: Literal["aws", "ldap"]
    """aws or ldap."""
    endpoint: Annotated[str, StringConstraints(pattern=r"^(http|https)://.*$")]
    """HTTP/S address of the service."""
    secret_ref: LocalObjectReference | None = None
    """Secret with username and password; ldap only."""
    cert_secret_ref: LocalObjectReference | None = None
    """Secret with TLS material for the service; ldap only."""


def _sts_provider_supported(spec: BucketSpec) -> bool:
    return spec.provider in ("aws", "generic") or spec.sts is None


def _aws_sts_for_aws(spec: BucketSpec) -> bool:
    return spec.provider != "aws" or spec.sts is None or spec.sts.provider == "aws"


def _ldap_sts_for_generic(spec: BucketSpec) -> bool:
    return spec.provider != "generic" or spec.sts is None or spec.sts.provider == "ldap"


def _aws_sts_without_secret(spec: BucketSpec) -> bool:
    return spec.sts is None or spec.sts.provider != "aws" or spec.sts.secret_ref is None


def _aws_sts_without_cert(spec: BucketSpec) -> bool:
    return spec.sts is None or spec.sts.provider != "aws" or spec.sts.cert_secret_ref is None


def _service_account_not_generic(spec: BucketSpec) -> bool:
    return spec.provider != "generic" or spec.service_account_name is None


def _secret_or_service_account(spec: BucketSpec) -> bool:
    return spec.secret_ref is None or spec.service_account_name is None


class BucketSpec(FetchedSourceSpec):
    """An object storage bucket to fetch."""

    rules = (
        Rule(
            "self.provider == 'aws' || self.provider == 'generic' || !has(self.sts)",
            "STS configuration is only supported for the 'aws' and 'generic' Bucket providers",
            _sts_provider_supported,
        ),
        Rule(
            "self.provider != 'aws' || !has(self.sts) || self.sts.provider == 'aws'",
            "'aws' is the only supported STS provider for the 'aws' Bucket provider",
            _aws_sts_for_aws,
        ),
        Rule(
            "self.provider != 'generic' || !has(self.sts) || self.sts.provider == 'ldap'",
            "'ldap' is the only supported STS provider for the 'generic' Bucket provider",
            _ldap_sts_for_generic,
        ),
        Rule(
            "!has(self.sts) || self.sts.provider != 'aws' || !has(self.sts.secretRef)",
            "spec.sts.secretRef is not required for the 'aws' STS provider",
            _aws_sts_without_secret,
        ),
        Rule(
            "!has(self.sts) || self.sts.provider != 'aws' || !has(self.sts.certSecretRef)",
            "spec.sts.certSecretRef is not required for the 'aws' STS provider",
            _aws_sts_without_cert,
        ),
        Rule(
            "self.provider != 'generic' || !has(self.serviceAccountName)",
            "ServiceAccountName is not supported for the 'generic' Bucket provider",
            _service_account_not_generic,
        ),
        Rule(
            "!has(self.secretRef) || !has(self.serviceAccountName)",
            "cannot set both .spec.secretRef and .spec.serviceAccountName",
            _secret_or_service_account,
        ),
    )

    provider: BucketProvider = "generic"
    """generic for any S3-compatible store, or aws, gcp, azure."""
    bucket_name: str
    """Name of the bucket."""
    endpoint: str
    """Address of the object store."""
    sts: BucketSTSSpec | None = None
    """Temporary credentials from a token service; aws and generic providers only."""
    insecure: bool | None = None
    """Allow plain HTTP to the endpoint."""
    region: str | None = None
    """Region of the bucket."""
    prefix: str | None = None
    """Fetch only objects under this prefix."""
    secret_ref: LocalObjectReference | None = None
    """Secret with credentials."""
    service_account_name: str | None = None
    """Service account for workload identity; gcp and aws providers only."""
    cert_secret_ref: LocalObjectReference | None = None
    """Secret with TLS material; generic provider only."""
    interval: Duration
    """How often to check the bucket for changes."""
    timeout: Timeout = DEFAULT_TIMEOUT
    """Timeout of fetch operations."""


class BucketStatus(ReconcileStatus):
    """The observed state of a Bucket."""

    conditions: list[Condition] | None = None
    """Conditions of the Bucket."""
    url: str | None = None
    """Address of the latest artifact, best effort."""
    artifact: Artifact | None = None
    """The last artifact produced."""
    observed_ignore: str | None = None
    """Exclusion patterns of the current artifact."""


class Bucket(SourceObject):
    """An object storage bucket."""

    resource = _resource(
        "Bucket",
        "buckets",
        columns=(PrinterColumn("Endpoint", ".spec.endpoint"), AGE, READY, STATUS),
    )

    kind: Literal["Bucket"] = "Bucket"
    spec: BucketSpec
    status: BucketStatus | None = None


# HelmChart


ChartSourceKind = Literal["HelmRepository", "GitRepository", "Bucket"]
ReconcileStrategy = Literal["ChartVersion", "Revision"]


class LocalHelmChartSourceReference(FluxModel):
    """The source of a chart, in the HelmChart's namespace."""

    api_version: str | None = None
    """API version of the source."""
    kind: ChartSourceKind
    """HelmRepository, GitRepository or Bucket."""
    name: str
    """Name of the source."""


class HelmChartVerification(SignatureVerification):
    """How to verify the signature of an OCI chart."""

    match_oidc_identity: Annotated[
        list[OIDCIdentityMatch] | None, Field(alias="matchOIDCIdentity")
    ] = None
    """Identities accepted for keyless signatures; any match verifies."""


def _verify_only_from_helm_repository(spec: HelmChartSpec) -> bool:
    return spec.verify is None or spec.source_ref.kind == "HelmRepository"


class ChartSelection(FluxModel):
    """What a HelmChart and a HelmRelease's chart template both say about the chart."""

    version: str = "*"
    """SemVer range of the chart version; ignored for GitRepository and Bucket sources."""
    values_files: list[str] | None = None
    """Values files in the source, merged in order, used instead of the chart's values.yaml."""
    ignore_missing_values_files: bool | None = None
    """Skip values files that do not exist instead of failing."""


class HelmChartSpec(SourceSpec, ChartSelection):
    """A chart to fetch or package from a source."""

    rules = (
        Rule(
            "!has(self.verify) || self.sourceRef.kind == 'HelmRepository'",
            "spec.verify is only supported when spec.sourceRef.kind is 'HelmRepository'",
            _verify_only_from_helm_repository,
        ),
    )

    chart: str
    """Name or path of the chart in the source."""
    source_ref: LocalHelmChartSourceReference
    """The source holding the chart."""
    interval: Duration
    """How often to check the source for a new chart."""
    reconcile_strategy: ReconcileStrategy = "ChartVersion"
    """What makes a new artifact: a new ChartVersion, or any new source Revision."""
    verify: HelmChartVerification | None = None
    """Signature verification; OCI HelmRepository sources only."""


class HelmChartStatus(ReconcileStatus):
    """The observed state of a HelmChart."""

    observed_source_artifact_revision: str | None = None
    """Revision of the source artifact last seen."""
    observed_chart_name: str | None = None
    """Chart name last resolved."""
    observed_values_files: list[str] | None = None
    """Values files of the last successful reconciliation."""
    conditions: list[Condition] | None = None
    """Conditions of the HelmChart."""
    url: str | None = None
    """Address of the latest artifact, best effort."""
    artifact: Artifact | None = None
    """The last chart package produced."""


class HelmChart(SourceObject):
    """A Helm chart, packaged from a source."""

    resource = _resource(
        "HelmChart",
        "helmcharts",
        "hc",
        columns=(
            PrinterColumn("Chart", ".spec.chart"),
            PrinterColumn("Version", ".spec.version"),
            PrinterColumn("Source Kind", ".spec.sourceRef.kind"),
            PrinterColumn("Source Name", ".spec.sourceRef.name"),
            AGE,
            READY,
            STATUS,
        ),
    )

    kind: Literal["HelmChart"] = "HelmChart"
    spec: HelmChartSpec
    status: HelmChartStatus | None = None


# OCIRepository


class OCIRepositoryRef(FluxModel):
    """The artifact to pull. The most specific field set wins."""

    digest: str | None = None
    """Digest, as 'sha256:<hash>'; wins over semver and tag."""
    semver: str | None = None
    """SemVer range of tags, the highest match wins; wins over tag."""
    semver_filter: str | None = None
    """Regular expression the tags in the semver range must match."""
    tag: str | None = None
    """Tag; latest when nothing is set."""


class OCILayerSelector(FluxModel):
    """Which layer of the artifact to keep, and how."""

    media_type: str | None = None
    """Media type of the layer; the first match wins. The first layer when empty."""
    operation: Literal["extract", "copy"] | None = None
    """extract (the default) unpacks the layer; copy stores it as it is."""


class OCIRepositoryVerification(HelmChartVerification):
    """How to verify the signature of an OCI artifact."""

    trusted_root_secret_ref: LocalObjectReference | None = None
    """Secret with a Sigstore trusted_root.json, for self-hosted Sigstore."""


class OCIRepositorySpec(FetchedSourceSpec):
    """An OCI artifact to pull."""

    url: Annotated[str, StringConstraints(pattern=r"^oci://.*$")]
    """Address of the repository, oci://."""
    ref: OCIRepositoryRef | None = None
    """The artifact to pull; the latest tag when empty."""
    layer_selector: OCILayerSelector | None = None
    """Which layer to keep; the first when empty."""
    provider: OCIProvider = "generic"
    """Cloud provider for authentication."""
    secret_ref: LocalObjectReference | None = None
    """Secret of type kubernetes.io/dockerconfigjson with registry credentials."""
    verify: OCIRepositoryVerification | None = None
    """Signature verification."""
    service_account_name: str | None = None
    """Service account whose image pull secrets authenticate."""
    cert_secret_ref: LocalObjectReference | None = None
    """Secret with TLS material: tls.crt and tls.key, and/or ca.crt."""
    interval: Duration
    """How often to check the repository for changes."""
    timeout: Timeout = DEFAULT_TIMEOUT
    """Timeout of registry operations."""
    insecure: bool | None = None
    """Allow plain HTTP to the registry."""


class OCIRepositoryStatus(ReconcileStatus):
    """The observed state of an OCIRepository."""

    conditions: list[Condition] | None = None
    """Conditions of the OCIRepository."""
    url: str | None = None
    """Address of the latest artifact."""
    artifact: Artifact | None = None
    """The last artifact pulled."""
    observed_ignore: str | None = None
    """Exclusion patterns of the current artifact."""
    observed_layer_selector: OCILayerSelector | None = None
    """Layer selector of the current artifact."""


class OCIRepository(SourceObject):
    """An OCI repository."""

    resource = _resource(
        "OCIRepository", "ocirepositories", "ocirepo", columns=(_URL, READY, STATUS, AGE)
    )

    kind: Literal["OCIRepository"] = "OCIRepository"
    spec: OCIRepositorySpec
    status: OCIRepositoryStatus | None = None


# ExternalArtifact


class ExternalArtifactSpec(FluxModel):
    """An artifact produced by some other controller."""

    source_ref: NamespacedObjectKindReference | None = None
    """The custom resource the artifact is produced for."""


class ExternalArtifactStatus(FluxModel):
    """The observed state of an ExternalArtifact."""

    artifact: Artifact | None = None
    """The artifact."""
    conditions: list[Condition] | None = None
    """Conditions of the ExternalArtifact."""


class ExternalArtifact(SourceObject):
    """An artifact stored by a controller other than the source controller."""

    resource = _resource(
        "ExternalArtifact",
        "externalartifacts",
        "ea",
        columns=(AGE, READY, STATUS, PrinterColumn("Source", ".spec.sourceRef.name")),
        defaulted_status=False,
    )

    kind: Literal["ExternalArtifact"] = "ExternalArtifact"
    spec: ExternalArtifactSpec = Field(default_factory=ExternalArtifactSpec)
    status: ExternalArtifactStatus | None = None


SOURCE_KINDS: tuple[type[FluxObject], ...] = (
    HelmRepository,
    GitRepository,
    Bucket,
    HelmChart,
    OCIRepository,
    ExternalArtifact,
)
