"""The Python binding: finding the library, the ABI, threads without the GIL, cancellation
that races the call's start, and the digest of an observed release."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from hack.testkit import charts
from hack.testkit.paths import REPO_ROOT
from internal.helm import ActionCancelledError, Engine, ShimUnavailableError, library
from internal.helm.models import (
    ClusterTarget,
    DiagnoseRequest,
    DigestRequest,
    InstallRequest,
    Response,
)

pytestmark = pytest.mark.engine


def test_the_binding_computes_the_path_the_build_script_builds_to() -> None:
    script = REPO_ROOT / "hack" / "lib" / "build-shim.sh"
    printed = subprocess.run(
        ["bash", str(script), "--print-path"], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert library.built_path() == Path(printed)


def test_a_missing_library_says_how_to_build_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(library.SHIM_PATH_ENV, raising=False)
    monkeypatch.setenv("HELMWARD_CACHE", str(tmp_path))
    with pytest.raises(ShimUnavailableError, match="make shim"):
        library.library_path()
    monkeypatch.setenv(library.SHIM_PATH_ENV, str(tmp_path / "libhelmward.so"))
    with pytest.raises(ShimUnavailableError, match="make shim"):
        library.library_path()
    monkeypatch.setenv(library.SHIM_PATH_ENV, "relative/libhelmward.so")
    with pytest.raises(ShimUnavailableError, match="absolute"):
        library.library_path()


def test_version_reports_the_pinned_sdks(engine: Engine) -> None:
    info = engine.version()
    assert info.abi == library.ABI_VERSION
    shim_pin = re.search(r"helm\.sh/helm/v4 (v\S+)", (library.SHIM_DIR / "go.mod").read_text())
    tools_pin = re.search(
        r"helm\.sh/helm/v4 (v\S+)", (REPO_ROOT / "hack" / "tools" / "helm" / "go.mod").read_text()
    )
    assert shim_pin is not None
    assert tools_pin is not None
    assert info.helm == shim_pin.group(1) == tools_pin.group(1)
    assert info.kustomize_api is not None
    assert info.kustomize_api.startswith("v0.21.")
    assert info.field_manager == "helm-controller"


async def test_calls_run_in_parallel_off_the_event_loop(engine: Engine) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    tick = asyncio.create_task(ticker())
    started = time.monotonic()
    results = await asyncio.gather(
        *(engine.diagnose(DiagnoseRequest(sleep=timedelta(seconds=1))) for _ in range(8))
    )
    elapsed = time.monotonic() - started
    tick.cancel()
    assert all(r.slept_ms >= 1000 for r in results)
    assert elapsed < 3, f"8 one-second calls took {elapsed:.1f}s: they did not run in parallel"
    assert ticks > 20, "the event loop kept running while the calls blocked their threads"


async def test_cancel_event_and_a_cancel_that_races_the_start(
    engine: Engine, shim: library.Library
) -> None:
    cancel = asyncio.Event()
    asyncio.get_running_loop().call_later(0.3, cancel.set)
    with pytest.raises(ActionCancelledError) as err:
        await engine.diagnose(DiagnoseRequest(sleep=timedelta(seconds=60)), cancel=cancel)
    assert err.value.result.slept_ms < 5000

    # A cancel that arrives before the call starts is not lost: the call starts cancelled.
    call_id = 2**63 + 12345
    assert shim.cancel(call_id) is False
    request = json.dumps({"op": "diagnose", "diagnose": {"sleep": "60s"}}).encode()
    holder: list[bytes] = []
    thread = threading.Thread(target=lambda: holder.append(shim.call(call_id, request)))
    started = time.monotonic()
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert time.monotonic() - started < 5
    resp = Response.model_validate_json(holder[0])
    assert resp.error is not None
    assert resp.error.code == "Cancelled"


async def test_an_observation_carries_the_digests_of_the_release_it_wrote(
    engine: Engine, target: ClusterTarget, namespace: str, chart_root: Path
) -> None:
    chart = charts.make_chart(chart_root, templates={"configmap.yaml": charts.CONFIGMAP})
    values = {"message": "héllo <&>"}
    request = {
        "op": "install",
        "cluster": target.wire(),
        "install": InstallRequest(
            release_name="dig", namespace=namespace, chart=chart, values=values
        ).wire(),
    }
    raw = json.loads(await engine.call_raw(json.dumps(request).encode()))
    assert raw["ok"], raw["error"]
    config = (await engine.digest(DigestRequest(values=values))).values
    assert [obs["operation"] for obs in raw["observations"]] == ["create", "update"]
    for obs in raw["observations"]:
        assert obs["release"]["digest"] == obs["digest"]
        assert obs["release"]["configDigest"] == config
    assert raw["observations"][0]["digest"] != raw["observations"][1]["digest"]
