"""A source's proxySecretRef: the keys source-controller reads (`address`, and optional
`username` and `password` for basic auth), made into the proxy URL a client takes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

from internal.sources.credentials import text

SCHEMES = ("http", "https", "socks5", "socks5h", "socks4", "socks4a")
MAX_ADDRESS = 2048


class ProxySecretError(ValueError):
    """The Secret does not describe a proxy; the message never holds its password."""


@dataclass(frozen=True)
class Proxy:
    address: str
    username: str | None = None
    password: str | None = None

    @classmethod
    def from_secret(cls, data: Mapping[str, bytes]) -> Proxy:
        address = text(data, "address")
        if address is None:
            raise ProxySecretError("key 'address' not found")
        address = address.strip()
        if not address:
            raise ProxySecretError("proxy address is empty")
        if len(address) > MAX_ADDRESS:
            raise ProxySecretError(f"proxy URL exceeds maximum length of {MAX_ADDRESS} characters")
        parts = urlsplit(address)
        if parts.scheme not in SCHEMES or not parts.hostname:
            raise ProxySecretError(
                "proxy address must be a URL with a host and a scheme of " + ", ".join(SCHEMES)
            )
        if "@" in parts.netloc:
            raise ProxySecretError(
                "proxy address must not hold credentials: use 'username' and 'password'"
            )
        return cls(address, text(data, "username"), text(data, "password"))

    def url(self) -> str:
        """The address with the credentials in it, percent-encoded."""
        if self.username is None:
            return self.address
        parts = urlsplit(self.address)
        user = quote(self.username, safe="")
        if self.password is not None:
            user += ":" + quote(self.password, safe="")
        return urlunsplit((parts.scheme, f"{user}@{parts.netloc}", parts.path, parts.query, ""))

    def scrub(self, message: str) -> str:
        """`message` with the password (raw and encoded) replaced."""
        for secret in {self.password, quote(self.password or "", safe="")} - {None, ""}:
            assert secret is not None
            message = message.replace(secret, "***")
        return message
