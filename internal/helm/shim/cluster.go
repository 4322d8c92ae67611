package main

// Cluster access per call, with the expensive parts cached per target.
//
// A target is one (kubeconfig digest, context, impersonated user, QPS, burst)
// tuple. Discovery, the REST mapper, the OpenAPI-backed validator, the
// capabilities Helm renders with and the HTTP transport live on the target,
// so parallel and repeated actions against it do not download them again.

import (
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/resource"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/openapi/cached"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/util/flowcontrol"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"
	"k8s.io/kubectl/pkg/validation"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/kube"
)

const (
	defaultQPS   = 50
	defaultBurst = 300
	// capabilitiesTTL bounds how stale the API versions templates see can be.
	capabilitiesTTL = time.Minute
	// mapperRefreshEvery bounds how often a kind missing from the cached REST
	// mapper (a CRD installed elsewhere) triggers a discovery refresh.
	mapperRefreshEvery = 2 * time.Second
	maxTargets         = 128
	targetIdleExpiry   = time.Hour
)

// target is everything cached for one cluster identity.
type target struct {
	key       string
	dcache    *discoveryCache
	config    *rest.Config
	http      *http.Client
	discovery discovery.CachedDiscoveryInterface
	mapper    *refreshingMapper
	clientset *kubernetes.Clientset
	dynamic   dynamic.Interface
	factory   *targetFactory

	capsMu sync.Mutex
	caps   *common.Capabilities
	capsAt time.Time

	lastUsed atomic.Int64
}

// targetCache is a small LRU of targets.
type targetCache struct {
	mu    sync.Mutex
	byKey map[string]*list.Element
	order *list.List // front = most recently used
}

var targets = &targetCache{byKey: map[string]*list.Element{}, order: list.New()}

func (c *targetCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

func (c *targetCache) get(key string, build func() (*target, error)) (*target, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	for e := c.order.Back(); e != nil; {
		prev := e.Prev()
		t := e.Value.(*target)
		if c.order.Len() > maxTargets || now.Sub(time.Unix(0, t.lastUsed.Load())) > targetIdleExpiry {
			c.order.Remove(e)
			delete(c.byKey, t.key)
		}
		e = prev
	}
	if e, ok := c.byKey[key]; ok {
		c.order.MoveToFront(e)
		t := e.Value.(*target)
		t.lastUsed.Store(now.UnixNano())
		return t, nil
	}
	// Building only parses the kubeconfig and makes clients: nothing is
	// fetched yet, so holding the lock here is cheap.
	t, err := build()
	if err != nil {
		return nil, err
	}
	t.lastUsed.Store(now.UnixNano())
	c.byKey[key] = c.order.PushFront(t)
	return t, nil
}

// resolveTarget returns the target for a call, cached or fresh.
func resolveTarget(spec *ClusterSpec) (*target, error) {
	if spec == nil {
		return nil, fieldErr(CodeClusterAccess, "cluster",
			"missing: give cluster.kubeconfig (the kubeconfig's content) or set cluster.inCluster")
	}
	cfg, identity, err := restConfigFor(spec)
	if err != nil {
		return nil, err
	}
	if spec.QPS < 0 {
		return nil, invalid("cluster.qps", "must not be negative")
	}
	if spec.Burst < 0 {
		return nil, invalid("cluster.burst", "must not be negative")
	}
	qps, burst := spec.QPS, spec.Burst
	if qps == 0 {
		qps = defaultQPS
	}
	if burst == 0 {
		burst = defaultBurst
	}
	cfg.QPS, cfg.Burst = qps, burst
	// One limiter per target: the QPS budget is shared by every client and
	// every concurrent action against it, as one controller process would.
	cfg.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(qps, burst)
	if spec.ServiceAccount != nil {
		sa := spec.ServiceAccount
		if sa.Name == "" {
			return nil, invalid("cluster.serviceAccount.name", "must not be empty")
		}
		if sa.Namespace == "" {
			return nil, invalid("cluster.serviceAccount.namespace", "must not be empty")
		}
		cfg.Impersonate = rest.ImpersonationConfig{
			UserName: fmt.Sprintf("system:serviceaccount:%s:%s", sa.Namespace, sa.Name),
		}
	}
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%g\x00%d", identity, cfg.Impersonate.UserName, qps, burst))
	key := hex.EncodeToString(sum[:])
	if spec.Cache != nil && !*spec.Cache {
		return newTarget(key, cfg, false)
	}
	return targets.get(key, func() (*target, error) { return newTarget(key, cfg, true) })
}

// restConfigFor builds the REST config, and a string identifying its source.
func restConfigFor(spec *ClusterSpec) (*rest.Config, string, error) {
	if spec.InCluster {
		if spec.Kubeconfig != nil {
			return nil, "", invalid("cluster.kubeconfig", "must not be set together with cluster.inCluster")
		}
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, "", wrapField(CodeClusterAccess, "cluster.inCluster", err)
		}
		return cfg, "in-cluster", nil
	}
	if spec.Kubeconfig == nil || *spec.Kubeconfig == "" {
		return nil, "", fieldErr(CodeClusterAccess, "cluster.kubeconfig",
			"missing: give the kubeconfig's content, or set cluster.inCluster")
	}
	raw := []byte(*spec.Kubeconfig)
	parsed, err := clientcmd.Load(raw)
	if err != nil {
		return nil, "", fieldErr(CodeClusterAccess, "cluster.kubeconfig", "cannot parse: %v", err)
	}
	if spec.Context != "" {
		if _, ok := parsed.Contexts[spec.Context]; !ok {
			return nil, "", fieldErr(CodeClusterAccess, "cluster.context", "no context %q in the kubeconfig", spec.Context)
		}
	}
	cc := clientcmd.NewNonInteractiveClientConfig(*parsed, spec.Context, &clientcmd.ConfigOverrides{}, nil)
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", fieldErr(CodeClusterAccess, "cluster.kubeconfig", "unusable: %v", err)
	}
	sum := sha256.Sum256(raw)
	return cfg, "kubeconfig:" + hex.EncodeToString(sum[:]) + ":" + spec.Context, nil
}

