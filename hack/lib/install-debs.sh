#!/usr/bin/env bash
# Installs the Debian packages the tests run (git for git http-backend and the git client,
# openssh-server for sshd, openssh-client for ssh-keygen and ssh, gnupg for gpg and the
# gpg-agent that signs the GitRepository verification tests' commits, apache2-utils for the OCI
# registry's bcrypt htpasswd, prometheus and prometheus-alertmanager for the monitoring tests).
# Idempotent: apt-get runs only when something is missing.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

need=()
command -v git >/dev/null 2>&1 || need+=(git)
[[ -x /usr/sbin/sshd ]] || need+=(openssh-server)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
{ command -v gpg && command -v gpg-agent; } >/dev/null 2>&1 || need+=(gnupg)
command -v htpasswd >/dev/null 2>&1 || need+=(apache2-utils)
[[ -x /usr/bin/prometheus ]] || need+=(prometheus)
[[ -x /usr/bin/prometheus-alertmanager ]] || need+=(prometheus-alertmanager)
[[ ${#need[@]} -eq 0 ]] && exit 0

[[ "$(id -u)" -eq 0 ]] || die "missing Debian packages: ${need[*]}; install them (apt-get install ${need[*]}) or run as root."

# The tests start their own prometheus, alertmanager and sshd on free ports; a daemon that a
# postinst starts would hold 9090 and 9093 for good. A policy-rc.d that refuses every start
# (exit 101) keeps invoke-rc.d from starting any, and is removed again if it was ours.
POLICY=/usr/sbin/policy-rc.d
if [[ ! -e "${POLICY}" ]]; then
  printf '#!/bin/sh\nexit 101\n' >"${POLICY}"
  chmod 755 "${POLICY}"
  trap 'rm -f "${POLICY}"' EXIT
fi

log "installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || die "apt-get update failed"
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null || die "apt-get install ${need[*]} failed"
