"""Typed models of the Flux-compatible CRDs that Helmward serves. Types only: no I/O."""