// newTarget makes the clients of a target. With shared false (no caching
// asked), discovery documents are not cached at the HTTP level either, so the
// target behaves like one built afresh for a single action.
func newTarget(key string, cfg *rest.Config, shared bool) (*target, error) {
	t := &target{key: key}
	if shared {
		t.dcache = newDiscoveryCache()
	}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return &cachingTransport{cache: t.dcache, next: rt} })
	t.config = cfg
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, wrapField(CodeClusterAccess, "cluster", err)
	}
	dc, err := discovery.NewDiscoveryClientForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, wrapField(CodeClusterAccess, "cluster", err)
	}
	cs, err := kubernetes.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, wrapField(CodeClusterAccess, "cluster", err)
	}
	dyn, err := dynamic.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, wrapField(CodeClusterAccess, "cluster", err)
	}
	t.http, t.clientset, t.dynamic = hc, cs, dyn
	t.discovery = &invalidatingDiscovery{CachedDiscoveryInterface: memory.NewMemCacheClient(dc), t: t}
	t.mapper = newRefreshingMapper(t)
	t.factory = &targetFactory{Factory: cmdutil.NewFactory(t.getter("default")), t: t}
	return t, nil
}

// invalidatingDiscovery drops the HTTP discovery cache together with the
// in-memory one, whoever invalidates it (Helm does after installing CRDs).
type invalidatingDiscovery struct {
	discovery.CachedDiscoveryInterface
	t *target
}

func (d *invalidatingDiscovery) Invalidate() {
	if d.t.dcache != nil {
		d.t.dcache.invalidate()
	}
	d.CachedDiscoveryInterface.Invalidate()
}

// capabilities returns what Helm calls the cluster's capabilities, from
// cache while fresh. Parallel callers wait for one refresh.
func (t *target) capabilities() (*common.Capabilities, error) {
	t.capsMu.Lock()
	defer t.capsMu.Unlock()
	if t.caps != nil && time.Since(t.capsAt) < capabilitiesTTL {
		return copyCaps(t.caps), nil
	}
	if t.caps != nil {
		t.discovery.Invalidate()
		t.mapper.resetInner()
	}
	v, err := t.discovery.ServerVersion()
	if err != nil {
		return nil, fmt.Errorf("could not get server version from Kubernetes: %w", err)
	}
	versions, err := action.GetVersionSet(t.discovery)
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return nil, err
	}
	kv := common.KubeVersion{Version: v.GitVersion, Major: v.Major, Minor: v.Minor}
	if parsed, perr := common.ParseKubeVersion(v.GitVersion); perr == nil {
		kv = *parsed
	}
	t.caps = &common.Capabilities{
		KubeVersion: kv,
		APIVersions: versions,
		HelmVersion: common.DefaultCapabilities.HelmVersion,
	}
	t.capsAt = time.Now()
	return copyCaps(t.caps), nil
}

