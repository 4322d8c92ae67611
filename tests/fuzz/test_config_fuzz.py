"""Property-based fuzzing of credentials documents from Secrets: kubeconfigs (spec.kubeConfig)
and dockerconfigjson (OCI registries), and of OCI URL and tag selection. The result is valid
or the module's error (KubeConfigError, OCIError); never another exception."""

from __future__ import annotations

import contextlib
import copy
import json
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from internal.manager.clusters import KubeConfigError, KubeConfigOptions, kube_config_dict
from internal.sources.oci import (
    Credentials,
    OCIError,
    docker_credentials,
    select_chart_tag,
    select_semver_tag,
    split_url,
)
from tests.fuzz.strategies import BOMBS, dump, json_like, yaml_soup

KUBECONFIG: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [{"name": "c", "cluster": {"server": "https://h:6443"}}],
    "users": [{"name": "u", "user": {"token": "s3cr3t-token"}}],
    "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
    "current-context": "x",
}
SPOTS = [
    ("clusters",),
    ("clusters", 0),
    ("clusters", 0, "cluster"),
    ("users",),
    ("users", 0),
    ("users", 0, "user"),
    ("users", 0, "name"),
    ("clusters", 0, "name"),
]


def _poke(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    parent: Any = doc
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    return doc


kubeconfigs = st.one_of(
    st.builds(_poke, st.just(KUBECONFIG), st.sampled_from(SPOTS), json_like),
    st.builds(
        _poke,
        st.just(KUBECONFIG),
        st.sampled_from([("users", 0, "user"), ("clusters", 0, "cluster")]),
        st.dictionaries(
            st.sampled_from(
                [
                    "exec",
                    "auth-provider",
                    "tokenFile",
                    "client-key",
                    "certificate-authority",
                    "insecure-skip-tls-verify",
                    "token",
                ]
            ),
            json_like,
            max_size=3,
        ),
    ),
    json_like,
)


def _check_kubeconfig(text: str, options: KubeConfigOptions) -> None:
    try:
        loaded = kube_config_dict(text, options)
    except KubeConfigError as exc:
        message = str(exc)
        assert "s3cr3t-token" not in message
        return
    assert isinstance(loaded, dict)
    for user in loaded.get("users") or []:
        auth = (user or {}).get("user") or {}
        assert "auth-provider" not in auth
        assert options.allow_exec or "exec" not in auth


@given(kubeconfigs, st.booleans(), st.booleans(), st.booleans())
@example({"clusters": "abc"}, False, False, False)
@example({"clusters": [{"name": "c", "cluster": "s"}]}, False, False, False)
@example({"clusters": [None, ["x"]]}, False, False, False)
@example({"clusters": [{"cluster": {}}], "users": [{"user": ["exec"]}]}, False, False, False)
def test_kubeconfig_documents(doc: Any, flow: bool, allow_exec: bool, insecure: bool) -> None:
    options = KubeConfigOptions(allow_exec=allow_exec, allow_insecure_tls=insecure)
    _check_kubeconfig(dump(doc, flow), options)


@given(yaml_soup)
def test_kubeconfig_text(text: str) -> None:
    _check_kubeconfig(text, KubeConfigOptions())


@pytest.mark.parametrize("bomb", range(len(BOMBS)))
def test_kubeconfig_bombs(bomb: int) -> None:
    with pytest.raises(KubeConfigError):
        kube_config_dict(f"clusters:\n- name: c\n  cluster: {{}}\nx:\n{BOMBS[bomb]}")


def test_malformed_kubeconfig_shapes_name_the_section() -> None:
    with pytest.raises(KubeConfigError, match="'clusters' must be a list of objects"):
        kube_config_dict("clusters: abc\n")
    with pytest.raises(KubeConfigError, match="'cluster' must be an object"):
        kube_config_dict("clusters:\n- name: c\n  cluster: s\n")
    with pytest.raises(KubeConfigError, match="'users' must be a list of objects"):
        kube_config_dict("clusters:\n- name: c\n  cluster: {}\nusers: [1]\n")


auth_entries = st.fixed_dictionaries(
    {},
    optional={
        "auth": st.one_of(
            st.binary(max_size=16).map(lambda b: __import__("base64").b64encode(b).decode()),
            json_like,
        ),
        "username": json_like,
        "password": json_like,
    },
)
docker_configs = st.one_of(
    st.fixed_dictionaries(
        {
            "auths": st.dictionaries(
                st.sampled_from(["h", "https://h/v1/", "h:5000", "o"]),
                st.one_of(auth_entries, json_like),
                max_size=3,
            )
        }
    ),
    json_like,
)


@given(st.one_of(docker_configs.map(lambda d: json.dumps(d).encode()), st.binary(max_size=64)))
@example(b'{"auths": {"h": {"auth": "!!"}}}')
@example(b'{"auths": {"h": {"auth": "/w=="}}}')
def test_docker_config(config: bytes) -> None:
    try:
        creds = docker_credentials(config, "h")
    except OCIError:
        return
    assert creds is None or isinstance(creds, Credentials)


@given(st.text(max_size=30).map(lambda s: "oci://" + s) | st.text(max_size=30))
def test_split_url(url: str) -> None:
    try:
        host, path = split_url(url)
    except OCIError:
        return
    assert host
    assert "@" not in path


versions = st.one_of(
    st.text(alphabet="0123456789.v-+^~*<>=|, xX", max_size=16), st.text(max_size=8)
)


@given(
    st.lists(versions, max_size=6),
    versions,
    st.one_of(st.none(), st.text(alphabet="[](){}*+?.^$|\\a1", max_size=8)),
)
def test_tag_selection(tags: list[str], constraint: str, tag_filter: str | None) -> None:
    with contextlib.suppress(OCIError):
        assert select_chart_tag(tags, constraint) in tags
    with contextlib.suppress(OCIError):
        assert select_semver_tag(tags, constraint, tag_filter) in tags
