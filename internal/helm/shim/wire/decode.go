package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// InvalidError is a request the decoder refuses: Field is the offending
// field's full path, e.g. install.postRenderers[0].kustomize.patches[1].tarGet.
type InvalidError struct {
	Field string
	Err   error
}

func (e *InvalidError) Error() string { return e.Field + ": " + e.Err.Error() }

func (e *InvalidError) Unwrap() error { return e.Err }

func invalid(field, format string, args ...any) error {
	return &InvalidError{Field: field, Err: fmt.Errorf(format, args...)}
}

// Call is a decoded request: the envelope and its op's options, a pointer to
// the struct Ops names for the op.
type Call struct {
	Request *Request
	Options any
}

// Decode parses a request strictly and decodes the op's options into the
// struct Ops names. Every error is an *InvalidError naming the offending field.
func Decode(data []byte) (*Call, error) {
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
	for name := range Ops {
		present[name] = obj[name] != nil
	}
	if err := checkOp(req, present); err != nil {
		return nil, err
	}
	options := reflect.New(Ops[req.Op].Options).Interface()
	if err := unmarshalField(parts[req.Op], options, req.Op); err != nil {
		return nil, err
	}
	return &Call{Request: req, Options: options}, nil
}

// checkOp says what is wrong with the envelope's op and which op keys it
// holds, or nil. present lists the op keys of the request.
func checkOp(req *Request, present map[string]bool) error {
	list := strings.Join(OpNames(), ", ")
	if req.Op == "" {
		return invalid("op", "missing; one of %s", list)
	}
	op, ok := Ops[req.Op]
	if !ok {
		return invalid("op", "unknown op %q; one of %s", req.Op, list)
	}
	for _, name := range OpNames() {
		if present[name] && name != req.Op {
			return invalid(name, "not allowed in a %q request", req.Op)
		}
	}
	if !present[req.Op] {
		return invalid(req.Op, "missing: a %q request carries its options in %q", req.Op, req.Op)
	}
	if op.Offline && req.Cluster != nil {
		return invalid("cluster", "not allowed: %s never talks to a cluster", req.Op)
	}
	if op.Offline && req.Storage != nil {
		return invalid("storage", "not allowed: %s never reads release storage", req.Op)
	}
	if op.Offline && req.Observe != nil {
		return invalid("observe", "not allowed: %s reports no releases", req.Op)
	}
	return nil
}

// checkEnvelope checks the envelope's keys and each value's shape: the op's
// options against the struct of the op a key names.
func checkEnvelope(obj map[string]any) error {
	fields := JSONFields(reflect.TypeOf(Request{}))
	for name, op := range Ops {
		fields[name] = op.Options
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
		return invalid(orRoot(strings.Trim(path+"."+te.Field, ".")), "expected %s, got JSON %s", te.Type, te.Value)
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
		return checkFields(obj, JSONFields(t), path)
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			return invalid(orRoot(path), "expected an object, got %s", jsonKind(v))
		}
		for _, k := range SortedKeys(obj) {
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
	for _, k := range SortedKeys(obj) {
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

// JSONFields maps the JSON names of a struct's fields (embedded structs
// flattened, as encoding/json does) to their types.
func JSONFields(t reflect.Type) map[string]reflect.Type {
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
				for k, v := range JSONFields(et) {
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
	return strings.Join(SortedKeys(fields), ", ")
}

// join appends a key to a field path. A key the path could not show
// unambiguously (empty, or holding a separator) is quoted.
func join(path, key string) string {
	if key == "" || strings.ContainsAny(key, ".[]\"") {
		key = strconv.Quote(key)
	}
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