// storeCapabilities keeps what Helm computed itself (after installing CRDs).
func (t *target) storeCapabilities(c *common.Capabilities) {
	if c == nil {
		return
	}
	t.capsMu.Lock()
	defer t.capsMu.Unlock()
	t.caps, t.capsAt = copyCaps(c), time.Now()
}

func (t *target) forgetCapabilities() {
	t.capsMu.Lock()
	defer t.capsMu.Unlock()
	t.caps = nil
}

func copyCaps(c *common.Capabilities) *common.Capabilities {
	n := c.Copy()
	n.APIVersions = slices.Clone(c.APIVersions)
	return n
}

// getter is the RESTClientGetter Helm and kubectl's factory use.
func (t *target) getter(namespace string) *targetGetter {
	return &targetGetter{t: t, namespace: namespace}
}

type targetGetter struct {
	t         *target
	namespace string
}

var _ genericclioptions.RESTClientGetter = (*targetGetter)(nil)

// ToRESTConfig hands out a copy: kubectl's factory sets defaults on it.
func (g *targetGetter) ToRESTConfig() (*rest.Config, error) { return rest.CopyConfig(g.t.config), nil }

func (g *targetGetter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	return g.t.discovery, nil
}

func (g *targetGetter) ToRESTMapper() (meta.RESTMapper, error) { return g.t.mapper, nil }

func (g *targetGetter) ToRawKubeConfigLoader() clientcmd.ClientConfig {
	return &fixedClientConfig{t: g.t, namespace: g.namespace}
}

// fixedClientConfig answers kubeconfig questions from the target's config.
type fixedClientConfig struct {
	t         *target
	namespace string
}

func (c *fixedClientConfig) RawConfig() (clientcmdapi.Config, error) {
	return clientcmdapi.Config{}, nil
}

func (c *fixedClientConfig) ClientConfig() (*rest.Config, error) {
	return rest.CopyConfig(c.t.config), nil
}

func (c *fixedClientConfig) Namespace() (string, bool, error) { return c.namespace, true, nil }

func (c *fixedClientConfig) ConfigAccess() clientcmd.ConfigAccess {
	return clientcmd.NewDefaultClientConfigLoadingRules()
}

// targetFactory is kubectl's factory with the target's shared clients and a
// long-lived validator. kubectl builds a new validator, and so downloads the
// OpenAPI documents again, for every manifest Helm builds.
type targetFactory struct {
	cmdutil.Factory
	t *target

	mu         sync.Mutex
	validators map[string]validation.Schema
}

var _ kube.Factory = (*targetFactory)(nil)

func (f *targetFactory) KubernetesClientSet() (*kubernetes.Clientset, error) {
	return f.t.clientset, nil
}

func (f *targetFactory) DynamicClient() (dynamic.Interface, error) { return f.t.dynamic, nil }

