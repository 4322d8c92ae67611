#!/usr/bin/env bash
# Builds Flux's helm-controller and source-controller at the versions pinned in
# hack/tools/flux/versions into ${HELMWARD_CACHE}/bin/flux-<key>/. A no-op when they are there.
# Prints the directory on stdout.
#
# `go install module@version` refuses a module whose go.mod has replace directives, and both
# replace their own ./api module, which the proxy serves as a module of its own. So each is
# built from a copy of its module with that one directive dropped: the api module then comes
# from the proxy at the version the go.mod requires, which is the same code.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PINS="${TOOLS_DIR}/flux/versions"
FLUX_RECIPE=1
flux_key() { { cat "${PINS}" "${BASH_SOURCE[0]}"; echo "recipe=${FLUX_RECIPE}"; } | sha256sum | cut -c1-12; }
FLUX_DIR="${HELMWARD_CACHE}/bin/flux-$(flux_key)"

mapfile -t MODULES < <(awk '!/^#/ && NF == 2 {print $1 "@" $2}' "${PINS}")
[[ ${#MODULES[@]} -gt 0 ]] || die "no module pinned in ${PINS}"

name_of() { local m="${1%@*}"; echo "${m##*/}"; }

built() {
  local m
  for m in "${MODULES[@]}"; do
    "${FLUX_DIR}/$(name_of "${m}")" --help >/dev/null 2>&1 || return 1
  done
}

if built; then
  echo "${FLUX_DIR}"
  exit 0
fi

command -v go >/dev/null 2>&1 \
  || die "go not found on PATH, and ${FLUX_DIR} holds no Flux build. Install Go >= 1.26 and retry."
mkdir -p "${FLUX_DIR}"
work="$(mktemp -d)"
trap 'chmod -R u+w "${work}" 2>/dev/null; rm -rf "${work}"' EXIT

for m in "${MODULES[@]}"; do
  name="$(name_of "${m}")"
  [[ -x "${FLUX_DIR}/${name}" ]] && "${FLUX_DIR}/${name}" --help >/dev/null 2>&1 && continue
  start=$SECONDS
  log "building ${m} from the Go module proxy"
  dir="$(cd "${work}" && go mod download -json "${m}" | awk -F'"' '$2 == "Dir" {print $4}')"
  [[ -n "${dir}" && -f "${dir}/go.mod" ]] \
    || die "go mod download ${m} failed: is the Go module proxy (GOPROXY=$(go env GOPROXY)) reachable?"
  cp -r "${dir}" "${work}/${name}"
  chmod -R u+w "${work}/${name}"
  (
    cd "${work}/${name}"
    go mod edit -dropreplace="${m%@*}/api"
    version="${m#*@}"
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.VERSION=${version}" \
      -o "${FLUX_DIR}/${name}.tmp" .
  ) || die "go build of ${m} failed; see the output above."
  mv "${FLUX_DIR}/${name}.tmp" "${FLUX_DIR}/${name}"
  log "built ${name} in $((SECONDS - start))s"
done
echo "${FLUX_DIR}"
