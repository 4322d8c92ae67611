package main

// The dependencies op: Helm's own `helm dependency build` (pkg/downloader's
// Manager.Build) on an unpacked chart directory. With a Chart.lock (or, for
// apiVersion v1, requirements.lock) it downloads the locked versions, and
// fails when the lock is out of sync with the dependencies; without one it
// resolves like `helm dependency update` and writes the lock with Helm's
// digest.
//
// Nothing of the host's helm configuration is read or written: every call
// gets a throw-away repositories.yaml, repository cache and content cache,
// holding only the repositories of the request with their credentials. Every
// HTTP response (index, chart, registry blob) is bounded by maxSize, counted
// on the connection, so an oversized download stops while it is read.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"oras.land/oras-go/v2/registry/remote/auth"

	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/downloader"
	"helm.sh/helm/v4/pkg/getter"
	"helm.sh/helm/v4/pkg/registry"
	repo "helm.sh/helm/v4/pkg/repo/v1"
)

// Error codes of dependencies.
var (
	// CodeLockOutOfSync: the committed lock file does not match the
	// dependencies of Chart.yaml (requirements.yaml); Helm asks for a
	// `helm dependency update`.
	CodeLockOutOfSync = errorCode("LockOutOfSync")
	// CodeDependency: a dependency could not be resolved or downloaded.
	CodeDependency = errorCode("DependencyBuild")
)

const (
	defaultDependencyTimeout = 5 * time.Minute
	// responseHeaderSlack is what a response may carry besides its body.
	responseHeaderSlack = 64 << 10
)

// LockedDependency is one entry of the lock file after the build.
type LockedDependency struct {
	Name       string `json:"name"`
	Version    string `json:"version"`
	Repository string `json:"repository"`
}

// DependenciesResult says what the build used and made.
type DependenciesResult struct {
	// Locked is true when a committed lock file was followed.
	Locked bool `json:"locked"`
	// LockFile is Chart.lock or requirements.lock, as written or followed.
	LockFile     string             `json:"lockFile"`
	Digest       string             `json:"digest"`
	Dependencies []LockedDependency `json:"dependencies"`
	// Charts are the file names under charts/ after the build.
	Charts []string `json:"charts"`
}

// lockFileName is the lock a chart of this API version keeps.
func lockFileName(apiVersion string) string {
	if apiVersion == chart.APIVersionV1 {
		return "requirements.lock"
	}
	return "Chart.lock"
}

// isLockOutOfSync says whether Helm's error is its lock/dependencies mismatch.
func isLockOutOfSync(err error) bool {
	return err != nil && strings.Contains(err.Error(), "is out of sync with the dependencies file")
}

// hostOf is the host[:port] of a URL, lowercased.
func hostOf(raw string) string {
	_, rest, ok := strings.Cut(raw, "://")
	if !ok {
		rest = raw
	}
	host, _, _ := strings.Cut(rest, "/")
	host, _, _ = strings.Cut(host, "?")
	if i := strings.LastIndex(host, "@"); i >= 0 {
		host = host[i+1:]
	}
	return strings.ToLower(host)
}

// withDefaultPort adds the scheme's port to host when it has none, as a
// dialled address does.
func withDefaultPort(host, port string) string {
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	return net.JoinHostPort(strings.Trim(host, "[]"), port)
}

// tlsByHost is the TLS configuration of each host[:port] (port always given)
// the request names; others get the system roots.
type tlsByHost map[string]*tls.Config

func (t tlsByHost) add(field, host string, a *RegistryAccess) error {
	conf, err := registryTLS(field, a)
	if err != nil {
		return err
	}
	key := withDefaultPort(host, "443")
	if prev, ok := t[key]; ok && !sameTLS(prev, conf) {
		return invalid(field, "host %s is given twice with different TLS settings", host)
	}
	t[key] = conf
	return nil
}

func sameTLS(a, b *tls.Config) bool {
	return a.InsecureSkipVerify == b.InsecureSkipVerify &&
		(a.RootCAs == nil) == (b.RootCAs == nil) && (a.RootCAs == nil || a.RootCAs.Equal(b.RootCAs)) &&
		len(a.Certificates) == len(b.Certificates)
}

