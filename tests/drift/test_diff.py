"""Drift between a dry-run result and the live object: patches, ignore rules, masks, opt-out."""

from __future__ import annotations

import copy
from typing import Any

from internal.drift.diff import (
    MASK,
    ChangeType,
    IgnoreRule,
    Selector,
    compare,
    summarize,
)

DEPLOY: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {
        "name": "web",
        "namespace": "apps",
        "labels": {"app": "web"},
        "resourceVersion": "41",
        "uid": "u-1",
        "managedFields": [{"manager": "helm"}],
    },
    "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "c", "image": "a:1"}]}}},
    "status": {"readyReplicas": 2},
}


def live_with(**changes: Any) -> dict[str, Any]:
    obj = copy.deepcopy(DEPLOY)
    obj["metadata"]["resourceVersion"] = "99"
    obj["status"] = {"readyReplicas": 1}
    for path, value in changes.items():
        target = obj
        *parents, last = path.split("__")
        for p in parents:
            target = target[p]
        target[last] = value
    return obj


def test_server_fields_and_status_are_not_drift() -> None:
    assert compare(DEPLOY, live_with()).type is ChangeType.NONE


def test_changed_field_gives_an_rfc6902_patch() -> None:
    change = compare(DEPLOY, live_with(spec__replicas=5))
    assert change.type is ChangeType.UPDATE
    assert change.object_id == "Deployment/apps/web"
    assert change.patch == [{"op": "replace", "path": "/spec/replicas", "value": 2}]


def test_deleted_object_is_a_create() -> None:
    assert compare(DEPLOY, None).type is ChangeType.CREATE


def test_ignore_rule_with_and_without_target() -> None:
    live = live_with(spec__replicas=5)
    everywhere = IgnoreRule(paths=["/spec/replicas"])
    assert compare(DEPLOY, live, [everywhere]).type is ChangeType.NONE
    other_kind = IgnoreRule(paths=["/spec/replicas"], target=Selector(kind="StatefulSet"))
    assert compare(DEPLOY, live, [other_kind]).type is ChangeType.UPDATE
    by_name = IgnoreRule(paths=["/spec/replicas"], target=Selector(kind="Deployment", name="w.*"))
    assert compare(DEPLOY, live, [by_name]).type is ChangeType.NONE
    by_label = IgnoreRule(paths=["/spec/replicas"], target=Selector(label_selector="app=api"))
    assert compare(DEPLOY, live, [by_label]).type is ChangeType.UPDATE


def test_opt_out_label_excludes_the_object() -> None:
    live = live_with(spec__replicas=5)
    live["metadata"]["labels"]["helm.toolkit.fluxcd.io/driftDetection"] = "disabled"
    assert compare(DEPLOY, live).type is ChangeType.EXCLUDE


def test_secret_values_are_masked() -> None:
    desired = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "a"},
        "data": {"password": "aHVudGVyMg=="},
    }
    live = copy.deepcopy(desired)
    live["data"] = {"password": "b3RoZXI=", "extra": "eA=="}
    change = compare(desired, live)
    assert change.type is ChangeType.UPDATE
    text = repr(change.patch)
    assert "aHVudGVyMg==" not in text
    assert "b3RoZXI=" not in text
    assert all(op.get("value", MASK) == MASK for op in change.patch)


def test_summary_names_each_object_and_path() -> None:
    changes = [compare(DEPLOY, live_with(spec__replicas=5)), compare(DEPLOY, None)]
    assert summarize(changes) == (
        "Deployment/apps/web changed (/spec/replicas)\nDeployment/apps/web removed"
    )
