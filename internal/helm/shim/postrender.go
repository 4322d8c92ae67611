package main

// Post-rendering, in the order Flux applies it: each postRenderers[] entry
// (kustomize patches and images), then commonMetadata, then the origin labels,
// last so they win any collision; then the owner reference or annotations
// (owner.go), which no Flux setting writes.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/provider"
	"sigs.k8s.io/kustomize/api/resmap"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/kio"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
	"sigs.k8s.io/yaml"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/postrenderer"
)

const (
	originNameLabel      = "helm.toolkit.fluxcd.io/name"
	originNamespaceLabel = "helm.toolkit.fluxcd.io/namespace"
)

// kustomizeMu serialises krusty runs: kustomize has shared maps that race
// under concurrent builds (kubernetes-sigs/kustomize#3659).
var kustomizeMu sync.Mutex

// kindSource lists kinds known beyond the ones in the rendered input, e.g.
// from the cluster's discovery. It is read when a renderer runs.
type kindSource func() []string

// buildPostRenderer validates the settings and returns the renderer chain,
// or nil when there is nothing to do. prefix is the settings' field path,
// namespace the release namespace. scopes tells which kinds the cluster
// serves namespaced; it is nil where there is no cluster (render), and then
// an owner is refused.
func buildPostRenderer(s *RenderSettings, prefix, namespace string, extraKinds kindSource, scopes scopeLookup) (postrenderer.PostRenderer, action.PostRenderStrategy, error) {
	strategy := action.PostRenderStrategyCombined
	switch s.PostRenderStrategy {
	case "", "combined":
	case "separate":
		strategy = action.PostRenderStrategySeparate
	case "nohooks":
		strategy = action.PostRenderStrategyNoHooks
	default:
		return nil, "", invalid(prefix+".postRenderStrategy", "must be combined, separate or nohooks, got %q", s.PostRenderStrategy)
	}
	var chain []postrenderer.PostRenderer
	for i, pr := range s.PostRenderers {
		if pr.Kustomize == nil {
			continue
		}
		field := fmt.Sprintf("%s.postRenderers[%d].kustomize", prefix, i)
		k, err := newKustomizeRenderer(field, pr.Kustomize, extraKinds)
		if err != nil {
			return nil, "", err
		}
		if k != nil {
			chain = append(chain, k)
		}
	}
	if cm := s.CommonMetadata; cm != nil {
		field := prefix + ".commonMetadata"
		if err := checkLabels(field+".labels", cm.Labels); err != nil {
			return nil, "", err
		}
		if err := checkAnnotations(field+".annotations", cm.Annotations); err != nil {
			return nil, "", err
		}
		if len(cm.Labels)+len(cm.Annotations) > 0 {
			chain = append(chain, &metadataRenderer{field: field, labels: cm.Labels, annotations: cm.Annotations})
		}
	}
	if o := s.Origin; o != nil {
		if o.Name == "" {
			return nil, "", invalid(prefix+".origin.name", "must not be empty")
		}
		if o.Namespace == "" {
			return nil, "", invalid(prefix+".origin.namespace", "must not be empty")
		}
		chain = append(chain, &metadataRenderer{field: prefix + ".origin", labels: map[string]string{
			originNameLabel:      o.Name,
			originNamespaceLabel: o.Namespace,
		}})
	}
	if o := s.Owner; o != nil {
		r, err := newOwnerRenderer(prefix+".owner", o, namespace, scopes)
		if err != nil {
			return nil, "", err
		}
		chain = append(chain, r)
	}
	if len(chain) == 0 {
		return nil, strategy, nil
	}
	return chainRenderer(chain), strategy, nil
}

type chainRenderer []postrenderer.PostRenderer

