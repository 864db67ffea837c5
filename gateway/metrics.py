"""``GET /metrics``: the gateway's Prometheus endpoint (Sojourn's ``sojourn_*`` metrics).

The metrics themselves are defined in ``activities/metrics.py``. The send counters are the
worker's: they show on the worker's own ``/metrics`` (``SOJOURN_WORKER_METRICS_PORT``), under
``sojourn dev`` too, where the worker is a child process.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from activities import metrics

router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format."}},
)
async def prometheus_metrics() -> Response:
    """Sojourn's metrics in Prometheus' text exposition format, for scraping."""
    body, content_type = metrics.exposition()
    return Response(content=body, media_type=content_type)
