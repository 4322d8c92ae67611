package main

// The HelmRelease CRD policy (spec.install.crds, spec.upgrade.crds).
//
// Helm itself only ever creates the CRDs of crds/, and only on install. The
// policy asks for more: on install, CreateReplace also updates CRDs that
// exist; on upgrade, Create creates the missing ones and CreateReplace also
// updates the existing ones. Those cases are applied here, before Helm's
// action runs, and then discovery, the REST mapper and the capabilities of
// the target are refreshed so that the action's templates and manifests can
// use the new kinds. CRDs are never deleted. When Helm's install creates the
// CRDs itself (Create), the engine still waits, on the REST mapper reset Helm
// does after them, until discovery serves their kinds.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/cli-runtime/pkg/resource"

	"helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	v2util "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/kube"
)

// The values of the crds field.
const (
	crdsSkip          = "Skip"
	crdsCreate        = "Create"
	crdsCreateReplace = "CreateReplace"
)

// crdDiscoveryPoll is how often discovery is read again while a CRD that was
// just applied is not listed yet.
const crdDiscoveryPoll = 250 * time.Millisecond

// crdWaitFallback bounds the wait for CRDs when the action has no timeout.
const crdWaitFallback = time.Minute

// ObjectRef names one object of a chart's crds/ directories.
type ObjectRef struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Name       string `json:"name"`
}

func parseCRDsPolicy(field, s, def string) (string, error) {
	switch s {
	case "":
		return def, nil
	case crdsSkip, crdsCreate, crdsCreateReplace:
		return s, nil
	}
	return "", invalid(field, "must be Skip, Create or CreateReplace, got %q", s)
}

// manifestObjects decodes the YAML (or JSON) documents of one file of crds/.
// Empty documents are skipped and List kinds are flattened. On an error the
// objects decoded before it are returned with it.
func manifestObjects(data []byte) ([]map[string]any, error) {
	var out []map[string]any
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for n := 1; ; n++ {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, fmt.Errorf("document %d: %w", n, err)
		}
		if len(obj) == 0 {
			continue
		}
		if kind, _ := obj["kind"].(string); kind == "List" {
			items, _ := obj["items"].([]any)
			for _, it := range items {
				if m, ok := it.(map[string]any); ok && len(m) > 0 {
					out = append(out, m)
				}
			}
			continue
		}
		out = append(out, obj)
	}
}

func refOf(obj map[string]any) ObjectRef {
	u := unstructured.Unstructured{Object: obj}
	return ObjectRef{APIVersion: u.GetAPIVersion(), Kind: u.GetKind(), Name: u.GetName()}
}

func isCRD(ref ObjectRef) bool {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	return err == nil && gv.Group == "apiextensions.k8s.io" && ref.Kind == "CustomResourceDefinition"
}

// chartCRDRefs lists every object of the chart's crds/ directories, its
// subcharts' included. A file that does not decode is reported through warn
// and contributes the objects before the bad document.
func chartCRDRefs(ch *chart.Chart, warn func(format string, args ...any)) []ObjectRef {
	out := []ObjectRef{}
	for _, crd := range ch.CRDObjects() {
		if crd.File == nil {
			continue
		}
		objs, err := manifestObjects(crd.File.Data)
		if err != nil {
			warn("%s: cannot decode: %v", crd.Filename, err)
		}
		for _, obj := range objs {
			out = append(out, refOf(obj))
		}
	}
	return out
}

// crdApply is what the engine needs to apply a chart's CRDs itself.
type crdApply struct {
	field   string // the request's chart field, e.g. upgrade.chart
	chart   string // the chart's path
	values  map[string]any
	policy  string // Create or CreateReplace
	ssa     bool
	wait    kube.WaitStrategy
	timeout time.Duration
}

