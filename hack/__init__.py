"""Scripts around Helmward; a package so that `hack.testkit` imports from the repository root."""
