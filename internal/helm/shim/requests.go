package main

// Requests to API servers counted by result, for the controller's
// rest_client_requests_total (the Python side adds its own requests).

import (
	"net/http"
	"sort"
	"strconv"
	"sync"
)

type resultKey struct{ code, method, host string }

type resultCounts struct {
	mu     sync.Mutex
	counts map[resultKey]uint64
}

var results = &resultCounts{counts: map[resultKey]uint64{}}

func (r *resultCounts) count(req *http.Request, resp *http.Response, err error) {
	code := "<error>"
	if err == nil && resp != nil {
		code = strconv.Itoa(resp.StatusCode)
	}
	r.mu.Lock()
	r.counts[resultKey{code, req.Method, req.URL.Host}]++
	r.mu.Unlock()
}

func (r *resultCounts) snapshot() []RequestResult {
	r.mu.Lock()
	out := make([]RequestResult, 0, len(r.counts))
	for k, n := range r.counts {
		out = append(out, RequestResult{Code: k.code, Method: k.method, Host: k.host, Count: n})
	}
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Host != b.Host {
			return a.Host < b.Host
		}
		if a.Method != b.Method {
			return a.Method < b.Method
		}
		return a.Code < b.Code
	})
	return out
}
