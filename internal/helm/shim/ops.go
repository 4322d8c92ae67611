package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	chartutil "helm.sh/helm/v4/pkg/chart/common/util"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	v2util "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/kube"
	rspb "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/storage"
	"helm.sh/helm/v4/pkg/storage/driver"
)

const defaultTimeout = 5 * time.Minute

// statusComputeWorkers lets the status watcher compute readiness off the
// informer goroutine, as the helm CLI does.
const statusComputeWorkers = 4

func dispatch(st *callState, req *Request) (any, error) {
	present := map[string]bool{
		"install": req.Install != nil, "upgrade": req.Upgrade != nil, "rollback": req.Rollback != nil,
		"uninstall": req.Uninstall != nil, "test": req.Test != nil, "status": req.Status != nil,
		"history": req.History != nil, "get": req.Get != nil, "render": req.Render != nil,
		"loadChart": req.LoadChart != nil, "stats": req.Stats != nil, "diagnose": req.Diagnose != nil,
		"login": req.Login != nil, "tags": req.Tags != nil, "pull": req.Pull != nil,
	}
	if req.Op == "" {
		return nil, invalid("op", "missing; one of %s", opList(present))
	}
	if _, ok := present[req.Op]; !ok {
		return nil, invalid("op", "unknown op %q; one of %s", req.Op, opList(present))
	}
	for name, set := range present {
		if set && name != req.Op {
			return nil, invalid(name, "not allowed in a %q request", req.Op)
		}
	}
	if !present[req.Op] {
		return nil, invalid(req.Op, "missing: a %q request carries its options in %q", req.Op, req.Op)
	}
	offline := req.Op == "render" || req.Op == "loadChart" || req.Op == "stats" || req.Op == "diagnose" ||
		req.Op == "login" || req.Op == "tags" || req.Op == "pull"
	if offline && req.Cluster != nil {
		return nil, invalid("cluster", "not allowed: %s never talks to a cluster", req.Op)
	}
	if offline && req.Storage != nil {
		return nil, invalid("storage", "not allowed: %s never reads release storage", req.Op)
	}
	switch req.Op {
	case "install":
		return opInstall(st, req)
	case "upgrade":
		return opUpgrade(st, req)
	case "rollback":
		return opRollback(st, req)
	case "uninstall":
		return opUninstall(st, req)
	case "test":
		return opTest(st, req)
	case "status":
		return opStatus(st, req)
	case "get":
		return opGet(st, req)
	case "history":
		return opHistory(st, req)
	case "render":
		return opRender(st, req)
	case "loadChart":
		return opLoadChart(st, req.LoadChart)
	case "stats":
		return opStats(), nil
	case "diagnose":
		return opDiagnose(st, req.Diagnose)
	case "login":
		return opLogin(st, req.Login)
	case "tags":
		return opTags(st, req.Tags)
	case "pull":
		return opPull(st, req.Pull)
	}
	return nil, invalid("op", "unhandled op %q", req.Op)
}

// helmRunContext is the context given to Install/Upgrade.RunWithContext.
//
// Cancellation reaches Helm through the wait context instead (session
// waitOpts): every wait Helm does, for resources, hooks and deletions, ends
// when the call is cancelled, and Helm then records the failed release before
// returning. Handing the cancellable context to RunWithContext as well would
// make Helm return at once while its worker goroutine goes on writing to the
// cluster and to storage after the call has answered; and in Helm v4.3.1 a
// cancelled upgrade leaves that goroutine blocked for good on an unbuffered
// channel (pkg/action/upgrade.go, reportToPerformUpgrade).
func helmRunContext(ctx context.Context) context.Context {
	return context.WithoutCancel(ctx)
}

