"""OCI sources through the Helm engine's registry client: HelmRepository of type oci (a login
check, no artifact, as in Flux), and the registry access and version selection HelmCharts from
such a repository use. OCIRepository is in ocirepository.py."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import api
from api.duration import parse_duration
from api.meta import LocalObjectReference
from api.sources import HelmRepositorySpec, OCIRepositorySpec
from controller.sources.context import Context, Failure, Outcome, invalid_secret
from internal.helm import HelmError, RegistryAuthError, RegistryNotFoundError, TooLargeError
from internal.helm.models import LoginRequest, PullRequest, PullResult, RegistryAccess, TagsRequest
from internal.sources import oci as ocisrc
from internal.sources.credentials import TLSMaterial, basic_auth, tls_material


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
) -> RegistryAccess:
    """How to reach the registry of `url`: credentials from `secret_ref` (a dockerconfigjson
    Secret, or username and password), TLS from `cert_secret_ref`, plain HTTP when insecure."""
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
        tls = tls_material(await ctx.secret(namespace, cert_secret_ref.name))
    seconds = parse_duration(spec_timeout).total_seconds() if spec_timeout else 60.0
    return RegistryAccess(
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
    )


def registry_failure(exc: HelmError, what: str) -> Failure:
    """A registry error as Flux words the condition: a refused login is AuthenticationFailed."""
    if isinstance(exc, RegistryAuthError):
        return Failure("FetchFailed", "AuthenticationFailed", f"{what}: {exc.message}")
    return Failure("FetchFailed", "OCIArtifactPullFailed", f"{what}: {exc.message}")


async def reconcile_helm_repository(ctx: Context, obj: api.HelmRepository) -> Outcome:
    ns = obj.metadata.namespace or "default"
    spec = obj.spec
    host, _ = _host(spec.url)
    access = await spec_access(ctx, ns, spec)
    if access.username is not None:
        request = LoginRequest(host=host, **access_fields(access))
        try:
            await ctx.engine().login(request)
        except HelmError as exc:
            failure = registry_failure(exc, f"failed to login to registry '{host}'")
            failure.reason = "AuthenticationFailed"
            raise failure from None
    return Outcome(ready_reason="Succeeded", ready_message="Helm repository is ready")


async def resolve_chart_version(
    ctx: Context, repo_url: str, chart: str, version: str, access: RegistryAccess
) -> tuple[str, str]:
    """The chart reference `oci://host/path/chart` and the version to pull."""
    ref = f"{repo_url.rstrip('/')}/{chart}"
    try:
        tags = await ctx.engine().tags(TagsRequest(ref=ref, **access_fields(access)))
    except RegistryNotFoundError as exc:
        raise Failure(
            "BuildFailed", "InvalidChartReference", f"invalid chart reference: {exc.message}"
        ) from None
    except HelmError as exc:
        raise registry_failure(exc, f"failed to list the tags of '{ref}'") from None
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
        raise Failure("BuildFailed", "ChartPullError", f"chart pull error: {exc.message}") from None
    except HelmError as exc:
        raise registry_failure(exc, f"failed to pull chart '{ref}:{version}'") from None
