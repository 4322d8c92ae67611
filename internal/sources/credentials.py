"""Credentials in the data of a Secret a source names, under the keys source-controller reads:
`username` and `password`, TLS material, and the older TLS keys of a HelmRepository's
secretRef."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

TLS_KEYS = ("tls.crt", "tls.key", "ca.crt")
LEGACY_TLS_KEYS = ("certFile", "keyFile", "caFile")
"""Deprecated, still honoured in a HelmRepository's secretRef."""


@dataclass(frozen=True)
class TLSMaterial:
    """PEM-encoded TLS material from a Secret: a client certificate and key, and/or a CA."""

    cert: bytes | None = None
    key: bytes | None = None
    ca: bytes | None = None

    def __bool__(self) -> bool:
        return bool(self.cert or self.key or self.ca)


def tls_material(data: Mapping[str, bytes], keys: tuple[str, str, str] = TLS_KEYS) -> TLSMaterial:
    cert, key, ca = keys
    return TLSMaterial(data.get(cert), data.get(key), data.get(ca))


def text(data: Mapping[str, bytes], key: str) -> str | None:
    return data[key].decode() if key in data else None


def basic_auth(data: Mapping[str, bytes]) -> tuple[str, str] | None:
    """`username` and `password`, when the Secret holds both and neither is empty."""
    username, password = data.get("username"), data.get("password")
    if not (username and password):
        return None
    return username.decode(), password.decode()
