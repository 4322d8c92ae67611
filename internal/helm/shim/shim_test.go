package main

import (
	"errors"
	"testing"
)

func TestDecodeRequestNamesTheField(t *testing.T) {
	cases := []struct {
		in    string
		field string
	}{
		{`{"op": "install", "install": {"releaseName": "r", "nope": 1}}`, "install.nope"},
		{`{"op": "install", "install": {"postRenderers": [{"kustomize": {"images": [{"name": "a", "x": 1}]}}]}}`,
			"install.postRenderers[0].kustomize.images[0].x"},
		{`{"op": "upgrade", "upgrade": {"maxHistory": 1.5}}`, "upgrade.maxHistory"},
		{`{"op": "install", "install": {"labels": {"a": 1}}}`, "install.labels.a"},
		{`{"op": "install", "cluster": {"qps": "fast"}}`, "cluster.qps"},
		{`{"op": `, "request"},
	}
	for _, c := range cases {
		_, err := decodeRequest([]byte(c.in))
		var se *shimError
		if !errors.As(err, &se) || se.code != CodeInvalidRequest || se.field != c.field {
			t.Errorf("%s: got %v, want an InvalidRequest on %s", c.in, err, c.field)
		}
	}
	if _, err := decodeRequest([]byte(`{"op": "stats", "stats": {}}`)); err != nil {
		t.Fatalf("a valid request: %v", err)
	}
}

func TestCanonicalJSONSortsKeysAndKeepsHTML(t *testing.T) {
	got, err := canonicalJSON(map[string]any{"b": []any{2, "<&>"}, "a": map[string]any{"z": nil, "y": true}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":{"y":true,"z":null},"b":[2,"<&>"]}`; string(got) != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestDiscoveryPaths(t *testing.T) {
	for p, want := range map[string]bool{
		"/api": true, "/api/v1": true, "/apis": true, "/apis/apps": true, "/apis/apps/v1": true,
		"/api/v1/namespaces": false, "/apis/apps/v1/deployments": false, "/openapi/v3": false,
		"/version": false,
	} {
		if isDiscoveryPath(p) != want {
			t.Errorf("isDiscoveryPath(%q) = %v", p, !want)
		}
	}
}

func TestKindsOfVersionSet(t *testing.T) {
	got := kindsOfVersionSet([]string{"v1", "v1/Pod", "apps/v1", "apps/v1/Deployment", "x.io/v1/Widget"})
	want := []string{"Pod", "Deployment", "Widget"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

func TestCheckPatch(t *testing.T) {
	target := &SelectorSpec{Kind: "ConfigMap"}
	ok := []PatchSpec{
		{Patch: `[{"op": "add", "path": "/data/x", "value": "y"}]`, Target: target},
		{Patch: "- op: remove\n  path: /data\n", Target: target},
		{Patch: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  x: y\n"},
	}
	for _, p := range ok {
		if err := checkPatch("p", p); err != nil {
			t.Errorf("%q: %v", p.Patch, err)
		}
	}
	bad := map[string]PatchSpec{
		"p.patch":                     {Patch: "{{{", Target: target},
		"p.target":                    {Patch: `[{"op": "remove", "path": "/data"}]`},
		"p.target.annotationSelector": {Patch: `[]`, Target: &SelectorSpec{AnnotationSelector: "a in (b"}},
	}
	for field, p := range bad {
		var se *shimError
		if err := checkPatch("p", p); !errors.As(err, &se) || se.field != field {
			t.Errorf("%q: got %v, want an error on %s", p.Patch, err, field)
		}
	}
}

func TestManifestObjectsAndCRDRefs(t *testing.T) {
	data := []byte("---\n# only a comment\n---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n" +
		"metadata:\n  name: widgets.example.io\n---\napiVersion: v1\nkind: List\nitems:\n" +
		"- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: c\n")
	objs, err := manifestObjects(data)
	if err != nil {
		t.Fatal(err)
	}
	want := []ObjectRef{
		{APIVersion: "apiextensions.k8s.io/v1", Kind: "CustomResourceDefinition", Name: "widgets.example.io"},
		{APIVersion: "v1", Kind: "ConfigMap", Name: "c"},
	}
	if len(objs) != len(want) {
		t.Fatalf("got %d objects, want %d", len(objs), len(want))
	}
	for i, obj := range objs {
		if got := refOf(obj); got != want[i] {
			t.Errorf("object %d: got %+v, want %+v", i, got, want[i])
		}
	}
	if !isCRD(want[0]) || isCRD(want[1]) || isCRD(ObjectRef{APIVersion: "x.io/v1", Kind: "CustomResourceDefinition"}) {
		t.Error("isCRD must accept apiextensions.k8s.io CustomResourceDefinitions only")
	}
	doc := []byte(`{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j"}}`)
	if objs, err := manifestObjects(doc); err != nil || len(objs) != 1 || refOf(objs[0]).Name != "j" {
		t.Errorf("a JSON file: got %v, %v", objs, err)
	}
	if _, err := manifestObjects([]byte("a: [1\n")); err == nil {
		t.Error("a malformed document must be an error")
	}
}

func TestParseCRDsPolicy(t *testing.T) {
	for in, want := range map[string]string{"": "Skip", "Skip": "Skip", "Create": "Create", "CreateReplace": "CreateReplace"} {
		if got, err := parseCRDsPolicy("upgrade.crds", in, crdsSkip); err != nil || got != want {
			t.Errorf("%q: got %q, %v", in, got, err)
		}
	}
	var se *shimError
	if _, err := parseCRDsPolicy("install.crds", "create", crdsCreate); !errors.As(err, &se) || se.field != "install.crds" {
		t.Errorf("a bad value: got %v, want an error on install.crds", err)
	}
}
