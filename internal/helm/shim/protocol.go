package main

// The wire protocol between Python and the shim: one JSON request in, one JSON
// response out. Field names are camelCase; every object is decoded strictly,
// so an unknown key is an error that names its path.

import "encoding/json"

// abiVersion changes whenever the request or response shapes change in a way
// an older binding would misread. The Python binding refuses a mismatch.
const abiVersion = 1

// Request is the envelope of one call. Besides these keys it holds exactly
// one more, named by Op, with the op's own options; the dispatch table
// (dispatch.go) says which struct those decode into.
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

// DiagnoseResult says how long the call slept.
type DiagnoseResult struct {
	SleptMS float64 `json:"sleptMs"`
}

// Response is the single reply to a request.
type Response struct {
	OK           bool          `json:"ok"`
	Op           string        `json:"op"`
	Error        *WireError    `json:"error,omitempty"`
	Result       any           `json:"result,omitempty"`
	Observations []Observation `json:"observations"`
	Logs         []string      `json:"logs"`
	DurationMS   float64       `json:"durationMs"`
}

// WireError is the typed error of a failed call.
type WireError struct {
	Code    string   `json:"code"`
	Message string   `json:"message"`
	Field   string   `json:"field,omitempty"`
	Logs    []string `json:"logs"`
}

// Observation is one successful write to release storage.
type Observation struct {
	// Operation is create, update or delete.
	Operation string          `json:"operation"`
	Key       string          `json:"key"`
	Digest    string          `json:"digest"`
	Release   json.RawMessage `json:"release"`
}

// ActionResult is the result of install, upgrade, rollback and markFailed.
type ActionResult struct {
	Release *WireRelease `json:"release,omitempty"`
}

// UninstallResult is the result of uninstall.
type UninstallResult struct {
	Release *WireRelease `json:"release,omitempty"`
	Info    string       `json:"info,omitempty"`
}

// TestHookResult is one test hook that ran.
type TestHookResult struct {
	Name        string  `json:"name"`
	Kind        string  `json:"kind"`
	Phase       string  `json:"phase"`
	StartedAt   *string `json:"startedAt"`
	CompletedAt *string `json:"completedAt"`
}

// TestResult is the result of test.
type TestResult struct {
	Release       *WireRelease     `json:"release,omitempty"`
	Tests         []TestHookResult `json:"tests"`
	ShutdownError string           `json:"shutdownError,omitempty"`
}

// ReleaseResult is the result of get.
type ReleaseResult struct {
	Release        *WireRelease   `json:"release"`
	ComputedValues map[string]any `json:"computedValues,omitempty"`
}

// HistoryResult is the result of history, oldest first.
type HistoryResult struct {
	Releases []*WireRelease `json:"releases"`
}

// RenderResult is the result of render.
type RenderResult struct {
	Manifest string      `json:"manifest"`
	Hooks    []*WireHook `json:"hooks"`
	Notes    string      `json:"notes"`
}

// ChartInfo is the result of loadChart. CRDs are the files of the crds/
// directories, subcharts' included; CRDObjects the objects they hold.
type ChartInfo struct {
	Metadata            any             `json:"metadata"`
	Values              map[string]any  `json:"values"`
	Dependencies        []ChartDepInfo  `json:"dependencies"`
	Subcharts           []SubchartInfo  `json:"subcharts"`
	MissingDependencies []string        `json:"missingDependencies"`
	CRDs                []string        `json:"crds"`
	CRDObjects          []ObjectRef     `json:"crdObjects"`
	Templates           []string        `json:"templates"`
	Schema              json.RawMessage `json:"schema,omitempty"`
}

// ChartDepInfo is one entry of Chart.yaml's dependencies.
type ChartDepInfo struct {
	Name       string   `json:"name"`
	Version    string   `json:"version,omitempty"`
	Repository string   `json:"repository,omitempty"`
	Condition  string   `json:"condition,omitempty"`
	Tags       []string `json:"tags,omitempty"`
	Alias      string   `json:"alias,omitempty"`
}

// SubchartInfo is one chart found under charts/.
type SubchartInfo struct {
	Name       string `json:"name"`
	Version    string `json:"version"`
	AppVersion string `json:"appVersion,omitempty"`
}

// VersionInfo is what HelmwardVersion returns: the ABI version and the
// versions of what the library is built from.
type VersionInfo struct {
	ABI          int    `json:"abi"`
	Go           string `json:"go"`
	FieldManager string `json:"fieldManager"`
	Helm         string `json:"helm,omitempty"`
	KustomizeAPI string `json:"kustomizeApi,omitempty"`
	Kyaml        string `json:"kyaml,omitempty"`
	ClientGo     string `json:"clientGo,omitempty"`
}

// StatsResult describes the shim's process-wide state.
type StatsResult struct {
	CachedTargets  int    `json:"cachedTargets"`
	InflightCalls  int    `json:"inflightCalls"`
	Goroutines     int    `json:"goroutines"`
	HeapAllocBytes uint64 `json:"heapAllocBytes"`
	HeapSysBytes   uint64 `json:"heapSysBytes"`
	TotalCalls     uint64 `json:"totalCalls"`
	GoVersion      string `json:"goVersion"`
	// Requests counts the HTTP requests sent to API servers, by kind, and the
	// discovery requests answered from a target's cache instead.
	Requests RequestCounts `json:"requests"`
}

// RequestCounts are process-wide totals since the library was loaded.
type RequestCounts struct {
	Discovery      uint64 `json:"discovery"`
	OpenAPI        uint64 `json:"openapi"`
	Other          uint64 `json:"other"`
	DiscoveryCache uint64 `json:"discoveryCacheHits"`
	// ByResult counts the requests sent by status code, method and host, as
	// client-go's rest_client_requests_total does.
	ByResult []RequestResult `json:"byResult"`
}

// RequestResult is one (code, method, host) and how many requests had it.
type RequestResult struct {
	Code   string `json:"code"`
	Method string `json:"method"`
	Host   string `json:"host"`
	Count  uint64 `json:"count"`
}
