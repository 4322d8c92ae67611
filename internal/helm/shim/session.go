package main

import (
	"io"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"helm.sh/helm/v4/pkg/action"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/kube"
	"helm.sh/helm/v4/pkg/storage"
	"helm.sh/helm/v4/pkg/storage/driver"
)

// statusComputeWorkers lets the status watcher compute readiness off the
// informer goroutine, as the helm CLI does.
const statusComputeWorkers = 4

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

// openSession configures Helm for the request's target and storage. Every
// storage write goes through the call's observer.
func openSession(st *callState, req *Request, namespace string) (*session, error) {
	t, err := resolveTarget(req.Cluster)
	if err != nil {
		return nil, err
	}
	d, err := storageDriver(st, t, req.Storage, namespace)
	if err != nil {
		return nil, err
	}
	st.obs = newObserver(d, st)

	kc := kube.New(t.getter(namespace))
	kc.Factory = t.factory
	kc.Namespace = namespace
	kc.SetLogger(st.log)
	kc.WaitContext = st.ctx //nolint:staticcheck // the legacy waiter still reads it

	cfg := action.NewConfiguration(action.ConfigurationSetLogger(st.log))
	cfg.RESTClientGetter = t.getter(namespace)
	cfg.KubeClient = &scopedWaits{Client: kc}
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

// storageDriver is the release storage a spec names, in the release
// namespace unless it names another.
func storageDriver(st *callState, t *target, spec *StorageSpec, namespace string) (driver.Driver, error) {
	if spec == nil {
		spec = &StorageSpec{}
	}
	storageNS := spec.Namespace
	if storageNS == "" {
		storageNS = namespace
	} else if errs := validation.IsDNS1123Label(storageNS); len(errs) > 0 {
		return nil, invalid("storage.namespace", "%s", strings.Join(errs, "; "))
	}
	switch spec.Driver {
	case "", "secret", "secrets":
		s := driver.NewSecrets(t.clientset.CoreV1().Secrets(storageNS))
		s.SetLogger(st.log)
		return s, nil
	case "configmap", "configmaps":
		c := driver.NewConfigMaps(t.clientset.CoreV1().ConfigMaps(storageNS))
		c.SetLogger(st.log)
		return c, nil
	case "memory":
		memoryMu.Lock()
		defer memoryMu.Unlock()
		key := t.key + "/" + storageNS
		m, ok := memoryStores[key]
		if !ok {
			m = driver.NewMemory()
			m.SetNamespace(storageNS)
			memoryStores[key] = m
		}
		return m, nil
	}
	return nil, invalid("storage.driver", "must be secret, configmap or memory, got %q", spec.Driver)
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

// scopes tells, from the target's REST mapper, whether a kind is namespaced;
// known is false for a kind the cluster does not serve (or an apiVersion
// that does not parse).
func (s *session) scopes(apiVersion, kind string) (namespaced, known bool) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil || kind == "" {
		return false, false
	}
	m, err := s.t.mapper.RESTMapping(gv.WithKind(kind).GroupKind(), gv.Version)
	if err != nil {
		return false, false
	}
	return m.Scope.Name() == meta.RESTScopeNameNamespace, true
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
