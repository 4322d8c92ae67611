"""The HelmRelease controller: Flux's pipeline and atomic release loop over the Helm engine."""
