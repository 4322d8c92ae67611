// Command libhelmward is Helmward's Helm engine: a c-shared library over the
// Helm v4 SDK, with a Kustomize post-renderer and a storage observer.
//
// The C ABI is four functions. HelmwardCall takes one JSON request and returns
// one JSON response; HelmwardCancel cancels a call by the id its caller chose;
// HelmwardFree releases a string the library returned; HelmwardVersion reports
// versions. There is no process-global error: each response carries its own.
package main

/*
#include <stdlib.h>
*/
import "C"

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"

	"helm.sh/helm/v4/pkg/kube"
	rspb "helm.sh/helm/v4/pkg/release/v1"
)

func main() {}

func init() {
	// The field manager Helm applies and updates objects as: Flux's
	// helm-controller's, so that either controller takes over the other's
	// releases without conflicts. Helm would otherwise name it after
	// os.Args[0], which inside Python is "python3".
	kube.ManagedFieldsManager = "helm-controller"
	if m := os.Getenv("HELMWARD_FIELD_MANAGER"); m != "" {
		kube.ManagedFieldsManager = m
	}
	// client-go logs through klog to the host process's stderr, for every call
	// at once (watch restarts, throttling). Helm's own lines for each call come
	// back in its response; klog stays quiet unless asked for.
	if os.Getenv("HELMWARD_SHIM_KLOG") == "" {
		klog.SetLogger(logr.Discard())
	}
}

// HelmwardCall runs one request. callID is chosen by the caller so it can
// cancel the call from another thread; 0 means not cancellable. The returned
// string must be released with HelmwardFree.
//
//export HelmwardCall
func HelmwardCall(callID C.ulonglong, request *C.char, length C.int) *C.char {
	var data []byte
	if request != nil && length > 0 {
		data = C.GoBytes(unsafe.Pointer(request), length)
	}
	return C.CString(string(handle(uint64(callID), data)))
}

// HelmwardCancel cancels the call with this id. It returns 1 when the call
// was running, 0 when it was not (a call that starts later with this id
// starts cancelled, so a cancel racing the start is not lost).
//
//export HelmwardCancel
func HelmwardCancel(callID C.ulonglong) C.int {
	if calls.cancel(uint64(callID)) {
		return 1
	}
	return 0
}

// HelmwardFree releases a string returned by this library.
//
//export HelmwardFree
func HelmwardFree(p *C.char) {
	C.free(unsafe.Pointer(p))
}

// HelmwardVersion returns a JSON object with the ABI version and the
// versions of Helm, Kustomize, client-go and Go inside. Free it.
//
//export HelmwardVersion
func HelmwardVersion() *C.char {
	raw, _ := json.Marshal(versionInfo())
	return C.CString(string(raw))
}

func versionInfo() *VersionInfo {
	out := &VersionInfo{ABI: abiVersion, Go: runtime.Version(), FieldManager: kube.ManagedFieldsManager}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return out
	}
	for _, d := range bi.Deps {
		v := d.Version
		if d.Replace != nil {
			v = d.Replace.Version
		}
		switch d.Path {
		case "helm.sh/helm/v4":
			out.Helm = v
		case "sigs.k8s.io/kustomize/api":
			out.KustomizeAPI = v
		case "sigs.k8s.io/kustomize/kyaml":
			out.Kyaml = v
		case "k8s.io/client-go":
			out.ClientGo = v
		}
	}
	return out
}

// callRegistry maps caller-chosen ids to the cancel functions of running calls.
type callRegistry struct {
	mu       sync.Mutex
	running  map[uint64]*callEntry
	early    map[uint64]time.Time // cancelled before they started
	total    atomic.Uint64
	inflight atomic.Int64
}

type callEntry struct {
	cancel    context.CancelFunc
	cancelled atomic.Bool
}

var calls = &callRegistry{running: map[uint64]*callEntry{}, early: map[uint64]time.Time{}}

const earlyCancelTTL = 5 * time.Minute

func (r *callRegistry) start(id uint64, cancel context.CancelFunc) *callEntry {
	e := &callEntry{cancel: cancel}
	r.total.Add(1)
	r.inflight.Add(1)
	if id == 0 {
		return e
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.early[id]; ok {
		delete(r.early, id)
		e.cancelled.Store(true)
		cancel()
	}
	r.running[id] = e
	return e
}

func (r *callRegistry) finish(id uint64) {
	r.inflight.Add(-1)
	if id == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.running, id)
}

func (r *callRegistry) cancel(id uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.running[id]; ok {
		e.cancelled.Store(true)
		e.cancel()
		return true
	}
	now := time.Now()
	for k, t := range r.early {
		if now.Sub(t) > earlyCancelTTL {
			delete(r.early, k)
		}
	}
	if id != 0 {
		r.early[id] = now
	}
	return false
}

// callState is what an op needs besides its request.
type callState struct {
	ctx context.Context
	log *callLog
	obs *observer
	// observe is the request's, for the digests of the releases it reports.
	observe *ObserveSpec
}

// wire snapshots a release for the response, with the OCI digest the
// request gives its revision.
func (st *callState) wire(rel *rspb.Release) (*WireRelease, error) {
	if rel == nil {
		return nil, nil
	}
	return wireRelease(rel, st.observe.OCIDigestOf(rel.Version))
}

// handle decodes, runs and answers one request. It never panics: a panic in
// the op is turned into an Internal error carrying the stack in its logs.
func handle(id uint64, data []byte) []byte {
	start := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	entry := calls.start(id, cancel)
	defer calls.finish(id)
	defer cancel()

	st := &callState{ctx: ctx, log: newCallLog()}
	resp := &Response{Op: "", Observations: []Observation{}}
	var result any
	var err error
	func() {
		defer func() {
			if p := recover(); p != nil {
				st.log.Printf("panic: %v\n%s", p, debug.Stack())
				err = &shimError{code: CodeInternal, err: fmt.Errorf("internal error (recovered Go panic): %v", p)}
			}
		}()
		var c *call
		c, err = decodeRequest(data)
		if err != nil {
			return
		}
		resp.Op = c.req.Op
		st.observe = c.req.Observe
		result, err = dispatch(st, c)
	}()
	if st.obs != nil {
		resp.Observations = st.obs.drain()
	}
	resp.Logs = st.log.Lines()
	resp.Result = result
	if err != nil {
		resp.Error = classify(err, entry.cancelled.Load())
		resp.Error.Logs = resp.Logs
	} else {
		resp.OK = true
	}
	resp.DurationMS = float64(time.Since(start).Microseconds()) / 1000
	raw, merr := json.Marshal(resp)
	if merr != nil {
		fallback := Response{Op: resp.Op, Observations: resp.Observations, Logs: resp.Logs, Error: &WireError{
			Code: CodeInternal, Message: "cannot encode the response: " + merr.Error(), Logs: resp.Logs,
		}}
		raw, _ = json.Marshal(fallback)
	}
	return raw
}
