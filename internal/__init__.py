"""Mechanisms: the Helm engine, sources, artifacts, dag, drift, values and kube helpers."""
