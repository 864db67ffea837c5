"""Connecting to a real cluster: TLS (server CA, mTLS client certificate) and an API key."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import ValidationError
from temporalio.client import Client
from temporalio.service import TLSConfig
from temporalio.testing import WorkflowEnvironment

from tests.ports import free_port
from worker import temporal
from worker.errors import SojournError
from worker.settings import Settings


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What ``Client.connect`` was called with (no server needed)."""
    seen: list[dict[str, Any]] = []

    async def fake_connect(target: str, **kwargs: Any) -> str:
        seen.append({"target": target, **kwargs})
        return "client"

    monkeypatch.setattr(Client, "connect", fake_connect)
    return seen


async def test_the_embedded_server_gets_plain_grpc(calls: list[dict[str, Any]]) -> None:
    await temporal.connect(Settings(env="test"))
    assert calls[0]["tls"] is False and calls[0]["api_key"] is None


async def test_an_api_key_turns_tls_on_with_the_system_roots(
    calls: list[dict[str, Any]],
) -> None:
    settings = Settings(
        env="test",
        temporal_address="ns.acct.tmprl.cloud:7233",
        temporal_namespace="ns.acct",
        temporal_api_key="key-123",
    )
    await temporal.connect(settings)
    [call] = calls
    assert call["target"] == "ns.acct.tmprl.cloud:7233" and call["namespace"] == "ns.acct"
    assert call["api_key"] == "key-123"
    assert call["tls"] == TLSConfig()
    assert "key-123" not in repr(settings)


async def test_ca_and_client_certificate_are_read_from_their_files(
    calls: list[dict[str, Any]], tmp_path: Path
) -> None:
    for name in ("ca.pem", "client.pem", "client.key"):
        (tmp_path / name).write_bytes(f"<{name}>".encode())
    settings = Settings(
        env="test",
        temporal_tls_ca=tmp_path / "ca.pem",
        temporal_tls_cert=tmp_path / "client.pem",
        temporal_tls_key=tmp_path / "client.key",
        temporal_tls_server_name="temporal.internal",
    )
    await temporal.connect(settings)
    assert calls[0]["tls"] == TLSConfig(
        server_root_ca_cert=b"<ca.pem>",
        client_cert=b"<client.pem>",
        client_private_key=b"<client.key>",
        domain="temporal.internal",
    )


def test_a_client_certificate_needs_its_key(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="SOJOURN_TEMPORAL_TLS_KEY"):
        Settings(env="test", temporal_tls_cert=tmp_path / "client.pem")


async def test_a_missing_tls_file_is_named(tmp_path: Path) -> None:
    settings = Settings(env="test", temporal_tls_ca=tmp_path / "nope.pem")
    with pytest.raises(SojournError, match="nope.pem"):
        await temporal.connect(settings)


# ---- a real mTLS handshake: a TLS proxy that requires a client certificate ------------------


def _cert(
    name: str, key: ec.EllipticCurvePrivateKey, issuer: tuple[x509.Name, Any] | None, ca: bool
) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_name, issuer_key = issuer or (subject, key)
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _write(folder: Path, name: str, cert: x509.Certificate, key: Any) -> tuple[Path, Path]:
    cert_path, key_path = folder / f"{name}.pem", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all from it."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("sojourn test CA", ca_key, None, ca=True)
    issuer = (ca.subject, ca_key)
    server_key, client_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca_path, _ = _write(tmp_path, "ca", ca, ca_key)
    server, server_k = _write(
        tmp_path, "server", _cert("localhost", server_key, issuer, False), server_key
    )
    client, client_k = _write(
        tmp_path, "client", _cert("worker", client_key, issuer, False), client_key
    )
    return {
        "ca": ca_path,
        "server": server,
        "server_key": server_k,
        "client": client,
        "client_key": client_k,
    }


@contextlib.asynccontextmanager
async def mtls_proxy(pki: dict[str, Path], upstream: str) -> AsyncIterator[str]:
    """TLS on 127.0.0.1 in front of a plain gRPC server; a client certificate is required."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki["ca"]))
    ctx.load_cert_chain(pki["server"], pki["server_key"])
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.set_alpn_protocols(["h2"])
    host, port = upstream.rsplit(":", 1)

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    listen = free_port()
    server = await asyncio.start_server(handle, "127.0.0.1", listen, ssl=ctx)
    try:
        yield f"127.0.0.1:{listen}"
    finally:
        server.close()
        # Open piped connections end with the client; do not wait for them here.


async def test_mutual_tls_to_a_real_server(
    time_env: WorkflowEnvironment, pki: dict[str, Path]
) -> None:
    upstream = time_env.client.service_client.config.target_host
    async with mtls_proxy(pki, upstream) as address:
        settings = Settings(
            env="test",
            temporal_address=address,
            temporal_tls_ca=pki["ca"],
            temporal_tls_cert=pki["client"],
            temporal_tls_key=pki["client_key"],
        )
        client = await temporal.connect(settings)
        # A real round trip through the TLS tunnel.
        assert await client.service_client.check_health()

        without_cert = settings.model_copy(
            update={"temporal_tls_cert": None, "temporal_tls_key": None}
        )
        with pytest.raises(RuntimeError):
            await temporal.connect(without_cert)
