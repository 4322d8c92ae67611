package wire

// The request side of the wire protocol: the envelope and every op's options.
// Field names are camelCase; every object is decoded strictly (decode.go).

import "strconv"

// Request is the envelope of one call. Besides these keys it holds exactly
// one more, named by Op, with the op's own options; Ops (ops.go) says which
// struct those decode into.
type Request struct {
	Op      string       `json:"op"`
	Cluster *ClusterSpec `json:"cluster,omitempty"`
	Storage *StorageSpec `json:"storage,omitempty"`
	Observe *ObserveSpec `json:"observe,omitempty"`
}

// ClusterSpec says how to reach the Kubernetes API for one call.
type ClusterSpec struct {
	// Kubeconfig is the kubeconfig file's content (YAML or JSON).
	Kubeconfig *string `json:"kubeconfig,omitempty"`
	// Context selects a context of the kubeconfig; empty means its current one.
	Context string `json:"context,omitempty"`
	// InCluster uses the pod's service account instead of a kubeconfig.
	InCluster bool `json:"inCluster,omitempty"`
	// ServiceAccount, when set, is impersonated for every API request.
	ServiceAccount *ServiceAccountRef `json:"serviceAccount,omitempty"`
	// QPS and Burst bound the client-side rate of API requests to this target.
	QPS   float32 `json:"qps,omitempty"`
	Burst int     `json:"burst,omitempty"`
	// Cache reuses discovery, the REST mapper, OpenAPI and HTTP connections
	// across calls to the same target. Default true.
	Cache *bool `json:"cache,omitempty"`
}

// ServiceAccountRef names the service account to impersonate.
type ServiceAccountRef struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// StorageSpec selects Helm's release storage.
type StorageSpec struct {
	// Driver is secret (default), configmap or memory.
	Driver string `json:"driver,omitempty"`
	// Namespace holds the release records; default the release namespace.
	Namespace string `json:"namespace,omitempty"`
}

// ObserveSpec is what a release's digest holds besides the release: Flux
// folds in the OCI digest of the chart artifact it was made from.
type ObserveSpec struct {
	// OCIDigest goes into revisions Versions does not name: those the call
	// itself writes.
	OCIDigest string `json:"ociDigest,omitempty"`
	// Versions maps a known revision ("3") to the OCI digest its snapshot
	// carries.
	Versions map[string]string `json:"versions,omitempty"`
}

// PostRendererSpec is one entry of spec.postRenderers.
type PostRendererSpec struct {
	Kustomize *KustomizeSpec `json:"kustomize,omitempty"`
}

// KustomizeSpec holds the patches and image overrides of one post-renderer.
type KustomizeSpec struct {
	Patches []PatchSpec `json:"patches,omitempty"`
	Images  []ImageSpec `json:"images,omitempty"`
}

// PatchSpec is a strategic-merge or JSON6902 patch with an optional target.
type PatchSpec struct {
	Patch  string        `json:"patch"`
	Target *SelectorSpec `json:"target,omitempty"`
}

// SelectorSpec selects the resources a patch applies to.
type SelectorSpec struct {
	Group              string `json:"group,omitempty"`
	Version            string `json:"version,omitempty"`
	Kind               string `json:"kind,omitempty"`
	Namespace          string `json:"namespace,omitempty"`
	Name               string `json:"name,omitempty"`
	AnnotationSelector string `json:"annotationSelector,omitempty"`
	LabelSelector      string `json:"labelSelector,omitempty"`
}

// ImageSpec overrides the name, tag or digest of an image.
type ImageSpec struct {
	Name    string `json:"name"`
	NewName string `json:"newName,omitempty"`
	NewTag  string `json:"newTag,omitempty"`
	Digest  string `json:"digest,omitempty"`
}

