# Shared settings for the hack/ scripts. Sourced, never executed.
set -euo pipefail

HACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPO_ROOT="$(cd "${HACK_DIR}/.." && pwd)"
HELMWARD_CACHE="${HELMWARD_CACHE:-${HOME}/.cache/helmward}"
TOOLS_DIR="${HACK_DIR}/tools"

# Go caches live outside the checkout so a fresh clone reuses them.
export GOMODCACHE="${GOMODCACHE_OVERRIDE:-${HELMWARD_CACHE}/go/mod}"
export GOCACHE="${GOCACHE_OVERRIDE:-${HELMWARD_CACHE}/go/build}"
export GOFLAGS="-mod=mod -buildvcs=false"
export GOTOOLCHAIN=local

# The pins, read from the tools module so there is one place to change them.
pin_of() { awk -v m="$1" '$1 == "require" { $1 = ""; $0 = $0 } $1 == m && $2 ~ /^v/ {print $2; exit}' "${2:-${TOOLS_DIR}/go.mod}"; }
KUBE_VERSION="$(pin_of k8s.io/kubernetes)"
ETCD_VERSION="$(pin_of go.etcd.io/etcd/server/v3)"
HELM_VERSION="$(pin_of helm.sh/helm/v4 "${TOOLS_DIR}/helm/go.mod")"
KWOK_VERSION="$(pin_of sigs.k8s.io/kwok)"

# Bump when build.sh changes how binaries are built (flags, ldflags, set).
BUILD_RECIPE=2
# The cache key: every pin plus the recipe. Any change rebuilds.
build_key() {
  { cat "${TOOLS_DIR}/go.mod" "${TOOLS_DIR}/go.sum" "${TOOLS_DIR}/helm/go.mod" "${TOOLS_DIR}/helm/go.sum"
    echo "recipe=${BUILD_RECIPE}"; } | sha256sum | cut -c1-12
}
BIN_DIR="${HELMWARD_CACHE}/bin/${KUBE_VERSION}-$(build_key)"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
