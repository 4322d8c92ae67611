"""Every top-level kind Helmward serves."""

from __future__ import annotations

from api.helmrelease import HelmRelease
from api.meta import FluxObject
from api.sources import SOURCE_KINDS

KINDS: tuple[type[FluxObject], ...] = (HelmRelease, *SOURCE_KINDS)

BY_API_VERSION_AND_KIND: dict[tuple[str, str], type[FluxObject]] = {
    (kind.resource.api_version, kind.resource.kind): kind for kind in KINDS
}
