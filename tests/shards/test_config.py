"""config/shards, rendered by kustomize and applied for real: config/default's controller for
the unlabelled objects and one Deployment (and artifact Service) per shard, each with Flux's
selector, flags `helmward run` accepts, its own Lease and its own advertised artifact address."""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from kubernetes_asyncio import client

from controller import cli
from controller.flags import lease_of, watch_namespace_of
from hack.testkit.plane import ControlPlane
from internal.kube import rest
from internal.kube.resources import Resource

CONFIG = Path(__file__).resolve().parents[2] / "config"
DEPLOYMENTS = Resource("apps", "v1", "deployments", "Deployment")
SERVICES = Resource("", "v1", "services", "Service")
SELECTORS = {
    "helmward-controller": "!sharding.fluxcd.io/key",
    "helmward-controller-shard1": "sharding.fluxcd.io/key=shard1",
    "helmward-controller-shard2": "sharding.fluxcd.io/key=shard2",
}
SERVICE_OF = {
    "helmward-controller": "helmward",
    "helmward-controller-shard1": "helmward-shard1",
    "helmward-controller-shard2": "helmward-shard2",
}


def _kubectl(plane: ControlPlane, *args: str) -> str:
    env = {**os.environ, "KUBECONFIG": str(plane.kubeconfig)}
    done = subprocess.run([str(plane.kubectl), *args], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr or done.stdout
    return done.stdout


def _render(plane: ControlPlane, overlay: str) -> list[dict[str, Any]]:
    return [o for o in yaml.safe_load_all(_kubectl(plane, "kustomize", str(CONFIG / overlay))) if o]


def _of(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def _args(deployment: dict[str, Any]) -> list[str]:
    return list(deployment["spec"]["template"]["spec"]["containers"][0]["args"])


def test_the_shards_overlay_adds_a_controller_per_shard_beside_the_main_one(
    control_plane: ControlPlane,
) -> None:
    default = _render(control_plane, "default")
    sharded = _render(control_plane, "shards")
    deployments = _of(sharded, "Deployment")
    assert set(deployments) == set(SELECTORS)
    # What is not a controller (CRDs, RBAC, the namespace) is there once, as config/default's.
    others = Counter((o["kind"], o["metadata"]["name"]) for o in sharded)
    others -= Counter({("Deployment", n): 1 for n in SELECTORS})
    others -= Counter({("Service", n): 1 for n in SERVICE_OF.values()})
    assert others == Counter(
        (o["kind"], o["metadata"]["name"])
        for o in default
        if o["kind"] not in ("Deployment", "Service")
    )
    services = _of(sharded, "Service")
    leases = set()
    for name, deployment in deployments.items():
        args = _args(deployment)
        assert args[0] == "run"
        flags = [a.partition("=")[0] for a in args[1:]]
        assert [f for f, n in Counter(flags).items() if n > 1] == []
        parsed = cli.parse([a.replace("$(RUNTIME_NAMESPACE)", "flux-system") for a in args])
        assert parsed.watch_label_selector == SELECTORS[name]
        service = SERVICE_OF[name]
        assert parsed.storage_adv_addr == f"{service}.flux-system.svc.cluster.local."
        pods = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"] == {"app": pods["app"]}
        assert services[service]["spec"]["selector"] == {"app": pods["app"]}
        env = {"RUNTIME_NAMESPACE": "flux-system"}
        leases.add(
            lease_of(
                parsed.leader_election_namespace or "flux-system",
                watch_namespace_of(parsed, env),
                parsed.watch_label_selector,
            )
        )
        assert deployment["metadata"]["namespace"] == "flux-system"
    # Every controller selects its own pods, serves its own artifacts and leads on its own.
    apps = {d["spec"]["template"]["metadata"]["labels"]["app"] for d in deployments.values()}
    assert len(apps) == len(deployments) == len(leases)
    # The main controller is config/default's, with the one flag added.
    main = _of(default, "Deployment")["helmward-controller"]
    assert _args(deployments["helmward-controller"]) == [
        *_args(main),
        "--watch-label-selector=!sharding.fluxcd.io/key",
    ]


async def test_the_shards_controllers_apply(
    control_plane: ControlPlane, kube: client.ApiClient, namespace: str
) -> None:
    """The Deployments and Services, moved to the test's namespace, as the API server takes
    them (server-side apply: every field checked against the real schemas)."""
    objects = [
        o for o in _render(control_plane, "shards") if o["kind"] in ("Deployment", "Service")
    ]
    for obj in objects:
        obj["metadata"]["namespace"] = namespace
        resource = DEPLOYMENTS if obj["kind"] == "Deployment" else SERVICES
        await rest.request(
            kube,
            "PATCH",
            resource.path(namespace, obj["metadata"]["name"]),
            body=obj,
            content_type=rest.APPLY_PATCH,
            query={
                "fieldManager": "shards-config-test",
                "force": True,
                "fieldValidation": "Strict",
            },
        )
    listing = await rest.request(kube, "GET", DEPLOYMENTS.path(namespace))
    assert {d["metadata"]["name"] for d in listing["items"]} == set(SELECTORS)
    for item in listing["items"]:
        assert _args(item)[-1] == f"--watch-label-selector={SELECTORS[item['metadata']['name']]}"
