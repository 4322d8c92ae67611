"""HTTP(S) downloads for Helm repositories: basic auth, client TLS, timeouts and size caps,
with errors that say what went wrong (status, TLS, size, connection)."""

from __future__ import annotations

import base64
import ssl
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

import aiohttp

from internal.sources.credentials import TLSMaterial


class FetchError(Exception):
    """A download failed; the message names the URL and the cause."""


def tls_context(
    material: TLSMaterial | None, *, insecure_skip_verify: bool = False
) -> ssl.SSLContext:
    """A client context that trusts the system roots plus `ca.crt`, presenting the client
    certificate when one is given."""
    ctx = ssl.create_default_context()
    if material is not None:
        if material.ca:
            try:
                ctx.load_verify_locations(cadata=material.ca.decode())
            except (ssl.SSLError, ValueError) as exc:
                raise FetchError(f"invalid ca.crt: {exc}") from None
        if material.cert or material.key:
            if not (material.cert and material.key):
                raise FetchError("tls.crt and tls.key must be given together")
            _load_cert_chain(ctx, material.cert, material.key)
    if insecure_skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _load_cert_chain(ctx: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    # ssl wants files; a private temporary directory keeps the key off shared paths.
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="helmward-tls-") as tmp:
        cert_path, key_path = Path(tmp, "tls.crt"), Path(tmp, "tls.key")
        cert_path.write_bytes(cert)
        key_path.touch(mode=0o600)
        key_path.write_bytes(key)
        try:
            ctx.load_cert_chain(cert_path, key_path)
        except (ssl.SSLError, ValueError) as exc:
            raise FetchError(f"invalid tls.crt/tls.key: {exc}") from None


@dataclass(frozen=True)
class HTTPOptions:
    """How to talk to one repository."""

    username: str | None = None
    password: str | None = None
    pass_credentials: bool = False
    tls: ssl.SSLContext | None = None
    timeout: float = 60.0


def index_url(repo_url: str) -> str:
    """`<url>/index.yaml`, keeping the query string, as Helm does."""
    parts = urlsplit(repo_url)
    path = parts.path.rstrip("/") + "/index.yaml"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


def resolve_reference_url(repo_url: str, ref: str) -> str:
    """A chart URL from an index entry: absolute URLs as they are, relative ones against the
    repository URL (as a directory), carrying its query string along (Helm's rule)."""
    if urlsplit(ref).scheme:
        return ref
    base = urlsplit(repo_url)
    joined = urlsplit(
        urljoin(urlunsplit((base.scheme, base.netloc, base.path.rstrip("/") + "/", "", "")), ref)
    )
    query = joined.query or base.query
    return urlunsplit((joined.scheme, joined.netloc, joined.path, query, ""))


def same_origin(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, pa.hostname, pa.port) == (pb.scheme, pb.hostname, pb.port)


async def download(
    url: str,
    options: HTTPOptions,
    *,
    max_size: int,
    what: str,
    credentials_origin: str | None = None,
) -> bytes:
    """GET `url` into memory, refusing more than `max_size` bytes. Credentials go only to
    `credentials_origin`'s host unless `pass_credentials` is set."""
    headers: dict[str, str] = {}
    if options.username is not None and (
        credentials_origin is None
        or options.pass_credentials
        or same_origin(url, credentials_origin)
    ):
        token = base64.b64encode(f"{options.username}:{options.password or ''}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    timeout = aiohttp.ClientTimeout(total=options.timeout)
    ssl_arg: ssl.SSLContext | bool = options.tls if options.tls is not None else True
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url, headers=headers, ssl=ssl_arg) as resp,
        ):
            if resp.status != 200:
                reason = resp.reason or ""
                raise FetchError(f"failed to fetch {url} : {resp.status} {reason}".rstrip())
            if resp.content_length is not None and resp.content_length > max_size:
                raise FetchError(f"{what} exceeds the maximum size of {max_size} bytes")
            chunks: list[bytes] = []
            total = 0
            async for chunk in resp.content.iter_chunked(1 << 16):
                total += len(chunk)
                if total > max_size:
                    raise FetchError(f"{what} exceeds the maximum size of {max_size} bytes")
                chunks.append(chunk)
            return b"".join(chunks)
    except aiohttp.ClientConnectorCertificateError as exc:
        raise FetchError(
            f"failed to fetch {url} : TLS certificate verification failed: {exc.certificate_error}"
        ) from None
    except aiohttp.ClientSSLError as exc:
        raise FetchError(f"failed to fetch {url} : TLS handshake failed: {exc}") from None
    except aiohttp.ClientError as exc:
        raise FetchError(f"failed to fetch {url} : {exc}") from None
    except TimeoutError:
        raise FetchError(f"failed to fetch {url} : timeout after {options.timeout:g}s") from None
