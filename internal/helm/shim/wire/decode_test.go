package wire

import (
	"errors"
	"testing"
)

// Found by FuzzDecodeRequest: an empty key was reported with an empty field.
func TestAKeyThePathCannotShowIsQuoted(t *testing.T) {
	for in, field := range map[string]string{
		`{"":0}`:                       `""`,
		`{"op":"get","get":{"a.b":1}}`: `get."a.b"`,
		`{"op":"install","install":{"labels":{"x":1}}}`: `install.labels.x`,
	} {
		_, err := Decode([]byte(in))
		var bad *InvalidError
		if !errors.As(err, &bad) || bad.Field != field {
			t.Errorf("%s: got %v, want field %s", in, err, field)
		}
	}
}
