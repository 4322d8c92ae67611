"""A stand-in for the shim library behind `Engine(lib=...)`: Helm's release storage kept in
memory, answering the ops the release Manager sends with the shim's wire form, so each action
reconciler can be tested on its own without a cluster (as Flux tests its actions against
Helm's memory driver). Failures are injected per op."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from api.digests import digest
from internal.helm import models as hm

MANIFEST = """---
apiVersion: v1
kind: ConfigMap
metadata:
  name: app
"""


@dataclass
class Failure:
    code: str
    message: str
    store: bool = True
    """The failed release reaches storage (status failed), as a failed wait does."""


@dataclass
class FakeLibrary:
    chart: tuple[str, str] = ("app", "1.0.0")
    releases: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    fail: dict[str, Failure] = field(default_factory=dict)
    tests: list[tuple[str, str]] = field(default_factory=lambda: [("app-test", "Succeeded")])
    calls: list[str] = field(default_factory=list)

    # --- the Library surface -----------------------------------------------------------------

    def call(self, call_id: int, request: bytes) -> bytes:
        envelope = json.loads(request)
        op = envelope["op"]
        self.calls.append(op)
        body = envelope[op]
        handler = getattr(self, f"_op_{op}")
        observations: list[dict[str, Any]] = []
        try:
            result = handler(body, observations)
        except _Fail as exc:
            return _answer(op, None, observations, {"code": exc.code, "message": exc.message})
        failure = self.fail.pop(op, None)
        if failure is not None:
            return _answer(
                op, result, observations, {"code": failure.code, "message": failure.message}
            )
        return _answer(op, result, observations)

    def cancel(self, call_id: int) -> bool:
        return False

    def version(self) -> dict[str, Any]:
        return {"abi": 1, "go": "fake"}

    # --- storage -----------------------------------------------------------------------------

    def versions(self, name: str) -> list[int]:
        return sorted(v for n, v in self.releases if n == name)

    def history(self, name: str) -> list[tuple[int, str]]:
        return [(v, self.releases[(name, v)]["status"]) for v in self.versions(name)]

    def _latest(self, name: str) -> dict[str, Any] | None:
        versions = self.versions(name)
        return self.releases[(name, versions[-1])] if versions else None

    def _write(self, rel: dict[str, Any], operation: str, obs: list[dict[str, Any]]) -> None:
        rel["digest"] = _sha({k: v for k, v in rel.items() if k != "digest"})
        rel["configDigest"] = _sha(rel["config"])
        self.releases[(rel["name"], rel["version"])] = rel
        key = f"sh.helm.release.v1.{rel['name']}.v{rel['version']}"
        obs.append({"operation": operation, "key": key, "digest": rel["digest"], "release": rel})

    def _new(self, body: dict[str, Any], version: int, status: str) -> dict[str, Any]:
        now = datetime(2026, 12, 2, tzinfo=UTC)
        name, chart_version = self.chart
        return hm.Release(
            name=body["releaseName"],
            namespace=body["namespace"],
            version=version,
            status=status,
            description="",
            chart=hm.ChartMeta(name=name, version=chart_version, app_version="1"),
            config=body.get("values") or {},
            manifest=MANIFEST,
            hooks=[],
            first_deployed=now,
            last_deployed=now,
            notes="",
            labels={},
            apply_method="ssa",
            rollback_revision=0,
            digest="",
            config_digest="",
        ).model_dump(by_alias=True, mode="json")

    def _failing(self, op: str) -> bool:
        return op in self.fail and self.fail[op].store

    # --- ops ---------------------------------------------------------------------------------

    def _op_digest(self, body: dict[str, Any], obs: list[dict[str, Any]]) -> dict[str, Any]:
        # Not Flux's encodings (tests/engine/test_digests.py checks those): the same function
        # for a release's config and the desired values is what the reconcilers need here.
        def of(key: str) -> str:
            return "" if body.get(key) is None else _sha(body[key])

        return {
            "values": _sha(body.get("values") or {}),
            "postRenderers": of("postRenderers"),
            "commonMetadata": of("commonMetadata"),
        }

    def _op_get(self, body: dict[str, Any], obs: list[dict[str, Any]]) -> dict[str, Any]:
        name, version = body["releaseName"], body.get("version") or 0
        rel = self._latest(name) if not version else self.releases.get((name, version))
        if rel is None:
            raise _Fail("ReleaseNotFound", f"release: not found: {name}")
        return {"release": rel}

    def _op_markFailed(self, body: dict[str, Any], obs: list[dict[str, Any]]) -> dict[str, Any]:
        rel = self._latest(body["releaseName"])
        if rel is None:
            raise _Fail("ReleaseNotFound", f"release: not found: {body['releaseName']}")
        marked = {**rel, "status": "failed", "description": body["description"]}
        self._write(marked, "update", obs)
        return {"release": marked}

    def _op_install(self, body: dict[str, Any], obs: list[dict[str, Any]]) -> dict[str, Any]:
        latest = self._latest(body["releaseName"])
        if latest is not None and latest["status"] != "uninstalled":
            raise _Fail("ReleaseExists", "cannot re-use a name that is still in use")
        if "install" in self.fail and not self.fail["install"].store:
            return {}
        version = (latest["version"] + 1) if latest else 1
        rel = self._new(body, version, "failed" if self._failing("install") else "deployed")
        self._write(rel, "create", obs)
        return {"release": rel}

    def _op_upgrade(self, body: dict[str, Any], obs: list[dict[str, Any]]) -> dict[str, Any]:
        current = self._latest(body["releaseName"])
        if current is None:
            raise _Fail("ReleaseNotFound", "has no deployed releases")
        if "upgrade" in self.fail and not self.fail["upgrade"].store:
            return {}
        rel = self._new(
            body, current["version"] + 1, "failed" if self._failing("upgrade") else "deployed"
        )
        self._write(rel, "create", obs)
        if current["status"] == "deployed" and rel["status"] == "deployed":
            self._write({**current, "status": "superseded"}, "update", obs)
        return {"release": rel}

    def _op_rollback(self, body: dict[str, Any], obs: list[dict[str, Any]]) -> dict[str, Any]:
        name = body["releaseName"]
        to = self.releases[(name, body["version"])]
        current = self._latest(name)
        assert current is not None
        rel = {**to, "version": current["version"] + 1, "status": "deployed"}
        self._write(rel, "create", obs)
        # As Helm: the current release and every other deployed one become superseded.
        for (n, v), old in list(self.releases.items()):
            if (
                n == name
                and v != rel["version"]
                and (old["status"] == "deployed" or old is current)
            ):
                self._write({**old, "status": "superseded"}, "update", obs)
        return {"release": rel}

    def _op_uninstall(self, body: dict[str, Any], obs: list[dict[str, Any]]) -> dict[str, Any]:
        name = body["releaseName"]
        if not self.versions(name):
            raise _Fail("ReleaseNotFound", f"release: not found: {name}")
        for version in self.versions(name):
            rel = self.releases.pop((name, version))
            obs.append(
                {
                    "operation": "delete",
                    "key": f"sh.helm.release.v1.{name}.v{version}",
                    "digest": rel["digest"],
                    "release": None,
                }
            )
        return {"release": None}

    def _op_test(self, body: dict[str, Any], obs: list[dict[str, Any]]) -> dict[str, Any]:
        rel = self._latest(body["releaseName"])
        tests = [{"name": n, "kind": "Pod", "phase": p} for n, p in self.tests]
        return {"release": rel, "tests": tests}


class _Fail(Exception):
    def __init__(self, code: str, message: str) -> None:
        self.code, self.message = code, message


def _answer(
    op: str,
    result: dict[str, Any] | None,
    observations: list[dict[str, Any]],
    error: dict[str, Any] | None = None,
) -> bytes:
    return json.dumps(
        {
            "ok": error is None,
            "op": op,
            "error": error,
            "result": result,
            "observations": observations,
            "logs": [],
            "durationMs": 1.0,
        }
    ).encode()


def _sha(value: Any) -> str:
    return digest(value)
