"""Wiring and policy: the manager, informers, queues, reconcilers, metrics and the CLI."""
