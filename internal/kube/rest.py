"""Raw JSON over the kubernetes-asyncio ApiClient: requests and watch streams.

The generated typed clients cover built-in kinds only and deserialize into heavy models; the
controller works on plain dicts for every kind, so it talks to the REST paths directly.
Bodies decode with orjson: it shares the key strings of every object it decodes, which the
informers' stores hold by the thousand.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Mapping
from typing import Any, cast

import aiohttp
import orjson
from kubernetes_asyncio.client import ApiClient
from kubernetes_asyncio.client.exceptions import ApiException

JSONObject = dict[str, Any]

APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


# Metadata only: names, labels and versions, never the data of Secrets.
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
METADATA = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"


RequestKey = tuple[str, str, str]
requests_sent: Counter[RequestKey] = Counter()
"""Requests sent by this process through `request` and `watch`, by (status code, method, host),
as client-go counts them for rest_client_requests_total; `<error>` when no answer came."""


def _count(api: ApiClient, method: str, code: str) -> None:
    host = str(api.configuration.host).partition("://")[2].rstrip("/")
    requests_sent[(code, method, host)] += 1


class WatchExpired(Exception):
    """The watch's resourceVersion is too old (410 Gone): relist."""


async def request(
    api: ApiClient,
    method: str,
    path: str,
    *,
    query: Mapping[str, str | int | bool] | None = None,
    body: object = None,
    content_type: str = "application/json",
    request_timeout: float | None = 30,
    accept: str = "application/json",
) -> JSONObject:
    """One request; the decoded JSON body, or ApiException with the server's message."""
    try:
        response = await api.call_api(
            path,
            method,
            query_params=_query(query),
            header_params={"Content-Type": content_type, "Accept": accept},
            body=body,
            auth_settings=["BearerToken"],
            _preload_content=False,
            _request_timeout=request_timeout,
        )
    except ApiException as exc:
        _count(api, method, str(exc.status))
        raise
    except Exception:
        _count(api, method, "<error>")
        raise
    _count(api, method, str(response.status))
    async with response:
        data = await response.read()
        if not 200 <= response.status < 300:
            error = ApiException(status=response.status, reason=_message(data) or response.reason)
            error.body = data.decode("utf-8", "replace")  # the Status, for its details
            raise error
    return cast(JSONObject, orjson.loads(data)) if data else {}


async def get_optional(api: ApiClient, path: str, **options: Any) -> JSONObject | None:
    """GET the object at `path`; None when it does not exist."""
    try:
        return await request(api, "GET", path, **options)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


async def delete_optional(api: ApiClient, path: str) -> None:
    """DELETE the object at `path`; one already gone is no error."""
    try:
        await request(api, "DELETE", path)
    except ApiException as exc:
        if exc.status != 404:
            raise


async def watch(
    api: ApiClient,
    path: str,
    *,
    resource_version: str,
    query: Mapping[str, str | int | bool] | None = None,
    timeout_seconds: int = 300,
    accept: str = "application/json",
) -> AsyncIterator[JSONObject]:
    """Watch events from `resource_version`, bookmarks included. Raises WatchExpired on 410."""
    params: dict[str, str | int | bool] = {
        **(query or {}),
        "watch": "true",
        "allowWatchBookmarks": "true",
        "resourceVersion": resource_version,
        "timeoutSeconds": timeout_seconds,
    }
    try:
        response = await api.call_api(
            path,
            "GET",
            query_params=_query(params),
            header_params={"Accept": accept},
            auth_settings=["BearerToken"],
            _preload_content=False,
            _request_timeout=aiohttp.ClientTimeout(connect=10, sock_read=timeout_seconds + 30),
        )
    except Exception:
        _count(api, "GET", "<error>")
        raise
    _count(api, "GET", str(response.status))
    async with response:
        if response.status == 410:
            raise WatchExpired(_message(await response.read()))
        if not 200 <= response.status < 300:
            raise ApiException(status=response.status, reason=_message(await response.read()))
        async for line in response.content:
            if not line.strip():
                continue
            event = cast(JSONObject, orjson.loads(line))
            if event.get("type") == "ERROR":
                status = event.get("object", {})
                if status.get("code") == 410:
                    raise WatchExpired(str(status.get("message", "resource version too old")))
                raise ApiException(status=status.get("code", 500), reason=status.get("message"))
            yield event


def _query(query: Mapping[str, str | int | bool] | None) -> list[tuple[str, str]]:
    out = []
    for k, v in (query or {}).items():
        out.append((k, ("true" if v else "false") if isinstance(v, bool) else str(v)))
    return out


def _message(data: bytes) -> str:
    try:
        status = orjson.loads(data)
    except ValueError:
        return data.decode(errors="replace")[:500]
    return str(status.get("message", "")) if isinstance(status, dict) else ""
