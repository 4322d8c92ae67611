"""Credentials in the data of a Secret a source names, under the keys source-controller reads:
`username` and `password`, TLS material, the older TLS keys of a HelmRepository's secretRef,
and a proxy (`address`, `username`, `password`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit, urlunsplit

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


class ProxySecretError(ValueError):
    """A proxySecretRef Secret that does not name a usable proxy."""


@dataclass(frozen=True)
class Proxy:
    """A proxy from a Secret's `address`, `username` and `password` (source-controller's
    proxySecretRef keys). `repr` leaves the password out."""

    address: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def url(self) -> str:
        """The address with the credentials in it, as HTTP clients take a proxy."""
        if not self.username:
            return self.address
        parts = urlsplit(self.address)
        userinfo = quote(self.username, safe="")
        if self.password:
            userinfo += ":" + quote(self.password, safe="")
        return urlunsplit(parts._replace(netloc=f"{userinfo}@{parts.netloc}"))


def proxy(data: Mapping[str, bytes]) -> Proxy:
    """The proxy a proxySecretRef Secret names: `address` is required; `username` and
    `password`, when given, replace credentials in the address."""
    if "address" not in data:
        raise ProxySecretError("key 'address' not found")
    address = data["address"].decode().strip()
    if not address:
        raise ProxySecretError("proxy address is empty")
    parts = urlsplit(address)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        # socks5, which Flux also takes, has no client here: refused, not ignored.
        raise ProxySecretError(
            "proxy URL must use one of the supported schemes (http, https) and name a host"
        )
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    if "username" in data:
        username = data["username"].decode()
        password = data["password"].decode() if "password" in data else None
    bare = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    return Proxy(bare, username or None, password or None)


def tls_with_legacy(data: Mapping[str, bytes]) -> TLSMaterial:
    """TLS material under the standard keys, each falling back to its older name (certFile,
    keyFile, caFile), as source-controller's certSecretRef reader does."""
    return TLSMaterial(
        data.get("tls.crt") or data.get("certFile"),
        data.get("tls.key") or data.get("keyFile"),
        data.get("ca.crt") or data.get("caFile"),
    )


def redact(message: str, *secrets: str | None) -> str:
    """`message` with every non-empty secret (and its URL-quoted form) masked."""
    for secret in secrets:
        if secret:
            for form in {secret, quote(secret, safe="")}:
                message = message.replace(form, "***")
    return message
