"""The Temporal client, always with the pydantic data converter."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from worker.settings import Settings


async def connect(settings: Settings) -> Client:
    """Connect to the configured Temporal frontend."""
    return await Client.connect(
        settings.target,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
    )