// applyCRDs applies the CRDs of the chart (and of the subcharts its values
// enable) by the policy, waits until they are established and refreshes the
// target's view of the API, including the session's capabilities. Objects of
// crds/ that are not CustomResourceDefinitions are left out.
func (s *session) applyCRDs(st *callState, a crdApply) error {
	if a.policy != crdsCreate && a.policy != crdsCreateReplace {
		return nil
	}
	// A copy of the chart: processing the dependencies drops the disabled
	// subcharts from it, and Helm's action does that again on its own copy
	// with the values it computes.
	ch, err := loadChart(a.field, a.chart)
	if err != nil {
		return err
	}
	if len(ch.CRDObjects()) == 0 {
		return nil
	}
	if err := v2util.ProcessDependencies(ch, common.Values(values(a.values))); err != nil {
		return fmt.Errorf("cannot select the subcharts whose CRDs apply: %w", err)
	}
	var crds []*resource.Info
	seen := map[string]bool{}
	for _, file := range ch.CRDObjects() {
		if file.File == nil {
			continue
		}
		objs, err := manifestObjects(file.File.Data)
		if err != nil {
			return fieldErr(CodeChartLoad, a.field, "cannot decode %s: %v", file.Filename, err)
		}
		for _, obj := range objs {
			ref := refOf(obj)
			if !isCRD(ref) {
				st.log.Printf("ignoring %s %s of %s: only CustomResourceDefinitions in crds/ are applied",
					ref.Kind, ref.Name, file.Filename)
				continue
			}
			if ref.Name == "" {
				return fieldErr(CodeChartLoad, a.field, "%s: a CustomResourceDefinition without metadata.name",
					file.Filename)
			}
			if seen[ref.Name] {
				st.log.Printf("CustomResourceDefinition %s is defined again in %s; the first definition applies",
					ref.Name, file.Filename)
				continue
			}
			seen[ref.Name] = true
			doc, err := json.Marshal(obj)
			if err != nil {
				return fieldErr(CodeChartLoad, a.field, "%s: %v", file.Filename, err)
			}
			infos, err := s.cfg.KubeClient.Build(bytes.NewReader(doc), false)
			if err != nil {
				return fmt.Errorf("cannot build CustomResourceDefinition %s of %s: %w", ref.Name, file.Filename, err)
			}
			crds = append(crds, infos...)
		}
	}
	st.log.Printf("applying %d CustomResourceDefinition(s) with policy %s", len(crds), a.policy)
	var applied kube.ResourceList
	for _, info := range crds {
		changed, err := s.applyCRD(st, info, a)
		if err != nil {
			return err
		}
		if changed {
			applied = append(applied, info)
		}
	}
	if len(applied) == 0 {
		return nil
	}
	return s.awaitCRDs(st, applied, a)
}

// applyCRD creates one CRD, or with CreateReplace updates it when it exists.
// It says whether it wrote anything.
func (s *session) applyCRD(st *callState, info *resource.Info, a crdApply) (bool, error) {
	current, err := resource.NewHelper(info.Client, info.Mapping).Get("", info.Name)
	switch {
	case apierrors.IsNotFound(err):
		if _, err := s.cfg.KubeClient.Create(kube.ResourceList{info},
			kube.ClientCreateOptionServerSideApply(a.ssa, a.ssa)); err != nil {
			if apierrors.IsAlreadyExists(err) && a.policy == crdsCreate {
				st.log.Printf("CustomResourceDefinition %s was created meanwhile; left as it is", info.Name)
				return false, nil
			}
			return false, fmt.Errorf("failed to create CustomResourceDefinition %s: %w", info.Name, err)
		}
		st.log.Printf("created CustomResourceDefinition %s", info.Name)
		return true, nil
	case err != nil:
		return false, fmt.Errorf("failed to read CustomResourceDefinition %s: %w", info.Name, err)
	case a.policy == crdsCreate:
		st.log.Printf("CustomResourceDefinition %s exists; left as it is (policy Create)", info.Name)
		return false, nil
	}
	original := &resource.Info{
		Client: info.Client, Mapping: info.Mapping, Name: info.Name, Object: current,
	}
	if u, ok := current.(*unstructured.Unstructured); ok {
		original.ResourceVersion = u.GetResourceVersion()
	}
	opts := []kube.ClientUpdateOption{kube.ClientUpdateOptionServerSideApply(a.ssa, a.ssa)}
	if a.ssa {
		opts = append(opts, kube.ClientUpdateOptionUpgradeClientSideFieldManager(true))
	} else {
		opts = append(opts, kube.ClientUpdateOptionForceReplace(true))
	}
	// The original is the live object itself, so Update never deletes: no
	// object is in the originals that is not in the targets.
	if _, err := s.cfg.KubeClient.Update(kube.ResourceList{original}, kube.ResourceList{info}, opts...); err != nil {
		return false, fmt.Errorf("failed to update CustomResourceDefinition %s: %w", info.Name, err)
	}
	// Helm refreshes the target from the answer. A write that changed
	// nothing keeps the resourceVersion, and needs no wait nor refresh.
	if original.ResourceVersion != "" && info.ResourceVersion == original.ResourceVersion {
		st.log.Printf("CustomResourceDefinition %s is up to date", info.Name)
		return false, nil
	}
	st.log.Printf("updated CustomResourceDefinition %s", info.Name)
	return true, nil
}

