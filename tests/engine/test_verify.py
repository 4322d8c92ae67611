"""The verify op against the distribution registry: cosign key-based signatures of charts, laid
out as cosign lays them (a `sha256-<hex>.sig` manifest of simple-signing layers) but made here
with the `cryptography` package and pushed through the registry's HTTP API, so no cosign binary
is needed. A good signature verifies; a stranger's key, a missing signature and a signature
moved onto another chart each fail, typed."""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from hack.testkit.charts import write_chart
from hack.testkit.cli import helm_package
from hack.testkit.oci_registry import OCIRegistry
from hack.testkit.plane import ControlPlane
from internal.helm import (
    DigestMismatchError,
    Engine,
    InvalidRequestError,
    InvalidSignatureError,
    NoSignatureError,
    RegistryAuthError,
    SignatureError,
)
from internal.helm.models import VerifyRequest

pytestmark = pytest.mark.engine

USER, PASSWORD = "cosign", "s3cr3t-verify"
REPOSITORY = "charts/podinfo"
LAYER_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"


class Key:
    """An ECDSA P-256 key, cosign's default, and its cosign.pub."""

    def __init__(self) -> None:
        self._private = ec.generate_private_key(ec.SECP256R1())
        self.pem = (
            self._private.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def sign(self, payload: bytes) -> str:
        """The base64 DER ECDSA-SHA256 signature over the payload's bytes, as cosign makes it."""
        return base64.b64encode(self._private.sign(payload, ec.ECDSA(hashes.SHA256()))).decode()


class RegistryAPI:
    """Just enough of the OCI distribution API to push blobs and manifests, with basic auth."""

    def __init__(self, registry: OCIRegistry) -> None:
        self.base = f"http://{registry.host}/v2/{REPOSITORY}"
        token = base64.b64encode(f"{registry.username}:{registry.password}".encode()).decode()
        self._auth = f"Basic {token}"

    def _send(
        self, method: str, url: str, body: bytes = b"", content_type: str = ""
    ) -> tuple[int, dict[str, str], bytes]:
        req = urllib.request.Request(url, data=body or None, method=method)
        req.add_header("Authorization", self._auth)
        if content_type:
            req.add_header("Content-Type", content_type)
        if method in ("GET", "HEAD"):
            req.add_header("Accept", OCI_MANIFEST)
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()

    def push_blob(self, data: bytes) -> dict[str, object]:
        """Upload a blob (a monolithic POST then PUT); its descriptor without media type."""
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        _, headers, _ = self._send("POST", f"{self.base}/blobs/uploads/")
        location = urllib.parse.urljoin(self.base, headers["Location"])
        sep = "&" if "?" in location else "?"
        status, _, _ = self._send(
            "PUT",
            f"{location}{sep}digest={urllib.parse.quote(digest)}",
            data,
            "application/octet-stream",
        )
        assert status == 201, status
        return {"digest": digest, "size": len(data)}

    def put_manifest(self, reference: str, manifest: bytes) -> str:
        status, headers, _ = self._send(
            "PUT", f"{self.base}/manifests/{reference}", manifest, OCI_MANIFEST
        )
        assert status == 201, status
        return headers["Docker-Content-Digest"]

    def get_manifest(self, reference: str) -> bytes:
        return self._send("GET", f"{self.base}/manifests/{reference}")[2]


def claim(registry: OCIRegistry, digest: str) -> bytes:
    """cosign's simple-signing payload for the manifest digest."""
    doc = {
        "critical": {
            "identity": {"docker-reference": f"{registry.host}/{REPOSITORY}"},
            "image": {"docker-manifest-digest": digest},
            "type": "cosign container image signature",
        },
        "optional": None,
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def signature_tag(digest: str) -> str:
    return digest.replace(":", "-", 1) + ".sig"


def push_signatures(api: RegistryAPI, payload: bytes, keys: list[Key], tag: str) -> bytes:
    """Push a .sig manifest with one simple-signing layer per key, each over `payload`; returns
    the manifest's bytes."""
    config = api.push_blob(b'{"architecture":"","os":"","config":{},"rootfs":{"type":"layers"}}')
    layer = api.push_blob(payload)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, **config},
        "layers": [
            {
                "mediaType": LAYER_TYPE,
                **layer,
                "annotations": {SIGNATURE_ANNOTATION: k.sign(payload)},
            }
            for k in keys
        ],
    }
    raw = json.dumps(manifest).encode()
    api.put_manifest(tag, raw)
    return raw


