"""The controller's Prometheus metrics: Flux's per-object series, controller-runtime's are in
controller.runtime.metrics, and Helmward's own."""

from controller.metrics.recorder import Recorder, default

__all__ = ["Recorder", "default"]
