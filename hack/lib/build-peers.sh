#!/usr/bin/env bash
# Builds the programs pinned in hack/tools/peers/versions (kube-state-metrics), each into a
# cache directory of its own (go-module.sh), and prints a directory
# ${HELMWARD_CACHE}/bin/peers-<key>/ holding a symlink to each. Builds nothing when they are
# there.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$(dirname "${BASH_SOURCE[0]}")/go-module.sh"

PINS="${TOOLS_DIR}/peers/versions"
mapfile -t MODULES < <(pins "${PINS}")
[[ ${#MODULES[@]} -gt 0 ]] || die "no module pinned in ${PINS}"

programs=()
for line in "${MODULES[@]}"; do
  read -r module version <<<"${line}"
  # Where their Makefiles put the version: Prometheus's version package.
  programs+=("$(build_module "${module}" "${version}" \
    "-s -w -X github.com/prometheus/common/version.Version=${version}")")
done
link_modules "${HELMWARD_CACHE}/bin/peers" "${programs[@]}"
