"""The cosign test kit against the distribution registry: a chart pushed with helm, signed by
digest with a generated key, verified with that key and refused with another, and the
signature's place in the registry as cosign's default (tag-based) layout puts it."""

from __future__ import annotations

import base64
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hack.testkit import cosign
from hack.testkit.charts import write_chart
from hack.testkit.cli import helm_package
from hack.testkit.oci_registry import OCIRegistry
from hack.testkit.plane import ControlPlane

pytestmark = pytest.mark.sources

USER, PASSWORD = "signer", "s3cr3t-cosign"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[OCIRegistry]:
    reg = OCIRegistry(tmp_path / "registry", USER, PASSWORD)
    reg.start()
    try:
        yield reg
    finally:
        reg.stop()


def _get(registry: OCIRegistry, path: str, accept: str = "") -> tuple[dict[str, str], bytes]:
    req = urllib.request.Request(f"http://{registry.host}/v2/{path}")
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    req.add_header("Authorization", f"Basic {token}")
    if accept:
        req.add_header("Accept", accept)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return dict(resp.headers), resp.read()


def _json(registry: OCIRegistry, path: str, accept: str = "") -> Any:
    return json.loads(_get(registry, path, accept)[1])


def test_sign_and_verify_a_pushed_chart(
    tmp_path: Path, control_plane: ControlPlane, registry: OCIRegistry
) -> None:
    chart = write_chart(tmp_path / "chart", "signed", "1.0.0")
    pkg = helm_package(control_plane.helm, chart, tmp_path / "packages")
    digest = registry.push_chart(control_plane.helm, pkg, "charts", tmp_path / "helm")
    ref = f"{registry.host}/charts/signed@{digest}"
    creds = {"username": USER, "password": PASSWORD}

    key, pub = cosign.generate_key_pair(tmp_path / "keys")
    _, other_pub = cosign.generate_key_pair(tmp_path / "other-keys")
    assert key.read_text().startswith("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----")
    assert pub.read_text().startswith("-----BEGIN PUBLIC KEY-----")

    ok, out = cosign.verify(ref, pub, **creds)
    assert not ok, f"verified before signing: {out}"

    cosign.sign(ref, key, work_dir=tmp_path / "sign", **creds)

    ok, out = cosign.verify(ref, pub, **creds)
    assert ok, out
    assert "TUF" not in out, f"verify went looking for Sigstore's trusted root: {out}"
    ok, out = cosign.verify(ref, other_pub, **creds)
    assert not ok, f"verified with another key: {out}"

    # Where it went: tag sha256-<hex>.sig beside the chart's own tag, one simple-signing layer
    # per signature whose annotation carries the base64 signature.
    sig_tag = digest.replace(":", "-") + ".sig"
    tags = _json(registry, "charts/signed/tags/list")["tags"]
    assert sorted(tags) == sorted(["1.0.0", sig_tag])
    manifest = _json(registry, f"charts/signed/manifests/{sig_tag}", MANIFEST)
    assert manifest["mediaType"] == MANIFEST, manifest
    (layer,) = manifest["layers"]
    assert layer["mediaType"] == SIMPLESIGNING
    assert base64.b64decode(layer["annotations"][SIGNATURE_ANNOTATION])

    # The layer is the simple-signing payload naming the signed manifest.
    payload = json.loads(_get(registry, f"charts/signed/blobs/{layer['digest']}")[1])
    assert payload["critical"]["image"]["docker-manifest-digest"] == digest
    assert payload["critical"]["type"] == "cosign container image signature"
