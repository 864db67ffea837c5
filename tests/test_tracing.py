"""Optional OpenTelemetry tracing: a workflow and its activities leave spans, through the worker."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from tests.metrics_probe import Probe, fake_send
from worker import temporal, tracing
from worker.settings import Settings


def test_tracing_is_off_unless_asked_for(settings: Settings) -> None:
    assert tracing.interceptors(settings) == []


async def test_connect_adds_the_tracing_interceptor(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    async def fake_connect(target: str, **kwargs: Any) -> None:
        seen.update(kwargs)

    monkeypatch.setattr(Client, "connect", fake_connect)
    await temporal.connect(settings.model_copy(update={"otel_tracing": True}))
    assert [type(i) for i in seen["interceptors"]] == [TracingInterceptor]


async def test_a_journey_run_leaves_spans_for_workflow_and_activities(
    time_env: WorkflowEnvironment, settings: Settings, task_queue: str
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    on = settings.model_copy(update={"otel_tracing": True})
    client = await Client.connect(
        time_env.client.service_client.config.target_host,
        data_converter=pydantic_data_converter,
        interceptors=tracing.interceptors(on, tracer=provider.get_tracer("test")),
    )
    # The worker takes the tracing interceptor from its client.
    async with Worker(client, task_queue=task_queue, workflows=[Probe], activities=[fake_send]):
        await client.execute_workflow(
            Probe.run, "c1", id=f"trace-{task_queue}", task_queue=task_queue
        )
    names = {span.name for span in exporter.get_finished_spans()}
    assert {
        "StartWorkflow:metrics_probe",
        "RunWorkflow:metrics_probe",
        "StartActivity:metrics_probe_send",
        "RunActivity:metrics_probe_send",
    } <= names