func (f *targetFactory) Validator(directive string) (validation.Schema, error) {
	if directive == metav1.FieldValidationIgnore {
		return validation.NullSchema{}, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if v, ok := f.validators[directive]; ok {
		return v, nil
	}
	local := validation.ConjunctiveSchema{
		validation.NewSchemaValidation(f.Factory),
		validation.NoDoubleKeySchema{},
	}
	v := validation.NewParamVerifyingSchema(local, f.fieldValidationVerifier(), directive)
	if f.validators == nil {
		f.validators = map[string]validation.Schema{}
	}
	f.validators[directive] = v
	return v, nil
}

// fieldValidationVerifier says whether the API server validates a kind's
// fields itself, in which case the manifest is not validated here. Every
// server from Kubernetes 1.27 does for every kind (server-side field
// validation is GA there), so it is not asked: asking fetches and parses the
// kind's group's OpenAPI v3 document, megabytes for core/v1, once per kind.
// Older servers are asked, and answers are cached per kind.
func (f *targetFactory) fieldValidationVerifier() resource.Verifier {
	if v, err := f.t.discovery.ServerVersion(); err == nil && validatesFields(v.GitVersion) {
		return serverValidates{}
	}
	oapi := cached.NewClient(f.t.discovery.OpenAPIV3())
	primary := &cachingVerifier{
		next:  resource.NewQueryParamVerifierV3(f.t.dynamic, oapi, resource.QueryParamFieldValidation),
		cache: map[schema.GroupVersionKind]error{},
	}
	secondary := resource.NewQueryParamVerifier(f.t.dynamic, f.t.discovery, resource.QueryParamFieldValidation)
	return resource.NewFallbackQueryParamVerifier(primary, secondary)
}

// validatesFields: the server's version has server-side field validation GA.
func validatesFields(gitVersion string) bool {
	v, err := common.ParseKubeVersion(gitVersion)
	if err != nil {
		return false
	}
	major, errMajor := strconv.Atoi(v.Major)
	minor, errMinor := strconv.Atoi(v.Minor)
	return errMajor == nil && errMinor == nil && (major > 1 || major == 1 && minor >= 27)
}

type serverValidates struct{}

func (serverValidates) HasSupport(schema.GroupVersionKind) error { return nil }

// cachingVerifier remembers whether a kind supports server-side field
// validation. Only definite answers are kept; transient errors are retried.
type cachingVerifier struct {
	next  resource.Verifier
	mu    sync.RWMutex
	cache map[schema.GroupVersionKind]error
}

func (c *cachingVerifier) HasSupport(gvk schema.GroupVersionKind) error {
	c.mu.RLock()
	err, ok := c.cache[gvk]
	c.mu.RUnlock()
	if ok {
		return err
	}
	err = c.next.HasSupport(gvk)
	if err == nil || resource.IsParamUnsupportedError(err) {
		c.mu.Lock()
		c.cache[gvk] = err
		c.mu.Unlock()
	}
	return err
}

// refreshingMapper is a deferred discovery REST mapper that, when asked for a
// kind it does not know, refreshes discovery (at most every
// mapperRefreshEvery) and asks again: a CRD may have been installed by
// someone else since the cache was filled.
type refreshingMapper struct {
	t           *target
	inner       meta.RESTMapper
	lastRefresh atomic.Int64
}

var _ meta.ResettableRESTMapper = (*refreshingMapper)(nil)

func newRefreshingMapper(t *target) *refreshingMapper {
	deferred := restmapper.NewDeferredDiscoveryRESTMapper(t.discovery)
	return &refreshingMapper{t: t, inner: restmapper.NewShortcutExpander(deferred, t.discovery, nil)}
}

func (m *refreshingMapper) resetInner() { meta.MaybeResetRESTMapper(m.inner) }

// Reset is what Helm calls after installing CRDs.
func (m *refreshingMapper) Reset() {
	m.resetInner()
	m.t.forgetCapabilities()
}

func (m *refreshingMapper) retry(err error) bool {
	if !meta.IsNoMatchError(err) {
		return false
	}
	now := time.Now().UnixNano()
	last := m.lastRefresh.Load()
	if now-last < int64(mapperRefreshEvery) || !m.lastRefresh.CompareAndSwap(last, now) {
		return false
	}
	m.t.discovery.Invalidate()
	m.Reset()
	return true
}

// retried runs a lookup, and once more after a refresh when it did not match.
func retried[T any](m *refreshingMapper, lookup func() (T, error)) (T, error) {
	x, err := lookup()
	if err != nil && m.retry(err) {
		return lookup()
	}
	return x, err
}

func (m *refreshingMapper) KindFor(r schema.GroupVersionResource) (schema.GroupVersionKind, error) {
	return retried(m, func() (schema.GroupVersionKind, error) { return m.inner.KindFor(r) })
}

func (m *refreshingMapper) KindsFor(r schema.GroupVersionResource) ([]schema.GroupVersionKind, error) {
	return retried(m, func() ([]schema.GroupVersionKind, error) { return m.inner.KindsFor(r) })
}

func (m *refreshingMapper) ResourceFor(r schema.GroupVersionResource) (schema.GroupVersionResource, error) {
	return retried(m, func() (schema.GroupVersionResource, error) { return m.inner.ResourceFor(r) })
}

func (m *refreshingMapper) ResourcesFor(r schema.GroupVersionResource) ([]schema.GroupVersionResource, error) {
	return retried(m, func() ([]schema.GroupVersionResource, error) { return m.inner.ResourcesFor(r) })
}

func (m *refreshingMapper) RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	return retried(m, func() (*meta.RESTMapping, error) { return m.inner.RESTMapping(gk, versions...) })
}

func (m *refreshingMapper) RESTMappings(gk schema.GroupKind, versions ...string) ([]*meta.RESTMapping, error) {
	return retried(m, func() ([]*meta.RESTMapping, error) { return m.inner.RESTMappings(gk, versions...) })
}

func (m *refreshingMapper) ResourceSingularizer(r string) (string, error) {
	return m.inner.ResourceSingularizer(r)
}
