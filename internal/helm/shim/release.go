package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	ri "helm.sh/helm/v4/pkg/release"
	rspb "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/storage/driver"
)

// WireRelease is a release as the binding sees it: everything Helm stores
// except the chart's templates and files.
type WireRelease struct {
	Name             string            `json:"name"`
	Namespace        string            `json:"namespace"`
	Version          int               `json:"version"`
	Status           string            `json:"status"`
	Description      string            `json:"description"`
	Chart            WireChartMeta     `json:"chart"`
	Config           map[string]any    `json:"config"`
	Manifest         string            `json:"manifest"`
	Hooks            []*WireHook       `json:"hooks"`
	FirstDeployed    *string           `json:"firstDeployed"`
	LastDeployed     *string           `json:"lastDeployed"`
	Deleted          *string           `json:"deleted"`
	Notes            string            `json:"notes"`
	Labels           map[string]string `json:"labels"`
	ApplyMethod      string            `json:"applyMethod"`
	RollbackRevision int               `json:"rollbackRevision"`
	// Digest is Flux's digest of the release record, and ConfigDigest
	// Flux's digest of its values (see digest.go).
	Digest       string `json:"digest"`
	ConfigDigest string `json:"configDigest"`
	OCIDigest    string `json:"ociDigest,omitempty"`
}

// WireChartMeta is the chart a release was made from.
type WireChartMeta struct {
	Name       string `json:"name"`
	Version    string `json:"version"`
	AppVersion string `json:"appVersion"`
}

// WireHook is one hook of a release, with its last run.
type WireHook struct {
	Name              string       `json:"name"`
	Kind              string       `json:"kind"`
	Path              string       `json:"path"`
	Manifest          string       `json:"manifest"`
	Events            []string     `json:"events"`
	Weight            int          `json:"weight"`
	DeletePolicies    []string     `json:"deletePolicies"`
	OutputLogPolicies []string     `json:"outputLogPolicies"`
	LastRun           *WireHookRun `json:"lastRun"`
}

// WireHookRun is when and how a hook last ran.
type WireHookRun struct {
	Phase       string  `json:"phase"`
	StartedAt   *string `json:"startedAt"`
	CompletedAt *string `json:"completedAt"`
}

func wireTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339Nano)
	return &s
}

func toV1(r ri.Releaser) (*rspb.Release, error) {
	switch x := r.(type) {
	case *rspb.Release:
		return x, nil
	case rspb.Release:
		return &x, nil
	case nil:
		return nil, nil
	default:
		return nil, fmt.Errorf("unsupported release type %T", r)
	}
}

// wireRelease snapshots a release, its digest holding ociDigest. The copy
// shares nothing mutable with the input, because Helm keeps changing its
// release after it was stored.
func wireRelease(rel *rspb.Release, ociDigest string) (*WireRelease, error) {
	if rel == nil {
		return nil, nil
	}
	w := &WireRelease{
		Name:        rel.Name,
		Namespace:   rel.Namespace,
		Version:     rel.Version,
		Manifest:    rel.Manifest,
		Labels:      map[string]string{},
		ApplyMethod: rel.ApplyMethod,
		Hooks:       []*WireHook{},
		Config:      map[string]any{},
	}
	// Drivers add their own bookkeeping labels (owner, status, version...) to
	// what they read back; they are not the release's, and would change its digest.
	for k, v := range rel.Labels {
		if !slices.Contains(driver.GetSystemLabels(), k) {
			w.Labels[k] = v
		}
	}
	if rel.Info != nil {
		w.Status = rel.Info.Status.String()
		w.Description = rel.Info.Description
		w.FirstDeployed = wireTime(rel.Info.FirstDeployed)
		w.LastDeployed = wireTime(rel.Info.LastDeployed)
		w.Deleted = wireTime(rel.Info.Deleted)
		w.Notes = rel.Info.Notes
		w.RollbackRevision = rel.Info.RollbackRevision
	}
	if rel.Chart != nil && rel.Chart.Metadata != nil {
		w.Chart = WireChartMeta{
			Name:       rel.Chart.Metadata.Name,
			Version:    rel.Chart.Metadata.Version,
			AppVersion: rel.Chart.Metadata.AppVersion,
		}
	}
	if len(rel.Config) > 0 {
		// A JSON round trip is a deep copy, and gives the types the digest
		// will see after the release comes back from storage.
		raw, err := json.Marshal(rel.Config)
		if err != nil {
			return nil, fmt.Errorf("release config: %w", err)
		}
		if err := json.Unmarshal(raw, &w.Config); err != nil {
			return nil, fmt.Errorf("release config: %w", err)
		}
	}
	for _, h := range rel.Hooks {
		if h == nil {
			continue
		}
		w.Hooks = append(w.Hooks, wireHook(h))
	}
	var err error
	w.OCIDigest = ociDigest
	if w.Digest, err = releaseDigest(rel, ociDigest); err != nil {
		return nil, fmt.Errorf("release digest: %w", err)
	}
	if w.ConfigDigest, err = valuesDigest(w.Config); err != nil {
		return nil, fmt.Errorf("release config digest: %w", err)
	}
	return w, nil
}

func wireHook(h *rspb.Hook) *WireHook {
	wh := &WireHook{
		Name:              h.Name,
		Kind:              h.Kind,
		Path:              h.Path,
		Manifest:          h.Manifest,
		Weight:            h.Weight,
		Events:            []string{},
		DeletePolicies:    []string{},
		OutputLogPolicies: []string{},
	}
	for _, e := range h.Events {
		wh.Events = append(wh.Events, string(e))
	}
	for _, p := range h.DeletePolicies {
		wh.DeletePolicies = append(wh.DeletePolicies, string(p))
	}
	for _, p := range h.OutputLogPolicies {
		wh.OutputLogPolicies = append(wh.OutputLogPolicies, string(p))
	}
	if h.LastRun.Phase != "" || !h.LastRun.StartedAt.IsZero() {
		wh.LastRun = &WireHookRun{
			Phase:       string(h.LastRun.Phase),
			StartedAt:   wireTime(h.LastRun.StartedAt),
			CompletedAt: wireTime(h.LastRun.CompletedAt),
		}
	}
	return wh
}

// canonicalJSON encodes v with object keys sorted, no insignificant
// whitespace and no HTML escaping: the same bytes as Python's
// json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
// for the strings, integers, booleans and nulls a release is made of.
func canonicalJSON(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var generic any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&generic); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(generic); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
