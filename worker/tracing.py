"""Optional OpenTelemetry tracing of journeys, through ``temporalio.contrib.opentelemetry``.

With ``SOJOURN_OTEL_TRACING=true`` every Temporal client Sojourn connects carries the SDK's
``TracingInterceptor``; the worker inherits it from its client, so a trace follows an event
from the gateway's start or signal through the journey's workflow tasks to each activity
(spans ``StartWorkflow:…``, ``SignalWorkflow:…``, ``RunWorkflow:…``, ``StartActivity:…``,
``RunActivity:…``). Where spans go is OpenTelemetry's own configuration: run the process under
``opentelemetry-instrument`` (``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_SERVICE_NAME``, …) or set
a tracer provider before connecting. Needs ``pip install 'sojourn[otel]'``.
"""

from __future__ import annotations

from typing import Any

from temporalio.client import Interceptor

from worker.errors import SojournError
from worker.settings import Settings


def interceptors(settings: Settings, tracer: Any = None) -> list[Interceptor]:
    """The client interceptors tracing asks for: none unless ``SOJOURN_OTEL_TRACING`` is on.

    Args:
        settings: whether tracing is on.
        tracer: an OpenTelemetry tracer to use instead of the global provider's (tests).
    """
    if not settings.otel_tracing:
        return []
    try:
        from temporalio.contrib.opentelemetry import TracingInterceptor
    except ImportError:
        raise SojournError(
            "SOJOURN_OTEL_TRACING needs the OpenTelemetry SDK: pip install 'sojourn[otel]'"
        ) from None
    return [TracingInterceptor(tracer)]
