"""Kubernetes client helpers: resource paths, raw JSON requests, watch streams."""
