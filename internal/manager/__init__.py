"""The Helm-facing side of a release: the Manager façade, its options and its clusters.

Everything here does I/O through the engine or the Kubernetes API; the decisions it serves live
in `internal.release`, which stays pure.
"""