// awaitCRDs waits until the applied CRDs are established and their kinds are
// served, then leaves fresh capabilities on the session.
func (s *session) awaitCRDs(st *callState, applied kube.ResourceList, a crdApply) error {
	timeout := a.timeout
	if timeout <= 0 {
		timeout = crdWaitFallback
	}
	deadline := time.Now().Add(timeout)
	names := make([]string, 0, len(applied))
	for _, info := range applied {
		names = append(names, info.Name)
	}
	// A CRD is always waited for, even when the action waits for hooks only.
	strategy := a.wait
	if strategy == kube.HookOnlyStrategy {
		strategy = kube.StatusWatcherStrategy
	}
	var waiter kube.Waiter
	var err error
	if c, ok := s.cfg.KubeClient.(kube.InterfaceWaitOptions); ok {
		waiter, err = c.GetWaiterWithOptions(strategy, s.waitOpts...)
	} else {
		waiter, err = s.cfg.KubeClient.GetWaiter(strategy)
	}
	if err != nil {
		return fmt.Errorf("cannot wait for CustomResourceDefinition(s) %s: %w", strings.Join(names, ", "), err)
	}
	if err := waiter.Wait(applied, timeout); err != nil {
		return fmt.Errorf("CustomResourceDefinition(s) %s not established: %w", strings.Join(names, ", "), err)
	}
	st.log.Printf("CustomResourceDefinition(s) %s established", strings.Join(names, ", "))
	objs := make([]map[string]any, 0, len(applied))
	for _, info := range applied {
		if u, ok := info.Object.(*unstructured.Unstructured); ok {
			objs = append(objs, u.Object)
		}
	}
	return s.awaitServed(st, servedKinds(objs), deadline)
}

// awaitServed refreshes discovery, the REST mapper and the capabilities of
// the target until they list every kind of want (group/version/Kind), or
// until the deadline, and leaves the capabilities on the session. A CRD that
// is established is not necessarily listed by discovery yet.
func (s *session) awaitServed(st *callState, want []string, deadline time.Time) error {
	for {
		s.t.discovery.Invalidate()
		s.t.mapper.Reset()
		caps, err := s.t.capabilities()
		if err != nil {
			return wrapField(CodeClusterAccess, "cluster", err)
		}
		s.cfg.Capabilities = caps
		missing := slices.DeleteFunc(slices.Clone(want), func(k string) bool { return caps.APIVersions.Has(k) })
		if len(missing) == 0 {
			return nil
		}
		if time.Now().Add(crdDiscoveryPoll).After(deadline) {
			st.log.Printf("discovery does not list %s yet; going on", strings.Join(missing, ", "))
			return nil
		}
		select {
		case <-time.After(crdDiscoveryPoll):
		case <-st.ctx.Done():
			return st.ctx.Err()
		}
	}
}

// servedKinds lists group/version/Kind of every served version of the CRDs,
// as Helm's capabilities spell the kinds the cluster serves.
func servedKinds(crds []map[string]any) []string {
	var out []string
	for _, obj := range crds {
		group, _, _ := unstructured.NestedString(obj, "spec", "group")
		kind, _, _ := unstructured.NestedString(obj, "spec", "names", "kind")
		versions, _, _ := unstructured.NestedSlice(obj, "spec", "versions")
		for _, v := range versions {
			m, _ := v.(map[string]any)
			name, _ := m["name"].(string)
			if served, _ := m["served"].(bool); served && group != "" && kind != "" && name != "" {
				out = append(out, group+"/"+name+"/"+kind)
			}
		}
	}
	return out
}

// awaitHelmCRDs is for an install whose CRDs Helm creates itself (policy
// Create). Helm resets the REST mapper once they are established and then
// reads the capabilities and maps the manifest's kinds; the session's mapper
// here also waits, on that reset, until discovery serves the kinds of the
// chart's CRDs, so that neither misses them.
func (s *session) awaitHelmCRDs(st *callState, ch *chart.Chart, timeout time.Duration) {
	if timeout <= 0 {
		timeout = crdWaitFallback
	}
	g := s.t.getter(s.namespace)
	s.cfg.RESTClientGetter = &crdInstallGetter{targetGetter: g, mapper: &awaitingMapper{
		refreshingMapper: s.t.mapper,
		afterReset: func() {
			// Helm has processed the chart's dependencies by now: only the
			// enabled subcharts' CRDs are left in it.
			var objs []map[string]any
			for _, file := range ch.CRDObjects() {
				if file.File == nil {
					continue
				}
				docs, _ := manifestObjects(file.File.Data)
				for _, obj := range docs {
					if isCRD(refOf(obj)) {
						objs = append(objs, obj)
					}
				}
			}
			if err := s.awaitServed(st, servedKinds(objs), time.Now().Add(timeout)); err != nil {
				st.log.Printf("waiting for discovery to serve the chart's CRDs: %v", err)
			}
		},
	}}
}

// crdInstallGetter is the session's getter while Helm installs CRDs.
type crdInstallGetter struct {
	*targetGetter
	mapper *awaitingMapper
}

func (g *crdInstallGetter) ToRESTMapper() (meta.RESTMapper, error) { return g.mapper, nil }

// awaitingMapper is the target's mapper with something done after a reset.
type awaitingMapper struct {
	*refreshingMapper
	afterReset func()
}

var _ meta.ResettableRESTMapper = (*awaitingMapper)(nil)

func (m *awaitingMapper) Reset() {
	m.refreshingMapper.Reset()
	m.afterReset()
}
