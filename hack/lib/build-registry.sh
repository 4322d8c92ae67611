#!/usr/bin/env bash
# Builds the distribution OCI registry from the pinned module in hack/tools/registry
# into ${HELMWARD_CACHE}/bin/registry-<version>-<key>/registry. A no-op when it is there.
# Prints the binary's path on stdout.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

REGISTRY_TOOLS="${TOOLS_DIR}/registry"
REGISTRY_VERSION="$(pin_of github.com/distribution/distribution/v3 "${REGISTRY_TOOLS}/go.mod")"
registry_key() { cat "${REGISTRY_TOOLS}/go.mod" "${REGISTRY_TOOLS}/go.sum" 2>/dev/null | sha256sum | cut -c1-12; }
REGISTRY_DIR="${HELMWARD_CACHE}/bin/registry-${REGISTRY_VERSION}-$(registry_key)"
REGISTRY_BIN="${REGISTRY_DIR}/registry"

if [[ -x "${REGISTRY_BIN}" ]] && "${REGISTRY_BIN}" --version >/dev/null 2>&1; then
  echo "${REGISTRY_BIN}"
  exit 0
fi

command -v go >/dev/null 2>&1 \
  || die "go not found on PATH, and ${REGISTRY_DIR} holds no registry build. Install Go >= 1.26 and retry."
mkdir -p "${REGISTRY_DIR}"
cd "${REGISTRY_TOOLS}"
log "building the OCI registry ${REGISTRY_VERSION}"
start=$SECONDS
go mod download || die "go mod download failed in ${REGISTRY_TOOLS}: is the Go module proxy reachable?"
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X github.com/distribution/distribution/v3/version.version=${REGISTRY_VERSION}" \
  -o "${REGISTRY_BIN}.tmp" github.com/distribution/distribution/v3/cmd/registry \
  || die "go build of the registry failed; see the output above."
mv "${REGISTRY_BIN}.tmp" "${REGISTRY_BIN}"
log "built the registry in $((SECONDS - start))s"
echo "${REGISTRY_BIN}"
