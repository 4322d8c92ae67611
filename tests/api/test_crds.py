from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.crds import KINDS, custom_resource_definition, rendered

pytestmark = pytest.mark.api

BASES = Path(__file__).resolve().parents[2] / "config" / "crd" / "bases"
CRDS = {kind.resource.kind: custom_resource_definition(kind) for kind in KINDS}


def test_committed_crds_are_the_generated_ones() -> None:
    generated = rendered()
    committed = {path.name: path.read_text() for path in BASES.glob("*.yaml")}
    assert sorted(committed) == sorted(generated), "run `make generate`"
    for name, text in generated.items():
        assert committed[name] == text, f"{name} is stale: run `make generate`"


def test_rendered_yaml_reads_back_as_the_crd() -> None:
    for kind in KINDS:
        text = rendered()[f"{kind.resource.group}_{kind.resource.plural}.yaml"]
        assert yaml.safe_load(text) == custom_resource_definition(kind)


def _nodes(schema: Mapping[str, Any], path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    yield path, schema
    for name, sub in schema.get("properties", {}).items():
        yield from _nodes(sub, f"{path}.{name}")
    if "items" in schema:
        yield from _nodes(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), Mapping):
        yield from _nodes(schema["additionalProperties"], f"{path}.*")


@pytest.mark.parametrize("kind", sorted(CRDS))
def test_schemas_are_structural(kind: str) -> None:
    schema = CRDS[kind]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for path, node in _nodes(schema, kind):
        assert not {"$ref", "anyOf", "allOf", "oneOf"} & node.keys(), path
        if node.get("x-kubernetes-preserve-unknown-fields"):
            continue
        assert node.get("type") in {"object", "array", "string", "integer", "boolean"}, path
        if node["type"] == "object" and path != f"{kind}.metadata":
            assert "properties" in node or "additionalProperties" in node, path
        if "enum" in node:
            assert all(isinstance(value, str) for value in node["enum"]), path
        if "default" in node and "enum" in node:
            assert node["default"] in node["enum"], path


@pytest.mark.parametrize(
    ("kind", "short_names"),
    [
        ("HelmRelease", ["hr"]),
        ("HelmRepository", ["helmrepo"]),
        ("GitRepository", ["gitrepo"]),
        ("HelmChart", ["hc"]),
        ("OCIRepository", ["ocirepo"]),
        ("ExternalArtifact", ["ea"]),
        ("Bucket", None),
    ],
)
def test_names_status_subresource_and_columns(kind: str, short_names: list[str] | None) -> None:
    crd = CRDS[kind]
    assert crd["spec"]["names"].get("shortNames") == short_names
    assert "fluxcd" in crd["spec"]["names"]["categories"]
    version = crd["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    assert version["served"] is True
    assert version["storage"] is True
    columns = {column["name"]: column for column in version["additionalPrinterColumns"]}
    assert columns["Age"] == {
        "name": "Age",
        "type": "date",
        "jsonPath": ".metadata.creationTimestamp",
    }
    assert columns["Ready"]["jsonPath"] == '.status.conditions[?(@.type=="Ready")].status'
    assert columns["Status"]["jsonPath"] == '.status.conditions[?(@.type=="Ready")].message'


def _at(kind: str, *path: str) -> Mapping[str, Any]:
    node = CRDS[kind]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for step in path:
        node = node["items"] if step == "[]" else node["properties"][step]
    return node


def test_helmrelease_schema_carries_flux_rules_and_defaults() -> None:
    spec = _at("HelmRelease", "spec")
    assert spec["required"] == ["interval"]
    assert [rule["message"] for rule in spec["x-kubernetes-validations"]] == [
        "either chart or chartRef must be set"
    ]
    assert _at("HelmRelease", "spec", "values") == {
        "description": "Inline Helm values, merged last.",
        "x-kubernetes-preserve-unknown-fields": True,
    }
    chart = _at("HelmRelease", "spec", "chart", "spec")
    assert chart["properties"]["version"]["default"] == "*"
    assert chart["properties"]["reconcileStrategy"]["default"] == "ChartVersion"
    assert _at("HelmRelease", "spec", "interval")["pattern"] == r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
    assert _at("HelmRelease", "spec", "valuesFrom", "[]", "kind")["enum"] == [
        "Secret",
        "ConfigMap",
    ]
    assert _at("HelmRelease", "spec", "uninstall", "deletionPropagation")["default"] == "background"
    assert _at("HelmRelease", "status")["default"] == {"observedGeneration": -1}
    assert _at("HelmRelease", "spec", "releaseName")["maxLength"] == 53
    verify = _at("HelmRelease", "spec", "chart", "spec", "verify")
    assert verify["required"] == ["provider"]
    assert verify["properties"]["provider"]["default"] == "cosign"


def test_source_schemas_carry_flux_rules_and_defaults() -> None:
    assert len(_at("Bucket", "spec")["x-kubernetes-validations"]) == 7
    assert _at("GitRepository", "spec", "timeout")["default"] == "60s"
    assert _at("GitRepository", "spec", "timeout")["pattern"] == r"^([0-9]+(\.[0-9]+)?(ms|s|m))+$"
    assert _at("OCIRepository", "spec", "url")["pattern"] == "^oci://.*$"
    assert "default" not in _at("ExternalArtifact", "status")
    assert _at("HelmChart", "spec")["required"] == ["chart", "interval", "sourceRef"]
    assert _at("HelmRepository", "spec", "provider")["default"] == "generic"