@dataclass
class Signed:
    registry: OCIRegistry
    digests: dict[str, str]
    """chart version → manifest digest"""
    signer: Key
    earlier: Key
    """A key whose signature of 1.0.0 comes first in its .sig manifest."""
    stranger: Key

    @property
    def ref(self) -> str:
        return f"oci://{self.registry.host}/{REPOSITORY}"

    def request(self, version: str, *keys: Key, **extra: object) -> VerifyRequest:
        access: dict[str, object] = {"username": USER, "password": PASSWORD, "plain_http": True}
        return VerifyRequest(
            ref=self.ref,
            digest=self.digests[version],
            public_keys=[k.pem for k in keys],
            **{**access, **extra},
        )


@pytest.fixture(scope="module")
def signed(
    tmp_path_factory: pytest.TempPathFactory, control_plane: ControlPlane
) -> Iterator[Signed]:
    """Three chart versions: 1.0.0 signed (by `earlier`, then by `signer`), 1.1.0 whose .sig tag
    was re-pointed at 1.0.0's signature, 1.2.0 unsigned."""
    tmp = tmp_path_factory.mktemp("verify")
    registry = OCIRegistry(tmp / "registry", USER, PASSWORD)
    registry.start()
    try:
        digests: dict[str, str] = {}
        for v in ("1.0.0", "1.1.0", "1.2.0"):
            d = write_chart(tmp / "charts" / v, "podinfo", v)
            pkg = helm_package(control_plane.helm, d, tmp / "packages")
            digests[v] = registry.push_chart(control_plane.helm, pkg, "charts", tmp / "helm")
        api = RegistryAPI(registry)
        signer, earlier, stranger = Key(), Key(), Key()
        good = push_signatures(
            api,
            claim(registry, digests["1.0.0"]),
            [earlier, signer],
            signature_tag(digests["1.0.0"]),
        )
        # The tampered tag: 1.1.0's signature tag names 1.0.0's signature manifest.
        api.put_manifest(signature_tag(digests["1.1.0"]), good)
        assert api.get_manifest(signature_tag(digests["1.1.0"])) == good
        yield Signed(registry, digests, signer, earlier, stranger)
    finally:
        registry.stop()


async def test_verify_a_good_signature(engine: Engine, signed: Signed) -> None:
    res = await engine.verify(signed.request("1.0.0", signed.stranger, signed.signer))
    assert res.verified
    assert (res.key, res.signatures) == (1, 2)
    res = await engine.verify(signed.request("1.0.0", signed.earlier))
    assert (res.verified, res.key, res.signatures) == (True, 0, 1)


async def test_verify_refuses_a_strangers_key(engine: Engine, signed: Signed) -> None:
    with pytest.raises(InvalidSignatureError, match="verifies with none of the 1 keys") as exc:
        await engine.verify(signed.request("1.0.0", signed.stranger))
    assert signed.digests["1.0.0"] in exc.value.message
    assert exc.value.code == "InvalidSignature"
    assert isinstance(exc.value, SignatureError)


async def test_verify_refuses_an_unsigned_chart(engine: Engine, signed: Signed) -> None:
    with pytest.raises(NoSignatureError) as exc:
        await engine.verify(signed.request("1.2.0", signed.signer))
    assert f"{signed.ref}@{signed.digests['1.2.0']}" in exc.value.message
    assert signature_tag(signed.digests["1.2.0"]) in exc.value.message


async def test_verify_refuses_a_signature_moved_from_another_chart(
    engine: Engine, signed: Signed
) -> None:
    with pytest.raises(DigestMismatchError) as exc:
        await engine.verify(signed.request("1.1.0", signed.signer))
    assert f'signs "{signed.digests["1.0.0"]}", not {signed.digests["1.1.0"]}' in exc.value.message
    assert exc.value.field == "verify.digest"


async def test_verify_bad_requests_and_credentials(engine: Engine, signed: Signed) -> None:
    with pytest.raises(InvalidRequestError) as exc:
        await engine.verify(
            VerifyRequest(
                ref=signed.ref,
                digest=signed.digests["1.0.0"],
                public_keys=[
                    signed.signer.pem,
                    "-----BEGIN PUBLIC KEY-----\nAA==\n-----END PUBLIC KEY-----\n",
                ],
            )
        )
    assert exc.value.field == "verify.publicKeys[1]"
    with pytest.raises(InvalidRequestError) as exc:
        await engine.verify(
            VerifyRequest(ref=signed.ref, digest="", public_keys=[signed.signer.pem])
        )
    assert exc.value.field == "verify.digest"
    with pytest.raises(RegistryAuthError):
        await engine.verify(signed.request("1.0.0", signed.signer, password="wrong"))


def test_the_signing_helper_makes_what_cryptography_verifies() -> None:
    key = Key()
    payload = b'{"critical":{}}'
    public = serialization.load_pem_public_key(key.pem.encode())
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(base64.b64decode(key.sign(payload)), payload, ec.ECDSA(hashes.SHA256()))
