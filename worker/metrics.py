"""The worker's Prometheus endpoint: Temporal SDK metrics and Sojourn's own, on one port.

With ``SOJOURN_WORKER_METRICS_PORT`` set, ``sojourn worker`` serves ``/metrics`` on
``SOJOURN_WORKER_METRICS_HOST`` (default ``127.0.0.1``; ``0.0.0.0`` in a container) with:

- the Temporal SDK's runtime metrics (``temporal_*``: workflow and activity task latencies,
  slots, polls, requests, failures), taken from a ``temporalio.runtime.MetricBuffer`` so they
  share the port with the rest instead of needing a second scrape target; counters get the
  OpenMetrics ``_total`` suffix and durations are in seconds;
- Sojourn's own (``activities/metrics.py``); send outcomes, consent refusals and deferrals are
  counted here, by :class:`SendMetrics`, from every activity result that carries a ``status``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from temporalio import activity
from temporalio.runtime import (
    BUFFERED_METRIC_KIND_COUNTER,
    BUFFERED_METRIC_KIND_GAUGE,
    MetricBuffer,
    MetricBufferDurationFormat,
    Runtime,
    TelemetryConfig,
)
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from activities import metrics
from activities.audience_models import SYNC_AUDIENCE
from store import Store
from worker.settings import Settings

# Bucket bounds for the SDK's histograms (latencies, in seconds).
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
# The SDK keeps updates until drained; drained on every scrape and every few seconds.
BUFFER_SIZE = 100_000
DRAIN_SECONDS = 5.0
# Prepared sends whose channel is remembered until their delivery.
PREPARED_MEMORY = 10_000

Labels = tuple[tuple[str, str], ...]


class TemporalMetrics(Collector):
    """Turns the SDK's buffered metric updates into Prometheus counters, gauges, histograms."""

    def __init__(self, buffer: MetricBuffer) -> None:
        self.buffer = buffer
        self._lock = threading.Lock()
        self._help: dict[str, tuple[int, str]] = {}
        self._values: dict[tuple[str, Labels], float] = {}
        self._histograms: dict[tuple[str, Labels], list[float]] = {}  # bucket counts, then sum

    def drain(self) -> None:
        """Fold every pending update into the running totals."""
        with self._lock:
            for update in self.buffer.retrieve_updates():
                metric = update.metric
                self._help[metric.name] = (metric.kind, metric.description or metric.name)
                labels = tuple(sorted((k, str(v)) for k, v in update.attributes.items()))
                key = (metric.name, labels)
                if metric.kind == BUFFERED_METRIC_KIND_COUNTER:
                    self._values[key] = self._values.get(key, 0.0) + update.value
                elif metric.kind == BUFFERED_METRIC_KIND_GAUGE:
                    self._values[key] = float(update.value)
                else:
                    counts = self._histograms.setdefault(key, [0.0] * (len(BUCKETS) + 2))
                    for i, bound in enumerate(BUCKETS):
                        if update.value <= bound:
                            counts[i] += 1
                    counts[-2] += 1  # +Inf
                    counts[-1] += update.value

    def collect(self) -> Iterable[Metric]:
        self.drain()
        with self._lock:
            families: dict[str, Any] = {}
            for (name, labels), value in self._values.items():
                kind, help_text = self._help[name]
                cls = CounterMetricFamily if kind == BUFFERED_METRIC_KIND_COUNTER else None
                family = families.get(name) or families.setdefault(
                    name,
                    (cls or GaugeMetricFamily)(name, help_text, labels=[k for k, _ in labels]),
                )
                family.add_metric([v for _, v in labels], value)
            for (name, labels), counts in self._histograms.items():
                family = families.setdefault(
                    name,
                    HistogramMetricFamily(name, self._help[name][1], labels=[k for k, _ in labels]),
                )
                cumulative = [(str(b), c) for b, c in zip(BUCKETS, counts, strict=False)]
                family.add_metric(
                    [v for _, v in labels], [*cumulative, ("+Inf", counts[-2])], counts[-1]
                )
            return list(families.values())


class _Sojourn(Collector):
    """Sojourn's own registry, seen through the worker's endpoint."""

    def collect(self) -> Iterable[Metric]:
        return metrics.REGISTRY.collect()


