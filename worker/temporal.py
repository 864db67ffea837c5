"""The Temporal client: Sojourn's one data converter (pydantic + per-contact encryption), and
TLS or an API key for a cluster."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from sqlalchemy.pool import NullPool
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from store.db import create_engine
from store.keys import KeyRing
from worker import tracing
from worker.codec import EncryptionCodec
from worker.errors import SojournError
from worker.settings import Settings


async def connect(
    settings: Settings, runtime: Runtime | None = None, *, keys: KeyRing | None = None
) -> Client:
    """Connect to the configured Temporal frontend with :func:`data_converter`.

    Args:
        settings: where, how (TLS, API key), and whose data keys.
        runtime: the worker's runtime (for its metrics), else the SDK's default.
        keys: a key ring to share (the process's cache).
    """
    return await Client.connect(
        settings.target,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings, keys),
        runtime=runtime,
        tls=tls_config(settings),
        api_key=settings.temporal_api_key,
        interceptors=tracing.interceptors(settings),
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


def key_ring(settings: Settings, engine: object | None = None) -> KeyRing:
    """The data keys for ``settings``; on ``engine`` when given, else on a pool-less engine
    of its own (nothing to close: each store read opens and closes its connection)."""
    if engine is None:
        engine = create_engine(settings.database_url, poolclass=NullPool)
    return KeyRing(engine, settings.master_key)  # type: ignore[arg-type]


def data_converter(settings: Settings | None = None, keys: KeyRing | None = None) -> DataConverter:
    """The converter of every client and worker: pydantic models as JSON, encrypted per
    contact (``worker/codec.py``). Unencrypted payloads (older histories) pass through.

    Args:
        settings: whose store holds the data keys and whose master key wraps them (the
            environment's settings when None).
        keys: a key ring to share (the process's cache); one on its own engine when None.
    """
    codec = EncryptionCodec(keys or key_ring(settings or Settings()))
    return dataclasses.replace(pydantic_data_converter, payload_codec=codec)


def replay_converter(settings: Settings | None = None) -> DataConverter:
    """:func:`data_converter` for replayers: decrypts histories, encrypts nothing (a replay's
    commands are compared, never sent, so it must not create data keys)."""
    codec = EncryptionCodec(key_ring(settings or Settings()), encrypt=False)
    return dataclasses.replace(pydantic_data_converter, payload_codec=codec)
