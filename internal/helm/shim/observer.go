package main

import (
	"encoding/json"
	"sync"

	ri "helm.sh/helm/v4/pkg/release"
	"helm.sh/helm/v4/pkg/storage/driver"
)

// observer is a storage driver that delegates to another one and records
// every successful Create, Update and Delete, in order. Reads pass through.
//
// Helm actions can store a release they do not return (an upgrade that fails
// after its pending revision was written) and return one they never stored (a
// validation error before any write). The recorded writes are the truth.
type observer struct {
	next driver.Driver
	st   *callState

	mu     sync.Mutex
	seen   []Observation
	closed bool
}

var _ driver.Driver = (*observer)(nil)

func newObserver(next driver.Driver, st *callState) *observer {
	return &observer{next: next, st: st}
}

func (o *observer) Name() string { return o.next.Name() }

func (o *observer) Get(key string) (ri.Releaser, error) { return o.next.Get(key) }

func (o *observer) List(filter func(ri.Releaser) bool) ([]ri.Releaser, error) {
	return o.next.List(filter)
}

func (o *observer) Query(labels map[string]string) ([]ri.Releaser, error) {
	return o.next.Query(labels)
}

func (o *observer) Create(key string, rls ri.Releaser) error {
	if err := o.next.Create(key, rls); err != nil {
		return err
	}
	o.record("create", key, rls)
	return nil
}

func (o *observer) Update(key string, rls ri.Releaser) error {
	if err := o.next.Update(key, rls); err != nil {
		return err
	}
	o.record("update", key, rls)
	return nil
}

func (o *observer) Delete(key string) (ri.Releaser, error) {
	rls, err := o.next.Delete(key)
	if err != nil {
		return rls, err
	}
	o.record("delete", key, rls)
	return rls, nil
}

// record snapshots the release at the moment of the write: Helm mutates the
// same object afterwards, so a pointer would show later states.
func (o *observer) record(op, key string, rls ri.Releaser) {
	obs := Observation{Operation: op, Key: key}
	rel, err := toV1(rls)
	var w *WireRelease
	if err == nil {
		w, err = o.st.wire(rel)
	}
	if err != nil || w == nil {
		o.st.log.Printf("observer: cannot snapshot %s of %s: %v", op, key, err)
		obs.Release = json.RawMessage("null")
	} else {
		raw, err := canonicalJSON(w)
		if err != nil {
			o.st.log.Printf("observer: cannot encode %s of %s: %v", op, key, err)
			raw = []byte("null")
		}
		obs.Release, obs.Digest = raw, w.Digest
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		// The call already answered; Helm's background goroutine wrote late.
		return
	}
	o.seen = append(o.seen, obs)
}

// drain returns the writes so far and ignores any later ones.
func (o *observer) drain() []Observation {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = true
	out := o.seen
	o.seen = nil
	if out == nil {
		out = []Observation{}
	}
	return out
}

// lastRelease is the release of the latest write so far, or nil.
func (o *observer) lastRelease() *WireRelease {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := len(o.seen) - 1; i >= 0; i-- {
		var w WireRelease
		if err := json.Unmarshal(o.seen[i].Release, &w); err == nil && w.Name != "" {
			return &w
		}
	}
	return nil
}
