#!/usr/bin/env bash
# Builds the control-plane binaries from the pinned Go modules in hack/tools
# into ${HELMWARD_CACHE}/bin/<kube version>-<key>/. A no-op when they are there.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok helm)


all_built() {
  local b
  for b in "${BINARIES[@]}"; do [[ -x "${BIN_DIR}/${b}" ]] || return 1; done
  [[ -f "${BIN_DIR}/.complete" ]]
}

copy_kwok_stages() {
  # kwok's own stage files, from the pinned module, travel with the binaries.
  local dir
  [[ -f "${BIN_DIR}/kwok-stages/pod/fast/pod-ready.yaml" ]] && return 0
  dir="$(cd "${TOOLS_DIR}" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)" \
    || die "cannot locate the sigs.k8s.io/kwok module; is the Go module proxy reachable?"
  mkdir -p "${BIN_DIR}/kwok-stages"
  cp -r "${dir}/kustomize/stage/node" "${dir}/kustomize/stage/pod" "${BIN_DIR}/kwok-stages/"
  chmod -R u+w "${BIN_DIR}/kwok-stages"
}

runs_all() {
  "${BIN_DIR}/etcd" --version && "${BIN_DIR}/kubectl" version --client \
    && "${BIN_DIR}/kube-apiserver" --version && "${BIN_DIR}/kube-controller-manager" --version \
    && "${BIN_DIR}/kube-scheduler" --version && "${BIN_DIR}/kwok" --version && "${BIN_DIR}/helm" version
} >/dev/null 2>&1

if all_built; then
  # A corrupt cache (truncated binary) is caught by asking each binary to run.
  if runs_all; then
    copy_kwok_stages
    exit 0
  fi
  log "cached binaries in ${BIN_DIR} do not run: the cache is corrupt; rebuilding"
  rm -rf "${BIN_DIR}"
fi

# Only a build needs Go; a warm cache runs without it.
command -v go >/dev/null 2>&1 \
  || die "go not found on PATH, and ${BIN_DIR} holds no complete build. Install Go >= 1.26 (https://go.dev/dl) and retry."
go_minor="$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')"
[[ "${go_minor}" -ge 26 ]] || die "Go $(go env GOVERSION) is too old: the pinned modules need go >= 1.26."

mkdir -p "${BIN_DIR}.partial"
cd "${TOOLS_DIR}"

kube_minor="$(echo "${KUBE_VERSION}" | cut -d. -f2)"
kube_ldflags="-s -w \
 -X k8s.io/component-base/version.gitVersion=${KUBE_VERSION} \
 -X k8s.io/component-base/version.gitMajor=1 \
 -X k8s.io/component-base/version.gitMinor=${kube_minor} \
 -X k8s.io/component-base/version.gitTreeState=clean \
 -X k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z \
 -X k8s.io/client-go/pkg/version.gitVersion=${KUBE_VERSION} \
 -X k8s.io/client-go/pkg/version.gitMajor=1 \
 -X k8s.io/client-go/pkg/version.gitMinor=${kube_minor}"

build() {
  local out="$1" pkg="$2" ldflags="$3" start=$SECONDS
  if [[ -x "${BIN_DIR}.partial/${out}" ]]; then return 0; fi
  log "building ${out} from ${pkg}"
  CGO_ENABLED=0 go build -trimpath -tags selinux,notest -ldflags "${ldflags}" \
    -o "${BIN_DIR}.partial/${out}.tmp" "${pkg}" \
    || die "go build of ${pkg} failed; see the output above. The module proxy must be reachable for a cold build."
  mv "${BIN_DIR}.partial/${out}.tmp" "${BIN_DIR}.partial/${out}"
  log "built ${out} in $((SECONDS - start))s"
}

log "downloading modules for ${TOOLS_DIR}"
go mod download || die "go mod download failed: check that the Go module proxy (GOPROXY=$(go env GOPROXY)) is reachable."

build etcd go.etcd.io/etcd/server/v3 \
  "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=${ETCD_VERSION}"
build kwok sigs.k8s.io/kwok/cmd/kwok \
  "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}"
(cd "${TOOLS_DIR}/helm" && go mod download) || die "go mod download failed for ${TOOLS_DIR}/helm."
(cd "${TOOLS_DIR}/helm" && build helm helm.sh/helm/v4/cmd/helm \
  "-s -w -X helm.sh/helm/v4/internal/version.version=${HELM_VERSION} -X helm.sh/helm/v4/internal/version.gitTreeState=clean")
build kubectl k8s.io/kubernetes/cmd/kubectl "${kube_ldflags}"
build kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler "${kube_ldflags}"
build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager "${kube_ldflags}"
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "${kube_ldflags}"

touch "${BIN_DIR}.partial/.complete"
rm -rf "${BIN_DIR}"
mv "${BIN_DIR}.partial" "${BIN_DIR}"
copy_kwok_stages
log "binaries ready in ${BIN_DIR}"
