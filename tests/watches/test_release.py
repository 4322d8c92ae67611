"""The pure parts of a watched object's release: the next step, the status operator-sdk
writes, who owns a dependent, the release options and the name collision rule."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from internal.helm import models as hm
from internal.watches.owners import fingerprint, owner_key
from internal.watches.plan import Step, next_step
from internal.watches.release import (
    CHART_LABEL,
    ROLLBACK_FORCE,
    UNINSTALL_WAIT,
    UPGRADE_FORCE,
    WatchedObject,
    name_taken_by,
    options_of,
)
from internal.watches.status import AppStatus, ConditionType, Reason


def _release(status: str = "deployed", **overrides: Any) -> hm.Release:
    body: dict[str, Any] = {
        "name": "mc",
        "namespace": "apps",
        "version": 2,
        "status": status,
        "description": "",
        "chart": {"name": "memcached", "version": "0.1.0", "appVersion": "1.6"},
        "config": {"replicaCount": 1, "image": {"tag": "1.6"}},
        "manifest": "",
        "hooks": [],
        "notes": "",
        "labels": {},
        "applyMethod": "csa",
        "rollbackRevision": 0,
        "digest": "sha256:x",
        "configDigest": "sha256:y",
        **overrides,
    }
    return hm.Release.model_validate(body)


VALUES = {"image": {"tag": "1.6"}, "replicaCount": 1}


@pytest.mark.parametrize(
    ("stored", "chart", "values", "step"),
    [
        (None, ("memcached", "0.1.0"), VALUES, Step.INSTALL),
        (_release("uninstalled"), ("memcached", "0.1.0"), VALUES, Step.INSTALL),
        (_release("pending-upgrade"), ("memcached", "0.1.0"), VALUES, Step.UNLOCK),
        (_release("failed"), ("memcached", "0.1.0"), VALUES, Step.UPGRADE),
        (_release(), ("memcached", "0.1.0"), VALUES, Step.RECONCILE),
        (_release(), ("memcached", "0.2.0"), VALUES, Step.UPGRADE),
        (_release(), ("memcached", "0.1.0"), {**VALUES, "replicaCount": 2}, Step.UPGRADE),
    ],
    ids=["none", "uninstalled", "pending", "failed", "in-sync", "new-chart", "new-values"],
)
def test_next_step(
    stored: hm.Release | None, chart: tuple[str, str], values: dict[str, Any], step: Step
) -> None:
    assert next_step(stored, *chart, values) is step


def test_a_condition_moves_its_transition_time_only_when_its_status_changes() -> None:
    first = datetime(2026, 12, 2, 1, 0, 0, tzinfo=UTC)
    later = datetime(2026, 12, 2, 2, 0, 0, tzinfo=UTC)
    status = AppStatus.of(None)
    status.set(ConditionType.DEPLOYED, True, Reason.INSTALL_SUCCESSFUL, now=first)
    status.set(ConditionType.DEPLOYED, True, Reason.UPGRADE_SUCCESSFUL, "notes", now=later)
    assert status.wire() == {
        "conditions": [
            {
                "type": "Deployed",
                "status": "True",
                "reason": "UpgradeSuccessful",
                "message": "notes",
                "lastTransitionTime": "2026-12-02T01:00:00Z",
            }
        ]
    }
    status.set(ConditionType.DEPLOYED, False, Reason.UNINSTALL_SUCCESSFUL, now=later)
    assert status.wire()["conditions"][0]["lastTransitionTime"] == "2026-12-02T02:00:00Z"
    status.remove(ConditionType.DEPLOYED)
    assert status.wire() == {"conditions": []}


def test_a_status_that_does_not_parse_starts_empty() -> None:
    assert AppStatus.of({"conditions": "nonsense"}).wire() == {"conditions": []}


def test_owner_from_a_controller_reference_or_the_annotations() -> None:
    owned = {
        "metadata": {
            "namespace": "apps",
            "ownerReferences": [
                {"apiVersion": "other.io/v1", "kind": "Memcached", "name": "x", "controller": True},
                {"apiVersion": "cache.example.com/v1alpha1", "kind": "Memcached", "name": "mc",
                 "controller": True},
            ],
        }
    }  # fmt: skip
    assert owner_key(owned, "cache.example.com", "Memcached") == "apps/mc"
    annotated = {
        "metadata": {
            "annotations": {
                "operator-sdk/primary-resource": "apps/mc",
                "operator-sdk/primary-resource-type": "Memcached.cache.example.com",
            }
        }
    }
    assert owner_key(annotated, "cache.example.com", "Memcached") == "apps/mc"
    assert owner_key(annotated, "cache.example.com", "Redis") is None
    assert owner_key({"metadata": {}}, "cache.example.com", "Memcached") is None


def test_a_status_change_keeps_the_fingerprint_and_a_spec_change_does_not() -> None:
    base = {"metadata": {"name": "d", "resourceVersion": "1"}, "spec": {"replicas": 1}}
    rolled = {**base, "metadata": {"name": "d", "resourceVersion": "2"}, "status": {"ready": 1}}
    edited = {**base, "spec": {"replicas": 3}}
    assert fingerprint(base) == fingerprint(rolled)
    assert fingerprint(base) != fingerprint(edited)


def _object(**annotations: str) -> WatchedObject:
    return WatchedObject("cache.example.com/v1alpha1", "Memcached", "mc", "apps", "u1", annotations)


def _spec(obj: WatchedObject) -> dict[str, Any]:
    spec = options_of(obj, "memcached").spec
    dumped: dict[str, Any] = spec.model_dump(by_alias=True, exclude_none=True, mode="json")
    return dumped


def test_release_options_are_operator_sdks() -> None:
    spec = _spec(_object())
    assert {k: spec[k] for k in ("releaseName", "targetNamespace", "storageNamespace")} == {
        "releaseName": "mc",
        "targetNamespace": "apps",
        "storageNamespace": "apps",
    }
    assert spec["maxHistory"] == 0
    assert spec["install"] == {"disableWait": True, "serverSideApply": False}
    assert spec["upgrade"] == {"disableWait": True, "serverSideApply": "disabled", "force": False}
    assert spec["rollback"] == {"disableWait": True, "force": True}
    assert spec["uninstall"] == {"disableWait": True, "deletionPropagation": "background"}
    assert spec["commonMetadata"] == {"labels": {CHART_LABEL: "memcached"}}


def test_the_annotations_turn_force_and_wait_on_and_off() -> None:
    annotations = {UPGRADE_FORCE: "true", ROLLBACK_FORCE: "false", UNINSTALL_WAIT: "True"}
    spec = _spec(_object(**annotations))
    assert (spec["upgrade"]["force"], spec["rollback"]["force"]) == (True, False)
    assert spec["uninstall"]["disableWait"] is False


def test_a_name_longer_than_helm_allows_is_refused() -> None:
    long = WatchedObject("g/v1", "Memcached", "m" * 54, "apps", "u", {})
    with pytest.raises(ValueError, match=r"release_name|releaseName"):
        options_of(long, "memcached")


def test_a_release_of_the_same_name_from_another_chart_is_not_taken_over() -> None:
    assert name_taken_by(None, "memcached") is None
    assert name_taken_by(_release(), "memcached") is None
    assert name_taken_by(_release(), "redis") == (
        "duplicate release name: found existing release with name 'mc' for chart 'memcached'"
    )
