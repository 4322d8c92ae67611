package main

// Registry ops: login, tags and pull, through Helm's pkg/registry client (and
// its generic OCI client, for artifacts that are not charts). Credentials come
// with each request and are never read from, or written to, the host's
// docker or helm configuration: every call gets its own throw-away
// credentials file and a static authorizer.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/errcode"

	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/registry"
)

// Error codes of registry ops.
var (
	CodeRegistryAuth     = errorCode("RegistryAuth")
	CodeRegistryNotFound = errorCode("RegistryNotFound")
	CodeRegistry         = errorCode("Registry")
	CodeTooLarge         = errorCode("TooLarge")
)

const defaultRegistryTimeout = 60 * time.Second

// LoginResult names the host logged in to.
type LoginResult struct {
	Host string `json:"host"`
}

// TagsResult is the list of tags.
type TagsResult struct {
	Tags []string `json:"tags"`
}

// PullResult is the manifest pulled and the layer kept.
type PullResult struct {
	// Ref is host/repository@digest of the manifest.
	Ref            string          `json:"ref"`
	ManifestDigest string          `json:"manifestDigest"`
	Manifest       json.RawMessage `json:"manifest"`
	LayerDigest    string          `json:"layerDigest"`
	LayerMediaType string          `json:"layerMediaType"`
	LayerSize      int64           `json:"layerSize"`
	// Chart is the chart's metadata, from the manifest config, for charts.
	Chart *chart.Metadata `json:"chart,omitempty"`
	// Data is the layer (base64 on the wire), unless Dest was given.
	Data []byte `json:"data,omitempty"`
	Path string `json:"path,omitempty"`
}

// regConn is Helm's registry client for one call and what it was built from.
type regConn struct {
	client     *registry.Client
	authorizer *auth.Client
	plainHTTP  bool
	timeout    time.Duration
	cleanup    func()
}

// registryClient is Helm's client for one call, with its own empty
// credentials file in a temporary directory that cleanup removes.
func registryClient(field string, a *RegistryAccess) (*regConn, error) {
	timeout := defaultRegistryTimeout
	if a.Timeout != "" {
		d, err := time.ParseDuration(a.Timeout)
		if err != nil || d <= 0 {
			return nil, invalid(field+".timeout", "not a positive duration: %q", a.Timeout)
		}
		timeout = d
	}
	if (a.Username == "") != (a.Password == "") {
		return nil, invalid(field+".username", "username and password go together")
	}
	tlsConfig, err := registryTLS(field, a)
	if err != nil {
		return nil, err
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = tlsConfig
	if a.ProxyURL != "" {
		proxy, err := url.Parse(a.ProxyURL)
		if err != nil || proxy.Host == "" || (proxy.Scheme != "http" && proxy.Scheme != "https") {
			// The URL may hold credentials: never echo it.
			return nil, invalid(field+".proxyUrl", "not an http or https URL with a host")
		}
		transport.Proxy = http.ProxyURL(proxy)
	}
	httpClient := &http.Client{Transport: transport, Timeout: timeout}
	authorizer := auth.Client{Client: httpClient, Cache: auth.NewCache()}
	authorizer.SetUserAgent("helmward")
	if a.Username != "" {
		cred := auth.Credential{Username: a.Username, Password: a.Password}
		authorizer.Credential = func(context.Context, string) (auth.Credential, error) { return cred, nil }
	} else {
		authorizer.Credential = func(context.Context, string) (auth.Credential, error) {
			return auth.EmptyCredential, nil
		}
	}
	dir, err := os.MkdirTemp("", "helmward-registry-")
	if err != nil {
		return nil, err
	}
	cleanup := func() { _ = os.RemoveAll(dir) }
	opts := []registry.ClientOption{
		registry.ClientOptCredentialsFile(filepath.Join(dir, "config.json")),
		registry.ClientOptHTTPClient(httpClient),
		registry.ClientOptAuthorizer(authorizer),
	}
	if a.Username != "" {
		opts = append(opts, registry.ClientOptBasicAuth(a.Username, a.Password))
	}
	if a.PlainHTTP {
		opts = append(opts, registry.ClientOptPlainHTTP())
	}
	c, err := registry.NewClient(opts...)
	if err != nil {
		cleanup()
		return nil, wrapField(CodeRegistry, field, err)
	}
	// NewClient keeps its own copy of the authorizer; use the same for plain repository access.
	own := authorizer
	return &regConn{client: c, authorizer: &own, plainHTTP: a.PlainHTTP, timeout: timeout, cleanup: cleanup}, nil
}

func registryTLS(field string, a *RegistryAccess) (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: a.InsecureSkipTLSVerify} //nolint:gosec // asked for
	if a.CAPEM != "" {
		// Added to the system's roots, as source-controller's certSecretRef does.
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM([]byte(a.CAPEM)) {
			return nil, invalid(field+".caPem", "no PEM certificate found")
		}
		conf.RootCAs = pool
	}
	if (a.CertPEM == "") != (a.KeyPEM == "") {
		return nil, invalid(field+".certPem", "a client certificate needs its key, and a key its certificate")
	}
	if a.CertPEM != "" {
		pair, err := tls.X509KeyPair([]byte(a.CertPEM), []byte(a.KeyPEM))
		if err != nil {
			return nil, invalid(field+".certPem", "%v", err)
		}
		conf.Certificates = []tls.Certificate{pair}
	}
	return conf, nil
}

