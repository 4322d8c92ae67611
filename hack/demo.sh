#!/usr/bin/env bash
# make demo: the local control plane, local chart and git sources, the controller and the
# sample HelmReleases, watched until they are Ready. See hack/demo/run.py.
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
bash "${HACK_DIR}/cluster.sh" up
cd "${REPO_ROOT}"
PYTHONPATH="${REPO_ROOT}" exec "${REPO_ROOT}/.venv/bin/python" "${HACK_DIR}/demo/run.py"
