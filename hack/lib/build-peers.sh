#!/usr/bin/env bash
# Builds the programs pinned in hack/tools/peers/versions (kube-state-metrics, cosign), each into
# a cache directory of its own (go-module.sh), and prints a directory
# ${HELMWARD_CACHE}/bin/peers-<key>/ holding a symlink to each. Builds nothing when they are
# there.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$(dirname "${BASH_SOURCE[0]}")/go-module.sh"

PINS="${TOOLS_DIR}/peers/versions"
mapfile -t MODULES < <(pins "${PINS}")
[[ ${#MODULES[@]} -gt 0 ]] || die "no module pinned in ${PINS}"

# ldflags MODULE VERSION: where each project's Makefile puts the version.
ldflags() {
  case "$1" in
    github.com/sigstore/cosign/*) echo "-s -w -X sigs.k8s.io/release-utils/version.gitVersion=$2" ;;
    *) echo "-s -w -X github.com/prometheus/common/version.Version=$2" ;;
  esac
}

programs=()
for line in "${MODULES[@]}"; do
  read -r module version package <<<"${line}"
  programs+=("$(build_module "${module}" "${version}" "$(ldflags "${module}" "${version}")" "" \
    "${package}")")
done
link_modules "${HELMWARD_CACHE}/bin/peers" "${programs[@]}"