// sizeGuard counts the bytes read on one connection and fails the read past
// the limit; tripped records that it did.
type sizeGuard struct {
	net.Conn
	left    int64
	tripped *atomic.Bool
	limit   int64
}

func (c *sizeGuard) Read(p []byte) (int, error) {
	if c.left <= 0 {
		c.tripped.Store(true)
		return 0, fmt.Errorf("a response exceeds the maximum size of %d bytes", c.limit)
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.Conn.Read(p)
	c.left -= int64(n)
	return n, err
}

// depTransport is the one HTTP transport of a call: TLS by host, one
// response per connection (so the size guard bounds each response).
func depTransport(tlsFor tlsByHost, maxSize int64, tripped *atomic.Bool) *http.Transport {
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	guard := func(c net.Conn) net.Conn {
		if maxSize <= 0 {
			return c
		}
		limit := maxSize + responseHeaderSlack
		return &sizeGuard{Conn: c, left: limit, limit: maxSize, tripped: tripped}
	}
	t := &http.Transport{
		Proxy:              http.ProxyFromEnvironment,
		DisableKeepAlives:  maxSize > 0,
		DisableCompression: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return guard(c), nil
		},
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			raw, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			conf := tlsFor[strings.ToLower(addr)]
			if conf == nil {
				conf = &tls.Config{MinVersion: tls.VersionTLS12}
			}
			conf = conf.Clone()
			host, _, _ := net.SplitHostPort(addr)
			conf.ServerName = host
			c := tls.Client(guard(raw), conf)
			if err := c.HandshakeContext(ctx); err != nil {
				_ = raw.Close()
				return nil, err
			}
			return c, nil
		},
		TLSHandshakeTimeout:   30 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
	}
	return t
}

// registryCredentials answers each registry host with its own credentials,
// anonymous for hosts the request does not name.
func registryCredentials(regs []DependencyRegistry) func(context.Context, string) (auth.Credential, error) {
	creds := map[string]auth.Credential{}
	for _, r := range regs {
		if r.Username != "" {
			creds[strings.ToLower(r.Host)] = auth.Credential{Username: r.Username, Password: r.Password}
		}
	}
	return func(_ context.Context, hostport string) (auth.Credential, error) {
		if c, ok := creds[strings.ToLower(hostport)]; ok {
			return c, nil
		}
		return auth.EmptyCredential, nil
	}
}

// writeRepositories writes the throw-away repositories.yaml, the TLS
// material of each repository in files next to it.
func writeRepositories(dir string, repos []DependencyRepository) (string, error) {
	f := repo.NewFile()
	for i, r := range repos {
		field := fmt.Sprintf("dependencies.repositories[%d]", i)
		if !strings.HasPrefix(r.URL, "http://") && !strings.HasPrefix(r.URL, "https://") {
			return "", invalid(field+".url", "must be an http(s) URL, got %q", r.URL)
		}
		if (r.Username == "") != (r.Password == "") {
			return "", invalid(field+".username", "username and password go together")
		}
		e := &repo.Entry{
			Name: fmt.Sprintf("helmward-%d", i), URL: strings.TrimSuffix(r.URL, "/"),
			Username: r.Username, Password: r.Password,
			InsecureSkipTLSVerify: r.InsecureSkipTLSVerify, PassCredentialsAll: r.PassCredentials,
		}
		for _, m := range []struct {
			pem  string
			name string
			into *string
		}{{r.CAPEM, "ca.crt", &e.CAFile}, {r.CertPEM, "tls.crt", &e.CertFile}, {r.KeyPEM, "tls.key", &e.KeyFile}} {
			if m.pem == "" {
				continue
			}
			p := filepath.Join(dir, fmt.Sprintf("%s-%s", e.Name, m.name))
			if err := os.WriteFile(p, []byte(m.pem), 0o600); err != nil {
				return "", err
			}
			*m.into = p
		}
		f.Add(e)
	}
	p := filepath.Join(dir, "repositories.yaml")
	return p, f.WriteFile(p, 0o600)
}

