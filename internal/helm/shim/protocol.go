package main

// The wire protocol between Python and the shim: one JSON request in, one JSON
// response out. Field names are camelCase; every object is decoded strictly,
// so an unknown key is an error that names its path.

import "encoding/json"

// abiVersion changes whenever the request or response shapes change in a way
// an older binding would misread. The Python binding refuses a mismatch.
const abiVersion = 1

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
