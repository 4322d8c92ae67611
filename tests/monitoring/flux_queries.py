# ruff: noqa: E501  (queries kept word for word, one a line)
"""The PromQL of fluxcd/flux2-monitoring-example's two dashboards (monitoring/configs/dashboards/
cluster.json and control-plane.json at commit 7ab65dc), as users run them: the queries are the
test data here, kept word for word, with the dashboards' variables left in. That repository has
no alerting rules; its dashboards are all there is to keep working.

Each query is answered either by Helmward itself or by kube-state-metrics with Flux's
custom-resource configuration (the `gotk_resource_info` ones), as in Flux's own set-up. Those
that only another component can answer are listed in ANSWERED_ELSEWHERE with the reason."""

from __future__ import annotations

SOURCES = "GitRepository|HelmRepository|Bucket|OCIRepository"
_RATIO = (
    'sum(rate(gotk_reconcile_duration_seconds_sum{{namespace=~"$operator_namespace",'
    'exported_namespace=~"$namespace",kind=~"{kinds}"}}[5m])) by ({by})\n/\n'
    '  sum(rate(gotk_reconcile_duration_seconds_count{{namespace=~"$operator_namespace",'
    'exported_namespace=~"$namespace",kind=~"{kinds}"}}[5m])) by ({by})'
)

CLUSTER = [
    'count(gotk_resource_info{exported_namespace=~"$namespace", customresource_kind=~"Kustomization|HelmRelease"})',
    'count(gotk_resource_info{exported_namespace=~"$namespace", customresource_kind=~"Kustomization|HelmRelease", ready="False"})',
    f'count(gotk_resource_info{{exported_namespace=~"$namespace", customresource_kind=~"{SOURCES}"}})',
    f'count(gotk_resource_info{{exported_namespace=~"$namespace", customresource_kind=~"{SOURCES}", ready="False"}})',
    _RATIO.format(kinds="Kustomization|HelmRelease", by="kind"),
    _RATIO.format(kinds=SOURCES, by="kind"),
    'gotk_resource_info{exported_namespace=~"$namespace", customresource_kind=~"Kustomization|HelmRelease"}',
    f'gotk_resource_info{{exported_namespace=~"$namespace", customresource_kind=~"{SOURCES}"}}',
    'gotk_resource_info{exported_namespace=~"$namespace", suspended="true"}',
    _RATIO.format(kinds="Kustomization|HelmRelease", by="kind, name"),
    _RATIO.format(kinds=SOURCES, by="kind, name"),
    # template variables
    "gotk_reconcile_duration_seconds_sum",
    "gotk_resource_info",
]

_OPS = 'sum(increase(controller_runtime_reconcile_total{{controller="{c}",result{op}"error"}}[1m])){by}'
CONTROL_PLANE = [
    'sum(go_info{namespace="$namespace",pod=~".*-controller-.*"})',
    'max(workqueue_longest_running_processor_seconds{namespace="$namespace",pod=~".*-controller-.*"})',
    'sum(go_memstats_alloc_bytes{namespace="$namespace",pod=~".*-controller-.*"})',
    'sum(rate(rest_client_requests_total{namespace="$namespace",pod=~".*-controller-.*"}[1m]))',
    'sum(rate(rest_client_requests_total{namespace="$namespace"}[1m]))',
    'sum(rate(rest_client_requests_total{namespace="$namespace",code!~"2.."}[1m]))',
    'rate(process_cpu_seconds_total{namespace="$namespace",pod=~".*-controller-.*"}[1m])',
    'sum(container_memory_working_set_bytes{namespace="$namespace",container!="POD",container!="",pod=~".*-controller-.*"}) by (pod)',
    'workqueue_longest_running_processor_seconds{name="kustomization"}',
    *(
        _OPS.format(c=c, op=op, by=" by (controller)" if by else "")
        for c, by in (
            ("kustomization", True),
            ("gitrepository", False),
            ("ocirepository", False),
            ("helmrepository", False),
            ("bucket", False),
        )
        for op in ("!=", "=")
    ),
    *(
        f"histogram_quantile({q}, sum(rate(controller_runtime_reconcile_time_seconds_bucket"
        '{controller="helmrelease"}[5m])) by (le))'
        for q in ("0.50", "0.90", "0.99")
    ),
    *(
        _OPS.format(c=c, op=op, by=" by (controller)")
        for c in ("helmrelease", "helmchart")
        for op in ("!=", "=")
    ),
    # template variable
    "workqueue_work_duration_seconds_count",
]

ANSWERED_ELSEWHERE = {
    'sum(container_memory_working_set_bytes{namespace="$namespace",container!="POD",container!="",pod=~".*-controller-.*"}) by (pod)': "the kubelet's cAdvisor exports it, not a controller; this plane's nodes are KWOK's",
    'workqueue_longest_running_processor_seconds{name="kustomization"}': "kustomize-controller's queue; Helmward replaces helm-controller and source-controller",
    _OPS.format(c="kustomization", op="!=", by=" by (controller)"): "kustomize-controller's",
    _OPS.format(c="kustomization", op="=", by=" by (controller)"): "kustomize-controller's",
}


def substituted(query: str, operator_namespace: str, namespace: str) -> str:
    """The query as Grafana sends it, with the dashboards' variables chosen."""
    return query.replace("$operator_namespace", operator_namespace).replace("$namespace", namespace)
