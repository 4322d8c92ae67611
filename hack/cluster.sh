#!/usr/bin/env bash
# The local control plane: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler and KWOK, built from the Go modules pinned in hack/tools and
# run on 127.0.0.1. See README.md, "The local control plane".
#
#   hack/cluster.sh up       start (idempotent), wait for Ready, print the time
#   hack/cluster.sh down     stop what up started, by pid
#   hack/cluster.sh status   report each component
#   hack/cluster.sh env      print KUBECONFIG and PATH exports
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

STATE_DIR="${HELMWARD_CLUSTER_DIR:-${HELMWARD_CACHE}/cluster}"
PKI="${STATE_DIR}/pki"
LOGS="${STATE_DIR}/logs"
PIDS="${STATE_DIR}/pids"
KUBECONFIG_PATH="${STATE_DIR}/kubeconfig"
WAIT_TIMEOUT="${HELMWARD_WAIT_TIMEOUT:-60}"
# Opt-in: an audit policy file makes kube-apiserver write its audit log to logs/audit.log
# (tests/rbac reads it to prove the controller's RBAC by use). Unset, nothing is audited.
AUDIT_POLICY="${HELMWARD_AUDIT_POLICY:-}"

ETCD_PORT="${HELMWARD_ETCD_PORT:-23791}"
ETCD_PEER_PORT="${HELMWARD_ETCD_PEER_PORT:-23801}"
APISERVER_PORT="${HELMWARD_APISERVER_PORT:-26443}"
KCM_PORT="${HELMWARD_KCM_PORT:-20257}"
SCHEDULER_PORT="${HELMWARD_SCHEDULER_PORT:-20259}"
KWOK_PORT="${HELMWARD_KWOK_PORT:-20247}"
# Room for about 65,000 Services (a /24 fills at about 250: a fleet of charts with a Service
# each outgrows it). Its first address, 10.0.0.1, is the kubernetes Service, in the serving cert.
SERVICE_CIDR="10.0.0.0/16"
# kube-controller-manager's client rate (burst twice it). At its default of 20 the Deployment
# and ReplicaSet controllers' limiters, not the Helm controller, set how fast Deployments become
# available (about 4 a second): a Helm wait then took 1.0 s of a 1.1 s install. A cluster with
# real kubelets is bound by pod start-up instead; raising the rate, as large clusters do, keeps
# the fake one from being the bottleneck.
KCM_QPS="${HELMWARD_KCM_QPS:-200}"

# Start order; down stops them in reverse.
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

port_of() {
  case "$1" in
    etcd) echo "${ETCD_PORT}" ;;
    kube-apiserver) echo "${APISERVER_PORT}" ;;
    kube-controller-manager) echo "${KCM_PORT}" ;;
    kube-scheduler) echo "${SCHEDULER_PORT}" ;;
    kwok) echo "${KWOK_PORT}" ;;
  esac
}

port_env_of() {
  case "$1" in
    etcd) echo HELMWARD_ETCD_PORT ;;
    kube-apiserver) echo HELMWARD_APISERVER_PORT ;;
    kube-controller-manager) echo HELMWARD_KCM_PORT ;;
    kube-scheduler) echo HELMWARD_SCHEDULER_PORT ;;
    kwok) echo HELMWARD_KWOK_PORT ;;
  esac
}

pid_of() {
  local f="${PIDS}/$1.pid" pid
  [[ -f "$f" ]] || return 1
  pid="$(cat "$f")"
  # The pid must still be our binary: a recycled pid is not ours.
  local exe
  exe="$(readlink "/proc/${pid}/exe" 2>/dev/null)" || return 1
  # A rebuilt cache leaves running binaries "(deleted)"; they are still ours.
  exe="${exe% (deleted)}"
  if kill -0 "${pid}" 2>/dev/null && [[ "${exe}" == */"$1" ]]; then
    echo "${pid}"
    return 0
  fi
  return 1
}

running() { pid_of "$1" >/dev/null; }

tail_log() {
  local f="${LOGS}/$1.log"
  if [[ -f "$f" ]]; then
    echo "---- last 25 lines of ${f} ----" >&2
    tail -n 25 "$f" >&2
    echo "----" >&2
  fi
}

port_in_use() { [[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]]; }

