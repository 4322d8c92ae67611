#!/usr/bin/env bash
# make demo: for now, the local control plane and how to use it.
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
bash "${HACK_DIR}/cluster.sh" up
bash "${HACK_DIR}/cluster.sh" status
eval "$(bash "${HACK_DIR}/cluster.sh" env)"
echo
kubectl version
kubectl get nodes -o wide
cat <<EOM

The local control plane is up. To use it from this shell:

  eval "\$(hack/cluster.sh env)"
  kubectl get nodes
  helm list -A

Stop it with: make cluster-down
EOM
