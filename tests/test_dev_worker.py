"""The worker child of ``sojourn dev`` gets dev's own decisions on top of the environment."""

from __future__ import annotations

import sys

from worker.dev import dev_settings
from worker.dev_worker import WorkerProcess, worker_environment
from worker.settings import Settings


def test_the_child_reaches_devs_temporal_and_keeps_quiet_hours_off() -> None:
    settings = dev_settings(Settings(env="dev", temporal_port=17233))
    env = worker_environment(settings, {"PATH": "/bin", "SOJOURN_GATEWAY_PORT": "9000"})
    assert env["SOJOURN_TEMPORAL_ADDRESS"] == "127.0.0.1:17233"
    assert env["SOJOURN_QUIET_HOURS"] == "false"  # dev turned them off; the child agrees
    assert env["PATH"] == "/bin" and env["SOJOURN_GATEWAY_PORT"] == "9000"


def test_quiet_hours_asked_for_stay_on_and_an_external_temporal_is_kept() -> None:
    settings = dev_settings(
        Settings(env="dev", quiet_hours=True, temporal_address="temporal.internal:7233")
    )
    env = worker_environment(settings, {})
    assert env["SOJOURN_QUIET_HOURS"] == "true"
    assert env["SOJOURN_TEMPORAL_ADDRESS"] == "temporal.internal:7233"


def test_the_child_is_this_pythons_sojourn_worker() -> None:
    assert WorkerProcess(Settings(env="dev")).command() == [
        sys.executable,
        "-m",
        "worker.cli",
        "worker",
    ]
