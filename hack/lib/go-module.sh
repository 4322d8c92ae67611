# Builds Go programs from their own modules as the Go module proxy serves them, each with the
# module's own go.mod and go.sum, into a cache directory of its own. Sourced by build-flux.sh
# and build-peers.sh after common.sh, never executed.
#
# A build's directory is keyed by the module, its version and how it is built (ldflags, the
# dropped replace, MODULE_RECIPE), so that changing one pin rebuilds that program alone.

# build_module runs in $(...): let a failing step there end the script as it would outside.
shopt -s inherit_errexit

# Bump when build_module changes how every program is built.
MODULE_RECIPE=1

# pins FILE: its `module version [package]` lines, comments and blank lines left out. The
# package is the main package's directory inside the module when it is not the module's root.
pins() { awk '!/^#/ && (NF == 2 || NF == 3) {print $1, $2 (NF == 3 ? " " $3 : "")}' "$1"; }

# main_package PACKAGE: PACKAGE as a path inside the module, without ./ or a trailing /; empty
# for the module's root.
main_package() {
  local p="${1#./}"
  p="${p%/}"
  [[ "${p}" != "." ]] || p=""
  echo "${p}"
}

# The program's name: the main package's last element, or at the module's root the module
# path's last element that is not a major version suffix.
module_name() {
  local m="${1%/v[0-9]*}" p
  p="$(main_package "${2:-}")"
  [[ -z "${p}" ]] || m="${p}"
  echo "${m##*/}"
}

# module_dir MODULE VERSION LDFLAGS [DROP_REPLACE] [PACKAGE]: where that build lives.
module_dir() {
  local key pkg
  pkg="$(main_package "${5:-}")"
  # The package joins the key only when there is one: builds at the root keep their keys.
  key="$({
    printf 'module=%s@%s\nldflags=%s\ndrop=%s\nrecipe=%s\n' "$1" "$2" "$3" "${4:-}" \
      "${MODULE_RECIPE}"
    [[ -z "${pkg}" ]] || printf 'package=%s\n' "${pkg}"
  } | sha256sum | cut -c1-12)"
  echo "${HELMWARD_CACHE}/bin/go/$(module_name "$1" "${pkg}")-$2-${key}"
}

# build_module MODULE VERSION LDFLAGS [DROP_REPLACE] [PACKAGE]: builds the main package PACKAGE
# (a directory inside the module; its root when empty) into module_dir as <name>, with the
# module's CRDs (config/crd/bases, when it has them) copied to crd/ beside it, and prints the
# program's path. Builds nothing when it is there. DROP_REPLACE names a module whose replace
# directive is dropped first (see build-flux.sh).
build_module() {
  local module="$1" version="$2" ldflags="$3" drop="${4:-}" pkg
  local name dir work src start out
  pkg="$(main_package "${5:-}")"
  name="$(module_name "${module}" "${pkg}")"
  dir="$(module_dir "$@")"
  if [[ -x "${dir}/${name}" ]]; then
    echo "${dir}/${name}"
    return 0
  fi

  command -v go >/dev/null 2>&1 \
    || die "go not found on PATH, and ${dir} holds no build of ${module}. Install Go >= 1.26 and retry."
  start=$SECONDS
  log "building ${module}@${version} from the Go module proxy"
  work="$(mktemp -d)"
  src="$(cd "${work}" && go mod download -json "${module}@${version}" | awk -F'"' '$2 == "Dir" {print $4}' || true)"
  if [[ -z "${src}" || ! -f "${src}/go.mod" ]]; then
    rm -rf "${work}"
    die "go mod download ${module}@${version} failed: is the Go module proxy (GOPROXY=$(go env GOPROXY)) reachable?"
  fi
  cp -r "${src}" "${work}/src"
  chmod -R u+w "${work}/src"
  mkdir -p "${dir}"
  # A name of its own: two runs building the same program at once must not share one file.
  out="$(mktemp "${dir}/${name}.XXXXXX.tmp")"
  if ! (
    cd "${work}/src"
    [[ -z "${drop}" ]] || go mod edit -dropreplace="${drop}"
    CGO_ENABLED=0 go build -trimpath -ldflags "${ldflags}" -o "${out}" "./${pkg}" >&2
  ); then
    rm -rf "${work}" "${out}"
    die "go build of ${module}@${version} failed; see the output above."
  fi
  if [[ -d "${src}/config/crd/bases" ]]; then
    rm -rf "${dir}/crd"
    cp -r "${src}/config/crd/bases" "${dir}/crd"
    chmod -R u+w "${dir}/crd"
  fi
  rm -rf "${work}"
  # The binary last: a build that died half-way is then not taken for a finished one.
  chmod 755 "${out}"
  mv "${out}" "${dir}/${name}"
  log "built ${name} ${version} in $((SECONDS - start))s"
  echo "${dir}/${name}"
}

# link_modules PREFIX PROGRAM...: a directory PREFIX-<key> holding a symlink to each PROGRAM
# and crd/<name> to its CRDs; prints it. Keyed by the PROGRAMs' paths, so one that exists is
# left as it is; made aside and renamed into place, so that a concurrent run never sees half.
link_modules() {
  local out bin name tmp
  out="$1-$(printf '%s\n' "${@:2}" | sha256sum | cut -c1-12)"
  shift
  if [[ ! -d "${out}" ]]; then
    tmp="$(mktemp -d "${out}.XXXXXX")"
    mkdir "${tmp}/crd"
    for bin in "$@"; do
      name="$(basename "${bin}")"
      ln -s "${bin}" "${tmp}/${name}"
      [[ ! -d "$(dirname "${bin}")/crd" ]] || ln -s "$(dirname "${bin}")/crd" "${tmp}/crd/${name}"
    done
    chmod 755 "${tmp}"
    mv -T "${tmp}" "${out}" 2>/dev/null || rm -rf "${tmp}"
  fi
  echo "${out}"
}
