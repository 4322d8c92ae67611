#!/usr/bin/env bash
# Builds Flux's controllers at the versions pinned in hack/tools/flux/versions, each into a
# cache directory of its own (go-module.sh), and prints a directory ${HELMWARD_CACHE}/bin/flux-<key>/
# holding a symlink to each and crd/<name>/ to its CRDs. Builds nothing when they are there.
#
# `go install module@version` refuses a module whose go.mod has replace directives, and each
# replaces its own ./api module, which the proxy serves as a module of its own. So each is
# built from a copy of its module with that one directive dropped: the api module then comes
# from the proxy at the version the go.mod requires, which is the same code.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
source "$(dirname "${BASH_SOURCE[0]}")/go-module.sh"

PINS="${TOOLS_DIR}/flux/versions"
mapfile -t MODULES < <(pins "${PINS}")
[[ ${#MODULES[@]} -gt 0 ]] || die "no module pinned in ${PINS}"

programs=()
for line in "${MODULES[@]}"; do
  read -r module version <<<"${line}"
  programs+=("$(build_module "${module}" "${version}" "-s -w -X main.VERSION=${version}" "${module}/api")")
done
link_modules "${HELMWARD_CACHE}/bin/flux" "${programs[@]}"