func (c chainRenderer) Run(in *bytes.Buffer) (*bytes.Buffer, error) {
	out := in
	for _, r := range c {
		var err error
		if out, err = r.Run(out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// kustomizeRenderer runs one postRenderers[] entry through krusty on an
// in-memory filesystem.
type kustomizeRenderer struct {
	field         string
	kustomization []byte
	targets       []targetKind
	extraKinds    kindSource
}

type targetKind struct {
	field string
	kind  string
}

func newKustomizeRenderer(field string, spec *KustomizeSpec, extraKinds kindSource) (*kustomizeRenderer, error) {
	if len(spec.Patches) == 0 && len(spec.Images) == 0 {
		return nil, nil
	}
	k := kustypes.Kustomization{
		TypeMeta:  kustypes.TypeMeta{APIVersion: kustypes.KustomizationVersion, Kind: kustypes.KustomizationKind},
		Resources: []string{"helm-output.yaml"},
	}
	r := &kustomizeRenderer{field: field, extraKinds: extraKinds}
	for i, p := range spec.Patches {
		pf := fmt.Sprintf("%s.patches[%d]", field, i)
		if err := checkPatch(pf, p); err != nil {
			return nil, err
		}
		var sel *kustypes.Selector
		if t := p.Target; t != nil {
			sel = &kustypes.Selector{LabelSelector: t.LabelSelector, AnnotationSelector: t.AnnotationSelector}
			sel.Group, sel.Version, sel.Kind = t.Group, t.Version, t.Kind
			sel.Name, sel.Namespace = t.Name, t.Namespace
			if t.Kind != "" {
				r.targets = append(r.targets, targetKind{field: pf + ".target.kind", kind: t.Kind})
			}
		}
		k.Patches = append(k.Patches, kustypes.Patch{Patch: p.Patch, Target: sel})
	}
	for i, img := range spec.Images {
		if strings.TrimSpace(img.Name) == "" {
			return nil, invalid(fmt.Sprintf("%s.images[%d].name", field, i), "must not be empty")
		}
		if img.NewName == "" && img.NewTag == "" && img.Digest == "" {
			return nil, invalid(fmt.Sprintf("%s.images[%d]", field, i), "set at least one of newName, newTag and digest")
		}
		k.Images = append(k.Images, kustypes.Image{Name: img.Name, NewName: img.NewName, NewTag: img.NewTag, Digest: img.Digest})
	}
	raw, err := json.Marshal(k)
	if err != nil {
		return nil, err
	}
	r.kustomization = raw
	return r, nil
}

// checkPatch parses a patch the way kustomize's patch transformer will, so a
// broken patch is reported before Helm touches the cluster.
func checkPatch(field string, p PatchSpec) error {
	text := strings.TrimSpace(p.Patch)
	if text == "" {
		return invalid(field+".patch", "must not be empty")
	}
	if t := p.Target; t != nil {
		if _, err := labels.Parse(t.LabelSelector); err != nil {
			return fieldErr(CodePostRender, field+".target.labelSelector", "cannot parse: %v", err)
		}
		if _, err := labels.Parse(t.AnnotationSelector); err != nil {
			return fieldErr(CodePostRender, field+".target.annotationSelector", "cannot parse: %v", err)
		}
	}
	rf := resmap.NewFactory(provider.NewDefaultDepProvider().GetResourceFactory()).RF()
	sm, errSM := rf.SliceFromBytes([]byte(text))
	ops, errJSON := decodeJSONPatch(text)
	switch {
	case errSM != nil && errJSON != nil:
		return fieldErr(CodePostRender, field+".patch",
			"does not parse as a strategic-merge patch (%v) nor as a JSON6902 patch (%v)", errSM, errJSON)
	case errSM == nil && errJSON == nil && len(sm) > 0 && len(ops) > 0:
		return fieldErr(CodePostRender, field+".patch", "parses as both a strategic-merge and a JSON6902 patch")
	case errSM == nil && len(sm) == 0:
		return fieldErr(CodePostRender, field+".patch", "holds no object")
	case errSM == nil && len(sm) > 1 && p.Target != nil:
		return fieldErr(CodePostRender, field+".patch", "a patch with a target must hold one strategic-merge object, not %d", len(sm))
	case errSM != nil && p.Target == nil:
		return fieldErr(CodePostRender, field+".target", "a JSON6902 patch needs a target")
	}
	return nil
}

func decodeJSONPatch(text string) (jsonpatch.Patch, error) {
	ops := []byte(text)
	if !strings.HasPrefix(text, "[") {
		j, err := yaml.YAMLToJSON(ops)
		if err != nil {
			return nil, err
		}
		ops = j
	}
	return jsonpatch.DecodePatch(ops)
}

// parseRendered parses the manifests a post-renderer is given. blank says
// there is nothing but whitespace, which the renderer passes on as it is
// (Helm ignores the buffer that comes with an error).
func parseRendered(field string, in *bytes.Buffer) (nodes []*kyaml.RNode, blank bool, err error) {
	if strings.TrimSpace(in.String()) == "" {
		return nil, true, nil
	}
	nodes, err = kio.ParseAll(in.String())
	if err != nil {
		return nil, false, fieldErr(CodePostRender, field, "cannot parse the rendered manifests: %v", err)
	}
	return nodes, false, nil
}

func (k *kustomizeRenderer) Run(in *bytes.Buffer) (*bytes.Buffer, error) {
	nodes, blank, err := parseRendered(k.field, in)
	if err != nil || blank {
		return in, err
	}
	if err := k.checkKinds(nodes); err != nil {
		return nil, err
	}
	fs := filesys.MakeFsInMemory()
	if err := fs.WriteFile("helm-output.yaml", in.Bytes()); err != nil {
		return nil, err
	}
	if err := fs.WriteFile("kustomization.yaml", k.kustomization); err != nil {
		return nil, err
	}
	out, err := runKrusty(fs)
	if err != nil {
		return nil, wrapField(CodePostRender, k.field, err)
	}
	return bytes.NewBuffer(out), nil
}

func runKrusty(fs filesys.FileSystem) ([]byte, error) {
	kustomizeMu.Lock()
	defer kustomizeMu.Unlock()
	kz := krusty.MakeKustomizer(&krusty.Options{
		Reorder:          krusty.ReorderOptionNone,
		LoadRestrictions: kustypes.LoadRestrictionsNone,
		PluginConfig:     kustypes.DisabledPluginConfig(),
	})
	m, err := kz.Run(fs, ".")
	if err != nil {
		return nil, err
	}
	return m.AsYaml()
}

// checkKinds rejects a patch target whose kind nothing knows: not the
// Kubernetes scheme, not the cluster's discovery (or the given API versions),
// not a CRD of the chart and not an object being rendered. kustomize itself
// silently applies such a patch to nothing, which hides typos.
func (k *kustomizeRenderer) checkKinds(nodes []*kyaml.RNode) error {
	if len(k.targets) == 0 {
		return nil
	}
	known := builtinKinds()
	for _, n := range nodes {
		kind := n.GetKind()
		known[kind] = true
		if kind == "CustomResourceDefinition" {
			if v, err := n.GetString("spec.names.kind"); err == nil && v != "" {
				known[v] = true
			}
		}
	}
	if k.extraKinds != nil {
		for _, kind := range k.extraKinds() {
			known[kind] = true
		}
	}
	for _, t := range k.targets {
		if !known[t.kind] {
			return fieldErr(CodePostRender, t.field, "unknown kind %q: not a built-in kind, not served by the cluster and not defined by the chart", t.kind)
		}
	}
	return nil
}

var (
	builtinOnce sync.Once
	builtinSet  map[string]bool
)

func builtinKinds() map[string]bool {
	builtinOnce.Do(func() {
		builtinSet = map[string]bool{}
		for gvk := range scheme.Scheme.AllKnownTypes() {
			builtinSet[gvk.Kind] = true
		}
	})
	out := make(map[string]bool, len(builtinSet))
	for k := range builtinSet {
		out[k] = true
	}
	return out
}

// kindsOfVersionSet extracts the kinds from Helm's API version set, whose
// entries are "group/version", "group/version/Kind" or "v1/Kind".
func kindsOfVersionSet(vs []string) []string {
	var out []string
	for _, v := range vs {
		i := strings.LastIndexByte(v, '/')
		if i < 0 || i == len(v)-1 {
			continue
		}
		last := v[i+1:]
		if last[0] >= 'A' && last[0] <= 'Z' {
			out = append(out, last)
		}
	}
	return out
}

// metadataRenderer sets labels and annotations on every object's metadata,
// and nowhere else (not on selectors or pod templates).
type metadataRenderer struct {
	field       string
	labels      map[string]string
	annotations map[string]string
}

func (m *metadataRenderer) Run(in *bytes.Buffer) (*bytes.Buffer, error) {
	nodes, blank, err := parseRendered(m.field, in)
	if err != nil || blank {
		return in, err
	}
	for _, n := range nodes {
		for _, k := range sortedKeys(m.labels) {
			if err := n.PipeE(kyaml.SetLabel(k, m.labels[k])); err != nil {
				return nil, fieldErr(CodePostRender, m.field, "setting label %s: %v", k, err)
			}
		}
		for _, k := range sortedKeys(m.annotations) {
			if err := n.PipeE(kyaml.SetAnnotation(k, m.annotations[k])); err != nil {
				return nil, fieldErr(CodePostRender, m.field, "setting annotation %s: %v", k, err)
			}
		}
	}
	out, err := kio.StringAll(nodes)
	if err != nil {
		return nil, err
	}
	return bytes.NewBufferString(out), nil
}

func checkLabels(field string, m map[string]string) error {
	for _, k := range sortedKeys(m) {
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			return invalid(field+"."+k, "not a valid label key: %s", strings.Join(errs, "; "))
		}
		if errs := validation.IsValidLabelValue(m[k]); len(errs) > 0 {
			return invalid(field+"."+k, "not a valid label value: %s", strings.Join(errs, "; "))
		}
	}
	return nil
}

func checkAnnotations(field string, m map[string]string) error {
	for _, k := range sortedKeys(m) {
		if errs := validation.IsQualifiedName(strings.ToLower(k)); len(errs) > 0 {
			return invalid(field+"."+k, "not a valid annotation key: %s", strings.Join(errs, "; "))
		}
	}
	return nil
}
