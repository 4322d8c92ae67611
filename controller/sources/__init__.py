"""Source reconcilers: HelmRepository, HelmChart, GitRepository, Bucket and OCIRepository.

Each reconciler is `async reconcile(ctx, obj) -> Outcome`: it takes the typed object and says
what to write to its status and what to announce. `controller.sources.driver` applies an
outcome to the cluster; `controller.app` runs them on the shared controller runtime.
"""
