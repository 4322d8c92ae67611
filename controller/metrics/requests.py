"""rest_client_requests_total, as client-go counts it: every request to an API server by status
code, method and host, the controller's own (internal.kube.rest) and the Helm engine's."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from internal.helm import models as hm
from internal.kube import rest


class RequestCounts(Collector):
    def __init__(self) -> None:
        self.engine: tuple[hm.RequestResult, ...] = ()
        """The engine's totals as last sampled."""

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "rest_client_requests_total",
            "Requests sent to API servers, by status code, method and host.",
            labels=["code", "method", "host"],
        )
        totals: Counter[rest.RequestKey] = Counter(rest.requests_sent)
        for each in self.engine:
            totals[(each.code, each.method, each.host)] += each.count
        for (code, method, host), count in sorted(totals.items()):
            family.add_metric([code, method, host], count)
        yield family
