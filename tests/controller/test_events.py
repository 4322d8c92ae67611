"""Events land on the object with Flux's reason and annotations; repeats are counted."""

from __future__ import annotations

import pytest
from kubernetes_asyncio import client

from controller.events import EventRecorder

pytestmark = pytest.mark.controller


async def test_event_is_recorded_and_repeats_are_counted(
    kube: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(kube)
    cm = await core.create_namespaced_config_map(
        namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="target"))
    )
    obj = kube.sanitize_for_serialization(cm)
    obj.update(apiVersion="v1", kind="ConfigMap")
    recorder = EventRecorder(kube)
    notes = {"helm.toolkit.fluxcd.io/revision": "6.0.3", "helm.toolkit.fluxcd.io/token": "abc"}
    for _ in range(3):
        await recorder.emit(obj, "Normal", "InstallSucceeded", "Helm install succeeded", notes)
    await recorder.emit(obj, "Warning", "UpgradeFailed", "Helm upgrade failed")
    events = await core.list_namespaced_event(
        namespace, field_selector="involvedObject.name=target"
    )
    by_reason = {e.reason: e for e in events.items}
    assert set(by_reason) == {"InstallSucceeded", "UpgradeFailed"}
    installed = by_reason["InstallSucceeded"]
    assert installed.count == 3
    assert installed.type == "Normal"
    assert installed.metadata.annotations == notes
    assert installed.involved_object.uid == cm.metadata.uid
    assert installed.source.component == "helmward"
    assert by_reason["UpgradeFailed"].type == "Warning"