func opDependencies(st *callState, o *DependenciesOptions) (*DependenciesResult, error) {
	f := "dependencies"
	if o.ChartPath == "" {
		return nil, invalid(f+".chartPath", "must name an unpacked chart directory")
	}
	if fi, err := os.Stat(o.ChartPath); err != nil || !fi.IsDir() {
		return nil, fieldErr(CodeChartLoad, f+".chartPath", "not a chart directory: %s", o.ChartPath)
	}
	if o.MaxSize < 0 {
		return nil, invalid(f+".maxSize", "must not be negative")
	}
	timeout := defaultDependencyTimeout
	if o.Timeout != "" {
		d, err := time.ParseDuration(o.Timeout)
		if err != nil || d <= 0 {
			return nil, invalid(f+".timeout", "not a positive duration: %q", o.Timeout)
		}
		timeout = d
	}
	var epoch *time.Time
	if o.SourceDateEpoch != nil {
		if *o.SourceDateEpoch < 0 {
			return nil, invalid(f+".sourceDateEpoch", "must not be negative")
		}
		t := time.Unix(*o.SourceDateEpoch, 0).UTC()
		epoch = &t
	}
	before, err := loader.LoadDir(o.ChartPath)
	if err != nil {
		return nil, fieldErr(CodeChartLoad, f+".chartPath", "cannot load chart %s: %v", o.ChartPath, err)
	}
	tlsFor := tlsByHost{}
	for i := range o.Repositories {
		r := &o.Repositories[i]
		a := RegistryAccess{InsecureSkipTLSVerify: r.InsecureSkipTLSVerify, CAPEM: r.CAPEM, CertPEM: r.CertPEM, KeyPEM: r.KeyPEM}
		if err := tlsFor.add(fmt.Sprintf("%s.repositories[%d]", f, i), withDefaultPort(hostOf(r.URL), defaultPort(r.URL)), &a); err != nil {
			return nil, err
		}
	}
	plainHTTP := false
	for i := range o.Registries {
		r := &o.Registries[i]
		field := fmt.Sprintf("%s.registries[%d]", f, i)
		if r.Host == "" || strings.Contains(r.Host, "/") {
			return nil, invalid(field+".host", "must be host[:port], got %q", r.Host)
		}
		if (r.Username == "") != (r.Password == "") {
			return nil, invalid(field+".username", "username and password go together")
		}
		if i > 0 && r.PlainHTTP != plainHTTP {
			return nil, invalid(field+".plainHttp", "registries of one chart are all plain HTTP or all HTTPS")
		}
		plainHTTP = r.PlainHTTP
		if err := tlsFor.add(field, r.Host, &r.RegistryAccess); err != nil {
			return nil, err
		}
	}

	dir, err := os.MkdirTemp("", "helmward-deps-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	repoFile, err := writeRepositories(dir, o.Repositories)
	if err != nil {
		return nil, err
	}
	var tripped atomic.Bool
	transport := depTransport(tlsFor, o.MaxSize, &tripped)
	httpClient := &http.Client{Transport: transport, Timeout: timeout}
	authorizer := auth.Client{Client: httpClient, Cache: auth.NewCache(), Credential: registryCredentials(o.Registries)}
	authorizer.SetUserAgent("helmward")
	regOpts := []registry.ClientOption{
		registry.ClientOptCredentialsFile(filepath.Join(dir, "config.json")),
		registry.ClientOptHTTPClient(httpClient),
		registry.ClientOptAuthorizer(authorizer),
	}
	if plainHTTP {
		regOpts = append(regOpts, registry.ClientOptPlainHTTP())
	}
	regClient, err := registry.NewClient(regOpts...)
	if err != nil {
		return nil, wrapField(CodeRegistry, f+".registries", err)
	}
	out := &logWriter{log: st.log}
	man := &downloader.Manager{
		Out:              out,
		ChartPath:        o.ChartPath,
		Getters:          getter.Getters(getter.WithTransport(transport), getter.WithTimeout(timeout)),
		RegistryClient:   regClient,
		RepositoryConfig: repoFile,
		RepositoryCache:  filepath.Join(dir, "cache"),
		ContentCache:     filepath.Join(dir, "content"),
		SourceDateEpoch:  epoch,
	}
	_, err = withDeadline(st, timeout, func() (struct{}, error) { return struct{}{}, man.Build() })
	out.flush()
	if err != nil {
		return nil, dependencyErr(f, err, tripped.Load(), o.MaxSize, out.updateFailures())
	}
	return dependenciesResult(o.ChartPath, before.Lock != nil)
}

// dependencyErr gives an error of the build its code; the message is Helm's,
// with the repository updates that failed before it (Helm only prints those).
func dependencyErr(field string, err error, tooLarge bool, maxSize int64, updates string) error {
	var se *shimError
	switch {
	case errors.As(err, &se), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case tooLarge:
		return wrapField(CodeTooLarge, field+".maxSize",
			fmt.Errorf("a download exceeds the maximum size of %d bytes: %w", maxSize, err))
	case isLockOutOfSync(err):
		return wrapField(CodeLockOutOfSync, "", err)
	case updates != "":
		return wrapField(CodeDependency, "", fmt.Errorf("%w (%s)", err, updates))
	}
	return wrapField(CodeDependency, "", err)
}

// dependenciesResult reads back the lock and charts/ the build left.
func dependenciesResult(chartPath string, locked bool) (*DependenciesResult, error) {
	after, err := loader.LoadDir(chartPath)
	if err != nil {
		return nil, fieldErr(CodeDependency, "dependencies.chartPath", "cannot load the built chart: %v", err)
	}
	res := &DependenciesResult{Locked: locked, LockFile: lockFileName(after.Metadata.APIVersion), Dependencies: []LockedDependency{}, Charts: []string{}}
	if after.Lock != nil {
		res.Digest = after.Lock.Digest
		for _, d := range after.Lock.Dependencies {
			res.Dependencies = append(res.Dependencies, LockedDependency{Name: d.Name, Version: d.Version, Repository: d.Repository})
		}
	}
	entries, err := os.ReadDir(filepath.Join(chartPath, "charts"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for _, e := range entries {
		if !e.IsDir() {
			res.Charts = append(res.Charts, e.Name())
		}
	}
	sort.Strings(res.Charts)
	return res, nil
}

func defaultPort(u string) string {
	if strings.HasPrefix(u, "http://") {
		return "80"
	}
	return "443"
}

// logWriter turns what Helm prints to its Out into lines of the call's log.
type logWriter struct {
	mu      sync.Mutex
	log     *callLog
	pending strings.Builder
	// failures are the repository updates Helm reported as failed and went
	// on without; a build that then fails names them.
	failures  []string
	inFailure bool
}

// note keeps the lines of a failed repository update: Helm prints its
// heading, then the error on the next line, indented by a tab.
func (w *logWriter) note(line string) {
	switch {
	case strings.Contains(line, "Unable to get an update from the"):
		w.failures = append(w.failures, strings.TrimSuffix(strings.TrimLeft(line, "."), ":"))
		w.inFailure = true
	case w.inFailure && strings.HasPrefix(line, "\t"):
		w.failures[len(w.failures)-1] += ": " + strings.TrimSpace(line)
	default:
		w.inFailure = false
	}
}

// updateFailures is what note kept, as one sentence.
func (w *logWriter) updateFailures() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.failures, "; ")
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pending.Write(p)
	s := w.pending.String()
	for {
		line, rest, ok := strings.Cut(s, "\n")
		if !ok {
			break
		}
		if line = strings.TrimRight(line, "\r"); line != "" {
			w.log.Printf("%s", line)
			w.note(line)
		}
		s = rest
	}
	w.pending.Reset()
	w.pending.WriteString(s)
	return len(p), nil
}

func (w *logWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s := strings.TrimSpace(w.pending.String()); s != "" {
		w.log.Printf("%s", s)
	}
	w.pending.Reset()
}
