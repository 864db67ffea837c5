"""The Temporal client: the pydantic data converter, and TLS or an API key for a cluster."""

from __future__ import annotations

from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from worker.errors import SojournError
from worker.settings import Settings


async def connect(settings: Settings, runtime: Runtime | None = None) -> Client:
    """Connect to the configured Temporal frontend (``runtime``: the worker's, for metrics)."""
    return await Client.connect(
        settings.target,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(),
        runtime=runtime,
        tls=tls_config(settings),
        api_key=settings.temporal_api_key,
    )


def tls_config(settings: Settings) -> TLSConfig | bool:
    """TLS for a cluster or Temporal Cloud: server CA, client certificate for mTLS, or just
    the system's roots; ``False`` (plain gRPC) for the embedded dev server."""
    if not settings.temporal_uses_tls:
        return False
    return TLSConfig(
        server_root_ca_cert=_read(settings.temporal_tls_ca),
        client_cert=_read(settings.temporal_tls_cert),
        client_private_key=_read(settings.temporal_tls_key),
        domain=settings.temporal_tls_server_name,
    )


def _read(path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SojournError(f"cannot read the Temporal TLS file {path}: {exc.strerror}") from None


def data_converter() -> DataConverter:
    """The converter of every client, worker and replayer: pydantic models as JSON."""
    return pydantic_data_converter
