#!/usr/bin/env bash
# Builds the Helm engine shim (internal/helm/shim) with -buildmode=c-shared into
# ${HELMWARD_CACHE}/shim/<key>/libhelmward.so, where <key> hashes the shim's Go
# sources (its packages' too), go.mod, go.sum and this script. A no-op when that library is there.
#
#   hack/lib/build-shim.sh               build if needed, print nothing on success
#   hack/lib/build-shim.sh --print-path  print where the library is (or will be)
#
# internal/helm/library.py computes the same key to find the library, so the
# two must hash the same files the same way (tests/engine checks they agree).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

SHIM_DIR="${REPO_ROOT}/internal/helm/shim"
SHIM_SCRIPT="${HACK_DIR}/lib/build-shim.sh"

# One line per input: "<sha256 of content>  <name>", names in C order, then the
# hash of those lines. Test files do not change the library, so they are left out.
shim_key() {
  local f
  {
    for f in $(cd "${SHIM_DIR}" && { ls go.mod go.sum; find . -path '*/testdata' -prune -o -name '*.go' ! -name '*_test.go' -print | sed 's|^\./||'; } | LC_ALL=C sort); do
      printf '%s  %s\n' "$(sha256sum < "${SHIM_DIR}/${f}" | cut -c1-64)" "${f}"
    done
    printf '%s  %s\n' "$(sha256sum < "${SHIM_SCRIPT}" | cut -c1-64)" "build-shim.sh"
  } | sha256sum | cut -c1-16
}

SHIM_OUT_DIR="${HELMWARD_CACHE}/shim/$(shim_key)"
SHIM_LIB="${SHIM_OUT_DIR}/libhelmward.so"

if [[ "${1:-}" == "--print-path" ]]; then
  echo "${SHIM_LIB}"
  exit 0
fi

[[ -f "${SHIM_OUT_DIR}/.complete" && -f "${SHIM_LIB}" ]] && exit 0

command -v go >/dev/null 2>&1 \
  || die "go not found on PATH, and ${SHIM_LIB} is not built. Install Go >= 1.26 (https://go.dev/dl) and retry."
command -v "$(go env CC)" >/dev/null 2>&1 \
  || die "the C compiler '$(go env CC)' is missing: -buildmode=c-shared needs cgo (apt-get install gcc)."

mkdir -p "${HELMWARD_CACHE}/shim"
exec 9>"${HELMWARD_CACHE}/shim/.lock"
flock 9
# Another build may have finished while we waited for the lock.
[[ -f "${SHIM_OUT_DIR}/.complete" && -f "${SHIM_LIB}" ]] && exit 0

HELM_SDK_VERSION="$(awk '$1 == "helm.sh/helm/v4" && $2 ~ /^v/ {print $2; exit}' "${SHIM_DIR}/go.mod")"
[[ -n "${HELM_SDK_VERSION}" ]] || die "cannot read the helm.sh/helm/v4 version from ${SHIM_DIR}/go.mod"

partial="${SHIM_OUT_DIR}.partial"
rm -rf "${partial}"
mkdir -p "${partial}"
log "building the Helm engine shim (Helm ${HELM_SDK_VERSION}) into ${SHIM_OUT_DIR}; the first build takes minutes"
start=$SECONDS
# The dynamic symbol table keeps only the exported calls: by default a c-shared Go library
# exports every Go symbol (14 MB of .dynsym and .dynstr). Packed relative relocations (DT_RELR)
# shrink the 6.4 MB .rela.dyn that the loader reads, and keeps resident, at every start.
exports="${partial}/exports.map"
symbols="$(sed -n 's|^//export \([A-Za-z0-9_]*\)$|\1;|p' "${SHIM_DIR}"/*.go | paste -sd ' ')"
[[ -n "${symbols}" ]] || die "no //export lines in ${SHIM_DIR}: the library would export nothing"
printf '{\n  global: %s\n  local: *;\n};\n' "${symbols}" > "${exports}"
(
  cd "${SHIM_DIR}"
  CGO_ENABLED=1 go build -trimpath -buildmode=c-shared \
    -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=${HELM_SDK_VERSION} -extldflags '-Wl,--version-script=${exports} -Wl,-z,pack-relative-relocs'" \
    -o "${partial}/libhelmward.so" .
)
rm -f "${exports}"
touch "${partial}/.complete"
rm -rf "${SHIM_OUT_DIR}"
mv "${partial}" "${SHIM_OUT_DIR}"
log "built ${SHIM_LIB} in $((SECONDS - start))s"
