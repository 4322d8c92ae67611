package main

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// testScopes is a REST mapper's view of a few kinds: namespaced or not, and
// nothing about the rest.
func testScopes(apiVersion, kind string) (namespaced, known bool) {
	switch apiVersion + " " + kind {
	case "v1 ConfigMap", "apps/v1 Deployment", "example.io/v1 App":
		return true, true
	case "rbac.authorization.k8s.io/v1 ClusterRole", "v1 Namespace", "example.io/v1 Tenant":
		return false, true
	}
	return false, false
}

var (
	namespacedOwner = Owner{APIVersion: "example.io/v1", Kind: "App", Name: "app", Namespace: "team", UID: "u-1"}
	clusterOwner    = Owner{APIVersion: "example.io/v1", Kind: "Tenant", Name: "acme", UID: "u-2"}
)

// ownerRender post-renders the manifests with the owner set, in a release
// in the namespace "team", and returns the objects by name.
func ownerRender(t *testing.T, owner Owner, manifests string) map[string]map[string]any {
	t.Helper()
	pr, _, err := buildPostRenderer(&RenderSettings{Owner: &owner}, "install", "team", nil, testScopes)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pr.Run(bytes.NewBufferString(manifests))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := manifestObjects(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]map[string]any{}
	for _, obj := range objs {
		byName[refOf(obj).Name] = obj
	}
	return byName
}

func metadataOf(obj map[string]any) map[string]any {
	m, _ := obj["metadata"].(map[string]any)
	return m
}

func wantOwnerRef(t *testing.T, obj map[string]any, o Owner) {
	t.Helper()
	want := []any{map[string]any{
		"apiVersion": o.APIVersion, "kind": o.Kind, "name": o.Name, "uid": o.UID,
		"controller": true, "blockOwnerDeletion": true,
	}}
	md := metadataOf(obj)
	if got := md["ownerReferences"]; !reflect.DeepEqual(got, want) {
		t.Errorf("%s: ownerReferences %v, want %v", md["name"], got, want)
	}
	if ann, _ := md["annotations"].(map[string]any); ann[ownerNameAnnotation] != nil || ann[ownerTypeAnnotation] != nil {
		t.Errorf("%s: an object with an owner reference has the owner annotations too: %v", md["name"], ann)
	}
}

func wantOwnerAnnotations(t *testing.T, obj map[string]any, name, typ string) {
	t.Helper()
	md := metadataOf(obj)
	ann, _ := md["annotations"].(map[string]any)
	if ann[ownerNameAnnotation] != name || ann[ownerTypeAnnotation] != typ {
		t.Errorf("%s: annotations %v, want %s=%s and %s=%s", md["name"], ann, ownerNameAnnotation, name, ownerTypeAnnotation, typ)
	}
	if refs, ok := md["ownerReferences"]; ok {
		t.Errorf("%s: an annotated object has ownerReferences %v", md["name"], refs)
	}
}

func TestOwnerRefOnNamespacedObjectsOfTheOwnersNamespace(t *testing.T) {
	objs := ownerRender(t, namespacedOwner, `---
# Source: c/templates/cm.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: in-release-namespace
  ownerReferences:
  - apiVersion: v1
    kind: Secret
    name: replaced
    uid: old
data:
  a: b
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: explicit
  namespace: team
`)
	wantOwnerRef(t, objs["in-release-namespace"], namespacedOwner)
	wantOwnerRef(t, objs["explicit"], namespacedOwner)
	if data, _ := objs["in-release-namespace"]["data"].(map[string]any); data["a"] != "b" {
		t.Errorf("the rest of the object changed: %v", objs["in-release-namespace"])
	}
}