// repositoryRef turns oci://host/repo into host/repo, refusing tags and digests.
func repositoryRef(field, ref string) (string, error) {
	rest, ok := strings.CutPrefix(ref, registry.OCIScheme+"://")
	if !ok {
		return "", invalid(field, "must start with oci://, got %q", ref)
	}
	rest = strings.TrimSuffix(rest, "/")
	host, repo, ok := strings.Cut(rest, "/")
	if !ok || host == "" || repo == "" {
		return "", invalid(field, "must be oci://host/repository, got %q", ref)
	}
	if strings.Contains(repo, "@") || strings.Contains(repo, ":") {
		return "", invalid(field, "must carry neither tag nor digest (use tag or digest), got %q", ref)
	}
	return rest, nil
}

// withDeadline runs f, giving up (Helm's client uses its own background
// context) when the call is cancelled or the timeout passes; the HTTP client's
// own timeout ends the abandoned requests.
func withDeadline[T any](st *callState, timeout time.Duration, f func() (T, error)) (T, error) {
	type out struct {
		v   T
		err error
	}
	done := make(chan out, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				var zero T
				done <- out{zero, fmt.Errorf("internal error (recovered Go panic): %v", p)}
			}
		}()
		v, err := f()
		done <- out{v, err}
	}()
	timer := time.NewTimer(timeout + time.Second)
	defer timer.Stop()
	var zero T
	select {
	case r := <-done:
		return r.v, r.err
	case <-st.ctx.Done():
		return zero, st.ctx.Err()
	case <-timer.C:
		return zero, context.DeadlineExceeded
	}
}

// registryErr gives an error from the registry its code.
func registryErr(field string, err error) error {
	if err == nil {
		return nil
	}
	var se *shimError
	if errors.As(err, &se) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var resp *errcode.ErrorResponse
	if errors.As(err, &resp) {
		switch resp.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return wrapField(CodeRegistryAuth, field, err)
		case http.StatusNotFound:
			return wrapField(CodeRegistryNotFound, field, err)
		}
	}
	if errors.Is(err, auth.ErrBasicCredentialNotFound) {
		// The registry asked for credentials and the call had none.
		return wrapField(CodeRegistryAuth, field, err)
	}
	if errors.Is(err, errdef.ErrNotFound) {
		return wrapField(CodeRegistryNotFound, field, err)
	}
	msg := err.Error()
	if strings.Contains(msg, "401") || strings.Contains(strings.ToLower(msg), "unauthorized") {
		return wrapField(CodeRegistryAuth, field, err)
	}
	return wrapField(CodeRegistry, field, err)
}

