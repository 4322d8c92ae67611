"""cosign verification of OCI charts and artifacts, for real: charts pushed to the distribution
registry on 127.0.0.1 and signed with the pinned cosign and a key pair the test makes. A good
signature is Ready with SourceVerified; a wrong key, no signature, or a tag moved to another
manifest is Ready=False with no artifact; keyless stalls, as it cannot be done here."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hack.testkit.charts import write_chart
from hack.testkit.cli import helm_package
from hack.testkit.cosign import generate_key_pair, sign
from hack.testkit.oci_registry import OCIRegistry
from hack.testkit.plane import ControlPlane
from tests.sources.conftest import Sources, cond
from tests.sources.specs import chart_spec, source_spec

pytestmark = pytest.mark.sources

USER, PASSWORD = "flux", "s3cr3t-registry"


@dataclass
class Signed:
    registry: OCIRegistry
    key: Path
    pub: Path
    other_pub: Path
    digests: dict[str, str]
    work: Path

    def repo(self, repository: str = "charts") -> str:
        return f"oci://{self.registry.host}/{repository}"


@pytest.fixture(scope="module")
def signed(
    tmp_path_factory: pytest.TempPathFactory, control_plane: ControlPlane
) -> Iterator[Signed]:
    """podinfo 1.0.0 signed, 2.0.0 pushed unsigned; and a second key pair that signed nothing.
    One registry for the module: a test that moves a tag does it in a repository of its own."""
    tmp_path = tmp_path_factory.mktemp("signed")
    registry = OCIRegistry(tmp_path / "registry", USER, PASSWORD)
    registry.start()
    try:
        key, pub = generate_key_pair(tmp_path / "keys")
        _, other_pub = generate_key_pair(tmp_path / "other-keys")
        digests = {}
        for repository in ("charts", "moved"):
            for version in ("1.0.0", "2.0.0"):
                chart = write_chart(tmp_path / "charts" / version, "podinfo", version)
                pkg = helm_package(control_plane.helm, chart, tmp_path / "packages")
                digests[version] = registry.push_chart(
                    control_plane.helm, pkg, repository, tmp_path
                )
            ref = f"{registry.host}/{repository}/podinfo@{digests['1.0.0']}"
            sign(ref, key, username=USER, password=PASSWORD, work_dir=tmp_path)
        yield Signed(registry, key, pub, other_pub, digests, tmp_path)
    finally:
        registry.stop()


async def _setup(sources: Sources, s: Signed, pub: Path, repository: str = "charts") -> None:
    await sources.secret("regcred", {"username": USER, "password": PASSWORD})
    await sources.secret("cosign-keys", {"cosign.pub": pub.read_text()})  # noqa: ASYNC240
    spec = source_spec(s.repo(repository), secret="regcred", type="oci", insecure=True)
    await sources.apply("HelmRepository", "oci", spec)  # static: nothing to wait for


async def _chart(sources: Sources, name: str, version: str, **verify: object) -> None:
    spec = chart_spec(
        "podinfo", "HelmRepository", "oci", version=version, verify={"provider": "cosign", **verify}
    )
    await sources.apply("HelmChart", name, spec)


KEYS = {"secretRef": {"name": "cosign-keys"}}


async def _unverified(sources: Sources, kind: str, name: str) -> dict[str, object]:
    obj = await sources.wait(kind, name, "SourceVerified", "False")
    assert cond(obj, "Ready")["status"] == "False"
    return obj


async def test_a_good_signature_is_ready_and_verified(sources: Sources, signed: Signed) -> None:
    await _setup(sources, signed, signed.pub)
    await _chart(sources, "good", "1.0.0", **KEYS)
    chart = await sources.ready("HelmChart", "good")
    verified = cond(chart, "SourceVerified")
    assert (verified["status"], verified["reason"]) == ("True", "Succeeded")
    assert verified["message"] == "verified signature of version 1.0.0"
    assert chart["status"]["artifact"]["revision"] == "1.0.0"


async def test_a_wrong_key_or_no_signature_leaves_no_artifact(
    sources: Sources, signed: Signed
) -> None:
    await _setup(sources, signed, signed.other_pub)
    await _chart(sources, "wrong-key", "1.0.0", **KEYS)
    failed = await _unverified(sources, "HelmChart", "wrong-key")
    verified = cond(failed, "SourceVerified")
    assert verified["reason"] == "VerificationError"
    assert verified["message"].startswith(
        "failed to verify the signature using provider 'cosign': "
    )
    assert cond(failed, "Ready")["status"] == "False"
    assert "artifact" not in failed["status"]

    await _chart(sources, "unsigned", "2.0.0", **KEYS)
    failed = await _unverified(sources, "HelmChart", "unsigned")
    assert "no cosign signature of " in cond(failed, "SourceVerified")["message"]
    assert "artifact" not in failed["status"]


async def test_a_tag_moved_to_another_manifest_fails(sources: Sources, signed: Signed) -> None:
    """The signed 1.0.0 tag re-pointed at the unsigned 2.0.0 manifest: the chart pulled by the
    tag is not the one signed."""
    signed.registry.retag("moved/podinfo", signed.digests["2.0.0"], "1.0.0")
    await _setup(sources, signed, signed.pub, "moved")
    await _chart(sources, "tampered", "1.0.0", **KEYS)
    failed = await _unverified(sources, "HelmChart", "tampered")
    assert cond(failed, "SourceVerified")["reason"] == "VerificationError"
    assert "artifact" not in failed["status"]


async def test_keyless_cannot_be_verified_here_and_stalls(sources: Sources, signed: Signed) -> None:
    await _setup(sources, signed, signed.pub)
    await _chart(sources, "keyless", "1.0.0")
    failed = await sources.failed("HelmChart", "keyless", "FetchFailed")
    assert cond(failed, "Stalled")["reason"] == "VerificationNotSupported"
    assert "keyless" in cond(failed, "Ready")["message"]
    assert "artifact" not in failed["status"]


async def test_an_ocirepository_is_verified_before_it_is_stored(
    sources: Sources, signed: Signed
) -> None:
    await _setup(sources, signed, signed.pub)
    url = f"{signed.repo()}/podinfo"
    verify = {"provider": "cosign", **KEYS}
    spec = source_spec(url, secret="regcred", insecure=True, ref={"tag": "1.0.0"}, verify=verify)
    await sources.apply("OCIRepository", "signed", spec)
    repo = await sources.ready("OCIRepository", "signed")
    verified = cond(repo, "SourceVerified")
    assert verified["status"] == "True"
    assert verified["message"].startswith("verified signature of revision 1.0.0@sha256:")

    # The same digest again: neither verified nor pulled again, as source-controller does.
    def sig_reads() -> int:
        return sum(1 for m, p, _ in signed.registry.requests() if m == "GET" and ".sig" in p)

    reads = sig_reads()
    assert reads >= 1
    again = await sources.reconciled("OCIRepository", "signed", "again")
    assert sig_reads() == reads
    assert cond(again, "SourceVerified") == verified
    assert again["status"]["artifact"] == repo["status"]["artifact"]

    unsigned = {**spec, "ref": {"tag": "2.0.0"}}
    await sources.apply("OCIRepository", "unsigned", unsigned)
    failed = await _unverified(sources, "OCIRepository", "unsigned")
    assert "artifact" not in failed["status"]