func TestOwnerAnnotationsOnAnObjectInAnotherNamespace(t *testing.T) {
	objs := ownerRender(t, namespacedOwner, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: elsewhere\n  namespace: other\n")
	wantOwnerAnnotations(t, objs["elsewhere"], "team/app", "App.example.io")
	// Nor when the release's own namespace is not the owner's.
	pr, _, err := buildPostRenderer(&RenderSettings{Owner: &namespacedOwner}, "install", "other", nil, testScopes)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pr.Run(bytes.NewBufferString("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: defaulted\n"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := manifestObjects(out.Bytes())
	if err != nil || len(got) != 1 {
		t.Fatalf("got %v, %v", got, err)
	}
	wantOwnerAnnotations(t, got[0], "team/app", "App.example.io")
}

func TestOwnerAnnotationsOnAClusterScopedObjectOfANamespacedOwner(t *testing.T) {
	objs := ownerRender(t, namespacedOwner, "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: reader\n  annotations:\n    kept: \"yes\"\nrules: []\n")
	wantOwnerAnnotations(t, objs["reader"], "team/app", "App.example.io")
	if ann := metadataOf(objs["reader"])["annotations"].(map[string]any); ann["kept"] != "yes" {
		t.Errorf("the object's own annotations are gone: %v", ann)
	}
}

func TestOwnerClusterScopedOwnsEverything(t *testing.T) {
	objs := ownerRender(t, clusterOwner, `apiVersion: v1
kind: ConfigMap
metadata:
  name: namespaced
  namespace: anywhere
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: cluster-scoped
`)
	wantOwnerRef(t, objs["namespaced"], clusterOwner)
	wantOwnerRef(t, objs["cluster-scoped"], clusterOwner)
}

func TestOwnerAnnotationsOnResourcePolicyKeep(t *testing.T) {
	objs := ownerRender(t, namespacedOwner, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kept\n  annotations:\n    helm.sh/resource-policy: \" Keep \"\n")
	wantOwnerAnnotations(t, objs["kept"], "team/app", "App.example.io")
	objs = ownerRender(t, clusterOwner, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kept\n  annotations:\n    helm.sh/resource-policy: keep\n")
	wantOwnerAnnotations(t, objs["kept"], "/acme", "Tenant.example.io")
}

func TestOwnerAnnotationsOnAnUnknownKind(t *testing.T) {
	objs := ownerRender(t, namespacedOwner, "apiVersion: example.io/v1\nkind: Widget\nmetadata:\n  name: w\n")
	wantOwnerAnnotations(t, objs["w"], "team/app", "App.example.io")
	core := Owner{APIVersion: "v1", Kind: "ConfigMap", Name: "owner", Namespace: "team", UID: "u-3"}
	objs = ownerRender(t, core, "apiVersion: example.io/v1\nkind: Widget\nmetadata:\n  name: w\n  namespace: team\n")
	wantOwnerAnnotations(t, objs["w"], "team/owner", "ConfigMap")
}

func TestOwnerRunsLastInTheChain(t *testing.T) {
	pr, _, err := buildPostRenderer(&RenderSettings{
		CommonMetadata: &CommonMetadata{Annotations: map[string]string{ownerNameAnnotation: "impostor"}},
		Owner:          &namespacedOwner,
	}, "install", "team", nil, testScopes)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pr.Run(bytes.NewBufferString("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: other\n"))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := manifestObjects(out.Bytes())
	if err != nil || len(objs) != 1 {
		t.Fatalf("got %v, %v", objs, err)
	}
	wantOwnerAnnotations(t, objs[0], "team/app", "App.example.io")
	if out, err := pr.Run(bytes.NewBufferString("\n")); err != nil || out.String() != "\n" {
		t.Errorf("blank input: got %q, %v", out, err)
	}
}

func TestOwnerInvalidFields(t *testing.T) {
	good := namespacedOwner
	cases := map[string]func(o *Owner){
		"install.owner.apiVersion": func(o *Owner) { o.APIVersion = "" },
		"install.owner.kind":       func(o *Owner) { o.Kind = " " },
		"install.owner.name":       func(o *Owner) { o.Name = "" },
		"install.owner.uid":        func(o *Owner) { o.UID = "" },
		"install.owner.namespace":  func(o *Owner) { o.Namespace = "Not_A_Namespace" },
	}
	for field, spoil := range cases {
		o := good
		spoil(&o)
		_, _, err := buildPostRenderer(&RenderSettings{Owner: &o}, "install", "team", nil, testScopes)
		var se *shimError
		if !errors.As(err, &se) || se.code != CodeInvalidRequest || se.field != field {
			t.Errorf("%s: got %v, want an InvalidRequest on %s", field, err, field)
		}
	}
	bad := Owner{APIVersion: "a/b/c", Kind: "K", Name: "n", UID: "u"}
	scoped := map[string]struct {
		owner  Owner
		scopes scopeLookup
	}{
		"install.owner.apiVersion": {bad, testScopes},
		// The owner's namespace must agree with its kind's scope, where the cluster knows it.
		"install.owner.namespace": {Owner{APIVersion: "example.io/v1", Kind: "App", Name: "n", UID: "u"}, testScopes},
		"install.owner":           {namespacedOwner, nil},
	}
	for field, c := range scoped {
		_, _, err := buildPostRenderer(&RenderSettings{Owner: &c.owner}, "install", "team", nil, c.scopes)
		var se *shimError
		if !errors.As(err, &se) || se.code != CodeInvalidRequest || se.field != field {
			t.Errorf("%+v: got %v, want an InvalidRequest on %s", c.owner, err, field)
		}
	}
	tenant := clusterOwner
	tenant.Namespace = "team"
	var se *shimError
	if _, _, err := buildPostRenderer(&RenderSettings{Owner: &tenant}, "install", "team", nil, testScopes); !errors.As(err, &se) || se.field != "install.owner.namespace" {
		t.Errorf("a namespace on a cluster-scoped owner: got %v", err)
	}
	// An owner of a kind the cluster does not know is taken as given.
	unknown := Owner{APIVersion: "x.io/v1", Kind: "Mystery", Name: "m", UID: "u"}
	if _, _, err := buildPostRenderer(&RenderSettings{Owner: &unknown}, "install", "team", nil, testScopes); err != nil {
		t.Errorf("an owner of an unknown kind: %v", err)
	}
}
