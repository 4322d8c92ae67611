#!/usr/bin/env bash
# Installs the Debian packages the sources tests run (git for git http-backend and the git
# client, openssh-server for sshd, openssh-client for ssh-keygen and ssh, apache2-utils for the
# OCI registry's bcrypt htpasswd). Idempotent:
# apt-get runs only when something is missing.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

need=()
command -v git >/dev/null 2>&1 || need+=(git)
[[ -x /usr/sbin/sshd ]] || need+=(openssh-server)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
command -v htpasswd >/dev/null 2>&1 || need+=(apache2-utils)
[[ ${#need[@]} -eq 0 ]] && exit 0

[[ "$(id -u)" -eq 0 ]] || die "missing Debian packages: ${need[*]}; install them (apt-get install ${need[*]}) or run as root."
log "installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || die "apt-get update failed"
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null || die "apt-get install ${need[*]} failed"
