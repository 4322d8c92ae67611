package main

// Digests as Flux's helm-controller computes them, so that either controller
// can verify what the other recorded in a HelmRelease's status: the release
// digest of a history snapshot, its config digest, and the digests of
// spec.postRenderers and spec.commonMetadata.

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"hash"
	"slices"
	"sort"

	yamlv2 "go.yaml.in/yaml/v2"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	rspb "helm.sh/helm/v4/pkg/release/v1"
	"sigs.k8s.io/yaml"
)

// observation has the shape, field order and JSON names of the record Flux
// digests: the release without its chart, except the chart's metadata.
type observation struct {
	Name          string         `json:"name"`
	Version       int            `json:"version"`
	Info          rspb.Info      `json:"info"`
	ChartMetadata chart.Metadata `json:"chartMetadata"`
	Config        map[string]any `json:"config"`
	Manifest      string         `json:"manifest"`
	Hooks         []rspb.Hook    `json:"hooks"`
	Namespace     string         `json:"namespace"`
	OCIDigest     string         `json:"ociDigest,omitempty"`
}

// stored is the release as a reader of Helm's storage decodes it (the
// storage drivers keep the JSON of the release), without the chart's
// templates and files, which no digest reads.
func stored(rel *rspb.Release) (*rspb.Release, error) {
	light := *rel
	if rel.Chart != nil {
		light.Chart = &chart.Chart{Metadata: rel.Chart.Metadata}
	}
	raw, err := json.Marshal(&light)
	if err != nil {
		return nil, err
	}
	var out rspb.Release
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func observe(rel *rspb.Release, ociDigest string) observation {
	obs := observation{
		Name: rel.Name, Version: rel.Version, Manifest: rel.Manifest,
		Namespace: rel.Namespace, OCIDigest: ociDigest,
	}
	if rel.Info != nil {
		obs.Info = *rel.Info
		// Helm 4.3 added this field; the Helm that Flux's helm-controller
		// v1.6 links does not decode it, so its digest never holds it.
		obs.Info.RollbackRevision = 0
	}
	if rel.Chart != nil && rel.Chart.Metadata != nil {
		obs.ChartMetadata = *rel.Chart.Metadata
	}
	if len(rel.Config) > 0 {
		obs.Config = rel.Config
	}
	for _, h := range rel.Hooks {
		if h != nil && !slices.Contains(h.Events, rspb.HookTest) {
			obs.Hooks = append(obs.Hooks, *h)
		}
	}
	return obs
}

// releaseDigest is Flux's digest of a release record: sha256 over the
// encoding/json encoding of its observation (HTML escaped, newline ended).
func releaseDigest(rel *rspb.Release, ociDigest string) (string, error) {
	read, err := stored(rel)
	if err != nil {
		return "", err
	}
	return jsonDigest(observe(read, ociDigest))
}

func jsonDigest(v any) (string, error) {
	h := sha256.New()
	if err := json.NewEncoder(h).Encode(v); err != nil {
		return "", err
	}
	return sum(h), nil
}

func sum(h hash.Hash) string { return "sha256:" + hex.EncodeToString(h.Sum(nil)) }

// valuesDigest is Flux's digest of Helm values: sha256 over their YAML (go-yaml
// v2, keys sorted at every level), with JSON numbers as storage decodes them.
// No values and empty values are the digest of nothing.
func valuesDigest(values map[string]any) (string, error) {
	h := sha256.New()
	if len(values) == 0 {
		return sum(h), nil
	}
	raw, err := json.Marshal(values)
	if err != nil {
		return "", err
	}
	var decoded map[string]any
	if err := json.Unmarshal(raw, &decoded); err != nil {
		return "", err
	}
	doc := yaml.JSONObjectToYAMLObject(decoded)
	sortMapSlice(doc)
	if err := yamlv2.NewEncoder(h).Encode(doc); err != nil {
		return "", err
	}
	return sum(h), nil
}

func sortMapSlice(ms yamlv2.MapSlice) {
	sort.Slice(ms, func(i, j int) bool { return ms[i].Key.(string) < ms[j].Key.(string) })
	for _, item := range ms {
		sortNested(item.Value)
	}
}

func sortNested(v any) {
	switch x := v.(type) {
	case yamlv2.MapSlice:
		sortMapSlice(x)
	case []any:
		for _, item := range x {
			sortNested(item)
		}
	}
}

// DigestResult holds the digests, each "sha256:<hex>" or "".
type DigestResult struct {
	Values         string `json:"values"`
	PostRenderers  string `json:"postRenderers"`
	CommonMetadata string `json:"commonMetadata"`
}

func opDigest(_ *callState, q *DigestQuery) (*DigestResult, error) {
	out := &DigestResult{}
	var err error
	if out.Values, err = valuesDigest(q.Values); err != nil {
		return nil, invalid("digest.values", "%v", err)
	}
	if q.PostRenderers != nil {
		if out.PostRenderers, err = jsonDigest(*q.PostRenderers); err != nil {
			return nil, invalid("digest.postRenderers", "%v", err)
		}
	}
	if q.CommonMetadata != nil {
		if out.CommonMetadata, err = jsonDigest(q.CommonMetadata); err != nil {
			return nil, invalid("digest.commonMetadata", "%v", err)
		}
	}
	return out, nil
}