func opLogin(st *callState, o *LoginOptions) (*LoginResult, error) {
	host := strings.TrimPrefix(o.Host, registry.OCIScheme+"://")
	host, _, _ = strings.Cut(host, "/")
	if host == "" {
		return nil, invalid("login.host", "must name a registry host")
	}
	if o.Username == "" {
		return nil, invalid("login.username", "a login check needs credentials")
	}
	conn, err := registryClient("login", &o.RegistryAccess)
	if err != nil {
		return nil, err
	}
	defer conn.cleanup()
	_, err = withDeadline(st, conn.timeout, func() (struct{}, error) {
		return struct{}{}, conn.client.Login(host,
			registry.LoginOptBasicAuth(o.Username, o.Password),
			registry.LoginOptPlainText(o.PlainHTTP))
	})
	if err != nil {
		return nil, registryErr("login.host", err)
	}
	return &LoginResult{Host: host}, nil
}

func opTags(st *callState, o *TagsOptions) (*TagsResult, error) {
	repo, err := repositoryRef("tags.ref", o.Ref)
	if err != nil {
		return nil, err
	}
	conn, err := registryClient("tags", &o.RegistryAccess)
	if err != nil {
		return nil, err
	}
	defer conn.cleanup()
	tags, err := withDeadline(st, conn.timeout, func() ([]string, error) {
		if !o.All {
			return conn.client.Tags(repo)
		}
		return allTags(st.ctx, conn, repo)
	})
	if err != nil {
		return nil, registryErr("tags.ref", err)
	}
	if tags == nil {
		tags = []string{}
	}
	return &TagsResult{Tags: tags}, nil
}

// allTags lists every tag of a repository, as the registry has them.
func allTags(ctx context.Context, conn *regConn, repo string) ([]string, error) {
	r, err := remote.NewRepository(repo)
	if err != nil {
		return nil, err
	}
	r.PlainHTTP = conn.plainHTTP
	r.Client = conn.authorizer
	var out []string
	err = r.Tags(ctx, "", func(tags []string) error {
		out = append(out, tags...)
		return nil
	})
	return out, err
}

// repoOf strips the tag or digest from host[:port]/repository[:tag|@digest].
func repoOf(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		return ref[:i]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[:i]
	}
	return ref
}

func opPull(st *callState, o *PullOptions) (*PullResult, error) {
	repo, err := repositoryRef("pull.ref", o.Ref)
	if err != nil {
		return nil, err
	}
	ref := repo
	switch {
	case o.Digest != "":
		if !strings.HasPrefix(o.Digest, "sha256:") || len(o.Digest) != len("sha256:")+64 {
			return nil, invalid("pull.digest", "must be sha256:<64 hex>, got %q", o.Digest)
		}
		ref += "@" + o.Digest
	case o.Tag != "":
		ref += ":" + strings.ReplaceAll(o.Tag, "+", "_")
	default:
		return nil, invalid("pull.tag", "a pull needs a tag or a digest")
	}
	if o.MaxSize < 0 {
		return nil, invalid("pull.maxSize", "must not be negative")
	}
	conn, err := registryClient("pull", &o.RegistryAccess)
	if err != nil {
		return nil, err
	}
	defer conn.cleanup()
	res, err := withDeadline(st, conn.timeout, func() (*PullResult, error) { return pullLayer(conn.client, ref, o) })
	if err != nil {
		return nil, registryErr("pull.ref", err)
	}
	if o.Dest != "" {
		if err := os.WriteFile(o.Dest, res.Data, 0o600); err != nil {
			return nil, wrapField(CodeRegistry, "pull.dest", err)
		}
		res.Data, res.Path = nil, o.Dest
	}
	return res, nil
}

