package main

// The schema op describes the wire protocol as the Go types define it, read
// off them by reflection: the envelope, each op's options and result, and
// the error codes. The binding's contract test holds its models against it.

import (
	"reflect"
	"slices"
	"sort"

	"github.com/helmward/helmward/internal/helm/shim/wire"
)

// SchemaResult is the protocol: JSON field paths, "a.b" for a field of a
// nested object, "a[]" for an array and "a{}" for a map of objects.
type SchemaResult struct {
	ABI        int                 `json:"abi"`
	Envelope   EnvelopeSchema      `json:"envelope"`
	Version    []string            `json:"version"`
	Ops        map[string]OpSchema `json:"ops"`
	ErrorCodes []string            `json:"errorCodes"`
}

// EnvelopeSchema holds the fields of every request and of every response.
type EnvelopeSchema struct {
	Request  []string `json:"request"`
	Response []string `json:"response"`
}

// OpSchema is one op: its options and its result.
type OpSchema struct {
	Offline bool     `json:"offline"`
	Request []string `json:"request"`
	Result  []string `json:"result"`
}

// holds names the type a raw JSON field carries on the wire.
var holds = map[string]reflect.Type{
	"Observation.release": reflect.TypeFor[WireRelease](),
}

func opSchema(_ *callState, _ *SchemaOptions) (*SchemaResult, error) {
	out := &SchemaResult{
		ABI: abiVersion,
		Envelope: EnvelopeSchema{
			Request:  fieldPaths(reflect.TypeFor[Request]()),
			Response: fieldPaths(reflect.TypeFor[Response]()),
		},
		Version:    fieldPaths(reflect.TypeFor[VersionInfo]()),
		Ops:        map[string]OpSchema{},
		ErrorCodes: slices.Sorted(slices.Values(errorCodes)),
	}
	for name, h := range opTable {
		out.Ops[name] = OpSchema{Offline: h.offline, Request: fieldPaths(h.options), Result: fieldPaths(h.result)}
	}
	return out, nil
}

// fieldPaths lists the JSON field paths of a struct, descending into the
// structs of this package (a Helm type is one field, as its JSON is opaque
// to the binding). Embedded structs are flattened, as encoding/json does.
func fieldPaths(t reflect.Type) []string {
	out := []string{}
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for name, ft := range wire.JSONFields(t) {
			if held, ok := holds[t.Name()+"."+name]; ok {
				ft = held
			}
			path, elem := prefix+name, deref(ft)
			switch {
			case elem.Kind() == reflect.Slice && elem.Elem().Kind() != reflect.Uint8:
				path, elem = path+"[]", deref(elem.Elem())
			case elem.Kind() == reflect.Map && ours(deref(elem.Elem())):
				path, elem = path+"{}", deref(elem.Elem())
			}
			out = append(out, path)
			if ours(elem) {
				walk(elem, path+".")
			}
		}
	}
	walk(deref(t), "")
	sort.Strings(out)
	return out
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// ours says whether a type is a struct of this package ("main" in the
// library, the import path in a test binary) or of package wire.
func ours(t reflect.Type) bool {
	pkg := t.PkgPath()
	return t.Kind() == reflect.Struct &&
		(pkg == reflect.TypeFor[Response]().PkgPath() || pkg == reflect.TypeFor[Request]().PkgPath())
}
