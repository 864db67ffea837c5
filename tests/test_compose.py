"""docker-compose.yml, Dockerfile and .dockerignore, checked without a Docker engine.

The compose checks need PyYAML and skip, saying so, where it is not installed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from worker.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SOJOURN_SERVICES = ("sojourn-worker", "sojourn-gateway")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed (dev extra)")
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def depends_on(service: dict[str, Any]) -> list[str]:
    needs = service.get("depends_on", [])
    return list(needs) if isinstance(needs, dict | list) else []


def test_every_service_is_there_with_an_image_or_a_build(compose: dict[str, Any]) -> None:
    services = compose["services"]

    assert set(services) >= {
        "postgresql",
        "temporal",
        "temporal-setup",
        "temporal-ui",
        *SOJOURN_SERVICES,
    }
    assert services["postgresql"]["image"].startswith("postgres:")
    assert services["temporal"]["image"].startswith("temporalio/auto-setup:")
    assert services["temporal-ui"]["image"].startswith("temporalio/ui:")
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        assert not str(service.get("image", "")).endswith(":latest"), f"{name}: pin a version"
    for name in SOJOURN_SERVICES:
        assert services[name]["build"] == "."
    assert services["sojourn-worker"]["command"] == ["worker"]
    assert services["sojourn-gateway"]["command"] == ["gateway"]


def test_depends_on_names_defined_services(compose: dict[str, Any]) -> None:
    services = compose["services"]

    for name, service in services.items():
        for needed in depends_on(service):
            assert needed in services, f"{name} depends on undefined service {needed!r}"
            assert needed != name


def test_sojourn_runs_against_postgres_and_the_temporal_service(compose: dict[str, Any]) -> None:
    services = compose["services"]

    for name in SOJOURN_SERVICES:
        env = services[name]["environment"]
        assert env["SOJOURN_TEMPORAL_ADDRESS"] == "temporal:7233"
        assert env["SOJOURN_DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert "@postgresql:5432/" in env["SOJOURN_DATABASE_URL"]
        assert env["SOJOURN_LOG_FORMAT"] == "json"
        assert env["SOJOURN_ENV"] == "production"
        # Taken from the host (or .env), required: compose stops with the message otherwise.
        for key in ("SOJOURN_SECRET_KEYS", "SOJOURN_CONTACT_KEY_SECRET"):
            assert env[key].startswith("${" + key + ":?"), key
        assert "${POSTGRES_PASSWORD:?" in env["SOJOURN_DATABASE_URL"]
        assert {"postgresql", "temporal-setup"} <= set(depends_on(services[name]))
    temporal = services["temporal"]["environment"]
    assert temporal["POSTGRES_SEEDS"] == "postgresql" and temporal["DB"] == "postgres12"


def test_every_sojourn_variable_is_a_real_setting(compose: dict[str, Any]) -> None:
    fields = set(Settings.model_fields)

    for name in SOJOURN_SERVICES:
        for key in compose["services"][name]["environment"]:
            if key.startswith("SOJOURN_"):
                assert key.removeprefix("SOJOURN_").lower() in fields, f"{name}: {key}"


def test_no_password_or_key_is_written_in_the_file(compose: dict[str, Any]) -> None:
    secret_words = ("PASSWORD", "PWD", "SECRET", "KEY", "TOKEN")
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if any(word in key for word in secret_words):
                assert str(value).startswith("${") and ":?" in str(value), f"{name}: {key}"
    assert "${POSTGRES_PASSWORD:?" in compose["services"]["temporal"]["environment"]["POSTGRES_PWD"]


def test_temporal_frontend_and_web_ui_listen_on_localhost_by_default(
    compose: dict[str, Any],
) -> None:
    # No authentication in front of them: published on 127.0.0.1 unless the operator says.
    for name, port in (("temporal", 7233), ("temporal-ui", 8080)):
        [published] = compose["services"][name]["ports"]
        bind, _, ports = published.partition("}:")
        assert bind.endswith(":-127.0.0.1") and ports == f"{port}:{port}", published


def test_env_example_names_every_variable_compose_requires(compose: dict[str, Any]) -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    required = set(re.findall(r"\$\{([A-Z_]+):\?", text))
    example = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^#? ?([A-Z_]+)=", example, re.MULTILINE))
    assert required and required <= listed, required - listed
    assert ".env" in (ROOT / ".gitignore").read_text().split()


def test_gateway_listens_on_all_interfaces_on_the_published_port(
    compose: dict[str, Any],
) -> None:
    gateway = compose["services"]["sojourn-gateway"]
    env = gateway["environment"]

    assert env["SOJOURN_GATEWAY_HOST"] == "0.0.0.0"
    assert f"{env['SOJOURN_GATEWAY_PORT']}:{env['SOJOURN_GATEWAY_PORT']}" in gateway["ports"]
    assert "/healthz" in " ".join(gateway["healthcheck"]["test"])


def test_search_attributes_are_registered_one_by_one(compose: dict[str, Any]) -> None:
    setup = compose["services"]["temporal-setup"]
    script = " ".join(setup["command"])

    # One --name per call: the CLI applies only the first of several.
    for attribute in ("ContactId", "JourneyStep"):
        assert (
            f"temporal operator search-attribute create --address temporal:7233 "
            f"--namespace default --name {attribute} --type Keyword"
        ) in script
    assert "temporal" in depends_on(setup)


def test_dockerfile_installs_the_package_on_python_slim() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()

    assert "FROM python:3.11-slim" in dockerfile
    assert "RUN pip install ." in dockerfile
    assert 'ENTRYPOINT ["sojourn"]' in dockerfile
    assert "USER sojourn" in dockerfile
    for package in ("activities", "gateway", "journeys", "store", "worker", "workflows"):
        assert f"COPY {package}/ {package}/" in dockerfile


def test_dockerignore_keeps_local_state_out_of_the_image() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    ignored = [line.strip() for line in lines if line.strip() and not line.startswith("#")]

    assert {".venv", "var", ".git", ".env"} <= set(ignored)
    assert "README.md" not in ignored  # pyproject.toml's readme, needed by pip install .
