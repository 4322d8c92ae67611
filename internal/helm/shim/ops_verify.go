package main

// The verify op: checks that an OCI artifact carries a cosign signature made
// with one of the given public keys (cosign's key-based signing, "cosign sign
// --key"). It fails closed: every outcome other than a signature that
// verifies with a key and whose signed claim names the artifact's digest is
// an error.
//
// Where cosign keeps a signature: the signature of repo@sha256:<hex> is a
// manifest tagged sha256-<hex>.sig in the same repository. Each of its layers
// of the simple-signing media type is one signature: the blob is the signed
// claim (JSON naming the manifest digest it vouches for) and the layer's
// signature annotation holds the base64 signature over the blob's bytes.

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/options"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote"
)

// Error codes of verify.
var (
	// CodeNoSignature: the artifact has no cosign signature manifest, or one
	// without signature layers.
	CodeNoSignature = errorCode("NoSignature")
	// CodeInvalidSignature: no signature verifies with any of the keys (or the
	// one that does signs something that is not a cosign image claim).
	CodeInvalidSignature = errorCode("InvalidSignature")
	// CodeDigestMismatch: a signature verifies with a key, but its claim is
	// for another manifest digest than the one asked about.
	CodeDigestMismatch = errorCode("DigestMismatch")
)

const (
	cosignLayerMediaType   = "application/vnd.dev.cosign.simplesigning.v1+json"
	cosignSignatureKey     = "dev.cosignproject.cosign/signature"
	cosignClaimType        = "cosign container image signature"
	dockerManifestV2       = "application/vnd.docker.distribution.manifest.v2+json"
	maxSignatureManifest   = 4 << 20 // bytes of the .sig manifest
	maxSignaturePayload    = 1 << 20 // bytes of one signed claim
	signatureTagSuffix     = ".sig"
	signatureDigestPrefix  = "sha256:"
	signatureDigestHexSize = 64
)

// VerifyResult is a signature that verified. There is no unverified result:
// anything else is an error.
type VerifyResult struct {
	Verified bool `json:"verified"`
	// Key is the index in publicKeys of the key the signature verified with.
	Key int `json:"key"`
	// Signatures counts the signature layers checked, the one that verified
	// included.
	Signatures int `json:"signatures"`
}

