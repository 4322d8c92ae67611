package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
)

const (
	verifyDigestA = "sha256:" + "aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11aa11"
	verifyDigestB = "sha256:" + "bb22bb22bb22bb22bb22bb22bb22bb22bb22bb22bb22bb22bb22bb22bb22bb22"
)

// testKey is a private key with its PEM public key and a way to sign as
// cosign does for its type.
type testKey struct {
	pem  string
	sign func(payload []byte) []byte
}

func pemPublic(t *testing.T, pub crypto.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func ecdsaKey(t *testing.T) testKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{pem: pemPublic(t, &k.PublicKey), sign: func(p []byte) []byte {
		h := sha256.Sum256(p)
		sig, err := ecdsa.SignASN1(rand.Reader, k, h[:])
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}}
}

func rsaKey(t *testing.T) testKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{pem: pemPublic(t, &k.PublicKey), sign: func(p []byte) []byte {
		h := sha256.Sum256(p)
		sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, h[:])
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}}
}

func ed25519Key(t *testing.T) testKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{pem: pemPublic(t, pub), sign: func(p []byte) []byte { return ed25519.Sign(priv, p) }}
}

func claim(t *testing.T, digest, typ string) []byte {
	t.Helper()
	doc := map[string]any{
		"critical": map[string]any{
			"identity": map[string]any{"docker-reference": "127.0.0.1:5000/charts/podinfo"},
			"image":    map[string]any{"docker-manifest-digest": digest},
			"type":     typ,
		},
		"optional": nil,
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func layer(k testKey, payload []byte) signedLayer {
	return signedLayer{
		digest:    "sha256:layer",
		payload:   payload,
		signature: base64.StdEncoding.EncodeToString(k.sign(payload)),
	}
}

func codeOf(err error) (code, field string) {
	var se *shimError
	if errors.As(err, &se) {
		return se.code, se.field
	}
	return "", ""
}

func TestVerifySignatureTagAndDigest(t *testing.T) {
	if got, want := signatureTag(verifyDigestA), "sha256-"+strings.TrimPrefix(verifyDigestA, "sha256:")+".sig"; got != want {
		t.Fatalf("signatureTag = %q, want %q", got, want)
	}
	if err := checkDigest("verify.digest", verifyDigestA); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		"", "sha256:abc", "sha512:" + strings.Repeat("a", 64), "sha256:" + strings.Repeat("A", 64),
		"sha256:" + strings.Repeat("g", 64), strings.Repeat("a", 64),
	} {
		if code, field := codeOf(checkDigest("verify.digest", bad)); code != CodeInvalidRequest || field != "verify.digest" {
			t.Errorf("checkDigest(%q): got %s on %s", bad, code, field)
		}
	}
}

func TestVerifyLoadsEachKeyTypeAndNamesABadOne(t *testing.T) {
	keys := []string{ecdsaKey(t).pem, rsaKey(t).pem, ed25519Key(t).pem}
	vs, err := loadVerifiers("verify.publicKeys", keys)
	if err != nil || len(vs) != 3 {
		t.Fatalf("got %d verifiers, %v", len(vs), err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	private := string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	badDER := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("nope")}))
	cases := []struct {
		keys  []string
		field string
	}{
		{nil, "verify.publicKeys"},
		{[]string{keys[0], "not a key"}, "verify.publicKeys[1]"},
		{[]string{private}, "verify.publicKeys[0]"},
		{[]string{keys[2], keys[1], badDER}, "verify.publicKeys[2]"},
		{[]string{""}, "verify.publicKeys[0]"},
	}
	for _, c := range cases {
		_, err := loadVerifiers("verify.publicKeys", c.keys)
		if code, field := codeOf(err); code != CodeInvalidRequest || field != c.field {
			t.Errorf("%d keys: got %v (%s on %s), want InvalidRequest on %s", len(c.keys), err, code, field, c.field)
		}
	}
}

func TestVerifyAcceptsASignatureOfTheDigestWithAnyKeyType(t *testing.T) {
	other := ecdsaKey(t)
	for name, k := range map[string]testKey{"ecdsa": ecdsaKey(t), "rsa": rsaKey(t), "ed25519": ed25519Key(t)} {
		vs, err := loadVerifiers("verify.publicKeys", []string{other.pem, k.pem})
		if err != nil {
			t.Fatal(err)
		}
		c := &sigCheck{keys: vs, want: verifyDigestA}
		key, ok := c.check(context.Background(), layer(k, claim(t, verifyDigestA, cosignClaimType)))
		if !ok || key != 1 {
			t.Errorf("%s: got key %d, ok %v; reasons %v %v", name, key, ok, c.invalid, c.mismatches)
		}
	}
}

