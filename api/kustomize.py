"""Kustomize-flavoured pieces of the HelmRelease: object selectors, patches, image overrides and
CEL health checks."""

from __future__ import annotations

from api.meta import FluxModel


class Selector(FluxModel):
    """Selects the objects that match every field that is set."""

    group: str | None = None
    """API group of the objects."""
    version: str | None = None
    """API version of the objects."""
    kind: str | None = None
    """Kind of the objects."""
    namespace: str | None = None
    """Namespace of the objects."""
    name: str | None = None
    """Name of the objects; a regular expression."""
    annotation_selector: str | None = None
    """A label-selector expression matched against the annotations."""
    label_selector: str | None = None
    """A label-selector expression matched against the labels."""


class Patch(FluxModel):
    """A strategic-merge or JSON 6902 patch, inline, with the objects it applies to."""

    patch: str
    """The patch document: a strategic-merge object or a list of JSON 6902 operations."""
    target: Selector | None = None
    """The objects to patch; for a strategic-merge patch, the patch itself names them when
    empty."""


class Image(FluxModel):
    """Replaces the name, tag or digest of a container image."""

    name: str
    """Image name, without tag, to look for."""
    new_name: str | None = None
    """Name to put in its place."""
    new_tag: str | None = None
    """Tag to put in its place."""
    digest: str | None = None
    """Digest to put in place of the tag; wins over newTag."""


class CustomHealthCheck(FluxModel):
    """CEL expressions that decide the health of custom resources of one kind."""

    api_version: str
    """API version of the custom resources."""
    kind: str | None = None
    """Kind of the custom resources."""
    current: str
    """True when the resource has reached its desired state."""
    in_progress: str | None = None
    """True while the resource is still working towards its desired state."""
    failed: str | None = None
    """True when the resource has failed to reach its desired state."""
