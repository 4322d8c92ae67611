"""config/default, applied for real: `kubectl apply --server-side -k config/default` installs
Helmward into flux-system, and its Deployment becomes Available with Flux's hardening.

KWOK plays the pod, so the container never runs: this proves the manifests are valid, wired
together (service account, bindings, Service selector) and hardened, not that the image runs.
The CRDs are applied but never deleted (other tests share them)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from api.crds import rendered
from controller.cli import build_parser
from hack.generate import KUSTOMIZATION, kustomization
from hack.testkit.paths import REPO_ROOT
from hack.testkit.plane import ControlPlane

pytestmark = pytest.mark.cluster

DEFAULT = REPO_ROOT / "config" / "default"
NAMESPACE = "flux-system"
PART_OF = ("app.kubernetes.io/part-of", "helmward")
FIELD_MANAGER = "helmward-install-test"
# The cluster-scoped objects config/rbac makes (the CRDs stay: other tests use them).
CLUSTER_SCOPED = (
    "clusterrole/helmward-manager",
    "clusterrolebinding/helmward-manager",
    "clusterrolebinding/helmward-reconciler",
)
SERVICE_ACCOUNT = f"system:serviceaccount:{NAMESPACE}:helmward"


def _kubectl(plane: ControlPlane, *args: str, check: bool = True, timeout: float = 180) -> str:
    env = {**os.environ, "KUBECONFIG": str(plane.kubeconfig)}
    done = subprocess.run(
        [str(plane.kubectl), *args], env=env, capture_output=True, text=True, timeout=timeout
    )
    if check and done.returncode != 0:
        raise AssertionError(f"kubectl {shlex.join(args)}: {done.stderr or done.stdout}")
    return done.stdout


def _get(plane: ControlPlane, *what: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(_kubectl(plane, "get", *what, "-o", "json"))
    return result


def _rendered(plane: ControlPlane) -> list[dict[str, Any]]:
    return list(yaml.safe_load_all(_kubectl(plane, "kustomize", str(DEFAULT))))


def _clean_up(plane: ControlPlane) -> None:
    _kubectl(plane, "delete", "--ignore-not-found", "--wait=false", *CLUSTER_SCOPED)
    _kubectl(plane, "delete", "namespace", NAMESPACE, "--ignore-not-found", "--timeout=120s")


@pytest.fixture
def installed(control_plane: ControlPlane) -> Iterator[ControlPlane]:
    """config/default applied to the shared control plane; flux-system and the cluster-scoped
    RBAC deleted after. A flux-system that is not ours is left alone (the test is skipped)."""
    existing = _kubectl(control_plane, "get", "namespace", NAMESPACE, "-o", "json", check=False)
    if existing:
        labels = json.loads(existing)["metadata"].get("labels") or {}
        if labels.get(PART_OF[0]) != PART_OF[1]:
            pytest.skip(f"namespace {NAMESPACE} exists and was not made by config/default")
        _clean_up(control_plane)  # a previous run's leftovers
    try:
        # The CRDs are co-owned with the other tests' field manager (helmward-api-tests, which
        # applies the same files with force): forcing keeps a stale field owner from failing
        # this apply; the values are the same files either way.
        _kubectl(
            control_plane,
            "apply",
            "--server-side",
            "--force-conflicts",
            f"--field-manager={FIELD_MANAGER}",
            "-k",
            str(DEFAULT),
        )
        yield control_plane
    finally:
        _clean_up(control_plane)


def test_crd_kustomization_lists_every_generated_crd() -> None:
    assert KUSTOMIZATION.read_text() == kustomization(list(rendered())), "run `make generate`"


def test_manager_args_are_flags_helmward_run_accepts(control_plane: ControlPlane) -> None:
    (deployment,) = (d for d in _rendered(control_plane) if d["kind"] == "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    args = build_parser().parse_args(container["args"])
    assert args.command == "run"
    assert args.storage_path == "/data"
    assert args.health_addr == ":9440"
    assert args.metrics_addr == ":8080"
    assert args.storage_addr == ":9090"
    assert args.storage_adv_addr == "helmward.$(RUNTIME_NAMESPACE).svc.cluster.local."
    # Strings or booleans, as the parser of the day keeps them.
    assert str(args.leader_elect).lower() == "true"
    assert str(args.watch_all_namespaces).lower() == "true"
    assert args.log_level == "info"
    assert args.log_encoding == "json"


def test_the_image_runs_as_the_user_the_deployment_names(control_plane: ControlPlane) -> None:
    """The Dockerfile's USER is the Deployment's runAsUser:runAsGroup, and it makes /data (the
    --storage-path) that user's, so the image works without the emptyDir volumes too."""
    (deployment,) = (d for d in _rendered(control_plane) if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]["securityContext"]
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    users = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("USER ")]
    assert users[-1] == f"{pod['runAsUser']}:{pod['runAsGroup']}"
    assert f"install -d -o {pod['runAsUser']} -g {pod['runAsGroup']} -m 0755 /data" in dockerfile


