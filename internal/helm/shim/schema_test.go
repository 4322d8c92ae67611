package main

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/helmward/helmward/internal/helm/shim/wire"
)

func TestSchemaDescribesEveryOpOfTheTable(t *testing.T) {
	s, err := opSchema(nil, &SchemaOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Ops) != len(opTable) {
		t.Fatalf("the schema has %d ops, the table %d", len(s.Ops), len(opTable))
	}
	install := s.Ops["install"].Request
	for _, want := range []string{"releaseName", "crds", "timeout", "postRenderers[].kustomize.patches[].target.kind"} {
		if !slices.Contains(install, want) {
			t.Errorf("install options lack %s: %v", want, install)
		}
	}
	for _, p := range install {
		if strings.Contains(p, "Rendering") || strings.Contains(p, "Applying") {
			t.Errorf("an embedded struct must be flattened, got %s", p)
		}
	}
	if !slices.Contains(s.Envelope.Response, "observations[].release.chart.appVersion") {
		t.Errorf("an observation's raw release must be described as a WireRelease: %v", s.Envelope.Response)
	}
	if !s.Ops["render"].Offline || s.Ops["get"].Offline {
		t.Error("render is offline, get is not")
	}
}

// Every code must be declared through errorCode, or the schema would not
// report it and the binding's contract test could not check it.
func TestEveryErrorCodeIsDeclaredThroughErrorCode(t *testing.T) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range pkgs {
		for _, f := range pkg.Files {
			for _, decl := range f.Decls {
				gen, ok := decl.(*ast.GenDecl)
				if !ok {
					continue
				}
				for _, spec := range gen.Specs {
					vs, ok := spec.(*ast.ValueSpec)
					if !ok {
						continue
					}
					for i, name := range vs.Names {
						if !strings.HasPrefix(name.Name, "Code") {
							continue
						}
						call, ok := vs.Values[i].(*ast.CallExpr)
						if fn, isIdent := call.Fun.(*ast.Ident); !ok || !isIdent || fn.Name != "errorCode" {
							t.Errorf("%s: %s is not declared with errorCode(...)", fset.Position(name.Pos()), name.Name)
						}
					}
				}
			}
		}
	}
	seen := map[string]bool{}
	for _, c := range errorCodes {
		if seen[c] {
			t.Errorf("the code %s is declared twice", c)
		}
		seen[c] = true
	}
}

func TestDecodeRequestGivesTheHandlerItsOptions(t *testing.T) {
	c, err := decodeRequest([]byte(`{"op": "markFailed", "markFailed": {"releaseName": "r", "namespace": "n", "version": 2, "description": "d"}}`))
	if err != nil {
		t.Fatal(err)
	}
	o, ok := c.options.(*MarkFailedOptions)
	if !ok || o.Version != 2 || o.Description != "d" {
		t.Fatalf("got %#v", c.options)
	}
	_, err = decodeRequest([]byte(`{"op": "get", "get": {}, "status": {}}`))
	var se *shimError
	if !errors.As(err, &se) || se.field != "status" || !strings.Contains(se.Error(), "unknown field") {
		t.Fatalf("status is no op any more: got %v", err)
	}
}

// The shim refuses to start when its dispatch table and the decoder's ops
// disagree, so the decoder that is fuzzed is the one that runs.
func TestTheDispatchTableMatchesTheDecoder(t *testing.T) {
	if err := checkTables(opTable, wire.Ops); err != nil {
		t.Fatal(err)
	}
	moved := maps.Clone(wire.Ops)
	moved["get"] = wire.Op{Options: reflect.TypeFor[HistoryQuery]()}
	if err := checkTables(opTable, moved); err == nil || !strings.Contains(err.Error(), `op "get"`) {
		t.Errorf("a changed options type: %v", err)
	}
	delete(moved, "get")
	if err := checkTables(opTable, moved); err == nil {
		t.Error("a missing op was not reported")
	}
}
