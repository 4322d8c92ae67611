"""The dependsOn graph of HelmReleases: cycles, missing dependencies and dependents."""
