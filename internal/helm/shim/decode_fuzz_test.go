package main

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// The property of both targets: decoding never panics, a refused request is
// an InvalidRequest that classifies and encodes as the shim's error JSON, and
// an accepted one carries options of exactly the type its op's handler takes.

func checkDecoded(t *testing.T, data []byte) {
	c, err := decodeRequest(data)
	if err != nil {
		var se *shimError
		if !errors.As(err, &se) || se.code != CodeInvalidRequest {
			t.Fatalf("decode error is not an InvalidRequest: %#v", err)
		}
		wire := classify(err, false)
		if wire.Code != CodeInvalidRequest || wire.Message == "" {
			t.Fatalf("classified as %+v", wire)
		}
		if _, merr := json.Marshal(&Response{Error: wire}); merr != nil {
			t.Fatalf("error response does not encode: %v", merr)
		}
		return
	}
	h, ok := opTable[c.req.Op]
	if !ok {
		t.Fatalf("accepted unknown op %q", c.req.Op)
	}
	if got, want := reflect.TypeOf(c.options), reflect.PointerTo(h.options); got != want {
		t.Fatalf("op %q decoded options as %v, want %v", c.req.Op, got, want)
	}
}

// zeroOptions is each op's options struct encoded with every field present,
// so the corpus starts from the full shape of every op.
func zeroOptions(t reflect.Type) []byte {
	raw, err := json.Marshal(reflect.New(t).Interface())
	if err != nil {
		panic(err)
	}
	return raw
}

func FuzzDecodeRequest(f *testing.F) {
	for _, name := range opNames() {
		f.Add([]byte(`{"op":"` + name + `","` + name + `":` + string(zeroOptions(opTable[name].options)) + `}`))
	}
	f.Add([]byte(`{"op": "install", "cluster": {"qps": "fast"}}`))
	f.Add([]byte(`{"op": "install", "install": {"postRenderers": [{"kustomize": {"patches": [{"patch": "x", "target": {"kind": "A"}}]}}]}}`))
	f.Add([]byte(`{"op": `))
	f.Add([]byte("\xff"))
	f.Fuzz(func(t *testing.T, data []byte) { checkDecoded(t, data) })
}

// FuzzDecodeOptions reaches every op's options decoder: the envelope is built
// around the fuzzed options, so most inputs get past the envelope checks.
func FuzzDecodeOptions(f *testing.F) {
	names := opNames()
	for i, name := range names {
		f.Add(uint8(i), zeroOptions(opTable[name].options))
		f.Add(uint8(i), []byte(`{"labels": {"a": 1}, "maxHistory": 1.5, "timeout": "x", "values": [null]}`))
	}
	f.Fuzz(func(t *testing.T, op uint8, options []byte) {
		name := names[int(op)%len(names)]
		envelope := append([]byte(`{"op":"`+name+`","`+name+`":`), options...)
		checkDecoded(t, append(envelope, '}'))
	})
}
