//go:build tools

// Package tools pins the distribution OCI registry that the sources tests run
// (hack/lib/build-registry.sh builds it into ~/.cache/helmward/bin/).
package tools

import _ "github.com/distribution/distribution/v3/cmd/registry"