// CommonMetadata is added to every rendered object.
type CommonMetadata struct {
	Annotations map[string]string `json:"annotations,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
}

// Origin names the object a release belongs to; it becomes the origin labels.
type Origin struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
}

// Owner is the object a release's objects belong to, as operator-sdk's Helm
// operator marks them: a controller owner reference where Kubernetes allows
// one, the operator-sdk/primary-resource annotations elsewhere. Namespace is
// empty for a cluster-scoped owner.
type Owner struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	Namespace  string `json:"namespace,omitempty"`
	UID        string `json:"uid"`
}

// RenderSettings say how to post-render; install, upgrade and render share them.
type RenderSettings struct {
	PostRenderers      []PostRendererSpec `json:"postRenderers,omitempty"`
	CommonMetadata     *CommonMetadata    `json:"commonMetadata,omitempty"`
	Origin             *Origin            `json:"origin,omitempty"`
	Owner              *Owner             `json:"owner,omitempty"`
	PostRenderStrategy string             `json:"postRenderStrategy,omitempty"`
}

// Rendering names a release, the chart and values it is made from, and how
// to post-render it: what install, upgrade and render share.
type Rendering struct {
	ReleaseName string         `json:"releaseName"`
	Namespace   string         `json:"namespace"`
	Chart       string         `json:"chart"`
	Values      map[string]any `json:"values,omitempty"`
	RenderSettings
}

// Applying are the options install and upgrade share. CRDs is the policy for
// the chart's crds/: Skip, Create or CreateReplace; its default and who
// applies the CRDs differ between the two (see opInstall and opUpgrade).
type Applying struct {
	Timeout                  string            `json:"timeout,omitempty"`
	WaitStrategy             string            `json:"waitStrategy,omitempty"`
	WaitForJobs              bool              `json:"waitForJobs,omitempty"`
	DisableHooks             bool              `json:"disableHooks,omitempty"`
	DisableOpenAPIValidation bool              `json:"disableOpenAPIValidation,omitempty"`
	DisableSchemaValidation  bool              `json:"disableSchemaValidation,omitempty"`
	CRDs                     string            `json:"crds,omitempty"`
	ForceConflicts           *bool             `json:"forceConflicts,omitempty"`
	TakeOwnership            bool              `json:"takeOwnership,omitempty"`
	Description              string            `json:"description,omitempty"`
	Labels                   map[string]string `json:"labels,omitempty"`
}

// InstallOptions are the options of helm install.
type InstallOptions struct {
	Rendering
	Applying
	Replace         bool  `json:"replace,omitempty"`
	CreateNamespace bool  `json:"createNamespace,omitempty"`
	ServerSideApply *bool `json:"serverSideApply,omitempty"`
}

// UpgradeOptions are the options of helm upgrade.
type UpgradeOptions struct {
	Rendering
	Applying
	Force                bool   `json:"force,omitempty"`
	ResetValues          bool   `json:"resetValues,omitempty"`
	ReuseValues          bool   `json:"reuseValues,omitempty"`
	ResetThenReuseValues bool   `json:"resetThenReuseValues,omitempty"`
	CleanupOnFail        bool   `json:"cleanupOnFail,omitempty"`
	MaxHistory           int    `json:"maxHistory,omitempty"`
	ServerSideApply      string `json:"serverSideApply,omitempty"`
}

// RollbackOptions are the options of helm rollback.
type RollbackOptions struct {
	ReleaseName     string `json:"releaseName"`
	Namespace       string `json:"namespace"`
	Version         int    `json:"version,omitempty"`
	Timeout         string `json:"timeout,omitempty"`
	WaitStrategy    string `json:"waitStrategy,omitempty"`
	WaitForJobs     bool   `json:"waitForJobs,omitempty"`
	DisableHooks    bool   `json:"disableHooks,omitempty"`
	Force           bool   `json:"force,omitempty"`
	CleanupOnFail   bool   `json:"cleanupOnFail,omitempty"`
	MaxHistory      int    `json:"maxHistory,omitempty"`
	ServerSideApply string `json:"serverSideApply,omitempty"`
	ForceConflicts  *bool  `json:"forceConflicts,omitempty"`
	Description     string `json:"description,omitempty"`
}

// UninstallOptions are the options of helm uninstall.
type UninstallOptions struct {
	ReleaseName         string `json:"releaseName"`
	Namespace           string `json:"namespace"`
	Timeout             string `json:"timeout,omitempty"`
	WaitStrategy        string `json:"waitStrategy,omitempty"`
	DisableHooks        bool   `json:"disableHooks,omitempty"`
	KeepHistory         bool   `json:"keepHistory,omitempty"`
	DeletionPropagation string `json:"deletionPropagation,omitempty"`
	IgnoreNotFound      bool   `json:"ignoreNotFound,omitempty"`
	Description         string `json:"description,omitempty"`
}

// TestFilter selects test hooks by name; Exclude inverts it.
type TestFilter struct {
	Name    string `json:"name"`
	Exclude bool   `json:"exclude,omitempty"`
}

// TestOptions are the options of helm test.
type TestOptions struct {
	ReleaseName string       `json:"releaseName"`
	Namespace   string       `json:"namespace"`
	Timeout     string       `json:"timeout,omitempty"`
	Filters     []TestFilter `json:"filters,omitempty"`
}

// GetQuery names one stored revision, version 0 the latest; AllValues also
// asks for the values coalesced with the chart's defaults.
type GetQuery struct {
	ReleaseName string `json:"releaseName"`
	Namespace   string `json:"namespace"`
	Version     int    `json:"version,omitempty"`
	AllValues   bool   `json:"allValues,omitempty"`
}

// MarkFailedOptions name the stored revision (version 0 the latest) to record
// as failed, with the description to record.
type MarkFailedOptions struct {
	ReleaseName string `json:"releaseName"`
	Namespace   string `json:"namespace"`
	Version     int    `json:"version,omitempty"`
	Description string `json:"description"`
}

// HistoryQuery lists the revisions of a release, the newest Max of them.
type HistoryQuery struct {
	ReleaseName string `json:"releaseName"`
	Namespace   string `json:"namespace"`
	Max         int    `json:"max,omitempty"`
}

// RenderOptions render a chart offline, the way install would.
type RenderOptions struct {
	Rendering
	DisableHooks            bool     `json:"disableHooks,omitempty"`
	DisableSchemaValidation bool     `json:"disableSchemaValidation,omitempty"`
	IncludeCRDs             bool     `json:"includeCRDs,omitempty"`
	IsUpgrade               bool     `json:"isUpgrade,omitempty"`
	KubeVersion             string   `json:"kubeVersion,omitempty"`
	APIVersions             []string `json:"apiVersions,omitempty"`
}

// LoadChartOptions name a chart archive or directory.
type LoadChartOptions struct {
	Path string `json:"path"`
}

// StatsOptions takes no options; it exists so the op has an object too.
type StatsOptions struct{}

// DiagnoseOptions exercise the call machinery itself: Panic panics inside
// the call (it must come back as an Internal error), Sleep waits for the
// duration or until the call is cancelled.
type DiagnoseOptions struct {
	Panic string `json:"panic,omitempty"`
	Sleep string `json:"sleep,omitempty"`
}

// DigestQuery asks for the digests of the desired state of a HelmRelease.
// An absent postRenderers or commonMetadata has the empty digest, as Flux
// records it; an empty list has a digest of its own.
type DigestQuery struct {
	Values         map[string]any      `json:"values,omitempty"`
	PostRenderers  *[]PostRendererSpec `json:"postRenderers,omitempty"`
	CommonMetadata *CommonMetadata     `json:"commonMetadata,omitempty"`
}

// DependencyRepository is a chart repository the dependencies may name by
// URL, with the credentials and TLS of the HelmRepository that has it.
type DependencyRepository struct {
	URL             string `json:"url"`
	Username        string `json:"username,omitempty"`
	Password        string `json:"password,omitempty"`
	PassCredentials bool   `json:"passCredentials,omitempty"`
	// InsecureSkipTlsVerify accepts any server certificate.
	InsecureSkipTLSVerify bool   `json:"insecureSkipTlsVerify,omitempty"`
	CAPEM                 string `json:"caPem,omitempty"`
	CertPEM               string `json:"certPem,omitempty"`
	KeyPEM                string `json:"keyPem,omitempty"`
}

// DependencyRegistry is how to reach one OCI registry host of oci://
// dependencies. Its timeout is not used: the op's own bounds the call.
type DependencyRegistry struct {
	// Host is host[:port].
	Host string `json:"host"`
	RegistryAccess
}

// DependenciesOptions build the charts/ directory of an unpacked chart.
type DependenciesOptions struct {
	// ChartPath is the chart directory; charts/ and the lock are written there.
	ChartPath    string                 `json:"chartPath"`
	Repositories []DependencyRepository `json:"repositories,omitempty"`
	Registries   []DependencyRegistry   `json:"registries,omitempty"`
	// MaxSize bounds every HTTP response of the call, in bytes (plus 64 KiB
	// for its headers: the count is of the connection); 0 means none.
	MaxSize int64 `json:"maxSize,omitempty"`
	// SourceDateEpoch, seconds, stamps the archives made of file://
	// dependencies (Helm's SOURCE_DATE_EPOCH), so they are reproducible.
	SourceDateEpoch *int64 `json:"sourceDateEpoch,omitempty"`
	// Timeout bounds the whole call (a Go duration); 5m when empty.
	Timeout string `json:"timeout,omitempty"`
}

// RegistryAccess says how to reach a registry: credentials, plain HTTP, TLS.
type RegistryAccess struct {
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// PlainHttp talks HTTP instead of HTTPS.
	PlainHTTP bool `json:"plainHttp,omitempty"`
	// InsecureSkipTlsVerify accepts any server certificate.
	InsecureSkipTLSVerify bool `json:"insecureSkipTlsVerify,omitempty"`
	// CaPem, CertPem and KeyPem are PEM: a CA bundle (trusted with the system's roots),
	// a client certificate and its key.
	CAPEM   string `json:"caPem,omitempty"`
	CertPEM string `json:"certPem,omitempty"`
	KeyPEM  string `json:"keyPem,omitempty"`
	// Timeout bounds the whole call (a Go duration); 60s when empty.
	Timeout string `json:"timeout,omitempty"`
	// ProxyURL, when set, is the HTTP(S) proxy every request goes through,
	// loopback hosts included; the environment's proxy settings otherwise.
	ProxyURL string `json:"proxyUrl,omitempty"`
}

// LoginOptions check that a registry accepts the credentials.
type LoginOptions struct {
	// Host is host[:port], or an oci:// URL whose host is used.
	Host string `json:"host"`
	RegistryAccess
}

// TagsOptions list the tags of a repository.
type TagsOptions struct {
	// Ref is oci://host/repository (no tag or digest).
	Ref string `json:"ref"`
	// All returns every tag as the registry lists it; otherwise only the
	// strict semver tags, newest first, '_' turned back into '+' (Helm's way).
	All bool `json:"all,omitempty"`
	RegistryAccess
}

// PullOptions pull a chart, or one layer of any OCI artifact.
type PullOptions struct {
	// Ref is oci://host/repository, with neither tag nor digest.
	Ref string `json:"ref"`
	// Tag and Digest select the manifest; Digest wins. A chart version's '+'
	// may be given as is: it becomes '_' in the tag, as Helm pushes it.
	Tag    string `json:"tag,omitempty"`
	Digest string `json:"digest,omitempty"`
	// Artifact pulls any artifact instead of a Helm chart, keeping the layer
	// LayerMediaType names (the first layer of the manifest when empty).
	Artifact       bool   `json:"artifact,omitempty"`
	LayerMediaType string `json:"layerMediaType,omitempty"`
	// MaxSize bounds the kept layer, in bytes; 0 means no bound.
	MaxSize int64 `json:"maxSize,omitempty"`
	// Dest, when set, is a file the layer is written to instead of being
	// returned in the response.
	Dest string `json:"dest,omitempty"`
	RegistryAccess
}

// ResolveOptions name the tag to resolve.
type ResolveOptions struct {
	// Ref is oci://host/repository, with neither tag nor digest.
	Ref string `json:"ref"`
	// Tag is resolved as pull resolves it ('+' becomes '_').
	Tag string `json:"tag"`
	RegistryAccess
}

// VerifyOptions name an artifact by repository and manifest digest, and the
// public keys a signature of it must verify with.
type VerifyOptions struct {
	// Ref is oci://host/repository, with neither tag nor digest.
	Ref string `json:"ref"`
	// Digest is the artifact's manifest digest, sha256:<64 hex>.
	Digest string `json:"digest"`
	// PublicKeys are PEM public keys (the content of cosign.pub): ECDSA,
	// RSA or Ed25519. A signature verifying with any one of them will do.
	PublicKeys []string `json:"publicKeys"`
	RegistryAccess
}

// SchemaOptions takes no options.
type SchemaOptions struct{}

// OCIDigestOf is the OCI digest the snapshot of revision version carries.
func (o *ObserveSpec) OCIDigestOf(version int) string {
	if o == nil {
		return ""
	}
	if d, ok := o.Versions[strconv.Itoa(version)]; ok {
		return d
	}
	return o.OCIDigest
}
