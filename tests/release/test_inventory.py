"""The inventory's entries: Flux's id form, namespaces complemented, hooks left out, CRDs last."""

from __future__ import annotations

from internal.release.inventory import entries, manifest_documents, object_id

MANIFEST = """
---
# Source: app/templates/cm.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: elsewhere
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: system:app-reader
---
apiVersion: v1
kind: Pod
metadata:
  name: hooked
  annotations:
    helm.sh/hook: test
---
apiVersion: example.io/v1
kind: Unknown
metadata:
  name: mystery
"""

NAMESPACED = {("v1", "ConfigMap"): True, ("apps/v1", "Deployment"): True, ("v1", "Pod"): True}
CLUSTER = {("rbac.authorization.k8s.io/v1", "ClusterRole"): False}


def namespaced(api_version: str, kind: str) -> bool | None:
    key = (api_version, kind)
    return NAMESPACED.get(key, CLUSTER.get(key))


def test_entries_follow_fluxs_id_form() -> None:
    crds = [
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "name": "widgets.example.io",
        }
    ]
    got = entries(manifest_documents(MANIFEST), "apps", namespaced, crds)
    assert got == [
        {"id": "apps_cfg__ConfigMap", "v": "v1"},
        {"id": "elsewhere_web_apps_Deployment", "v": "v1"},
        {"id": "_system__app-reader_rbac.authorization.k8s.io_ClusterRole", "v": "v1"},
        {"id": "_mystery_example.io_Unknown", "v": "v1"},
        {"id": "_widgets.example.io_apiextensions.k8s.io_CustomResourceDefinition", "v": "v1"},
    ]


def test_colons_are_transcoded_only_for_rbac() -> None:
    assert object_id("", "a:b", "rbac.authorization.k8s.io", "Role") == (
        "_a__b_rbac.authorization.k8s.io_Role"
    )
    assert object_id("ns", "a:b", "", "ConfigMap") == "ns_a:b__ConfigMap"


def test_empty_manifest_has_no_entries() -> None:
    assert entries(manifest_documents(""), "apps", namespaced) == []
