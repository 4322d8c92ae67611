package main

// The owner setting: every object a release renders is tied to the object
// the release is for, the way operator-sdk's Helm operator ties it to its
// custom resource. Where Kubernetes allows an owner reference (the owner is
// cluster-scoped, or both are namespaced in the same namespace) the object
// gets exactly one, a controller reference, so that deleting the owner
// garbage-collects it; elsewhere, and on objects Helm is told to keep, it
// gets the operator-sdk/primary-resource annotations, which a watch can map
// back to the owner but which the garbage collector ignores.

import (
	"bytes"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/kustomize/kyaml/kio"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
	"sigs.k8s.io/yaml"

	"helm.sh/helm/v4/pkg/kube"
)

// The annotations operator-lib's handler.SetOwnerAnnotations sets and its
// EnqueueRequestForAnnotation reads.
const (
	ownerNameAnnotation = "operator-sdk/primary-resource"      // <namespace>/<name>
	ownerTypeAnnotation = "operator-sdk/primary-resource-type" // <Kind>.<group>, or <Kind> for the core group
)

// scopeLookup says whether a kind is namespaced, and whether the cluster
// knows the kind at all.
type scopeLookup func(apiVersion, kind string) (namespaced, known bool)

// ownerRenderer sets the owner reference or the owner annotations on every
// object's metadata.
type ownerRenderer struct {
	field     string
	owner     Owner
	namespace string // the release namespace, where Helm puts an object that names none
	scopes    scopeLookup
	refs      string // the ownerReferences list, as YAML
	typ       string // the value of ownerTypeAnnotation
}

// newOwnerRenderer checks the owner setting. Without scopes (render, which
// has no cluster) an owner is refused: which kinds are namespaced decides
// between a reference and annotations, and only the cluster knows that.
func newOwnerRenderer(field string, o *Owner, namespace string, scopes scopeLookup) (*ownerRenderer, error) {
	for _, f := range []struct{ name, value string }{
		{"apiVersion", o.APIVersion}, {"kind", o.Kind}, {"name", o.Name}, {"uid", o.UID},
	} {
		if strings.TrimSpace(f.value) == "" {
			return nil, invalid(field+"."+f.name, "must not be empty")
		}
	}
	gv, err := schema.ParseGroupVersion(o.APIVersion)
	if err != nil {
		return nil, invalid(field+".apiVersion", "%v", err)
	}
	if o.Namespace != "" {
		if errs := validation.IsDNS1123Label(o.Namespace); len(errs) > 0 {
			return nil, invalid(field+".namespace", "%s", strings.Join(errs, "; "))
		}
	}
	if scopes == nil {
		return nil, invalid(field, "needs a cluster, to tell which kinds are namespaced; render has none")
	}
	// A namespace that disagrees with the owner's kind would give objects a
	// reference the garbage collector resolves elsewhere, or not at all, and
	// it deletes an object whose owners are all missing.
	if namespaced, known := scopes(o.APIVersion, o.Kind); known {
		switch {
		case namespaced && o.Namespace == "":
			return nil, invalid(field+".namespace", "must be set: %s is namespaced", o.Kind)
		case !namespaced && o.Namespace != "":
			return nil, invalid(field+".namespace", "must be empty: %s is cluster-scoped", o.Kind)
		}
	}
	yes := true
	refs, err := yaml.Marshal([]metav1.OwnerReference{{
		APIVersion:         o.APIVersion,
		Kind:               o.Kind,
		Name:               o.Name,
		UID:                types.UID(o.UID),
		Controller:         &yes,
		BlockOwnerDeletion: &yes,
	}})
	if err != nil {
		return nil, err
	}
	return &ownerRenderer{
		field:     field,
		owner:     *o,
		namespace: namespace,
		scopes:    scopes,
		refs:      string(refs),
		typ:       schema.GroupKind{Group: gv.Group, Kind: o.Kind}.String(),
	}, nil
}

// canOwn says whether Kubernetes lets the owner own an object of this kind
// in this namespace: a cluster-scoped owner owns anything; a namespaced one
// owns namespaced objects of its own namespace only. A kind the cluster does
// not know (a CRD the chart itself installs and that is not served yet) is
// taken as not ownable, so it gets the annotations: a reference whose scope
// is wrong would be worse than none.
func (r *ownerRenderer) canOwn(apiVersion, kind, namespace string) bool {
	if r.owner.Namespace == "" {
		return true
	}
	namespaced, known := r.scopes(apiVersion, kind)
	if !known || !namespaced {
		return false
	}
	if namespace == "" {
		namespace = r.namespace
	}
	return namespace == r.owner.Namespace
}

// keeps says whether Helm leaves the object behind on uninstall; then it
// must not be garbage-collected with the owner either.
func keeps(n *kyaml.RNode) bool {
	policy := n.GetAnnotations(kube.ResourcePolicyAnno)[kube.ResourcePolicyAnno]
	return strings.ToLower(strings.TrimSpace(policy)) == kube.KeepPolicy
}

func (r *ownerRenderer) Run(in *bytes.Buffer) (*bytes.Buffer, error) {
	nodes, blank, err := parseRendered(r.field, in)
	if err != nil || blank {
		return in, err
	}
	for _, n := range nodes {
		if r.canOwn(n.GetApiVersion(), n.GetKind(), n.GetNamespace()) && !keeps(n) {
			err = r.setReference(n)
		} else {
			err = r.setAnnotations(n)
		}
		if err != nil {
			return nil, err
		}
	}
	out, err := kio.StringAll(nodes)
	if err != nil {
		return nil, err
	}
	return bytes.NewBufferString(out), nil
}

// setReference replaces the object's owner references with the owner's.
func (r *ownerRenderer) setReference(n *kyaml.RNode) error {
	refs, err := kyaml.Parse(r.refs)
	if err != nil {
		return err
	}
	if err := n.PipeE(kyaml.LookupCreate(kyaml.MappingNode, "metadata"), kyaml.SetField("ownerReferences", refs)); err != nil {
		return fieldErr(CodePostRender, r.field, "setting the owner reference of %s %s: %v", n.GetKind(), n.GetName(), err)
	}
	return nil
}

func (r *ownerRenderer) setAnnotations(n *kyaml.RNode) error {
	for _, a := range [][2]string{
		{ownerNameAnnotation, r.owner.Namespace + "/" + r.owner.Name},
		{ownerTypeAnnotation, r.typ},
	} {
		if err := n.PipeE(kyaml.SetAnnotation(a[0], a[1])); err != nil {
			return fieldErr(CodePostRender, r.field, "setting annotation %s on %s %s: %v", a[0], n.GetKind(), n.GetName(), err)
		}
	}
	return nil
}
