"""Typed models of the Flux-compatible CRDs that Helmward serves. Types only: no I/O."""

from api.helmrelease import HelmRelease
from api.meta import FluxObject
from api.parse import ParseError, parse
from api.sources import (
    Bucket,
    ExternalArtifact,
    GitRepository,
    HelmChart,
    HelmRepository,
    OCIRepository,
)

__all__ = [
    "Bucket",
    "ExternalArtifact",
    "FluxObject",
    "GitRepository",
    "HelmChart",
    "HelmRelease",
    "HelmRepository",
    "OCIRepository",
    "ParseError",
    "parse",
]
