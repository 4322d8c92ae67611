"""Kubernetes Secrets of the release's namespace: `ref+k8s://<secret-name>/<key>`.

Only the release's own namespace is reachable, so a reference cannot read another tenant's
Secret. A reconcile costs one GET per distinct Secret, whatever the number of its keys asked
(at most eight in flight). `set` merges the key into the Secret, creating the Secret when it
is absent.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from typing import Any

from internal.kube.client import ApiClient, ApiException
from internal.kube.rest import MERGE_PATCH, get_optional, request
from internal.values.backends.base import BackendError
from internal.values.backends.common import (
    ACCESS_DENIED,
    INVALID_VALUE,
    NOT_FOUND,
    bounded,
    by_secret,
    failure,
    first_failure,
    whole_secret,
    write_failure,
)
from internal.values.refs import Ref

NAME = "k8s"

Secret = tuple[str, str, tuple[tuple[str, str], ...]]

# What Kubernetes allows: so a reference cannot make the request's path leave the Secret.
_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_KEY = re.compile(r"[-._a-zA-Z0-9]+")


def _api_code(exc: ApiException) -> str:
    return {403: ACCESS_DENIED, 404: NOT_FOUND, 401: "Unauthorized"}.get(
        int(exc.status or 0), f"HTTP{exc.status}"
    )


def _decoded(ref: Ref, what: str, data: str) -> str:
    try:
        return base64.b64decode(data, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise failure(ref, INVALID_VALUE, what, "the key's data is not UTF-8 text") from None


class KubeSecrets:
    name = NAME

    def __init__(self, api: ApiClient, namespace: str) -> None:
        self.api = api
        self.namespace = namespace

    def _where(self, ref: Ref) -> tuple[str, str, str]:
        """(secret name, key, how a person names it); BackendError for a path without a key."""
        secret, _, key = ref.path.strip("/").partition("/")
        what = f"Secret {self.namespace}/{secret}"
        if not _NAME.fullmatch(secret) or not _KEY.fullmatch(key):
            raise failure(ref, "InvalidReference", what, "expected ref+k8s://<secret>/<key>")
        return secret, key, what

    def _path(self, secret: str = "") -> str:
        base = f"/api/v1/namespaces/{self.namespace}/secrets"
        return f"{base}/{secret}" if secret else base

    async def get(self, refs: Sequence[Ref]) -> dict[Ref, str]:
        values: dict[Secret, str] = {}
        errors: dict[Secret, BackendError] = {}
        wanted: dict[Secret, tuple[Ref, str, str, str]] = {}
        for ref in by_secret(refs).values():
            try:
                wanted[ref.secret] = (ref, *self._where(ref))
            except BackendError as exc:
                errors[ref.secret] = exc
        names = list(dict.fromkeys(secret for _, secret, _, _ in wanted.values()))
        objects = dict(zip(names, await bounded(names, self._read), strict=True))
        for ref, secret, key, what in wanted.values():
            obj = objects[secret]
            if isinstance(obj, tuple):
                errors[ref.secret] = failure(ref, obj[0], what, obj[1])
            elif obj is None:
                errors[ref.secret] = failure(ref, NOT_FOUND, what, "no such Secret")
            elif key not in (obj.get("data") or {}):
                errors[ref.secret] = failure(ref, NOT_FOUND, what, f"the Secret has no key {key!r}")
            else:
                try:
                    values[ref.secret] = _decoded(ref, what, obj["data"][key])
                except BackendError as exc:
                    errors[ref.secret] = exc
        return first_failure(refs, values, errors)

    async def _read(self, secret: str) -> dict[str, Any] | tuple[str, str] | None:
        """The Secret; None when absent; (code, the server's message) when refused."""
        try:
            return await get_optional(self.api, self._path(secret))
        except ApiException as exc:
            return _api_code(exc), str(exc.reason or "")

    async def set(self, ref: Ref, value: str) -> None:
        secret, key, what = self._where(ref)
        whole_secret(ref, what)
        data = {key: base64.b64encode(value.encode()).decode()}
        try:
            try:
                await request(
                    self.api,
                    "PATCH",
                    self._path(secret),
                    body={"data": data},
                    content_type=MERGE_PATCH,
                )
            except ApiException as exc:
                if exc.status != 404:
                    raise
                body = {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": secret, "namespace": self.namespace},
                    "type": "Opaque",
                    "data": data,
                }
                await request(self.api, "POST", self._path(), body=body)
        except ApiException as exc:
            raise write_failure(ref, _api_code(exc), what, str(exc.reason or "")) from None

    async def close(self) -> None:
        """The client is the caller's: nothing to close."""
