"""The Temporal client, always with the pydantic data converter."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.runtime import Runtime

from worker.settings import Settings


async def connect(settings: Settings, runtime: Runtime | None = None) -> Client:
    """Connect to the configured Temporal frontend (``runtime``: the worker's, for metrics)."""
    return await Client.connect(
        settings.target,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(),
        runtime=runtime,
    )


def data_converter() -> DataConverter:
    """The converter of every client, worker and replayer: pydantic models as JSON."""
    return pydantic_data_converter
