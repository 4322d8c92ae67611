"""The test kit: what the tests and the scripts under hack/ share (hack/ never imports tests/).

- `paths`: where the repository, hack/cluster.sh and the CRDs are.
- `plane`: the local control plane (hack/cluster.sh): ensure it is up, its kubeconfig and CLIs.
- `wait`: `eventually`, polling with a deadline.
- `ports`: free TCP ports on 127.0.0.1.
- `kube`: an API client, the Flux CRDs, finalizers left by a stopped controller.
- `charts`: chart directories and tarballs written for a test.
- `cli`: the stock helm and kubectl CLIs (package, index, any command).
- `chart_server`: a Helm chart repository over HTTP(S) with basic auth.
- `git_server`: git's smart HTTP and sshd serving bare repositories.
- `oci_registry`: the distribution OCI registry.
- `launcher`: the Helmward controller, as `helmward run` or its source controllers in-process.
- `flux`: Flux's helm-, source- and notification-controller as processes, and the
  notification CRDs.
- `process`: another project's server as a process: its log, waiting until it answers, stopping.
- `prometheus`, `alertmanager`, `kube_state_metrics`: those servers on 127.0.0.1 for the
  monitoring tests; `webhook`: a receiver recording what Alertmanager and notification-controller
  POST.
"""
