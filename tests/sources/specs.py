"""The specs the source tests apply, built from the fields most of them share."""

from __future__ import annotations


def source_spec(
    url: str, *, secret: str = "", cert_secret: str = "", interval: str = "10m", **fields: object
) -> dict[str, object]:
    """A HelmRepository, GitRepository or OCIRepository spec; `secret` and `cert_secret` name
    its secretRef and certSecretRef when set."""
    spec: dict[str, object] = {"url": url, "interval": interval, **fields}
    if secret:
        spec["secretRef"] = {"name": secret}
    if cert_secret:
        spec["certSecretRef"] = {"name": cert_secret}
    return spec


def chart_spec(
    chart: str, kind: str, source: str, *, interval: str = "10m", **fields: object
) -> dict[str, object]:
    """A HelmChart spec: `chart` in the `kind` source named `source`."""
    return {
        "chart": chart,
        "sourceRef": {"kind": kind, "name": source},
        "interval": interval,
        **fields,
    }
