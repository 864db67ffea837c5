"""``GET /metrics`` on the gateway: Sojourn's counters move as events arrive, are refused, route."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from activities.metrics import REGISTRY
from tests.gateway.conftest import FakeRouter, eventually


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def scrape(client: httpx.AsyncClient) -> dict[str, float]:
    answer = await client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        s.name + str(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
    }


async def test_metrics_count_received_refused_and_routed_events(
    client: httpx.AsyncClient, fake_router: FakeRouter
) -> None:
    received = sample("sojourn_events_received_total", type="track")
    refused = sample("sojourn_events_refused_total", reason="invalid")
    routed = sample("sojourn_events_routed_total")
    lags = sample("sojourn_route_lag_seconds_count")

    ok = await client.post("/v1/track", json={"userId": "ada", "event": "Signed Up"})
    assert ok.is_success, ok.text
    bad = await client.post("/v1/track", json={"userId": "ada"})  # no event name
    assert bad.status_code == 422
    # The relay counts an event once it is marked routed, a moment after the router has it.
    await eventually(lambda: _counted(routed))
    assert len(fake_router.calls) == 1

    scraped = await scrape(client)
    assert scraped["sojourn_events_received_total[('type', 'track')]"] == received + 1
    assert scraped["sojourn_events_refused_total[('reason', 'invalid')]"] == refused + 1
    assert scraped["sojourn_events_routed_total[]"] == routed + 1
    assert scraped["sojourn_route_lag_seconds_count[]"] == lags + 1


async def test_tracking_events_count_as_engagements(client: httpx.AsyncClient) -> None:
    opened = sample("sojourn_engagements_total", event="opened")
    clicked = sample("sojourn_engagements_total", event="clicked")
    for event in ("Email Opened", "Email Link Clicked", "Product Viewed"):
        body = {"userId": "ada", "event": event, "properties": {"email_id": "m1"}}
        assert (await client.post("/v1/track", json=body)).is_success
    batch = {"batch": [{"type": "track", "userId": "bo", "event": "Email Opened"}]}
    assert (await client.post("/v1/batch", json=batch)).is_success
    scraped = await scrape(client)
    assert scraped["sojourn_engagements_total[('event', 'opened')]"] == opened + 2
    assert scraped["sojourn_engagements_total[('event', 'clicked')]"] == clicked + 1


async def _counted(before: float) -> bool:
    return sample("sojourn_events_routed_total") > before


async def test_metrics_are_documented_in_openapi(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert "200" in spec["paths"]["/metrics"]["get"]["responses"]
