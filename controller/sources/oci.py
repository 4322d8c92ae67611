"""OCI sources through the Helm engine's registry client: the registry access and version
selection of HelmCharts from a HelmRepository of type oci (a static object since
source-controller v1.9, never reconciled itself), and the registry access OCIRepository uses
(ocirepository.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

from api.duration import parse_duration
from api.meta import LocalObjectReference
from api.sources import HelmRepositorySpec, OCIRepositorySpec
from controller.sources.context import Context, Failure, invalid_secret
from internal.helm import HelmError, RegistryAuthError, RegistryNotFoundError, TooLargeError
from internal.helm.models import PullRequest, PullResult, RegistryAccess, TagsRequest
from internal.sources import oci as ocisrc
from internal.sources.credentials import TLSMaterial, basic_auth, redact, tls_with_legacy


def _host(url: str) -> tuple[str, str]:
    try:
        return ocisrc.split_url(url)
    except ocisrc.OCIError as exc:
        raise Failure("FetchFailed", "URLInvalid", str(exc), stalled=True) from None


async def registry_access(
    ctx: Context,
    namespace: str,
    url: str,
    *,
    secret_ref: LocalObjectReference | None,
    cert_secret_ref: LocalObjectReference | None,
    insecure: bool | None,
    spec_timeout: str | None,
    proxy_secret_ref: LocalObjectReference | None = None,
) -> RegistryAccess:
    """How to reach the registry of `url`: credentials from `secret_ref` (a dockerconfigjson
    Secret, or username and password), TLS from `cert_secret_ref`, plain HTTP when insecure,
    through the proxy of `proxy_secret_ref`."""
    host, _ = _host(url)
    username = password = None
    if secret_ref is not None:
        data = await ctx.secret(namespace, secret_ref.name)
        if ocisrc.DOCKERCONFIGJSON_KEY in data:
            try:
                creds = ocisrc.docker_credentials(data[ocisrc.DOCKERCONFIGJSON_KEY], host)
            except ocisrc.OCIError as exc:
                raise invalid_secret(secret_ref.name, str(exc)) from None
            if creds is None:
                raise Failure(
                    "FetchFailed",
                    "AuthenticationFailed",
                    f"secret '{secret_ref.name}' has no credentials for registry '{host}'",
                    stalled=True,
                )
            username, password = creds.username, creds.password
        elif (pair := basic_auth(data)) is not None:
            username, password = pair
        else:
            raise invalid_secret(
                secret_ref.name,
                f"need '{ocisrc.DOCKERCONFIGJSON_KEY}' or 'username' and 'password'",
            )
    tls = TLSMaterial()
    if cert_secret_ref is not None:
        tls = tls_with_legacy(await ctx.secret(namespace, cert_secret_ref.name))
    seconds = parse_duration(spec_timeout).total_seconds() if spec_timeout else 60.0
    proxy = None
    if proxy_secret_ref is not None:
        proxy = await ctx.proxy(namespace, proxy_secret_ref.name)
    return RegistryAccess(
        proxy_url=proxy.url() if proxy is not None else None,
        username=username,
        password=password,
        plain_http=bool(insecure),
        ca_pem=tls.ca,
        cert_pem=tls.cert,
        key_pem=tls.key,
        timeout=timedelta(seconds=seconds),
    )


def access_fields(access: RegistryAccess) -> dict[str, Any]:
    """The fields of `access` that are set, to build a login, tags or pull request from."""
    return {
        name: value
        for name in RegistryAccess.model_fields
        if (value := getattr(access, name)) is not None
    }


async def spec_access(
    ctx: Context, namespace: str, spec: HelmRepositorySpec | OCIRepositorySpec
) -> RegistryAccess:
    """Registry access from a source's spec (the generic provider: other providers are refused
    before, see `controller.sources.unsupported`)."""
    return await registry_access(
        ctx,
        namespace,
        spec.url,
        secret_ref=spec.secret_ref,
        cert_secret_ref=spec.cert_secret_ref,
        insecure=spec.insecure,
        spec_timeout=spec.timeout,
        proxy_secret_ref=getattr(spec, "proxy_secret_ref", None),
    )


def message_of(exc: HelmError, access: RegistryAccess) -> str:
    """The engine's error message, with none of the credentials of `access` in it."""
    return redact(exc.message, access.password, access.proxy_url, _proxy_password(access))


def registry_failure(exc: HelmError, what: str, access: RegistryAccess) -> Failure:
    """A registry error as Flux words the condition: a refused login is AuthenticationFailed.
    The credentials of `access` never reach the message."""
    message = f"{what}: {message_of(exc, access)}"
    if isinstance(exc, RegistryAuthError):
        return Failure("FetchFailed", "AuthenticationFailed", message)
    return Failure("FetchFailed", "OCIArtifactPullFailed", message)


def _proxy_password(access: RegistryAccess) -> str | None:
    if not access.proxy_url:
        return None
    password = urlsplit(access.proxy_url).password
    return unquote(password) if password else None


async def resolve_chart_version(
    ctx: Context, repo_url: str, chart: str, version: str, access: RegistryAccess
) -> tuple[str, str]:
    """The chart reference `oci://host/path/chart` and the version to pull."""
    ref = f"{repo_url.rstrip('/')}/{chart}"
    try:
        tags = await ctx.engine().tags(TagsRequest(ref=ref, **access_fields(access)))
    except RegistryNotFoundError as exc:
        raise Failure(
            "BuildFailed",
            "InvalidChartReference",
            f"invalid chart reference: {message_of(exc, access)}",
        ) from None
    except HelmError as exc:
        raise registry_failure(exc, f"failed to list the tags of '{ref}'", access) from None
    try:
        return ref, ocisrc.select_chart_tag(tags, version or "*")
    except ocisrc.OCIError as exc:
        raise Failure(
            "BuildFailed",
            "InvalidChartReference",
            f"invalid chart reference: failed to get chart version for remote reference "
            f"'{ref}': {exc}",
        ) from None


async def pull_chart(
    ctx: Context, ref: str, version: str, access: RegistryAccess, max_size: int
) -> PullResult:
    try:
        return await ctx.engine().pull(
            PullRequest(ref=ref, tag=version, max_size=max_size, **access_fields(access))
        )
    except TooLargeError as exc:
        raise Failure(
            "BuildFailed", "ChartPullError", f"chart pull error: {message_of(exc, access)}"
        ) from None
    except HelmError as exc:
        raise registry_failure(exc, f"failed to pull chart '{ref}:{version}'", access) from None