check_port_free() {
  local comp="$1" port
  port="$(port_of "${comp}")"
  local ports=("${port}")
  [[ "${comp}" == etcd ]] && ports+=("${ETCD_PEER_PORT}")
  for p in "${ports[@]}"; do
    if port_in_use "${p}"; then
      local who
      who="$(ss -Hltnp "sport = :${p}" 2>/dev/null | grep -o 'users:(([^)]*' | head -1 | sed 's/users:((//')"
      die "port ${p} on 127.0.0.1, needed by ${comp}, is already in use${who:+ by ${who}}. Stop that process, or pick another port with $(port_env_of "${comp}")=<port> (or HELMWARD_ETCD_PEER_PORT for etcd's peer port)."
    fi
  done
}

# ---------------------------------------------------------------- certificates

gen_pki() {
  if [[ -f "${PKI}/.complete" ]]; then
    local f
    for f in ca.crt ca.key apiserver.crt apiserver.key admin.crt admin.key \
             kcm.crt kcm.key scheduler.crt scheduler.key sa.key sa.pub; do
      [[ -s "${PKI}/${f}" ]] || { log "pki file ${f} is missing: regenerating certificates"; rm -rf "${PKI}"; break; }
    done
    [[ -d "${PKI}" ]] && return 0
  fi
  command -v openssl >/dev/null || die "openssl not found: install it (apt-get install openssl)."
  log "generating certificates in ${PKI}"
  rm -rf "${PKI}" && mkdir -p "${PKI}" && chmod 700 "${PKI}"
  (
    cd "${PKI}"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
      -subj "/CN=helmward-local-ca" 2>/dev/null
    cert() { # name CN O [SANs]
      local name="$1" cn="$2" org="$3" san="${4:-}"
      local subj="/CN=${cn}"
      [[ -n "${org}" ]] && subj="/O=${org}/CN=${cn}"
      openssl req -newkey rsa:2048 -nodes -keyout "${name}.key" -out "${name}.csr" -subj "${subj}" 2>/dev/null
      {
        echo "basicConstraints=CA:FALSE"
        echo "keyUsage=digitalSignature,keyEncipherment"
        if [[ -n "${san}" ]]; then
          echo "extendedKeyUsage=serverAuth,clientAuth"
          echo "subjectAltName=${san}"
        else
          echo "extendedKeyUsage=clientAuth"
        fi
      } > "${name}.ext"
      openssl x509 -req -in "${name}.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
        -out "${name}.crt" -days 3650 -extfile "${name}.ext" 2>/dev/null
      rm -f "${name}.csr" "${name}.ext"
    }
    cert apiserver kube-apiserver "" \
      "IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
    cert admin helmward-admin system:masters
    cert kcm system:kube-controller-manager ""
    cert scheduler system:kube-scheduler ""
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  ) || die "certificate generation failed in ${PKI}"
  touch "${PKI}/.complete"
}

write_kubeconfig() { # path cert key
  local path="$1" cert="$2" key="$3"
  cat > "${path}" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: helmward-local
  cluster:
    server: https://127.0.0.1:${APISERVER_PORT}
    certificate-authority: ${PKI}/ca.crt
users:
- name: user
  user:
    client-certificate: ${cert}
    client-key: ${key}
contexts:
- name: helmward-local
  context:
    cluster: helmward-local
    user: user
current-context: helmward-local
EOF
  chmod 600 "${path}"
}

# ---------------------------------------------------------------- components

start() { # name binary args...
  local name="$1"; shift
  local bin="${BIN_DIR}/$1"; shift
  if running "${name}"; then return 0; fi
  check_port_free "${name}"
  : > "${LOGS}/${name}.log"
  # setsid puts each component in its own session so down can kill the group.
  setsid "${bin}" "$@" >> "${LOGS}/${name}.log" 2>&1 < /dev/null &
  echo $! > "${PIDS}/${name}.pid"
  log "started ${name} (pid $!), log ${LOGS}/${name}.log"
}

