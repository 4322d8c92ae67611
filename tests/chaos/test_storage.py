"""The chaos harness's reading of Helm storage: records decode or are named corrupt, holes in the
revisions, and two pending revisions at once."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

import pytest

from hack.chaos import storage as st


def _secret(name: str, version: int, status: str, *, labels: dict[str, str] | None = None) -> Any:
    rel = {
        "name": name,
        "version": version,
        "info": {"status": status},
        "chart": {"metadata": {"version": "1.0.0"}},
        "config": {"message": "hi"},
    }
    inner = base64.b64encode(gzip.compress(json.dumps(rel).encode()))
    return {
        "metadata": {
            "name": f"sh.helm.release.v1.{name}.v{version}",
            "labels": labels or {"name": name, "version": str(version), "owner": "helm"},
        },
        "data": {"release": base64.b64encode(inner).decode()},
    }


def test_a_record_decodes() -> None:
    assert st.decode(_secret("a", 3, "deployed")) == st.Record(
        "a", 3, "deployed", "1.0.0", {"message": "hi"}
    )


def test_a_truncated_record_is_corrupt() -> None:
    secret = _secret("a", 1, "deployed")
    secret["data"]["release"] = secret["data"]["release"][:40]
    with pytest.raises(st.CorruptRecord, match=r"^sh\.helm\.release\.v1\.a\.v1: "):
        st.decode(secret)


def test_labels_that_disagree_are_corrupt() -> None:
    with pytest.raises(st.CorruptRecord, match="disagree"):
        st.decode(_secret("a", 2, "deployed", labels={"name": "a", "version": "3"}))


def test_holes_inside_the_kept_revisions() -> None:
    records = [st.decode(_secret("a", v, "superseded")) for v in (4, 5, 7)]
    assert st.holes(records) == [6]
    assert st.holes(records[:2]) == []


def test_two_pending_revisions_at_once_are_an_overlap() -> None:
    overlaps = st.Overlaps()
    one = st.by_release([st.decode(_secret("a", 1, "deployed"))])
    two = st.by_release(
        [
            st.decode(_secret("a", 2, "pending-upgrade")),
            st.decode(_secret("a", 3, "pending-upgrade")),
        ]
    )
    overlaps.observe(one, 1.0)
    assert overlaps.found is None
    overlaps.observe(two, 2.0)
    assert overlaps.found == ["a at 2.0s: [(2, 'pending-upgrade'), (3, 'pending-upgrade')]"]
