"""OCI sources: HelmRepository of type oci (a login check, no artifact), HelmCharts pulled
from OCI registries and OCIRepository, through the Helm engine's registry client."""

from __future__ import annotations

import api
from controller.sources.context import Context, Failure, Outcome


async def reconcile_helm_repository(ctx: Context, obj: api.HelmRepository) -> Outcome:
    raise Failure(
        "FetchFailed",
        "Failed",
        "HelmRepository of type oci needs the Helm engine's registry client, not available yet",
    )


async def reconcile_helm_chart(
    ctx: Context, obj: api.HelmChart, repo: api.HelmRepository
) -> Outcome:
    raise Failure(
        "FetchFailed",
        "Failed",
        "charts from OCI registries need the Helm engine's registry client, not available yet",
    )