func opList(present map[string]bool) string {
	names := make([]string, 0, len(present))
	for k := range present {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// --- shared validation -------------------------------------------------------

func checkRelease(prefix, name, namespace string) error {
	if name == "" {
		return invalid(prefix+".releaseName", "must not be empty")
	}
	if err := v2util.ValidateReleaseName(name); err != nil {
		return invalid(prefix+".releaseName", "%v", err)
	}
	if namespace == "" {
		return invalid(prefix+".namespace", "must not be empty")
	}
	if errs := validation.IsDNS1123Label(namespace); len(errs) > 0 {
		return invalid(prefix+".namespace", "%s", strings.Join(errs, "; "))
	}
	return nil
}

func parseTimeout(field, s string) (time.Duration, error) {
	if s == "" {
		return defaultTimeout, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, invalid(field, "not a duration such as 90s or 5m: %q", s)
	}
	if d < 0 {
		return 0, invalid(field, "must not be negative")
	}
	return d, nil
}

func parseWait(field, s string) (kube.WaitStrategy, error) {
	switch s {
	case "", "watcher":
		return kube.StatusWatcherStrategy, nil
	case "legacy":
		return kube.LegacyStrategy, nil
	case "hookOnly":
		return kube.HookOnlyStrategy, nil
	}
	return "", invalid(field, "must be watcher, legacy or hookOnly, got %q", s)
}

func parseSSA(field, s string) (string, error) {
	switch s {
	case "", "auto":
		return "auto", nil
	case "true", "false":
		return s, nil
	}
	return "", invalid(field, "must be auto, true or false, got %q", s)
}

func checkMaxHistory(field string, n int) error {
	if n < 0 {
		return invalid(field, "must not be negative")
	}
	return nil
}

func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

func loadChart(field, path string) (*chart.Chart, error) {
	if path == "" {
		return nil, invalid(field, "must name a chart directory or .tgz archive")
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fieldErr(CodeChartLoad, field, "%v", err)
	}
	ch, err := loader.Load(path)
	if err != nil {
		return nil, fieldErr(CodeChartLoad, field, "cannot load chart %s: %v", path, err)
	}
	if err := ch.Validate(); err != nil {
		return nil, fieldErr(CodeChartLoad, field, "invalid chart %s: %v", path, err)
	}
	return ch, nil
}

func values(v map[string]any) map[string]any {
	if v == nil {
		return map[string]any{}
	}
	return v
}

// --- sessions ----------------------------------------------------------------

// session is one call's Helm configuration against one target.
type session struct {
	t         *target
	cfg       *action.Configuration
	waitOpts  []kube.WaitOption
	namespace string
}

var (
	memoryMu     sync.Mutex
	memoryStores = map[string]*driver.Memory{}
)

func openSession(st *callState, req *Request, namespace string) (*session, error) {
	t, err := resolveTarget(req.Cluster)
	if err != nil {
		return nil, err
	}
	spec := req.Storage
	if spec == nil {
		spec = &StorageSpec{}
	}
	storageNS := spec.Namespace
	if storageNS == "" {
		storageNS = namespace
	} else if errs := validation.IsDNS1123Label(storageNS); len(errs) > 0 {
		return nil, invalid("storage.namespace", "%s", strings.Join(errs, "; "))
	}
	var d driver.Driver
	switch spec.Driver {
	case "", "secret", "secrets":
		s := driver.NewSecrets(t.clientset.CoreV1().Secrets(storageNS))
		s.SetLogger(st.log)
		d = s
	case "configmap", "configmaps":
		c := driver.NewConfigMaps(t.clientset.CoreV1().ConfigMaps(storageNS))
		c.SetLogger(st.log)
		d = c
	case "memory":
		memoryMu.Lock()
		key := t.key + "/" + storageNS
		m, ok := memoryStores[key]
		if !ok {
			m = driver.NewMemory()
			m.SetNamespace(storageNS)
			memoryStores[key] = m
		}
		memoryMu.Unlock()
		d = m
	default:
		return nil, invalid("storage.driver", "must be secret, configmap or memory, got %q", spec.Driver)
	}
	st.obs = newObserver(d, st.log)

	kc := kube.New(t.getter(namespace))
	kc.Factory = t.factory
	kc.Namespace = namespace
	kc.SetLogger(st.log)
	kc.WaitContext = st.ctx //nolint:staticcheck // the legacy waiter still reads it

	cfg := action.NewConfiguration(action.ConfigurationSetLogger(st.log))
	cfg.RESTClientGetter = t.getter(namespace)
	cfg.KubeClient = kc
	cfg.Releases = storage.Init(st.obs)
	cfg.Releases.SetLogger(st.log)
	cfg.HookOutputFunc = func(_, _, _ string) io.Writer { return io.Discard }
	return &session{
		t:         t,
		cfg:       cfg,
		namespace: namespace,
		waitOpts: []kube.WaitOption{
			kube.WithWaitContext(st.ctx),
			kube.WithStatusComputeWorkers(statusComputeWorkers),
		},
	}, nil
}

// presetCapabilities gives Helm the target's cached capabilities, so it does
// not invalidate and download discovery again for this action.
func (s *session) presetCapabilities() error {
	caps, err := s.t.capabilities()
	if err != nil {
		return wrapField(CodeClusterAccess, "cluster", err)
	}
	s.cfg.Capabilities = caps
	return nil
}

// kinds lists the kinds the cluster serves and the chart's CRDs define.
func (s *session) kinds(ch *chart.Chart) kindSource {
	return func() []string {
		var out []string
		if s.cfg.Capabilities != nil {
			out = kindsOfVersionSet(s.cfg.Capabilities.APIVersions)
		}
		return append(out, crdKinds(ch)...)
	}
}

// yamlNamesKind returns spec.names.kind of a CustomResourceDefinition document.
func yamlNamesKind(doc string) string {
	var crd struct {
		Kind string `json:"kind"`
		Spec struct {
			Names struct {
				Kind string `json:"kind"`
			} `json:"names"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal([]byte(doc), &crd); err != nil || crd.Kind != "CustomResourceDefinition" {
		return ""
	}
	return crd.Spec.Names.Kind
}

func crdKinds(ch *chart.Chart) []string {
	if ch == nil {
		return nil
	}
	var out []string
	for _, crd := range ch.CRDObjects() {
		if crd.File == nil {
			continue
		}
		for _, doc := range strings.Split(string(crd.File.Data), "\n---") {
			if k := yamlNamesKind(doc); k != "" {
				out = append(out, k)
			}
		}
	}
	return out
}

// --- actions -------------------------------------------------------------------

func opInstall(st *callState, req *Request) (any, error) {
	o, f := req.Install, "install"
	if err := checkRelease(f, o.ReleaseName, o.Namespace); err != nil {
		return nil, err
	}
	timeout, err := parseTimeout(f+".timeout", o.Timeout)
	if err != nil {
		return nil, err
	}
	wait, err := parseWait(f+".waitStrategy", o.WaitStrategy)
	if err != nil {
		return nil, err
	}
	crds, err := parseCRDsPolicy(f+".crds", o.CRDs, crdsCreate)
	if err != nil {
		return nil, err
	}
	ch, err := loadChart(f+".chart", o.Chart)
	if err != nil {
		return nil, err
	}
	ses, err := openSession(st, req, o.Namespace)
	if err != nil {
		return nil, err
	}
	pr, strategy, err := buildPostRenderer(&o.RenderSettings, f, ses.kinds(ch))
	if err != nil {
		return nil, err
	}
	ssa := boolOr(o.ServerSideApply, true)
	// With Create, Helm's install creates the CRDs itself; with
	// CreateReplace the engine applies them first and Helm skips them.
	installsCRDs := crds == crdsCreate && len(ch.CRDObjects()) > 0
	if installsCRDs {
		ses.awaitHelmCRDs(st, ch, timeout)
	} else if err := ses.presetCapabilities(); err != nil {
		return nil, err
	}
	if crds == crdsCreateReplace && len(ch.CRDObjects()) > 0 {
		if err := ses.applyCRDs(st, crdApply{
			field: f + ".chart", chart: o.Chart, values: o.Values, policy: crds,
			ssa: ssa, wait: wait, timeout: timeout,
		}); err != nil {
			return nil, err
		}
	}
	in := action.NewInstall(ses.cfg)
	in.ReleaseName, in.Namespace = o.ReleaseName, o.Namespace
	in.Timeout, in.WaitStrategy, in.WaitOptions, in.WaitForJobs = timeout, wait, ses.waitOpts, o.WaitForJobs
	in.DisableHooks = o.DisableHooks
	in.DisableOpenAPIValidation = o.DisableOpenAPIValidation
	in.SkipSchemaValidation = o.DisableSchemaValidation
	in.Replace, in.CreateNamespace, in.SkipCRDs = o.Replace, o.CreateNamespace, !installsCRDs
	in.ServerSideApply = ssa
	in.ForceConflicts = boolOr(o.ForceConflicts, in.ServerSideApply)
	in.TakeOwnership = o.TakeOwnership
	in.Description, in.Labels = o.Description, o.Labels
	in.PostRenderer, in.PostRenderStrategy = pr, strategy
	in.Devel = true
	reli, runErr := in.RunWithContext(helmRunContext(st.ctx), ch, values(o.Values))
	if installsCRDs {
		// Helm refreshed discovery for the new CRDs; keep its view.
		ses.t.storeCapabilities(ses.cfg.Capabilities)
	}
	return actionResult(reli, runErr)
}

func opUpgrade(st *callState, req *Request) (any, error) {
	o, f := req.Upgrade, "upgrade"
	if err := checkRelease(f, o.ReleaseName, o.Namespace); err != nil {
		return nil, err
	}
	timeout, err := parseTimeout(f+".timeout", o.Timeout)
	if err != nil {
		return nil, err
	}
	wait, err := parseWait(f+".waitStrategy", o.WaitStrategy)
	if err != nil {
		return nil, err
	}
	ssa, err := parseSSA(f+".serverSideApply", o.ServerSideApply)
	if err != nil {
		return nil, err
	}
	if err := checkMaxHistory(f+".maxHistory", o.MaxHistory); err != nil {
		return nil, err
	}
	crds, err := parseCRDsPolicy(f+".crds", o.CRDs, crdsSkip)
	if err != nil {
		return nil, err
	}
	ch, err := loadChart(f+".chart", o.Chart)
	if err != nil {
		return nil, err
	}
	ses, err := openSession(st, req, o.Namespace)
	if err != nil {
		return nil, err
	}
	pr, strategy, err := buildPostRenderer(&o.RenderSettings, f, ses.kinds(ch))
	if err != nil {
		return nil, err
	}
	// Helm's upgrade never touches crds/: the engine applies them first.
	if crds != crdsSkip && len(ch.CRDObjects()) > 0 {
		if crdSSA, ok := ses.upgradeSSA(st, o.ReleaseName, ssa); ok {
			if err := ses.applyCRDs(st, crdApply{
				field: f + ".chart", chart: o.Chart, values: o.Values, policy: crds,
				ssa: crdSSA, wait: wait, timeout: timeout,
			}); err != nil {
				return nil, err
			}
		}
	}
	if err := ses.presetCapabilities(); err != nil {
		return nil, err
	}
	up := action.NewUpgrade(ses.cfg)
	up.Namespace = o.Namespace
	up.Timeout, up.WaitStrategy, up.WaitOptions, up.WaitForJobs = timeout, wait, ses.waitOpts, o.WaitForJobs
	up.DisableHooks = o.DisableHooks
	up.DisableOpenAPIValidation = o.DisableOpenAPIValidation
	up.SkipSchemaValidation = o.DisableSchemaValidation
	up.ForceReplace = o.Force
	up.ResetValues, up.ReuseValues, up.ResetThenReuseValues = o.ResetValues, o.ReuseValues, o.ResetThenReuseValues
	up.CleanupOnFail, up.MaxHistory = o.CleanupOnFail, o.MaxHistory
	up.ServerSideApply = ssa
	up.ForceConflicts = boolOr(o.ForceConflicts, ssa != "false")
	up.TakeOwnership = o.TakeOwnership
	up.Description, up.Labels = o.Description, o.Labels
	up.PostRenderer, up.PostRenderStrategy = pr, strategy
	up.Devel = true
	reli, runErr := up.RunWithContext(helmRunContext(st.ctx), o.ReleaseName, ch, values(o.Values))
	return actionResult(reli, runErr)
}

// upgradeSSA is whether an upgrade applies with server-side apply, decided
// as Helm's upgrade does: auto follows the last release. It is false when
// the upgrade cannot run (no release, or one in progress): Helm's action then
// reports why, and nothing is applied before it.
func (s *session) upgradeSSA(st *callState, name, mode string) (ssa, ok bool) {
	last, err := s.cfg.Releases.Last(name)
	if err != nil {
		st.log.Printf("CustomResourceDefinitions not applied: no last release of %s: %v", name, err)
		return false, false
	}
	rel, err := toV1(last)
	if err != nil || rel == nil || rel.Info == nil || rel.Info.Status.IsPending() {
		st.log.Printf("CustomResourceDefinitions not applied: the last release of %s is pending or unreadable", name)
		return false, false
	}
	if mode == "auto" {
		return rel.ApplyMethod == "ssa", true
	}
	return mode == "true", true
}

func opRollback(st *callState, req *Request) (any, error) {
	o, f := req.Rollback, "rollback"
	if err := checkRelease(f, o.ReleaseName, o.Namespace); err != nil {
		return nil, err
	}
	if o.Version < 0 {
		return nil, invalid(f+".version", "must not be negative")
	}
	timeout, err := parseTimeout(f+".timeout", o.Timeout)
	if err != nil {
		return nil, err
	}
	wait, err := parseWait(f+".waitStrategy", o.WaitStrategy)
	if err != nil {
		return nil, err
	}
	ssa, err := parseSSA(f+".serverSideApply", o.ServerSideApply)
	if err != nil {
		return nil, err
	}
	if err := checkMaxHistory(f+".maxHistory", o.MaxHistory); err != nil {
		return nil, err
	}
	ses, err := openSession(st, req, o.Namespace)
	if err != nil {
		return nil, err
	}
	rb := action.NewRollback(ses.cfg)
	rb.Version = o.Version
	rb.Timeout, rb.WaitStrategy, rb.WaitOptions, rb.WaitForJobs = timeout, wait, ses.waitOpts, o.WaitForJobs
	rb.DisableHooks, rb.ForceReplace = o.DisableHooks, o.Force
	rb.CleanupOnFail, rb.MaxHistory = o.CleanupOnFail, o.MaxHistory
	rb.ServerSideApply = ssa
	rb.ForceConflicts = boolOr(o.ForceConflicts, ssa != "false")
	rb.Description = o.Description
	started := time.Now()
	runErr := rb.Run(o.ReleaseName)
	// Rollback returns no release: the last one it stored is the result.
	res := &ActionResult{Release: st.obs.lastRelease()}
	if runErr != nil && hookFailedSince(res.Release, started, "pre-rollback", "post-rollback") {
		runErr = &shimError{code: CodeHookFailed, err: runErr}
	}
	return res, runErr
}

func opUninstall(st *callState, req *Request) (any, error) {
	o, f := req.Uninstall, "uninstall"
	if err := checkRelease(f, o.ReleaseName, o.Namespace); err != nil {
		return nil, err
	}
	timeout, err := parseTimeout(f+".timeout", o.Timeout)
	if err != nil {
		return nil, err
	}
	wait, err := parseWait(f+".waitStrategy", o.WaitStrategy)
	if err != nil {
		return nil, err
	}
	propagation := o.DeletionPropagation
	switch propagation {
	case "":
		propagation = "background"
	case "background", "foreground", "orphan":
	default:
		return nil, invalid(f+".deletionPropagation", "must be background, foreground or orphan, got %q", propagation)
	}
	ses, err := openSession(st, req, o.Namespace)
	if err != nil {
		return nil, err
	}
	un := action.NewUninstall(ses.cfg)
	un.DisableHooks, un.KeepHistory, un.IgnoreNotFound = o.DisableHooks, o.KeepHistory, o.IgnoreNotFound
	un.WaitStrategy, un.WaitOptions, un.Timeout = wait, ses.waitOpts, timeout
	un.DeletionPropagation, un.Description = propagation, o.Description
	started := time.Now()
	resp, runErr := un.Run(o.ReleaseName)
	out := &UninstallResult{}
	if resp != nil {
		out.Info = resp.Info
		if rel, err := toV1(resp.Release); err == nil && rel != nil {
			w, werr := wireRelease(rel)
			if werr != nil {
				return out, werr
			}
			out.Release = w
		}
	}
	if out.Release == nil {
		out.Release = st.obs.lastRelease()
	}
	if runErr != nil && hookFailedSince(out.Release, started, "pre-delete", "post-delete") {
		runErr = &shimError{code: CodeHookFailed, err: runErr}
	}
	return out, runErr
}

func opTest(st *callState, req *Request) (any, error) {
	o, f := req.Test, "test"
	if err := checkRelease(f, o.ReleaseName, o.Namespace); err != nil {
		return nil, err
	}
	timeout, err := parseTimeout(f+".timeout", o.Timeout)
	if err != nil {
		return nil, err
	}
	filters := map[string][]string{}
	for i, flt := range o.Filters {
		if flt.Name == "" {
			return nil, invalid(fmt.Sprintf("%s.filters[%d].name", f, i), "must not be empty")
		}
		key := action.IncludeNameFilter
		if flt.Exclude {
			key = action.ExcludeNameFilter
		}
		filters[key] = append(filters[key], flt.Name)
	}
	ses, err := openSession(st, req, o.Namespace)
	if err != nil {
		return nil, err
	}
	rt := action.NewReleaseTesting(ses.cfg)
	rt.Timeout, rt.WaitOptions, rt.Namespace, rt.Filters = timeout, ses.waitOpts, o.Namespace, filters
	reli, shutdown, runErr := rt.Run(o.ReleaseName)
	out := &TestResult{Tests: []TestHookResult{}}
	// The shutdown applies the hook delete policies; it runs whatever happened.
	if shutdown != nil {
		if serr := shutdown(); serr != nil {
			out.ShutdownError = serr.Error()
			st.log.Printf("test shutdown (hook delete policies) failed: %v", serr)
		}
	}
	rel, _ := toV1(reli)
	if rel != nil {
		w, werr := wireRelease(rel)
		if werr != nil {
			return out, werr
		}
		out.Release = w
		failed := false
		// Report the tests in the order Helm ran them: by weight, then name.
		ran := slices.Clone(rel.Hooks)
		sort.SliceStable(ran, func(i, j int) bool {
			if ran[i].Weight != ran[j].Weight {
				return ran[i].Weight < ran[j].Weight
			}
			return ran[i].Name < ran[j].Name
		})
		for _, h := range ran {
			if !isTestHook(h) || !selectedByFilters(h.Name, filters) {
				continue
			}
			r := TestHookResult{
				Name: h.Name, Kind: h.Kind, Phase: string(h.LastRun.Phase),
				StartedAt: wireTime(h.LastRun.StartedAt), CompletedAt: wireTime(h.LastRun.CompletedAt),
			}
			failed = failed || h.LastRun.Phase == rspb.HookPhaseFailed
			out.Tests = append(out.Tests, r)
		}
		if runErr != nil && failed {
			runErr = &shimError{code: CodeHookFailed, err: runErr}
		}
	}
	return out, runErr
}

func isTestHook(h *rspb.Hook) bool {
	return slices.Contains(h.Events, rspb.HookTest)
}

// selectedByFilters mirrors how Helm's release testing applies name filters:
// exclusions first, then, if any inclusions are given, only those.
func selectedByFilters(name string, filters map[string][]string) bool {
	if slices.Contains(filters[action.ExcludeNameFilter], name) {
		return false
	}
	if inc := filters[action.IncludeNameFilter]; len(inc) > 0 {
		return slices.Contains(inc, name)
	}
	return true
}

func hookFailedSince(rel *WireRelease, since time.Time, events ...string) bool {
	if rel == nil {
		return false
	}
	for _, h := range rel.Hooks {
		if h.LastRun == nil || h.LastRun.Phase != string(rspb.HookPhaseFailed) || h.LastRun.StartedAt == nil {
			continue
		}
		started, err := time.Parse(time.RFC3339Nano, *h.LastRun.StartedAt)
		if err != nil || started.Before(since) {
			continue
		}
		for _, e := range h.Events {
			if slices.Contains(events, e) {
				return true
			}
		}
	}
	return false
}

func actionResult(reli any, runErr error) (any, error) {
	out := &ActionResult{}
	if rel, err := toV1(reli); err == nil && rel != nil {
		w, werr := wireRelease(rel)
		if werr != nil && runErr == nil {
			return out, werr
		}
		out.Release = w
	}
	return out, runErr
}

// --- queries -----------------------------------------------------------------

func opStatus(st *callState, req *Request) (any, error) {
	o, f := req.Status, "status"
	if err := checkRelease(f, o.ReleaseName, o.Namespace); err != nil {
		return nil, err
	}
	if o.Version < 0 {
		return nil, invalid(f+".version", "must not be negative")
	}
	ses, err := openSession(st, req, o.Namespace)
	if err != nil {
		return nil, err
	}
	// Helm's Status action also fetches every live object of the manifest and
	// their pods; the binding reads live objects itself, so status is the
	// stored release only.
	s := action.NewGet(ses.cfg)
	s.Version = o.Version
	reli, err := s.Run(o.ReleaseName)
	if err != nil {
		return nil, err
	}
	rel, err := toV1(reli)
	if err != nil {
		return nil, err
	}
	w, err := wireRelease(rel)
	return &ReleaseResult{Release: w}, err
}

func opGet(st *callState, req *Request) (any, error) {
	o, f := req.Get, "get"
	if err := checkRelease(f, o.ReleaseName, o.Namespace); err != nil {
		return nil, err
	}
	if o.Version < 0 {
		return nil, invalid(f+".version", "must not be negative")
	}
	ses, err := openSession(st, req, o.Namespace)
	if err != nil {
		return nil, err
	}
	g := action.NewGet(ses.cfg)
	g.Version = o.Version
	reli, err := g.Run(o.ReleaseName)
	if err != nil {
		return nil, err
	}
	rel, err := toV1(reli)
	if err != nil {
		return nil, err
	}
	w, err := wireRelease(rel)
	if err != nil {
		return nil, err
	}
	out := &ReleaseResult{Release: w}
	if o.AllValues && rel.Chart != nil {
		all, err := chartutil.CoalesceValues(rel.Chart, rel.Config)
		if err != nil {
			return nil, err
		}
		out.ComputedValues = all
	}
	return out, nil
}

func opHistory(st *callState, req *Request) (any, error) {
	o, f := req.History, "history"
	if err := checkRelease(f, o.ReleaseName, o.Namespace); err != nil {
		return nil, err
	}
	if o.Max < 0 {
		return nil, invalid(f+".max", "must not be negative")
	}
	ses, err := openSession(st, req, o.Namespace)
	if err != nil {
		return nil, err
	}
	h := action.NewHistory(ses.cfg)
	list, err := h.Run(o.ReleaseName)
	if err != nil {
		return nil, err
	}
	out := &HistoryResult{Releases: []*WireRelease{}}
	for _, reli := range list {
		rel, err := toV1(reli)
		if err != nil {
			return nil, err
		}
		w, err := wireRelease(rel)
		if err != nil {
			return nil, err
		}
		out.Releases = append(out.Releases, w)
	}
	sort.Slice(out.Releases, func(i, j int) bool { return out.Releases[i].Version < out.Releases[j].Version })
	if o.Max > 0 && len(out.Releases) > o.Max {
		out.Releases = out.Releases[len(out.Releases)-o.Max:]
	}
	return out, nil
}

// --- offline -----------------------------------------------------------------

func opRender(st *callState, req *Request) (any, error) {
	o, f := req.Render, "render"
	if err := checkRelease(f, o.ReleaseName, o.Namespace); err != nil {
		return nil, err
	}
	var kv *common.KubeVersion
	if o.KubeVersion != "" {
		parsed, err := common.ParseKubeVersion(o.KubeVersion)
		if err != nil {
			return nil, invalid(f+".kubeVersion", "%v", err)
		}
		kv = parsed
	}
	ch, err := loadChart(f+".chart", o.Chart)
	if err != nil {
		return nil, err
	}
	kinds := func() []string { return append(kindsOfVersionSet(o.APIVersions), crdKinds(ch)...) }
	pr, strategy, err := buildPostRenderer(&o.RenderSettings, f, kinds)
	if err != nil {
		return nil, err
	}
	cfg := action.NewConfiguration(action.ConfigurationSetLogger(st.log))
	in := action.NewInstall(cfg)
	in.DryRunStrategy = action.DryRunClient
	in.ReleaseName, in.Namespace = o.ReleaseName, o.Namespace
	in.DisableHooks = o.DisableHooks
	in.SkipSchemaValidation = o.DisableSchemaValidation
	in.IncludeCRDs, in.IsUpgrade = o.IncludeCRDs, o.IsUpgrade
	in.KubeVersion, in.APIVersions = kv, o.APIVersions
	in.PostRenderer, in.PostRenderStrategy = pr, strategy
	in.Devel = true
	in.WaitStrategy = kube.HookOnlyStrategy
	reli, err := in.RunWithContext(st.ctx, ch, values(o.Values))
	if err != nil {
		return nil, err
	}
	rel, err := toV1(reli)
	if err != nil {
		return nil, err
	}
	out := &RenderResult{Manifest: rel.Manifest, Hooks: []*WireHook{}}
	if rel.Info != nil {
		out.Notes = rel.Info.Notes
	}
	if !o.DisableHooks {
		for _, h := range rel.Hooks {
			out.Hooks = append(out.Hooks, wireHook(h))
		}
	}
	return out, nil
}

func opLoadChart(st *callState, o *LoadChartOptions) (any, error) {
	ch, err := loadChart("loadChart.path", o.Path)
	if err != nil {
		return nil, err
	}
	info := &ChartInfo{
		Metadata:            ch.Metadata,
		Values:              ch.Values,
		Dependencies:        []ChartDepInfo{},
		Subcharts:           []SubchartInfo{},
		MissingDependencies: []string{},
		CRDs:                []string{},
		Templates:           []string{},
	}
	if info.Values == nil {
		info.Values = map[string]any{}
	}
	loaded := map[string]bool{}
	for _, sub := range ch.Dependencies() {
		if sub.Metadata == nil {
			continue
		}
		info.Subcharts = append(info.Subcharts, SubchartInfo{
			Name: sub.Metadata.Name, Version: sub.Metadata.Version, AppVersion: sub.Metadata.AppVersion,
		})
		loaded[sub.Metadata.Name] = true
	}
	for _, d := range ch.Metadata.Dependencies {
		if d == nil {
			continue
		}
		info.Dependencies = append(info.Dependencies, ChartDepInfo{
			Name: d.Name, Version: d.Version, Repository: d.Repository,
			Condition: d.Condition, Tags: d.Tags, Alias: d.Alias,
		})
		if !loaded[d.Name] {
			info.MissingDependencies = append(info.MissingDependencies, d.Name)
		}
	}
	for _, crd := range ch.CRDObjects() {
		info.CRDs = append(info.CRDs, crd.Filename)
	}
	info.CRDObjects = chartCRDRefs(ch, st.log.Printf)
	for _, t := range ch.Templates {
		info.Templates = append(info.Templates, t.Name)
	}
	if len(ch.Schema) > 0 && json.Valid(ch.Schema) {
		info.Schema = ch.Schema
	}
	return info, nil
}

func opStats() *StatsResult {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return &StatsResult{
		CachedTargets:  targets.len(),
		InflightCalls:  int(calls.inflight.Load()),
		Goroutines:     runtime.NumGoroutine(),
		HeapAllocBytes: ms.HeapAlloc,
		HeapSysBytes:   ms.HeapSys,
		TotalCalls:     calls.total.Load(),
		Requests: RequestCounts{
			Discovery:      requestCounts.discovery.Load(),
			OpenAPI:        requestCounts.openapi.Load(),
			Other:          requestCounts.other.Load(),
			DiscoveryCache: requestCounts.cacheHits.Load(),
		},
	}
}

func opDiagnose(st *callState, o *DiagnoseOptions) (any, error) {
	if o.Panic != "" {
		panic(o.Panic)
	}
	out := &DiagnoseResult{}
	if o.Sleep != "" {
		d, err := time.ParseDuration(o.Sleep)
		if err != nil {
			return nil, invalid("diagnose.sleep", "not a duration: %q", o.Sleep)
		}
		start := time.Now()
		select {
		case <-time.After(d):
		case <-st.ctx.Done():
			out.SleptMS = float64(time.Since(start).Milliseconds())
			return out, st.ctx.Err()
		}
		out.SleptMS = float64(time.Since(start).Milliseconds())
	}
	return out, nil
}
