"""The chaos harness: a fleet of HelmReleases under injected faults, then its end state checked."""
