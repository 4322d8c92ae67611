"""The pure half of a preview: changes, their order, summary and digest, Secret masking, diffs
and the set of objects an upgrade deletes."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from internal.preview import Change, Plan
from internal.preview.plan import (
    change_of,
    mask_secrets,
    removed,
    without_allocated,
)
from internal.preview.upgrade import api_versions


def cm(name: str, data: dict[str, str], ns: str = "apps", **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns, **meta},
        "data": data,
    }


def secret(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": "apps"},
        "type": "Opaque",
        "data": data,
    }


def change(action: str, kind: str, name: str, ns: str = "apps") -> Change:
    return Change(action, "v1", kind, ns, name, f"{action} {name}\n")  # type: ignore[arg-type]


def test_a_plan_sorts_its_changes_by_kind_namespace_and_name() -> None:
    plan = Plan(
        (
            change("change", "Service", "b"),
            change("add", "ConfigMap", "z"),
            change("remove", "ConfigMap", "a", ns="other"),
            change("add", "ConfigMap", "a"),
        )
    )
    assert [c.ref for c in plan.changes] == [
        "ConfigMap/apps/a",
        "ConfigMap/apps/z",
        "ConfigMap/other/a",
        "Service/apps/b",
    ]
    assert plan.summary == "+2 ~1 -1"
    assert not plan.empty


def test_an_empty_plan() -> None:
    plan = Plan()
    assert plan.summary == "+0 ~0 -0"
    assert plan.empty
    assert plan.as_dict() == {"summary": "+0 ~0 -0", "digest": plan.digest, "changes": []}


def test_the_digest_is_stable_and_independent_of_order() -> None:
    a = [change("add", "ConfigMap", "x"), change("change", "Service", "y")]
    first, second = Plan(tuple(a)), Plan(tuple(reversed(a)))
    assert first.digest == second.digest
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", first.digest)
    assert first.digest == Plan(tuple(a)).digest
    assert Plan((a[0],)).digest != first.digest
    other = Change("add", "v1", "ConfigMap", "apps", "x", "another diff\n")
    assert Plan((other, a[1])).digest != first.digest


def test_no_change_when_only_server_fields_differ() -> None:
    live = cm("c", {"k": "v"}, resourceVersion="7", uid="u", managedFields=[{"manager": "x"}])
    after = cm("c", {"k": "v"}, resourceVersion="8", uid="u")
    assert change_of(live, after) is None


def test_a_changed_object_is_a_unified_diff_of_its_yaml() -> None:
    got = change_of(cm("c", {"k": "old"}, resourceVersion="1"), cm("c", {"k": "new"}))
    assert got is not None
    assert (got.action, got.api_version, got.kind, got.namespace, got.name) == (
        "change",
        "v1",
        "ConfigMap",
        "apps",
        "c",
    )
    assert got.diff.splitlines()[:2] == [
        "--- ConfigMap/apps/c (live)",
        "+++ ConfigMap/apps/c (after upgrade)",
    ]
    assert "-  k: old" in got.diff.splitlines()
    assert "+  k: new" in got.diff.splitlines()
    assert "resourceVersion" not in got.diff


def test_added_and_removed_objects_diff_against_nothing() -> None:
    added = change_of(None, cm("n", {"k": "v"}))
    gone = change_of(cm("o", {"k": "v"}), None)
    assert added is not None
    assert gone is not None
    assert added.action == "add"
    assert added.diff.startswith("--- /dev/null\n+++ ConfigMap/apps/n (after upgrade)\n")
    assert gone.action == "remove"
    assert gone.diff.startswith("--- ConfigMap/apps/o (live)\n+++ /dev/null\n")
    assert all(line.startswith(("+", "@")) for line in added.diff.splitlines()[2:])


def test_a_cluster_scoped_object_has_no_namespace() -> None:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}
    got = change_of(None, ns)
    assert got is not None
    assert (got.namespace, got.ref) == ("", "Namespace/team")


def test_secret_values_are_masked_and_changes_still_show() -> None:
    live = secret("s", {"same": "c2FtZQ==", "changed": "b2xk", "dropped": "eA=="})
    after = secret("s", {"same": "c2FtZQ==", "changed": "bmV3", "added": "eQ=="})
    got = change_of(live, after)
    assert got is not None
    for value in ("c2FtZQ==", "b2xk", "bmV3", "eA==", "eQ==", "same\n", "old", "new"):
        assert value not in got.diff
    lines = got.diff.splitlines()
    assert "-  changed: '*** (before)'" in lines
    assert "+  changed: '*** (after)'" in lines
    assert "   same: '***'" in lines
    assert "-  dropped: '***'" in lines
    assert "+  added: '***'" in lines


def test_two_plans_that_differ_only_in_a_secret_value_have_other_digests() -> None:
    live = secret("s", {"k": "b2xk"})
    one, two = (
        change_of(live, secret("s", {"k": "bmV3"})),
        change_of(live, secret("s", {"k": "dHdv"})),
    )
    assert one is not None
    assert two is not None
    assert one.diff == two.diff  # masked alike
    assert Plan((one,)).digest != Plan((two,)).digest
    assert "sealed" not in Plan((one,)).as_dict()["changes"][0]
    assert one.sealed not in repr(one)


def test_a_secret_whose_data_does_not_change_is_no_change() -> None:
    assert change_of(secret("s", {"k": "dg=="}), secret("s", {"k": "dg=="})) is None


def test_an_added_or_removed_secret_is_masked() -> None:
    for before, after in ((None, secret("s", {"k": "dg=="})), (secret("s", {"k": "dg=="}), None)):
        got = change_of(before, after)
        assert got is not None
        assert "dg==" not in got.diff
        assert "k: '***'" in got.diff


def test_masking_leaves_other_kinds_and_its_inputs_alone() -> None:
    live = secret("s", {"k": "dg=="})
    live["stringData"] = {"p": "plain"}
    original = copy.deepcopy(live)
    before, after = mask_secrets(live, None)
    assert live == original
    assert before is not None
    assert after is None
    assert before["data"] == {"k": "***"}
    assert before["stringData"] == {"p": "***"}
    plain = cm("c", {"k": "v"})
    assert mask_secrets(plain, plain) == (plain, plain)


def test_the_deletion_set_is_helms() -> None:
    old = [
        cm("kept", {}),
        cm("gone", {}),
        cm("policy", {}, annotations={"helm.sh/resource-policy": "keep"}),
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}},
        {"apiVersion": "policy/v1beta1", "kind": "PDB", "metadata": {"name": "p"}},
    ]
    new = [
        cm("kept", {"changed": "yes"}),
        # Another version of the same group and kind is the same object.
        {"apiVersion": "policy/v1", "kind": "PDB", "metadata": {"name": "p"}},
        # Another group is another object.
        {"apiVersion": "extensions/v1", "kind": "Deployment", "metadata": {"name": "d"}},
    ]
    names = [(o["kind"], o["metadata"]["name"]) for o in removed(old, new)]
    assert names == [("ConfigMap", "gone"), ("Deployment", "d")]


def test_an_added_service_leaves_out_the_placeholder_cluster_ip() -> None:
    manifest = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {}}
    created = copy.deepcopy(manifest)
    created["spec"] = {"clusterIP": "10.0.0.0", "clusterIPs": ["10.0.0.0"], "type": "ClusterIP"}
    assert without_allocated(created, manifest)["spec"] == {"type": "ClusterIP"}
    manifest["spec"] = {"clusterIP": "None"}
    assert without_allocated(created, manifest)["spec"]["clusterIP"] == "10.0.0.0"


@pytest.mark.parametrize(
    ("listings", "want"),
    [
        (
            [
                {
                    "kind": "APIGroupDiscoveryList",
                    "items": [
                        {
                            "metadata": {},
                            "versions": [
                                {"version": "v1", "resources": [{"responseKind": {"kind": "Pod"}}]}
                            ],
                        }
                    ],
                },
                {
                    "kind": "APIGroupDiscoveryList",
                    "items": [
                        {
                            "metadata": {"name": "apps"},
                            "versions": [
                                {
                                    "version": "v1",
                                    "resources": [
                                        {
                                            "responseKind": {"kind": "Deployment"},
                                            "subresources": [{"responseKind": {"kind": "Scale"}}],
                                        }
                                    ],
                                }
                            ],
                        }
                    ],
                },
            ],
            ["apps/v1", "apps/v1/Deployment", "apps/v1/Scale", "v1", "v1/Pod"],
        ),
        (
            [
                {"kind": "APIVersions", "versions": ["v1"]},
                {"kind": "APIGroupList", "groups": [{"versions": [{"groupVersion": "apps/v1"}]}]},
            ],
            ["apps/v1", "v1"],
        ),
    ],
)
def test_api_versions_from_discovery(listings: list[dict[str, Any]], want: list[str]) -> None:
    assert api_versions(listings) == want