func pullLayer(c *registry.Client, ref string, o *PullOptions) (*PullResult, error) {
	opts := registry.GenericPullOptions{
		PreCopy: func(_ context.Context, d ocispec.Descriptor) error {
			if o.MaxSize > 0 && !isManifest(d.MediaType) && d.Size > o.MaxSize {
				return &shimError{code: CodeTooLarge, field: "pull.maxSize", err: fmt.Errorf(
					"layer %s (%s) of %d bytes exceeds the maximum size of %d bytes",
					d.Digest, d.MediaType, d.Size, o.MaxSize)}
			}
			return nil
		},
	}
	if !o.Artifact {
		opts.AllowedMediaTypes = []string{
			ocispec.MediaTypeImageIndex, ocispec.MediaTypeImageManifest, registry.ConfigMediaType,
			registry.ChartLayerMediaType, registry.LegacyChartLayerMediaType,
		}
	} else if o.LayerMediaType != "" {
		opts.AllowedMediaTypes = []string{
			ocispec.MediaTypeImageIndex, ocispec.MediaTypeImageManifest, o.LayerMediaType,
		}
	}
	generic := c.Generic()
	pulled, err := generic.PullGeneric(ref, opts)
	if err != nil {
		return nil, err
	}
	rawManifest, err := generic.GetDescriptorData(pulled.MemoryStore, pulled.Manifest)
	if err != nil {
		return nil, err
	}
	var manifest ocispec.Manifest
	if err := json.Unmarshal(rawManifest, &manifest); err != nil {
		return nil, fmt.Errorf("cannot parse the manifest %s: %w", pulled.Manifest.Digest, err)
	}
	if pulled.Manifest.MediaType == ocispec.MediaTypeImageIndex {
		return nil, fmt.Errorf("%s is an image index, not a manifest", ref)
	}
	res := &PullResult{
		Ref:            pulled.Ref,
		ManifestDigest: pulled.Manifest.Digest.String(),
		Manifest:       rawManifest,
	}
	res.Ref = repoOf(res.Ref) + "@" + res.ManifestDigest
	var layer *ocispec.Descriptor
	for i := range manifest.Layers {
		d := manifest.Layers[i]
		switch {
		case o.Artifact && (o.LayerMediaType == "" || d.MediaType == o.LayerMediaType):
			layer = &d
		case !o.Artifact && (d.MediaType == registry.ChartLayerMediaType || d.MediaType == registry.LegacyChartLayerMediaType):
			layer = &d
		}
		if layer != nil {
			break
		}
	}
	if layer == nil {
		want := o.LayerMediaType
		if !o.Artifact {
			want = registry.ChartLayerMediaType
		}
		if want == "" {
			return nil, &shimError{code: CodeRegistryNotFound, field: "pull.ref", err: fmt.Errorf(
				"the manifest %s has no layers", res.ManifestDigest)}
		}
		return nil, &shimError{code: CodeRegistryNotFound, field: "pull.layerMediaType", err: fmt.Errorf(
			"the manifest %s has no layer with media type %s", res.ManifestDigest, want)}
	}
	if !o.Artifact {
		if manifest.Config.MediaType != registry.ConfigMediaType {
			return nil, &shimError{code: CodeRegistry, field: "pull.ref", err: fmt.Errorf(
				"%s is not a Helm chart: config media type %q", ref, manifest.Config.MediaType)}
		}
		rawConfig, err := generic.GetDescriptorData(pulled.MemoryStore, manifest.Config)
		if err != nil {
			return nil, err
		}
		meta := &chart.Metadata{}
		if err := json.Unmarshal(rawConfig, meta); err != nil {
			return nil, fmt.Errorf("cannot parse the chart config: %w", err)
		}
		res.Chart = meta
	}
	data, err := generic.GetDescriptorData(pulled.MemoryStore, *layer)
	if err != nil {
		return nil, err
	}
	res.LayerDigest, res.LayerMediaType, res.LayerSize = layer.Digest.String(), layer.MediaType, layer.Size
	res.Data = data
	return res, nil
}

func isManifest(mediaType string) bool {
	switch mediaType {
	case ocispec.MediaTypeImageIndex, ocispec.MediaTypeImageManifest,
		"application/vnd.docker.distribution.manifest.v2+json",
		"application/vnd.docker.distribution.manifest.list.v2+json":
		return true
	}
	return false
}
