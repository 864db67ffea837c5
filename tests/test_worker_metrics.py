"""The worker's ``/metrics``: Temporal SDK metrics and Sojourn's send counters on one port."""

from __future__ import annotations

import asyncio

import httpx
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.metrics import REGISTRY
from store import Store
from tests.metrics_probe import Probe, fake_send
from tests.ports import free_port
from worker.metrics import SendMetrics, worker_metrics
from worker.settings import Settings
from worker.temporal import data_converter


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_worker_serves_temporal_and_sojourn_metrics(
    time_env: WorkflowEnvironment, settings: Settings, store: Store, task_queue: str
) -> None:
    port = free_port()
    settings = settings.model_copy(update={"worker_metrics_port": port})
    sent = sample(
        "sojourn_sends_total", journey="metrics_probe", step="01-probe/sent", status="sent"
    )
    consent = sample(
        "sojourn_consent_refusals_total", journey="metrics_probe", reason="unsubscribed"
    )
    deferred = sample("sojourn_deferrals_total", reason="quiet_hours")
    on_sms = sample("sojourn_channel_sends_total", channel="sms", status="sent")
    with worker_metrics(settings) as runtime:
        assert runtime is not None
        client = await Client.connect(
            time_env.client.service_client.config.target_host,
            runtime=runtime,
            data_converter=data_converter(settings),  # its data keys live in the test's store
        )
        async with Worker(
            client,
            task_queue=task_queue,
            workflows=[Probe],
            activities=[fake_send],
            interceptors=[SendMetrics()],
        ):
            await client.execute_workflow(
                Probe.run, "c1", id=f"probe-{task_queue}", task_queue=task_queue
            )
        async with httpx.AsyncClient() as http:
            answer = await http.get(f"http://127.0.0.1:{port}/metrics")
        assert answer.status_code == 200
        text = answer.text
    # Valid exposition format, every family (the parser refuses a malformed histogram).
    names = {f.name for f in text_string_to_metric_families(text)}
    assert "sojourn_sends" in names and "temporal_request" in names
    # The SDK's own: a workflow completed, activities ran, requests went to the server.
    assert "temporal_workflow_completed_total{" in text
    assert "temporal_activity_execution_latency_bucket{" in text
    assert 'sojourn_sends_total{journey="metrics_probe",status="sent",step="01-probe/sent"}' in text
    assert (
        sample("sojourn_sends_total", journey="metrics_probe", step="01-probe/sent", status="sent")
        == sent + 1
    )
    assert (
        sample("sojourn_consent_refusals_total", journey="metrics_probe", reason="unsubscribed")
        == consent + 1
    )
    assert sample("sojourn_deferrals_total", reason="quiet_hours") == deferred + 1
    # The probe sends on sms (its requests name the channel).
    assert sample("sojourn_channel_sends_total", channel="sms", status="sent") == on_sms + 1
    # The port is released when the worker stops.
    await asyncio.sleep(0)
    async with httpx.AsyncClient() as http:
        try:
            await http.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
        except httpx.TransportError:
            pass
        else:
            raise AssertionError("the metrics endpoint outlived the worker")


def test_without_a_port_the_worker_serves_nothing(settings: Settings) -> None:
    with worker_metrics(settings) as runtime:
        assert runtime is None


async def test_the_channel_of_a_delivery_is_remembered_or_read_from_the_ledger(
    store: Store,
) -> None:
    from datetime import UTC, datetime

    from activities.audience_models import SyncAudience
    from activities.models import DeliverMessage
    from tests.learning.seed import message

    counting = SendMetrics(store)
    counting.remember("k-push", "push")
    assert await counting.channel_of("deliver_message", DeliverMessage(key="k-push")) == "push"
    # Remembered once: a second delivery of that key asks the ledger, which has no such row.
    assert await counting.channel_of("deliver_message", DeliverMessage(key="k-push")) == "unknown"
    sent = await message(store, "c1", "01-welcome/hello", datetime.now(UTC), channel="sms")
    key = "welcome-c1/e/01-welcome/hello"
    assert (await store.messages.get(key)) is not None and sent
    assert await counting.channel_of("deliver_message", DeliverMessage(key=key)) == "sms"
    audience = SyncAudience(key="k", contact_id="c1", journey="j", step="s", audience="ads")
    assert await counting.channel_of("sync_audience", audience) == "audience"
