"""The release state machine: pure decisions about what Helm action a HelmRelease needs next."""