def test_config_default_installs_and_becomes_available(installed: ControlPlane) -> None:
    plane = installed
    _kubectl(
        plane,
        "wait",
        "--for=condition=Available",
        f"--namespace={NAMESPACE}",
        "deployment/helmward-controller",
        "--timeout=120s",
    )
    deployment = _get(plane, "deployment", "helmward-controller", "-n", NAMESPACE)
    assert deployment["status"]["availableReplicas"] == 1

    pod_spec = deployment["spec"]["template"]["spec"]
    assert pod_spec["serviceAccountName"] == "helmward"
    assert pod_spec["securityContext"]["runAsNonRoot"] is True
    assert pod_spec["securityContext"]["runAsUser"] == 65534
    assert pod_spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod_spec["containers"]
    security = container["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    volumes = {v["name"]: v for v in pod_spec["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert set(mounts) == {"/data", "/tmp"}
    assert all("emptyDir" in volumes[name] for name in mounts.values())
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": 9090, "http-prom": 8080, "healthz": 9440}
    assert container["livenessProbe"]["httpGet"] == {
        "path": "/healthz",
        "port": "healthz",
        "scheme": "HTTP",
    }
    assert container["readinessProbe"]["httpGet"] == {
        "path": "/readyz",
        "port": "healthz",
        "scheme": "HTTP",
    }
    assert {"requests", "limits"} <= set(container["resources"])
    (env,) = (e for e in container["env"] if e["name"] == "RUNTIME_NAMESPACE")
    assert env["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"

    # The pod the ReplicaSet made runs as the service account and is Ready.
    pods = _get(plane, "pods", "-n", NAMESPACE, "-l", "app=helmward")["items"]
    assert len(pods) == 1
    assert pods[0]["spec"]["serviceAccountName"] == "helmward"
    ready = {c["type"]: c["status"] for c in pods[0]["status"]["conditions"]}
    assert ready["Ready"] == "True"

    # The Service selects that pod: artifacts on 80 -> 9090, metrics on 8080.
    service = _get(plane, "service", "helmward", "-n", NAMESPACE)
    service_ports = {p["name"]: (p["port"], p["targetPort"]) for p in service["spec"]["ports"]}
    assert service_ports == {"http": (80, "http"), "http-prom": (8080, "http-prom")}
    endpoints = _get(
        plane, "endpointslices", "-n", NAMESPACE, "-l", "kubernetes.io/service-name=helmward"
    )
    addresses = [e for s in endpoints["items"] for e in s.get("endpoints") or []]
    assert len(addresses) == 1

    # The bindings name flux-system's helmward account (the namespace transformer set them),
    # and the API server grants what the controller does.
    for binding in CLUSTER_SCOPED[1:]:
        (subject,) = _get(plane, binding)["subjects"]
        assert (subject["kind"], subject["namespace"], subject["name"]) == (
            "ServiceAccount",
            NAMESPACE,
            "helmward",
        )
    for verb, resource, namespace in (
        ("patch", "helmreleases.helm.toolkit.fluxcd.io/status", "default"),
        ("create", "helmcharts.source.toolkit.fluxcd.io", "default"),
        ("watch", "secrets", "default"),
        ("create", "events", "default"),
        ("impersonate", "serviceaccounts", "default"),
        ("update", "leases.coordination.k8s.io", NAMESPACE),
    ):
        answer = _kubectl(
            plane,
            "auth",
            "can-i",
            verb,
            resource,
            f"--as={SERVICE_ACCOUNT}",
            "-n",
            namespace,
            check=False,
        )
        assert answer.strip() == "yes", (verb, resource, namespace)

    # The CRDs were applied (and stay).
    for doc in _rendered(plane):
        if doc["kind"] == "CustomResourceDefinition":
            crd = _get(plane, "crd", doc["metadata"]["name"])
            established = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
            assert established["Established"] == "True"