wait_for() { # name description command...
  local name="$1" what="$2"; shift 2
  local deadline=$((SECONDS + WAIT_TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    if ! running "${name}"; then
      tail_log "${name}"
      die "${name} exited while waiting for ${what}; its log is above."
    fi
    if (( SECONDS >= deadline )); then
      tail_log "${name}"
      die "timed out after ${WAIT_TIMEOUT}s waiting for ${what}; ${name}'s log is above."
    fi
    sleep 0.2
  done
}

https_ok() { # url
  curl -fsS --max-time 2 --cacert "${PKI}/ca.crt" --cert "${PKI}/admin.crt" --key "${PKI}/admin.key" "$1"
}

insecure_ok() { curl -fsSk --max-time 2 "$1"; }

kubectl_() { "${BIN_DIR}/kubectl" --kubeconfig "${KUBECONFIG_PATH}" "$@"; }

node_untainted() {
  local taints
  taints="$(kubectl_ get node kwok-node-0 -o jsonpath='{.spec.taints}')" && [[ -z "${taints}" ]]
}

stop_all() {
  local i name pid
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
    name="${COMPONENTS[$i]}"
    if pid="$(pid_of "${name}")"; then
      kill -TERM -- "-${pid}" 2>/dev/null || kill -TERM "${pid}" 2>/dev/null || true
      local deadline=$((SECONDS + 10))
      while kill -0 "${pid}" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.1; done
      if kill -0 "${pid}" 2>/dev/null; then
        kill -KILL -- "-${pid}" 2>/dev/null || kill -KILL "${pid}" 2>/dev/null || true
      fi
      log "stopped ${name} (pid ${pid})"
    fi
    rm -f "${PIDS}/${name}.pid"
  done
}

kwok_config() {
  # The node and generic pod stages come from the pinned kwok module (copied
  # into the binary cache at build time); ours add Succeeded and Failed endings.
  local out="${STATE_DIR}/kwok.yaml" f
  : > "${out}"
  for f in node/fast/node-initialize.yaml node/heartbeat/node-heartbeat.yaml \
           pod/fast/pod-ready.yaml pod/fast/pod-delete.yaml; do
    cat "${BIN_DIR}/kwok-stages/${f}" >> "${out}"
    echo "---" >> "${out}"
  done
  cat "${HACK_DIR}/kwok/stages.yaml" >> "${out}"
  echo "${out}"
}

cmd_up() {
  local t0=$SECONDS
  bash "${HACK_DIR}/lib/build.sh"
  mkdir -p "${LOGS}" "${PIDS}"
  gen_pki
  write_kubeconfig "${KUBECONFIG_PATH}" "${PKI}/admin.crt" "${PKI}/admin.key"
  write_kubeconfig "${STATE_DIR}/kcm.kubeconfig" "${PKI}/kcm.crt" "${PKI}/kcm.key"
  write_kubeconfig "${STATE_DIR}/scheduler.kubeconfig" "${PKI}/scheduler.crt" "${PKI}/scheduler.key"

  if ! running etcd; then
    # A fresh etcd means a fresh cluster: stop any component left from the old one.
    stop_all
    rm -rf "${STATE_DIR}/etcd"
    start etcd etcd \
      --name helmward --data-dir "${STATE_DIR}/etcd" \
      --listen-client-urls "http://127.0.0.1:${ETCD_PORT}" \
      --advertise-client-urls "http://127.0.0.1:${ETCD_PORT}" \
      --listen-peer-urls "http://127.0.0.1:${ETCD_PEER_PORT}" \
      --initial-advertise-peer-urls "http://127.0.0.1:${ETCD_PEER_PORT}" \
      --initial-cluster "helmward=http://127.0.0.1:${ETCD_PEER_PORT}" \
      --unsafe-no-fsync=true --quota-backend-bytes=4294967296 --log-level=warn
  fi
  wait_for etcd "etcd /health" curl -fsS --max-time 2 "http://127.0.0.1:${ETCD_PORT}/health"

  local audit=()
  if [[ -n "${AUDIT_POLICY}" ]]; then
    [[ -r "${AUDIT_POLICY}" ]] || die "HELMWARD_AUDIT_POLICY=${AUDIT_POLICY} is not a readable file."
    audit=(--audit-policy-file "${AUDIT_POLICY}" --audit-log-path "${LOGS}/audit.log")
  fi
  start kube-apiserver kube-apiserver \
    --etcd-servers "http://127.0.0.1:${ETCD_PORT}" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "${APISERVER_PORT}" \
    --tls-cert-file "${PKI}/apiserver.crt" --tls-private-key-file "${PKI}/apiserver.key" \
    --client-ca-file "${PKI}/ca.crt" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "${PKI}/sa.pub" \
    --service-account-signing-key-file "${PKI}/sa.key" \
    --service-cluster-ip-range "${SERVICE_CIDR}" \
    --authorization-mode RBAC --allow-privileged=true \
    --enable-priority-and-fairness=false --profiling=false \
    --endpoint-reconciler-type none "${audit[@]}"
  wait_for kube-apiserver "kube-apiserver /readyz" https_ok "https://127.0.0.1:${APISERVER_PORT}/readyz"

  start kube-controller-manager kube-controller-manager \
    --kubeconfig "${STATE_DIR}/kcm.kubeconfig" \
    --authentication-kubeconfig "${STATE_DIR}/kcm.kubeconfig" \
    --authorization-kubeconfig "${STATE_DIR}/kcm.kubeconfig" \
    --root-ca-file "${PKI}/ca.crt" \
    --service-account-private-key-file "${PKI}/sa.key" \
    --use-service-account-credentials=true \
    --bind-address 127.0.0.1 --secure-port "${KCM_PORT}" \
    --leader-elect=false --controllers '*,-node-ipam-controller' \
    --service-cluster-ip-range "${SERVICE_CIDR}" \
    --concurrent-gc-syncs 5 --kube-api-qps "${KCM_QPS}" --kube-api-burst "$((KCM_QPS * 2))"
  start kube-scheduler kube-scheduler \
    --kubeconfig "${STATE_DIR}/scheduler.kubeconfig" \
    --authentication-kubeconfig "${STATE_DIR}/scheduler.kubeconfig" \
    --authorization-kubeconfig "${STATE_DIR}/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "${SCHEDULER_PORT}" --leader-elect=false
  start kwok kwok \
    --kubeconfig "${KUBECONFIG_PATH}" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
    --node-ip 10.1.0.1 --cidr 10.2.0.0/16 \
    --server-address "127.0.0.1:${KWOK_PORT}" \
    --config "$(kwok_config)"

  wait_for kube-controller-manager "kube-controller-manager /healthz" insecure_ok "https://127.0.0.1:${KCM_PORT}/healthz"
  wait_for kube-scheduler "kube-scheduler /healthz" insecure_ok "https://127.0.0.1:${SCHEDULER_PORT}/healthz"
  wait_for kwok "kwok /healthz" curl -fsS --max-time 2 "http://127.0.0.1:${KWOK_PORT}/healthz"

  kubectl_ apply --server-side --field-manager helmward-cluster -f "${HACK_DIR}/kwok/node.yaml" >/dev/null \
    || die "could not create the fake node; see kubectl's message above."
  wait_for kwok "node kwok-node-0 Ready" kubectl_ wait --for=condition=Ready node/kwok-node-0 --timeout=2s
  wait_for kube-controller-manager "node kwok-node-0 untainted (node-lifecycle controller)" node_untainted
  wait_for kube-controller-manager "the default service account" kubectl_ get serviceaccount default -n default

  log "control plane ready in $((SECONDS - t0))s (Kubernetes ${KUBE_VERSION}); KUBECONFIG=${KUBECONFIG_PATH}"
}

cmd_down() {
  stop_all
  rm -rf "${STATE_DIR}/etcd"
  log "control plane stopped"
}

cmd_status() {
  local name pid health rc=0
  for name in "${COMPONENTS[@]}"; do
    if pid="$(pid_of "${name}")"; then
      case "${name}" in
        etcd) health="$(curl -fsS --max-time 2 "http://127.0.0.1:${ETCD_PORT}/health" 2>/dev/null || echo unhealthy)" ;;
        kube-apiserver) health="readyz=$(https_ok "https://127.0.0.1:${APISERVER_PORT}/readyz" 2>/dev/null || echo failing)" ;;
        kwok) health="healthz=$(curl -fsS --max-time 2 "http://127.0.0.1:${KWOK_PORT}/healthz" 2>/dev/null || echo failing)" ;;
        *) health="healthz=$(insecure_ok "https://127.0.0.1:$(port_of "${name}")/healthz" 2>/dev/null || echo failing)" ;;
      esac
      printf '%-24s running  pid=%-8s port=%-6s %s\n' "${name}" "${pid}" "$(port_of "${name}")" "${health}"
    else
      printf '%-24s stopped\n' "${name}"
      rc=1
    fi
  done
  return "${rc}"
}

cmd_env() {
  echo "export KUBECONFIG=${KUBECONFIG_PATH}"
  echo "export PATH=${BIN_DIR}:\$PATH"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) cmd_env ;;
  build) bash "${HACK_DIR}/lib/build.sh" ;;
  *) echo "usage: $0 up|down|status|env|build" >&2; exit 2 ;;
esac
