package main

// An HTTP-level cache for discovery documents, one per target.
//
// Helm's status watcher builds a fresh controller-runtime REST mapper for
// every wait, and that mapper downloads discovery (/api, /apis) again. The
// watcher's mapper is not ours to replace, but its HTTP client comes from the
// target's REST config, so caching the discovery GETs under that config makes
// every client of the target share one download. The cache is dropped
// whenever the target's discovery is invalidated (new CRDs, an unknown kind,
// the capabilities TTL), and entries expire after discoveryHTTPTTL anyway.

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const discoveryHTTPTTL = capabilitiesTTL

// Process-wide request counters, by kind of request actually sent.
var requestCounts struct {
	discovery atomic.Uint64
	openapi   atomic.Uint64
	other     atomic.Uint64
	cacheHits atomic.Uint64
}

// isDiscoveryPath matches /api, /api/v1, /apis, /apis/<group> and
// /apis/<group>/<version>: the documents discovery reads.
func isDiscoveryPath(p string) bool {
	p = strings.TrimSuffix(p, "/")
	switch {
	case p == "/api" || p == "/apis":
		return true
	case strings.HasPrefix(p, "/api/"):
		return strings.Count(p, "/") == 2
	case strings.HasPrefix(p, "/apis/"):
		return strings.Count(p, "/") <= 3
	}
	return false
}

type cachedResponse struct {
	status int
	proto  string
	header http.Header
	body   []byte
	at     time.Time
}

type discoveryCache struct {
	mu       sync.Mutex
	gen      uint64
	entries  map[string]*cachedResponse
	inflight map[string]*sync.WaitGroup
}

func newDiscoveryCache() *discoveryCache {
	return &discoveryCache{entries: map[string]*cachedResponse{}, inflight: map[string]*sync.WaitGroup{}}
}

// invalidate drops every entry; fetches already under way are not stored.
func (c *discoveryCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.entries = map[string]*cachedResponse{}
}

func (c *discoveryCache) wrap(next http.RoundTripper) http.RoundTripper {
	return &cachingTransport{cache: c, next: next}
}

type cachingTransport struct {
	cache *discoveryCache
	next  http.RoundTripper
}

func (t *cachingTransport) send(req *http.Request) (*http.Response, error) {
	switch p := req.URL.Path; {
	case isDiscoveryPath(p):
		requestCounts.discovery.Add(1)
	case strings.HasPrefix(p, "/openapi/"):
		requestCounts.openapi.Add(1)
	default:
		requestCounts.other.Add(1)
	}
	resp, err := t.next.RoundTrip(req)
	results.count(req, resp, err)
	return resp, err
}

func (t *cachingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.cache == nil || req.Method != http.MethodGet || req.URL.RawQuery != "" || !isDiscoveryPath(req.URL.Path) {
		return t.send(req)
	}
	c := t.cache
	key := req.URL.Path + "\x00" + req.Header.Get("Accept")
	for {
		c.mu.Lock()
		if e, ok := c.entries[key]; ok && time.Since(e.at) < discoveryHTTPTTL {
			c.mu.Unlock()
			requestCounts.cacheHits.Add(1)
			return e.response(req), nil
		}
		if wg, ok := c.inflight[key]; ok {
			// Someone is fetching this document: wait, then look again.
			c.mu.Unlock()
			wg.Wait()
			continue
		}
		wg := &sync.WaitGroup{}
		wg.Add(1)
		c.inflight[key] = wg
		gen := c.gen
		c.mu.Unlock()

		resp, err := t.fetch(req)
		c.mu.Lock()
		delete(c.inflight, key)
		if err == nil && resp.status == http.StatusOK && c.gen == gen {
			c.entries[key] = resp
		}
		c.mu.Unlock()
		wg.Done()
		if err != nil {
			return nil, err
		}
		return resp.response(req), nil
	}
}

func (t *cachingTransport) fetch(req *http.Request) (*cachedResponse, error) {
	resp, err := t.send(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &cachedResponse{
		status: resp.StatusCode, proto: resp.Proto, header: resp.Header.Clone(), body: body, at: time.Now(),
	}, nil
}

func (e *cachedResponse) response(req *http.Request) *http.Response {
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", e.status, http.StatusText(e.status)),
		StatusCode:    e.status,
		Proto:         e.proto,
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        e.header.Clone(),
		Body:          io.NopCloser(bytes.NewReader(e.body)),
		ContentLength: int64(len(e.body)),
		Request:       req,
	}
}
