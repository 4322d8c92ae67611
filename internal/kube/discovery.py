"""Kind to REST resource through the API server's discovery documents, cached per group/version."""

from __future__ import annotations

from kubernetes_asyncio.client import ApiClient

from internal.kube import rest
from internal.kube.resources import Resource


class Discovery:
    def __init__(self, api: ApiClient) -> None:
        self.api = api
        self._cache: dict[str, dict[str, Resource]] = {}

    async def resource(self, api_version: str, kind: str) -> Resource | None:
        if api_version not in self._cache:
            group, _, version = api_version.rpartition("/")
            path = f"/apis/{api_version}" if group else f"/api/{version}"
            listing = await rest.request(self.api, "GET", path)
            self._cache[api_version] = {
                r["kind"]: Resource(group, version, r["name"], r["kind"], bool(r["namespaced"]))
                for r in listing.get("resources", [])
                if "/" not in r["name"]
            }
        return self._cache[api_version].get(kind)