func TestVerifyRefusesWhatDoesNotVerifyOrNamesAnotherDigest(t *testing.T) {
	signer, stranger := ecdsaKey(t), ecdsaKey(t)
	good := claim(t, verifyDigestA, cosignClaimType)
	tampered := layer(signer, good)
	tampered.payload = claim(t, verifyDigestB, cosignClaimType) // the signature is over the other payload
	cases := []struct {
		name   string
		keys   []testKey
		layers []signedLayer
		code   string
		says   string
	}{
		{"no layers", []testKey{signer}, nil, CodeNoSignature, "no cosign signature of"},
		{"wrong key", []testKey{stranger}, []signedLayer{layer(signer, good)}, CodeInvalidSignature, "verifies with none of the 1 keys"},
		{"payload changed after signing", []testKey{signer}, []signedLayer{tampered}, CodeInvalidSignature, "verifies with none"},
		{"another digest", []testKey{signer}, []signedLayer{layer(signer, claim(t, verifyDigestB, cosignClaimType))},
			CodeDigestMismatch, `signs "` + verifyDigestB + `", not ` + verifyDigestA},
		{"no digest at all", []testKey{signer}, []signedLayer{layer(signer, []byte(`{"critical":{"type":"`+cosignClaimType+`"}}`))},
			CodeDigestMismatch, `signs ""`},
		{"not the cosign type", []testKey{signer}, []signedLayer{layer(signer, claim(t, verifyDigestA, "atomic container signature"))},
			CodeInvalidSignature, "payload's type is"},
		{"not JSON", []testKey{signer}, []signedLayer{layer(signer, []byte("sha256:aa"))}, CodeInvalidSignature, "not a cosign claim"},
		{"no annotation", []testKey{signer}, []signedLayer{{digest: "sha256:l", payload: good}}, CodeInvalidSignature, "has no dev.cosignproject.cosign/signature"},
		{"not base64", []testKey{signer}, []signedLayer{{digest: "sha256:l", payload: good, signature: "%%%"}}, CodeInvalidSignature, "not base64"},
		{"a mismatch wins over a bad signature", []testKey{signer},
			[]signedLayer{layer(stranger, good), layer(signer, claim(t, verifyDigestB, cosignClaimType))}, CodeDigestMismatch, "verifies with none"},
	}
	for _, c := range cases {
		pems := make([]string, len(c.keys))
		for i, k := range c.keys {
			pems[i] = k.pem
		}
		vs, err := loadVerifiers("verify.publicKeys", pems)
		if err != nil {
			t.Fatal(err)
		}
		check := &sigCheck{keys: vs, want: verifyDigestA}
		for _, l := range c.layers {
			if key, ok := check.check(context.Background(), l); ok {
				t.Fatalf("%s: verified with key %d", c.name, key)
			}
		}
		err = check.failure("oci://h/charts/podinfo@" + verifyDigestA)
		if code, _ := codeOf(err); code != c.code || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: got %s %q, want %s saying %q", c.name, code, err, c.code, c.says)
		}
		if !strings.Contains(err.Error(), "oci://h/charts/podinfo@"+verifyDigestA) {
			t.Errorf("%s: the error does not name the artifact: %v", c.name, err)
		}
	}
}

func TestVerifyLaterLayerCanPass(t *testing.T) {
	signer, stranger := ecdsaKey(t), rsaKey(t)
	vs, err := loadVerifiers("verify.publicKeys", []string{signer.pem})
	if err != nil {
		t.Fatal(err)
	}
	c := &sigCheck{keys: vs, want: verifyDigestA}
	if _, ok := c.check(context.Background(), layer(stranger, claim(t, verifyDigestA, cosignClaimType))); ok {
		t.Fatal("a stranger's signature verified")
	}
	if _, ok := c.check(context.Background(), layer(signer, claim(t, verifyDigestB, cosignClaimType))); ok {
		t.Fatal("a signature of another digest passed")
	}
	key, ok := c.check(context.Background(), layer(signer, claim(t, verifyDigestA, cosignClaimType)))
	if !ok || key != 0 || c.examined != 3 {
		t.Fatalf("got key %d ok %v after %d layers", key, ok, c.examined)
	}
}

func TestVerifyRequestDecodes(t *testing.T) {
	_, err := decodeRequest([]byte(`{"op": "verify", "verify": {"ref": "oci://h/r", "digest": "` + verifyDigestA +
		`", "publicKeys": ["k"], "plainHttp": true, "username": "u", "password": "p"}}`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = decodeRequest([]byte(`{"op": "verify", "verify": {"ref": "oci://h/r", "publicKey": "k"}}`))
	if code, field := codeOf(err); code != CodeInvalidRequest || field != "verify.publicKey" {
		t.Fatalf("got %v", err)
	}
}

func TestVerifyValidatesBeforeAnyRequest(t *testing.T) {
	k := ecdsaKey(t).pem
	cases := []struct {
		o     VerifyOptions
		field string
	}{
		{VerifyOptions{Ref: "https://h/r", Digest: verifyDigestA, PublicKeys: []string{k}}, "verify.ref"},
		{VerifyOptions{Ref: "oci://h/r:1.0.0", Digest: verifyDigestA, PublicKeys: []string{k}}, "verify.ref"},
		{VerifyOptions{Ref: "oci://h/r", PublicKeys: []string{k}}, "verify.digest"},
		{VerifyOptions{Ref: "oci://h/r", Digest: "1.0.0", PublicKeys: []string{k}}, "verify.digest"},
		{VerifyOptions{Ref: "oci://h/r", Digest: verifyDigestA}, "verify.publicKeys"},
		{VerifyOptions{Ref: "oci://h/r", Digest: verifyDigestA, PublicKeys: []string{k, "x"}}, "verify.publicKeys[1]"},
	}
	for _, c := range cases {
		// No call state: each of these must fail before the registry is reached.
		_, err := opVerify(nil, &c.o)
		if code, field := codeOf(err); code != CodeInvalidRequest || field != c.field {
			t.Errorf("%+v: got %v, want InvalidRequest on %s", c.o, err, c.field)
		}
	}
}
