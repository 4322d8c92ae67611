"""References in values: parsing, where they are, pointers, substitution, masking, the
resolver's batching and cache, and the redactor. Pure; the backends' own tests use the stores."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pytest

from internal.values.backends.base import BackendError, Credentials
from internal.values.redact import Redactor
from internal.values.refs import Ref, RefError, collect, masked, parse, pointed, position_text
from internal.values.resolve import RefCache, Resolver


def test_parse_keeps_path_query_and_pointer() -> None:
    ref = parse("ref+awssecrets://prod/db?version_stage=AWSPREVIOUS#/password")
    assert (ref.backend, ref.path, ref.query, ref.pointer) == (
        "awssecrets",
        "prod/db",
        (("version_stage", "AWSPREVIOUS"),),
        "/password",
    )
    assert ref.option("version_stage") == "AWSPREVIOUS"
    assert parse("ref+awsssm:///app/db").path == "/app/db"
    assert parse("ref+k8s://creds/token").secret == parse("ref+k8s://creds/token#/a").secret


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ref+awssecrets:/x", "expected ref+<backend>://<path>"),
        ("ref+vault://x", "unknown backend 'vault'"),
        ("ref+awssecrets://", "no path"),
        ("ref+awssecrets://x#password", "the fragment must be a JSON pointer"),
    ],
)
def test_malformed_references_are_named(text: str, message: str) -> None:
    with pytest.raises(RefError, match=re.escape(message)):
        parse(text)


def test_collect_names_the_position_of_a_malformed_reference() -> None:
    values = {"db": {"hosts": [{"password": "ref+awssecrets:prod"}]}, "plain": "ref-ish"}
    with pytest.raises(RefError) as exc:
        collect(values)
    assert str(exc.value).startswith("values.db.hosts[0].password: malformed reference")
    assert position_text(("a", 0, "b")) == "a[0].b"


def test_strings_that_are_not_references_stay_as_they_are() -> None:
    values = {"a": "reference", "b": ["x", 1, None], "c": "ref:awssecrets://x"}
    assert collect(values) == {}


def test_pointer_into_a_json_secret() -> None:
    ref = parse("ref+awssecrets://db#/users/0/name")
    assert pointed(ref, '{"users": [{"name": "admin"}]}', ("u",)) == "admin"
    with pytest.raises(RefError, match="the secret has no /users/0/name"):
        pointed(ref, '{"users": []}', ("u",))
    with pytest.raises(RefError, match="not JSON"):
        pointed(ref, "plain", ("u",))


def test_masked_shows_every_reference_as_itself() -> None:
    values = {"db": {"password": "ref+awssecrets://prod/db#/password", "user": "app"}}
    assert masked(values) == {
        "db": {"password": "<ref+awssecrets://prod/db#/password>", "user": "app"}
    }


class Store:
    """A backend of the resolver's protocol over a dict, counting its calls."""

    name = "awssecrets"

    def __init__(self, secrets: dict[str, str], denied: frozenset[str] = frozenset()) -> None:
        self.secrets = secrets
        self.denied = denied
        self.calls: list[list[str]] = []

    async def get(self, refs: Sequence[Ref]) -> dict[Ref, str]:
        self.calls.append([r.path for r in refs])
        for ref in refs:
            if ref.path in self.denied:
                raise BackendError(ref, "AccessDenied", f"AccessDenied reading {ref.path!r}")
        return {r: self.secrets[r.path] for r in refs}

    async def set(self, ref: Ref, value: str) -> None:
        self.secrets[ref.path] = value

    async def close(self) -> None:
        return None


async def test_one_call_per_backend_and_the_cache_until_its_ttl() -> None:
    now = [0.0]
    store = Store({"db": '{"user": "u", "password": "MARK-p4ss"}', "api": "MARK-k3y"})
    resolver = Resolver(RefCache(ttl=60, clock=lambda: now[0]))
    values = {
        "user": "ref+awssecrets://db#/user",
        "password": "ref+awssecrets://db#/password",
        "key": "ref+awssecrets://api",
        "plain": 3,
    }

    async def opener(name: str) -> Store:
        return store

    got = await resolver.resolve(values, Credentials({"AWS_ACCESS_KEY_ID": "a"}), opener)
    assert got.values == {"user": "u", "password": "MARK-p4ss", "key": "MARK-k3y", "plain": 3}
    assert sorted(got.secrets) == ["MARK-k3y", "MARK-p4ss", "u"]
    assert store.calls == [["db", "api"]]
    await resolver.resolve(values, Credentials({"AWS_ACCESS_KEY_ID": "a"}), opener)
    assert len(store.calls) == 1  # cached
    await resolver.resolve(values, Credentials({"AWS_ACCESS_KEY_ID": "other"}), opener)
    assert len(store.calls) == 2  # another tenant's credentials never share a fetch
    now[0] = 61
    store.secrets["api"] = "MARK-r0tated"
    again = await resolver.resolve(values, Credentials({"AWS_ACCESS_KEY_ID": "a"}), opener)
    assert again.values["key"] == "MARK-r0tated"
    assert resolver.calls == {"awssecrets": 3}


async def test_a_refusal_names_the_secret_and_never_a_value() -> None:
    store = Store({"ok": "MARK-ok-value", "no": "MARK-denied"}, denied=frozenset({"no"}))
    resolver = Resolver(RefCache(ttl=60))

    async def opener(name: str) -> Store:
        return store

    values = {"a": "ref+awssecrets://ok", "b": "ref+awssecrets://no"}
    with pytest.raises(BackendError) as exc:
        await resolver.resolve(values, Credentials(), opener)
    assert exc.value.code == "AccessDenied"
    assert "'no'" in str(exc.value)
    assert "MARK" not in str(exc.value)


def test_the_redactor_masks_values_and_their_base64() -> None:
    redactor = Redactor()
    redactor.remember("apps/web", ["MARK-s3cret", {"n": 1}, "no"])
    text = "cannot patch: data: MARK-s3cret, b64 TUFSSy1zM2NyZXQ=, short no"
    assert redactor.scrub(text) == "cannot patch: data: [redacted], b64 [redacted], short no"
    redactor.remember("apps/web", ["MARK-n3w"])
    assert redactor.scrub("MARK-s3cret MARK-n3w") == "MARK-s3cret [redacted]"
    redactor.forget("apps/web")
    assert redactor.scrub("MARK-n3w") == "MARK-n3w"