// cosignClaim is the part of cosign's simple-signing payload that verify
// reads.
type cosignClaim struct {
	Critical struct {
		Identity struct {
			DockerReference string `json:"docker-reference"`
		} `json:"identity"`
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
}

// signedLayer is one signature layer: its place among the manifest's
// layers, its blob and its base64 signature.
type signedLayer struct {
	index     int
	digest    string
	payload   []byte
	signature string
}

// signatureTag is the tag cosign gives the signature of a manifest digest.
func signatureTag(digest string) string {
	return strings.Replace(digest, ":", "-", 1) + signatureTagSuffix
}

// checkDigest accepts sha256:<64 lowercase hex> only.
func checkDigest(field, d string) error {
	hex, ok := strings.CutPrefix(d, signatureDigestPrefix)
	if !ok || len(hex) != signatureDigestHexSize || strings.Trim(hex, "0123456789abcdef") != "" {
		return invalid(field, "must be sha256:<64 lowercase hex>, got %q", d)
	}
	return nil
}

// loadVerifiers parses the PEM public keys; a key that is not one is an
// invalid request naming its index.
func loadVerifiers(field string, pems []string) ([]signature.Verifier, error) {
	if len(pems) == 0 {
		return nil, invalid(field, "at least one public key is needed")
	}
	out := make([]signature.Verifier, 0, len(pems))
	for i, p := range pems {
		f := fmt.Sprintf("%s[%d]", field, i)
		pub, err := cryptoutils.UnmarshalPEMToPublicKey([]byte(p))
		if err != nil {
			return nil, invalid(f, "not a PEM public key: %v", err)
		}
		switch pub.(type) {
		case *ecdsa.PublicKey, *rsa.PublicKey, ed25519.PublicKey:
		default:
			return nil, invalid(f, "unsupported key type %T: ECDSA, RSA or Ed25519 only", pub)
		}
		// cosign signs with SHA-256 for every key type (Ed25519 signs the
		// payload itself).
		v, err := signature.LoadVerifier(pub, crypto.SHA256)
		if err != nil {
			return nil, invalid(f, "%v", err)
		}
		out = append(out, v)
	}
	return out, nil
}

// sigCheck judges signature layers one by one and remembers why each one
// failed, so the error in the end says the most telling reason.
type sigCheck struct {
	keys       []signature.Verifier
	want       string
	examined   int
	mismatches []string
	invalid    []string
}

// check says which key, if any, verifies the layer with a claim for the
// wanted digest; ok is false otherwise, and the reason is recorded.
func (c *sigCheck) check(ctx context.Context, l signedLayer) (key int, ok bool) {
	c.examined++
	name := fmt.Sprintf("layer %d (%s)", l.index, l.digest)
	if l.signature == "" {
		c.invalid = append(c.invalid, fmt.Sprintf("%s has no %s annotation", name, cosignSignatureKey))
		return -1, false
	}
	raw, err := base64.StdEncoding.DecodeString(l.signature)
	if err != nil {
		c.invalid = append(c.invalid, fmt.Sprintf("%s: the signature is not base64: %v", name, err))
		return -1, false
	}
	key = -1
	for i, v := range c.keys {
		if v.VerifySignature(bytes.NewReader(raw), bytes.NewReader(l.payload), options.WithContext(ctx)) == nil {
			key = i
			break
		}
	}
	if key < 0 {
		c.invalid = append(c.invalid, fmt.Sprintf("%s verifies with none of the %d keys", name, len(c.keys)))
		return -1, false
	}
	// Only now is the payload trusted enough to read.
	var claim cosignClaim
	if err := json.Unmarshal(l.payload, &claim); err != nil {
		c.invalid = append(c.invalid, fmt.Sprintf(
			"%s verifies with key %d but its payload is not a cosign claim: %v", name, key, err))
		return -1, false
	}
	if claim.Critical.Type != cosignClaimType {
		c.invalid = append(c.invalid, fmt.Sprintf(
			"%s verifies with key %d but its payload's type is %q, not %q",
			name, key, claim.Critical.Type, cosignClaimType))
		return -1, false
	}
	if got := claim.Critical.Image.DockerManifestDigest; got != c.want {
		c.mismatches = append(c.mismatches, fmt.Sprintf(
			"%s verifies with key %d but signs %q, not %s", name, key, got, c.want))
		return -1, false
	}
	return key, true
}

// failure is the error once no layer passed: a digest mismatch wins, as the
// sign of a signature moved from another artifact.
func (c *sigCheck) failure(what string) error {
	if c.examined == 0 {
		return fieldErr(CodeNoSignature, "verify.ref",
			"no cosign signature of %s: the signature manifest has no %s layers", what, cosignLayerMediaType)
	}
	if len(c.mismatches) > 0 {
		return fieldErr(CodeDigestMismatch, "verify.digest", "no signature of %s vouches for its digest: %s",
			what, strings.Join(append(c.mismatches, c.invalid...), "; "))
	}
	return fieldErr(CodeInvalidSignature, "verify.publicKeys", "no valid signature of %s among %d: %s",
		what, c.examined, strings.Join(c.invalid, "; "))
}

func opVerify(st *callState, o *VerifyOptions) (*VerifyResult, error) {
	repo, err := repositoryRef("verify.ref", o.Ref)
	if err != nil {
		return nil, err
	}
	if o.Digest == "" {
		return nil, invalid("verify.digest", "missing: the artifact's manifest digest is required")
	}
	if err := checkDigest("verify.digest", o.Digest); err != nil {
		return nil, err
	}
	keys, err := loadVerifiers("verify.publicKeys", o.PublicKeys)
	if err != nil {
		return nil, err
	}
	conn, err := registryClient("verify", &o.RegistryAccess)
	if err != nil {
		return nil, err
	}
	defer conn.cleanup()
	ctx, cancel := context.WithTimeout(st.ctx, conn.timeout)
	defer cancel()

	r, err := remote.NewRepository(repo)
	if err != nil {
		return nil, invalid("verify.ref", "%v", err)
	}
	r.PlainHTTP = conn.plainHTTP
	r.Client = conn.authorizer
	what := o.Ref + "@" + o.Digest
	tag := signatureTag(o.Digest)

	manifest, err := fetchSignatureManifest(ctx, r, tag, what)
	if err != nil {
		return nil, err
	}
	c := &sigCheck{keys: keys, want: o.Digest}
	for i, d := range manifest.Layers {
		if d.MediaType != cosignLayerMediaType {
			continue
		}
		l := signedLayer{index: i, digest: d.Digest.String(), signature: d.Annotations[cosignSignatureKey]}
		if d.Size > maxSignaturePayload || d.Size < 0 {
			c.examined++
			c.invalid = append(c.invalid, fmt.Sprintf("layer %d (%s) of %d bytes is over the %d bytes a signed payload may have",
				i, l.digest, d.Size, maxSignaturePayload))
			continue
		}
		l.payload, err = content.FetchAll(ctx, r.Blobs(), d)
		if err != nil {
			return nil, registryErr("verify.ref", err)
		}
		if key, ok := c.check(ctx, l); ok {
			return &VerifyResult{Verified: true, Key: key, Signatures: c.examined}, nil
		}
	}
	return nil, c.failure(what)
}

// fetchSignatureManifest reads the .sig manifest; its absence is NoSignature.
func fetchSignatureManifest(ctx context.Context, r *remote.Repository, tag, what string) (*ocispec.Manifest, error) {
	desc, rc, err := r.Manifests().FetchReference(ctx, tag)
	if errors.Is(err, errdef.ErrNotFound) {
		return nil, fieldErr(CodeNoSignature, "verify.ref", "no cosign signature of %s: no tag %s in the repository", what, tag)
	}
	if err != nil {
		return nil, registryErr("verify.ref", err)
	}
	defer func() { _ = rc.Close() }()
	if desc.MediaType != ocispec.MediaTypeImageManifest && desc.MediaType != dockerManifestV2 {
		return nil, fieldErr(CodeInvalidSignature, "verify.ref",
			"the signature tag %s of %s is a %q, not an image manifest", tag, what, desc.MediaType)
	}
	if desc.Size > maxSignatureManifest {
		return nil, fieldErr(CodeInvalidSignature, "verify.ref",
			"the signature manifest %s of %s has %d bytes, over %d", tag, what, desc.Size, maxSignatureManifest)
	}
	raw, err := content.ReadAll(rc, desc)
	if err != nil {
		return nil, registryErr("verify.ref", err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fieldErr(CodeInvalidSignature, "verify.ref", "the signature manifest %s of %s does not parse: %v", tag, what, err)
	}
	return &m, nil
}
