"""Artifact storage and the HTTP server that hands artifacts to consumers (the source side of
the architecture: reconcilers write here, HelmRelease reconcilers and other tools read)."""
