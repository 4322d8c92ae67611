package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// decodeRequest parses a request strictly and decodes the op's options into
// the struct its handler takes. Every error names the offending field by its
// full path, e.g. install.postRenderers[0].kustomize.patches[1].tarGet.
func decodeRequest(data []byte) (*call, error) {
	if !utf8.Valid(data) {
		return nil, invalid("request", "malformed JSON: not valid UTF-8")
	}
	var generic any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&generic); err != nil {
		return nil, invalid("request", "malformed JSON: %s", describeJSONError(err, data))
	}
	if dec.More() {
		return nil, invalid("request", "malformed JSON: trailing data after the request object")
	}
	obj, ok := generic.(map[string]any)
	if !ok {
		return nil, invalid("request", "malformed JSON: the request must be an object")
	}
	if err := checkEnvelope(obj); err != nil {
		return nil, err
	}
	var parts map[string]json.RawMessage
	if err := json.Unmarshal(data, &parts); err != nil {
		return nil, invalid("request", "%v", err)
	}
	req := &Request{}
	if err := unmarshalField(data, req, ""); err != nil {
		return nil, err
	}
	present := map[string]bool{}
	for name := range opTable {
		present[name] = obj[name] != nil
	}
	if err := checkOp(req, present); err != nil {
		return nil, err
	}
	h := opTable[req.Op]
	options := reflect.New(h.options).Interface()
	if err := unmarshalField(parts[req.Op], options, req.Op); err != nil {
		return nil, err
	}
	return &call{req: req, handler: h, options: options}, nil
}

// checkEnvelope checks the envelope's keys and each value's shape: the op's
// options against the struct of the op a key names.
func checkEnvelope(obj map[string]any) error {
	fields := jsonFields(reflect.TypeOf(Request{}))
	for name, h := range opTable {
		fields[name] = h.options
	}
	return checkFields(obj, fields, "")
}

func unmarshalField(data []byte, into any, path string) error {
	err := json.Unmarshal(data, into)
	var te *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &te):
		return invalid(orRoot(join(path, te.Field)), "expected %s, got JSON %s", te.Type, te.Value)
	default:
		return invalid(orRoot(path), "%v", err)
	}
}

func describeJSONError(err error, data []byte) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line := 1 + bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n"))
		return fmt.Sprintf("%v (line %d, byte %d)", se, line, se.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "unexpected end of input"
	}
	return err.Error()
}

// checkShape walks the generic JSON value beside the Go type it will be
// decoded into, and reports the first unknown key or wrong JSON type by path.
// Map keys are checked in sorted order so the error is deterministic.
func checkShape(v any, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil {
		return nil // null is allowed anywhere: it leaves the zero value
	}
	switch t.Kind() {
	case reflect.Interface:
		return nil
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return invalid(orRoot(path), "expected an object, got %s", jsonKind(v))
		}
		return checkFields(obj, jsonFields(t), path)
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			return invalid(orRoot(path), "expected an object, got %s", jsonKind(v))
		}
		for _, k := range sortedKeys(obj) {
			if err := checkShape(obj[k], t.Elem(), join(path, k)); err != nil {
				return err
			}
		}
		return nil
	case reflect.Slice:
		arr, ok := v.([]any)
		if !ok {
			return invalid(orRoot(path), "expected an array, got %s", jsonKind(v))
		}
		for i, e := range arr {
			if err := checkShape(e, t.Elem(), path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
		return nil
	case reflect.String:
		if _, ok := v.(string); !ok {
			return invalid(orRoot(path), "expected a string, got %s", jsonKind(v))
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			return invalid(orRoot(path), "expected true or false, got %s", jsonKind(v))
		}
	case reflect.Int, reflect.Int32, reflect.Int64:
		n, ok := v.(json.Number)
		if !ok {
			return invalid(orRoot(path), "expected an integer, got %s", jsonKind(v))
		}
		if _, err := n.Int64(); err != nil {
			return invalid(orRoot(path), "expected an integer, got %s", n.String())
		}
	case reflect.Float32, reflect.Float64:
		if _, ok := v.(json.Number); !ok {
			return invalid(orRoot(path), "expected a number, got %s", jsonKind(v))
		}
	}
	return nil
}

// checkFields checks the keys of an object against the fields of a struct,
// in sorted order so the error is deterministic.
func checkFields(obj map[string]any, fields map[string]reflect.Type, path string) error {
	for _, k := range sortedKeys(obj) {
		ft, ok := fields[k]
		if !ok {
			return invalid(join(path, k), "unknown field; known fields here: %s", knownList(fields))
		}
		if err := checkShape(obj[k], ft, join(path, k)); err != nil {
			return err
		}
	}
	return nil
}

// jsonFields maps the JSON names of a struct's fields (embedded structs
// flattened, as encoding/json does) to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			et := f.Type
			for et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				for k, v := range jsonFields(et) {
					out[k] = v
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

func knownList(fields map[string]reflect.Type) string {
	return strings.Join(sortedKeys(fields), ", ")
}

// sortedKeys are a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orRoot(path string) string {
	if path == "" {
		return "request"
	}
	return path
}

func jsonKind(v any) string {
	switch x := v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return strconv.Quote(x)
	case bool:
		return strconv.FormatBool(x)
	case json.Number:
		return x.String()
	default:
		return fmt.Sprintf("%T", v)
	}
}
