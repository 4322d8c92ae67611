"""The --set parser agrees with the helm CLI on the same expressions: differential testing."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from hack.testkit.plane import ControlPlane
from internal.values import strvals

pytestmark = pytest.mark.cluster

EXPRESSIONS = [
    "a=b",
    "a.b.c=d",
    "a=1",
    "a=-7",
    "a=+7",
    "a=007",
    "a=0",
    "a=1.5",
    "a=true",
    "a=FALSE",
    "a=null",
    "a=",
    "a=b,c=d",
    "a={x,y,z}",
    "a={1,true,z}",
    "a={}",
    "a[0]=x",
    "a[2]=x",
    "a[0].b=c",
    "a[0][1]=c",
    "a.b[1].c.d=e",
    r"a\.b=c",
    r"a=b\,c",
    r"a=x\=y",
    "name=with spaces",
    "a.b=1,a.c=2",
    "a[0]=x,a[1]=y",
    "ingress.tls[0].secretName=tls-cert",
    "a=9223372036854775807",
    "a=9223372036854775808",
]
BAD = ["a", "a.b", "a[x]=1", "a[-1]=1", "a={x,y", "a,b=c"]


def _chart(root: Path) -> Path:
    chart = root / "dump"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: dump\nversion: 0.1.0\n")
    (chart / "templates" / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dump\ndata:\n"
        "  values: {{ toJson .Values | quote }}\n"
    )
    return chart


def _helm(plane: ControlPlane, chart: Path, flag: str, expr: str) -> dict[str, object] | None:
    out = subprocess.run(
        [str(plane.helm), "template", "x", str(chart), flag, expr],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        return None
    line = next(ln for ln in out.stdout.splitlines() if ln.strip().startswith("values:"))
    return json.loads(json.loads(line.split(":", 1)[1]))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def chart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _chart(tmp_path_factory.mktemp("strvals"))


@pytest.mark.parametrize("expr", EXPRESSIONS)
@pytest.mark.parametrize("as_strings", [False, True], ids=["set", "set-string"])
def test_same_values_as_helm(
    control_plane: ControlPlane, chart: Path, expr: str, as_strings: bool
) -> None:
    expected = _helm(control_plane, chart, "--set-string" if as_strings else "--set", expr)
    assert expected is not None, f"helm rejected {expr!r}"
    ours: dict[str, object] = {}
    strvals.parse_into(expr, ours, as_strings=as_strings)
    assert ours == expected


@pytest.mark.parametrize("expr", BAD)
def test_same_rejections_as_helm(control_plane: ControlPlane, chart: Path, expr: str) -> None:
    assert _helm(control_plane, chart, "--set", expr) is None, f"helm accepted {expr!r}"
    with pytest.raises(strvals.StrvalsError):
        strvals.parse_into(expr, {})
