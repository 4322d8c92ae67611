package main

// The resolve op: the manifest digest a tag points at, from a HEAD request on
// the manifest (a GET only when the registry refuses HEAD), so a caller can
// tell whether anything changed without pulling.

import (
	"context"
	"strings"

	"oras.land/oras-go/v2/registry/remote"
)

// ResolveResult is what the tag points at.
type ResolveResult struct {
	Digest    string `json:"digest"`
	MediaType string `json:"mediaType"`
	Size      int64  `json:"size"`
}

func opResolve(st *callState, o *ResolveOptions) (*ResolveResult, error) {
	repo, err := repositoryRef("resolve.ref", o.Ref)
	if err != nil {
		return nil, err
	}
	if o.Tag == "" {
		return nil, invalid("resolve.tag", "a tag to resolve is required")
	}
	conn, err := registryClient("resolve", &o.RegistryAccess)
	if err != nil {
		return nil, err
	}
	defer conn.cleanup()
	r, err := remote.NewRepository(repo)
	if err != nil {
		return nil, wrapField(CodeRegistry, "resolve.ref", err)
	}
	r.PlainHTTP = conn.plainHTTP
	r.Client = conn.authorizer
	ctx, cancel := context.WithTimeout(st.ctx, conn.timeout)
	defer cancel()
	desc, err := r.Resolve(ctx, strings.ReplaceAll(o.Tag, "+", "_"))
	if err != nil {
		return nil, registryErr("resolve.ref", err)
	}
	return &ResolveResult{Digest: desc.Digest.String(), MediaType: desc.MediaType, Size: desc.Size}, nil
}
