"""Drift: how live objects differ from what a server-side-apply dry run says they should be."""
