package main

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	chartcommon "helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/release/common"
	rspb "helm.sh/helm/v4/pkg/release/v1"
)

// The expected digests are the vectors of Flux's own tests (fluxcd/pkg
// chartutil and helm-controller internal/release), so a change of encoding
// on either side shows here first.

func TestValuesDigestIsFluxs(t *testing.T) {
	cases := []struct {
		name   string
		values map[string]any
		want   string
	}{
		{"nil", nil, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"empty", map[string]any{}, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"nested, keys in any order", map[string]any{
			"replicas": 3,
			"image":    map[string]any{"tag": "latest", "repository": "nginx"},
			"ports": []any{
				map[string]any{"protocol": "TCP", "port": 8080},
				map[string]any{"port": 9090, "protocol": "UDP"},
			},
		}, "sha256:fcdc2b0de1581a3633ada4afee3f918f6eaa5b5ab38c3fef03d5b48d3f85d9f6"},
	}
	for _, c := range cases {
		got, err := valuesDigest(c.values)
		if err != nil || got != c.want {
			t.Errorf("%s: got %q (%v), want %q", c.name, got, err, c.want)
		}
	}
}

func TestReleaseDigestIsFluxs(t *testing.T) {
	got, err := releaseDigest(&rspb.Release{Name: "foo"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := "sha256:f1498f27a16a09cd7e1ee610d924df065c03d30035638babc95dd9a8d412ce4d"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestReleaseDigestIgnoresWhatFluxCannotSee(t *testing.T) {
	now := time.Date(2026, 12, 2, 4, 0, 0, 123456789, time.FixedZone("x", 3600))
	rel := func() *rspb.Release {
		return &rspb.Release{
			Name: "r", Namespace: "ns", Version: 2, Manifest: "kind: ConfigMap\n",
			Info:   &rspb.Info{FirstDeployed: now, LastDeployed: now, Status: common.StatusDeployed},
			Chart:  &chart.Chart{Metadata: &chart.Metadata{Name: "c", Version: "1.0.0"}, Templates: nil},
			Config: map[string]any{"a": 1},
			Hooks:  []*rspb.Hook{{Name: "pre", Events: []rspb.HookEvent{rspb.HookPreInstall}}},
		}
	}
	base, _ := releaseDigest(rel(), "")

	tested := rel()
	tested.Hooks = append(tested.Hooks, &rspb.Hook{Name: "t", Events: []rspb.HookEvent{rspb.HookTest},
		LastRun: rspb.HookExecution{Phase: rspb.HookPhaseSucceeded}})
	tested.Info.RollbackRevision = 1
	tested.Chart.Templates = []*chartcommon.File{{Name: "templates/x.yaml", Data: []byte("x")}}
	if got, _ := releaseDigest(tested, ""); got != base {
		t.Errorf("test hooks, the rollback revision and templates changed the digest: %s != %s", got, base)
	}

	changed := rel()
	changed.Config = map[string]any{"a": 2}
	if got, _ := releaseDigest(changed, ""); got == base {
		t.Error("a change of values left the digest as it was")
	}
	if got, _ := releaseDigest(rel(), "sha256:abc"); got == base {
		t.Error("the OCI digest is not part of the digest")
	}
}

func TestObserveSpecGivesKnownRevisionsTheirOwnDigest(t *testing.T) {
	o := &ObserveSpec{OCIDigest: "sha256:new", Versions: map[string]string{"3": "sha256:old", "2": ""}}
	for version, want := range map[int]string{4: "sha256:new", 3: "sha256:old", 2: ""} {
		if got := o.OCIDigestOf(version); got != want {
			t.Errorf("revision %d: got %q, want %q", version, got, want)
		}
	}
	if got := (*ObserveSpec)(nil).OCIDigestOf(1); got != "" {
		t.Errorf("no spec: got %q", got)
	}
}

func TestPostRendererDigestUsesFluxsFieldOrder(t *testing.T) {
	got, err := opDigest(nil, &DigestQuery{PostRenderers: &[]PostRendererSpec{{Kustomize: &KustomizeSpec{
		Patches: []PatchSpec{{Patch: "p", Target: &SelectorSpec{LabelSelector: "l", Name: "n", Namespace: "ns"}}},
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	// encoding/json writes struct fields in declaration order: Flux's Selector
	// has namespace before name and annotationSelector before labelSelector.
	raw := `[{"kustomize":{"patches":[{"patch":"p","target":{"namespace":"ns","name":"n","labelSelector":"l"}}]}}]` + "\n"
	if exp := sha256Hex(raw); got.PostRenderers != exp {
		t.Fatalf("got %s, want %s", got.PostRenderers, exp)
	}
	none, _ := opDigest(nil, &DigestQuery{})
	if none.PostRenderers != "" || none.CommonMetadata != "" {
		t.Fatalf("absent fields have digests: %+v", none)
	}
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(h[:])
}
