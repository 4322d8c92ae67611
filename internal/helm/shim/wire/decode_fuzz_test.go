package wire

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// The property of both targets: decoding never panics, a refused request is
// an *InvalidError naming a field and a reason that encodes as JSON, and an
// accepted one carries options of exactly the type Ops names for its op.

func checkDecoded(t *testing.T, data []byte) {
	c, err := Decode(data)
	if err != nil {
		var bad *InvalidError
		if !errors.As(err, &bad) || bad.Field == "" || bad.Err == nil || bad.Err.Error() == "" {
			t.Fatalf("decode error is not an InvalidError with a field and a reason: %#v", err)
		}
		if _, merr := json.Marshal(map[string]string{"field": bad.Field, "message": err.Error()}); merr != nil {
			t.Fatalf("error does not encode: %v", merr)
		}
		return
	}
	op, ok := Ops[c.Request.Op]
	if !ok {
		t.Fatalf("accepted unknown op %q", c.Request.Op)
	}
	if got, want := reflect.TypeOf(c.Options), reflect.PointerTo(op.Options); got != want {
		t.Fatalf("op %q decoded options as %v, want %v", c.Request.Op, got, want)
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
	for _, name := range OpNames() {
		f.Add([]byte(`{"op":"` + name + `","` + name + `":` + string(zeroOptions(Ops[name].Options)) + `}`))
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
	names := OpNames()
	for i, name := range names {
		f.Add(uint8(i), zeroOptions(Ops[name].Options))
		f.Add(uint8(i), []byte(`{"labels": {"a": 1}, "maxHistory": 1.5, "timeout": "x", "values": [null]}`))
	}
	f.Fuzz(func(t *testing.T, op uint8, options []byte) {
		name := names[int(op)%len(names)]
		envelope := append([]byte(`{"op":"`+name+`","`+name+`":`), options...)
		checkDecoded(t, append(envelope, '}'))
	})
}
