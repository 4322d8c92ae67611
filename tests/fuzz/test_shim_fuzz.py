"""The shim's native Go fuzz targets (internal/helm/shim/wire/decode_fuzz_test.go) over the
request decoder, with a fixed budget each: a crasher fails the test with Go's report.

The decoder lives in package wire, which imports only the standard library, so the
instrumented build is cheap (about 20 s with a cold Go cache) and runs in `make test`. The
binary is built once for both targets; each then fuzzes for HELMWARD_GO_FUZZTIME (10s)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

WIRE = Path(__file__).resolve().parents[2] / "internal" / "helm" / "shim" / "wire"
TARGETS = ["FuzzDecodeRequest", "FuzzDecodeOptions"]
FUZZTIME = os.environ.get("HELMWARD_GO_FUZZTIME", "10s")

pytestmark = pytest.mark.skipif(shutil.which("go") is None, reason="no Go toolchain")


@pytest.fixture(scope="module")
def fuzz_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("shim-fuzz") / "shim.test"
    build = subprocess.run(
        ["go", "test", "-c", "-fuzz=.", "-o", str(out), "."],
        cwd=WIRE,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr[-4000:]
    return out


def test_every_target_is_listed() -> None:
    source = (WIRE / "decode_fuzz_test.go").read_text()
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