class SendMetrics(Interceptor):
    """Counts send outcomes from activity results, so the send activities need no metric code.

    A result counts when it has a ``status`` other than ``prepared`` (the hand-off between a
    send's two activities): the journey is the calling workflow's type, the step the request's
    ``step`` or the last part of its idempotency key. The channel is the request's (an
    audience call's is ``audience``); a delivery's request names only its key, so the channel
    its preparation named on this worker is remembered, else read from the ledger (``store``).
    """

    def __init__(self, store: Store | None = None) -> None:
        self.store = store
        self.prepared: OrderedDict[str, str] = OrderedDict()

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _CountSends(next, self)

    def remember(self, key: str, channel: str) -> None:
        """The channel of a prepared message, until its delivery (a bounded memory)."""
        self.prepared[key] = channel
        while len(self.prepared) > PREPARED_MEMORY:
            self.prepared.popitem(last=False)

    async def channel_of(self, activity_type: str, request: Any) -> str:
        """The channel a send activity's request is on (``unknown`` if nothing says)."""
        if activity_type == SYNC_AUDIENCE:
            return "audience"
        channel = getattr(request, "channel", None)
        if isinstance(channel, str):
            return channel
        key = getattr(request, "key", None)
        if not isinstance(key, str):
            return "unknown"
        if key in self.prepared:
            return self.prepared.pop(key)
        message = await self.store.messages.get(key) if self.store is not None else None
        return message.channel if message is not None else "unknown"


class _CountSends(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, owner: SendMetrics) -> None:
        super().__init__(next)
        self.owner = owner

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        result = await super().execute_activity(input)
        status = getattr(result, "status", None)
        if not isinstance(status, str):
            return result
        request = input.args[0] if input.args else None
        kind = activity.info().activity_type
        if status == "prepared":
            key, channel = getattr(request, "key", None), getattr(request, "channel", None)
            if isinstance(key, str) and isinstance(channel, str):
                self.owner.remember(key, channel)
            return result
        count_send(
            activity.info().workflow_type or "?",
            step_of(input.args),
            status,
            getattr(result, "reason", None),
        )
        try:
            metrics.channel_send(await self.owner.channel_of(kind, request), status)
        except Exception:  # a metric never fails a send: the ledger read is best effort
            metrics.channel_send("unknown", status)
        return result


def step_of(args: Any) -> str:
    request = args[0] if args else None
    step = getattr(request, "step", None)
    if isinstance(step, str):
        return step
    key = getattr(request, "key", None)
    # Keys are ``<workflow id>/<enrollment>/<step>``; steps may contain "/" themselves.
    return key.split("/", 2)[-1] if isinstance(key, str) and key.count("/") >= 2 else "?"


def count_send(journey: str, step: str, status: str, reason: str | None) -> None:
    """Count one send outcome, and what it says about consent or deferral."""
    metrics.send_finished(journey, step, status)
    if status == "refused" and reason in metrics.CONSENT_REASONS:
        metrics.consent_refused(journey, reason)
    if status == "deferred" and reason:
        metrics.send_deferred(reason)


@contextmanager
def worker_metrics(settings: Settings) -> Iterator[Runtime | None]:
    """Serve the worker's ``/metrics`` while inside; yields the Temporal runtime to connect
    with (``None`` when ``SOJOURN_WORKER_METRICS_PORT`` is unset: the SDK's default runtime)."""
    if settings.worker_metrics_port is None:
        yield None
        return
    buffer = MetricBuffer(BUFFER_SIZE, MetricBufferDurationFormat.SECONDS)
    runtime = Runtime(telemetry=TelemetryConfig(metrics=buffer))
    temporal = TemporalMetrics(buffer)
    registry = CollectorRegistry()
    registry.register(_Sojourn())
    registry.register(temporal)
    server, thread = start_http_server(
        settings.worker_metrics_port, addr=settings.worker_metrics_host, registry=registry
    )
    stop = threading.Event()
    drainer = threading.Thread(target=_drain_until, args=(temporal, stop), daemon=True)
    drainer.start()
    try:
        yield runtime
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
        drainer.join(5)


def _drain_until(temporal: TemporalMetrics, stop: threading.Event) -> None:
    while not stop.wait(DRAIN_SECONDS):
        temporal.drain()
