"""The shim's native Go fuzz targets (internal/helm/shim/decode_fuzz_test.go) over the request
decoder, with a fixed budget each: a crasher fails the test with Go's report.

Slow, so not in `make test`: the fuzz build instruments every package the shim links (the
Helm SDK and client-go among them), which takes tens of minutes with a cold Go cache. Warm,
the instrumented test binary links in about 30 s and is built once for both targets; each
then fuzzes for HELMWARD_GO_FUZZTIME (10s)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SHIM = Path(__file__).resolve().parents[2] / "internal" / "helm" / "shim"
TARGETS = ["FuzzDecodeRequest", "FuzzDecodeOptions"]
FUZZTIME = os.environ.get("HELMWARD_GO_FUZZTIME", "10s")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("go") is None, reason="no Go toolchain"),
]


@pytest.fixture(scope="module")
def fuzz_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("shim-fuzz") / "shim.test"
    build = subprocess.run(
        ["go", "test", "-c", "-fuzz=.", "-o", str(out), "."],
        cwd=SHIM,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert build.returncode == 0, build.stderr[-4000:]
    return out


def test_every_target_is_listed() -> None:
    source = (SHIM / "decode_fuzz_test.go").read_text()
    declared = sorted(
        line.split("(")[0].removeprefix("func ")
        for line in source.splitlines()
        if line.startswith("func Fuzz")
    )
    assert declared == sorted(TARGETS)


@pytest.mark.parametrize("target", TARGETS)
def test_go_fuzz_target_finds_no_crasher(fuzz_binary: Path, target: str, tmp_path: Path) -> None:
    # Run outside the source tree: a crasher is written to testdata/fuzz/ under the working
    # directory, and the report below names it.
    result = subprocess.run(
        [
            str(fuzz_binary),
            "-test.run=^$",
            f"-test.fuzz=^{target}$",
            f"-test.fuzztime={FUZZTIME}",
            f"-test.fuzzcachedir={tmp_path / 'cache'}",
            "-test.parallel=2",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    crashers = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.glob("testdata/fuzz/*/*"))
    assert result.returncode == 0, (result.stdout + result.stderr)[
        -6000:
    ] + f"\ncrashers: {crashers}"
    assert not crashers
    assert "PASS" in result.stdout
