"""The CLI's pure parts, without a cluster: ages from the HELMWARD_NOW seam, kubectl's human
durations, Flux's hex truncation, tables without trailing blanks, kind names, inventory ids,
and when a reconcile request counts as settled."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from controller.cli import output
from controller.cli.control import settled
from controller.cli.get import kinds_of
from controller.cli.objects import item_of, truncate_hex
from controller.cli.tree import health, parse_id

NOW = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (-1, "0s"),
        (0, "0s"),
        (119, "119s"),
        (120, "2m"),
        (125, "2m5s"),
        (599, "9m59s"),
        (600, "10m"),
        (179 * 60, "179m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 60, "3h1m"),
        (8 * 3600, "8h"),
        (47 * 3600, "47h"),
        (48 * 3600, "2d"),
        (50 * 3600, "2d2h"),
        (8 * 86400, "8d"),
        (29 * 86400 + 86399, "29d"),
        (729 * 86400, "729d"),
        (730 * 86400, "2y"),
        (731 * 86400, "2y1d"),
        (8 * 365 * 86400, "8y"),
    ],
)
def test_human_duration_rounds_as_kubernetes(seconds: int, text: str) -> None:
    assert output.human_duration(seconds) == text


def test_age_is_measured_from_helmward_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(output.NOW_ENV, "2030-01-01T00:00:00Z")
    assert output.now() == NOW
    assert output.age(NOW - timedelta(days=29, hours=23)) == "29d"
    assert output.age(None) == "<unknown>"
    monkeypatch.delenv(output.NOW_ENV)
    assert abs((output.now() - datetime.now(UTC)).total_seconds()) < 5


def test_digests_are_cut_to_eight_digits_as_flux_prints_them() -> None:
    sha256 = "0123456789abcdef" * 4
    assert truncate_hex(f"sha256:{sha256}") == "sha256:01234567"
    assert truncate_hex(f"main@sha1:{sha256[:40]}") == "main@sha1:01234567"
    assert truncate_hex("1.0.0 and cafe") == "1.0.0 and cafe"


def test_tables_off_a_terminal_end_their_lines_without_blanks() -> None:
    out = io.StringIO()
    output.table(["name", "message"], [["a", "long message"], ["bbbbbb", "x"]], out)
    assert out.getvalue() == "NAME    MESSAGE\na       long message\nbbbbbb  x\n"


def test_kind_names() -> None:
    assert kinds_of("hr") == kinds_of("helmreleases") == kinds_of("HelmRelease")
    assert kinds_of("hr") == ("HelmRelease",)
    assert kinds_of("helmrepo") == ("HelmRepository",)
    assert kinds_of("hc") == ("HelmChart",)
    assert kinds_of("sources") == (
        "HelmRepository",
        "GitRepository",
        "Bucket",
        "OCIRepository",
        "HelmChart",
    )
    assert kinds_of("all") == (*kinds_of("sources"), "HelmRelease")
    assert kinds_of("kustomization") is None


def test_inventory_ids() -> None:
    assert parse_id("apps_web_apps_Deployment") == ("apps", "web", "apps", "Deployment")
    assert parse_id("apps_web-config__ConfigMap") == ("apps", "web-config", "", "ConfigMap")
    assert parse_id("_crontabs.example.com_apiextensions.k8s.io_CustomResourceDefinition") == (
        "",
        "crontabs.example.com",
        "apiextensions.k8s.io",
        "CustomResourceDefinition",
    )
    assert parse_id("_system__web_rbac.authorization.k8s.io_ClusterRole") == (
        "",
        "system:web",
        "rbac.authorization.k8s.io",
        "ClusterRole",
    )


def test_health_of_deployments_and_pods() -> None:
    deployment = {
        "metadata": {"generation": 2},
        "spec": {"replicas": 2},
        "status": {"observedGeneration": 2, "availableReplicas": 2, "updatedReplicas": 2},
    }
    assert health("Deployment", deployment) == ("available 2/2", True)
    deployment["status"]["availableReplicas"] = 1
    assert health("Deployment", deployment) == ("progressing 1/2", False)
    assert health("Pod", {"status": {"phase": "Failed"}}) == ("Failed", False)
    assert health("Pod", {"status": {"phase": "Succeeded"}}) == ("Succeeded", True)
    assert health("ConfigMap", {}) == ("exists", True)


def hr(generation: int, handled: str | None, *conditions: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "app", "namespace": "ns", "generation": generation},
        "spec": {
            "interval": "5m",
            "chart": {
                "spec": {"chart": "demo", "sourceRef": {"kind": "HelmRepository", "name": "r"}}
            },
        },
        "status": {
            "observedGeneration": generation - 1,
            "lastHandledReconcileAt": handled,
            "conditions": list(conditions),
        },
    }


def cond(type_: str, status: str, generation: int, reason: str = "Reason") -> dict[str, Any]:
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": "m",
        "observedGeneration": generation,
        "lastTransitionTime": "2030-01-01T00:00:00Z",
    }


def test_a_request_settles_when_handled_for_the_generation_and_done() -> None:
    token = "t1"
    assert settled(item_of(hr(2, token, cond("Ready", "True", 2))), token)
    # Another token, or a condition of an older generation: not yet.
    assert not settled(item_of(hr(2, "t0", cond("Ready", "True", 2))), token)
    assert not settled(item_of(hr(2, token, cond("Ready", "True", 1))), token)
    # In progress: Ready Unknown, or Reconciling True (a retry is coming).
    assert not settled(item_of(hr(2, token, cond("Ready", "Unknown", 2))), token)
    retrying = hr(2, token, cond("Ready", "False", 2), cond("Reconciling", "True", 2))
    assert not settled(item_of(retrying), token)
    # Ended not Ready: with nothing in progress, or Stalled.
    assert settled(item_of(hr(2, token, cond("Ready", "False", 2))), token)
    stalled = hr(2, token, cond("Ready", "False", 2), cond("Stalled", "True", 2))
    assert settled(item_of(stalled), token)


def test_an_object_the_models_reject_is_still_listed() -> None:
    obj = hr(1, None, cond("Ready", "False", 1, "InvalidSpec"))
    obj["spec"]["interval"] = "soon"
    item = item_of(obj)
    assert item.model is None
    assert item.invalid is not None
    assert item.invalid.startswith("spec.interval:")
    assert item.ready == ("False", "m")


def test_an_oci_helm_repository_is_static_and_ready_as_flux_shows_it() -> None:
    def repo(kind: str | None) -> dict[str, Any]:
        spec: dict[str, Any] = {"url": "oci://registry.example/charts", "interval": "5m"}
        if kind:
            spec["type"] = kind
        meta = {"name": "r", "namespace": "n"}
        return {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository"} | {
            "metadata": meta,
            "spec": spec if kind else {**spec, "url": "https://charts.example"},
        }

    static = item_of(repo("oci"))
    assert static.static
    assert static.ready == ("True", "Helm repository is Ready")
    default = item_of(repo(None))
    assert not default.static
    assert default.ready == ("False", "waiting to be reconciled")
