package main

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/resource"

	"helm.sh/helm/v4/pkg/kube"
)

func info(group, res, ns, name string, namespaced bool) *resource.Info {
	scope := meta.RESTScopeRoot
	if namespaced {
		scope = meta.RESTScopeNamespace
	}
	return &resource.Info{Namespace: ns, Name: name, Mapping: &meta.RESTMapping{
		Resource: schema.GroupVersionResource{Group: group, Version: "v1", Resource: res},
		Scope:    scope,
	}}
}

func TestSoleNamesKeepsKindsWithOneObjectPerNamespace(t *testing.T) {
	got := soleNames(kube.ResourceList{
		info("", "configmaps", "apps", "web-config", true),
		info("apps", "deployments", "apps", "web", true),
		info("apps", "deployments", "apps", "worker", true), // two: stays namespace-wide
		info("apps", "deployments", "jobs", "batch", true),  // alone in its namespace
		info("rbac.authorization.k8s.io", "clusterroles", "apps", "web", false),
		info("", "configmaps", "apps", "web-config", true), // the same object twice is one
	})
	want := map[scope]string{
		{schema.GroupResource{Resource: "configmaps"}, "apps"}:                                   "web-config",
		{schema.GroupResource{Group: "apps", Resource: "deployments"}, "jobs"}:                   "batch",
		{schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "clusterroles"}, ""}: "web",
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for s, name := range want {
		if got[s] != name {
			t.Errorf("%v: got %q, want %q", s, got[s], name)
		}
	}
}

func TestNarrowedNamesTheObjectUnlessTheListSelectsItsOwn(t *testing.T) {
	if got := narrowed(metav1.ListOptions{ResourceVersion: "5"}, "web").FieldSelector; got != "metadata.name=web" {
		t.Errorf("a sole name: got %q", got)
	}
	if got := narrowed(metav1.ListOptions{}, "").FieldSelector; got != "" {
		t.Errorf("no sole name: got %q", got)
	}
	// A status reader's list of a Deployment's ReplicaSets is left whole.
	if got := narrowed(metav1.ListOptions{LabelSelector: "app=web"}, "web").FieldSelector; got != "" {
		t.Errorf("a label selector: got %q", got)
	}
	if got := narrowed(metav1.ListOptions{FieldSelector: "spec.x=y"}, "web").FieldSelector; got != "spec.x=y" {
		t.Errorf("a field selector of its own: got %q", got)
	}
}
