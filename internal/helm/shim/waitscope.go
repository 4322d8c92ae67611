package main

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"

	"helm.sh/helm/v4/pkg/kube"
)

// Helm's status waiter lists and watches every object of each kind it waits
// on in the whole namespace, then drops those that are not the release's: an
// install into a namespace of N releases decodes all N releases' objects, so
// a fleet's installs cost O(N) each. scopedWaits gives the waiter a dynamic
// client that lists and watches by name wherever the release has one object
// of a kind in a namespace (a field selector cannot name several; those kinds
// stay namespace-wide). Readiness is Helm's own: only what is read changes.
type scopedWaits struct {
	*kube.Client
}

var _ kube.InterfaceWaitOptions = (*scopedWaits)(nil)

func (c *scopedWaits) GetWaiter(strategy kube.WaitStrategy) (kube.Waiter, error) {
	return c.GetWaiterWithOptions(strategy)
}

func (c *scopedWaits) GetWaiterWithOptions(strategy kube.WaitStrategy, opts ...kube.WaitOption) (kube.Waiter, error) {
	if strategy != kube.StatusWatcherStrategy && strategy != kube.HookOnlyStrategy {
		return c.Client.GetWaiterWithOptions(strategy, opts...)
	}
	return &scopedWaiter{client: c.Client, strategy: strategy, opts: opts}, nil
}

// scopedWaiter makes Helm's waiter for each call's resources, reading them by
// name.
type scopedWaiter struct {
	client   *kube.Client
	strategy kube.WaitStrategy
	opts     []kube.WaitOption
}

func (w *scopedWaiter) Wait(resources kube.ResourceList, timeout time.Duration) error {
	inner, err := w.waiterFor(resources)
	if err != nil {
		return err
	}
	return inner.Wait(resources, timeout)
}

func (w *scopedWaiter) WaitWithJobs(resources kube.ResourceList, timeout time.Duration) error {
	inner, err := w.waiterFor(resources)
	if err != nil {
		return err
	}
	return inner.WaitWithJobs(resources, timeout)
}

func (w *scopedWaiter) WaitForDelete(resources kube.ResourceList, timeout time.Duration) error {
	inner, err := w.waiterFor(resources)
	if err != nil {
		return err
	}
	return inner.WaitForDelete(resources, timeout)
}

func (w *scopedWaiter) WatchUntilReady(resources kube.ResourceList, timeout time.Duration) error {
	inner, err := w.waiterFor(resources)
	if err != nil {
		return err
	}
	return inner.WatchUntilReady(resources, timeout)
}

func (w *scopedWaiter) waiterFor(resources kube.ResourceList) (kube.Waiter, error) {
	dyn, err := w.client.Factory.DynamicClient()
	if err != nil {
		return nil, err
	}
	scoped := &kube.Client{
		Factory:     &scopedFactory{Factory: w.client.Factory, dynamic: &byName{Interface: dyn, names: soleNames(resources)}},
		Namespace:   w.client.Namespace,
		WaitContext: w.client.WaitContext, //nolint:staticcheck // Helm's waiter still falls back to it
	}
	scoped.SetLogger(w.client.Logger().Handler())
	return scoped.GetWaiterWithOptions(w.strategy, w.opts...)
}

// scope is one kind's objects in one namespace ("" for cluster-scoped ones).
type scope struct {
	resource  schema.GroupResource
	namespace string
}

// soleNames maps each scope the resources have exactly one object in to that
// object's name.
func soleNames(resources kube.ResourceList) map[scope]string {
	names := map[scope]string{}
	crowded := map[scope]bool{}
	for _, info := range resources {
		if info.Mapping == nil || info.Name == "" {
			continue
		}
		namespace := info.Namespace
		if info.Mapping.Scope != nil && info.Mapping.Scope.Name() != "namespace" {
			namespace = ""
		}
		s := scope{info.Mapping.Resource.GroupResource(), namespace}
		if other, ok := names[s]; ok && other != info.Name {
			crowded[s] = true
		}
		names[s] = info.Name
	}
	for s := range crowded {
		delete(names, s)
	}
	return names
}

type scopedFactory struct {
	kube.Factory
	dynamic dynamic.Interface
}

func (f *scopedFactory) DynamicClient() (dynamic.Interface, error) { return f.dynamic, nil }

// byName narrows the lists and watches of a scope with a sole name to that
// name. Lists with a label selector are the status readers' own (a
// Deployment's ReplicaSets): they are left as they are.
type byName struct {
	dynamic.Interface
	names map[scope]string
}

func (c *byName) Resource(r schema.GroupVersionResource) dynamic.NamespaceableResourceInterface {
	return &byNameResource{NamespaceableResourceInterface: c.Interface.Resource(r), c: c, resource: r.GroupResource()}
}

type byNameResource struct {
	dynamic.NamespaceableResourceInterface
	c        *byName
	resource schema.GroupResource
}

func (r *byNameResource) Namespace(ns string) dynamic.ResourceInterface {
	return &byNameNamespaced{ResourceInterface: r.NamespaceableResourceInterface.Namespace(ns), name: r.c.names[scope{r.resource, ns}]}
}

func (r *byNameResource) List(ctx context.Context, opts metav1.ListOptions) (*unstructured.UnstructuredList, error) {
	return r.NamespaceableResourceInterface.List(ctx, narrowed(opts, r.c.names[scope{r.resource, ""}]))
}

func (r *byNameResource) Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	return r.NamespaceableResourceInterface.Watch(ctx, narrowed(opts, r.c.names[scope{r.resource, ""}]))
}

type byNameNamespaced struct {
	dynamic.ResourceInterface
	name string
}

func (r *byNameNamespaced) List(ctx context.Context, opts metav1.ListOptions) (*unstructured.UnstructuredList, error) {
	return r.ResourceInterface.List(ctx, narrowed(opts, r.name))
}

func (r *byNameNamespaced) Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
	return r.ResourceInterface.Watch(ctx, narrowed(opts, r.name))
}

func narrowed(opts metav1.ListOptions, name string) metav1.ListOptions {
	if name == "" || opts.LabelSelector != "" || opts.FieldSelector != "" {
		return opts
	}
	opts.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
	return opts
}
