"""The OpenAPI document tells the truth: schemathesis, in-process (ASGI), with its default checks.

Every operation gets generated cases (valid and invalid bodies, parameters, methods, missing
and wrong auth); each answer must be documented, status, headers and body. The last test
checks that the run was not trivially small.
"""

from __future__ import annotations

import base64
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from schemathesis.python import asgi

from gateway.app import create_app
from tests.gateway.conftest import FakeRouter
from worker.settings import Settings

KEY = "wk-schemathesis"
# Examples per operation; the coverage phase adds its own cases on top.
EXAMPLES = 12
MIN_CASES = 1000
CASES: dict[str, int] = {}
# Links in emails carry signed tokens: a generated token is a forged one, and 400 is the
# right answer to it (the schema cannot describe which strings a key signed).
SIGNED = r"^/(u|optin|t/c|s)/"
# Traits are free-form JSON, but a few names are typed by the store (``createdAt`` an ISO
# date-time, ``birthday`` a date, ``timezone`` an IANA name, ``email`` an address): a call that
# sends one of them malformed gets a 422 naming it (``traits.created_at``), which the schema
# cannot predict. Hypothesis draws such names from the code's own string constants.
TRAITS = r"^/v1/(identify|group|batch|import)$"
CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {"max-examples": EXAMPLES},
        "operations": [
            {
                "include-path-regex": SIGNED,
                "checks": {
                    "positive_data_acceptance": {
                        "expected-statuses": ["2xx", "3xx", "400", "401", "404", "409"]
                    }
                },
            },
            {
                "include-path-regex": TRAITS,
                "checks": {
                    "positive_data_acceptance": {
                        "expected-statuses": ["2xx", "401", "409", "413", "422", "429"]
                    }
                },
            },
        ],
    }
)


def _app_schema() -> schemathesis.schemas.BaseSchema:
    # Built at import: schemathesis parametrizes from a schema object. The app's store lives in
    # a folder of its own, removed after the module by ``_teardown``.
    var = Path(tempfile.mkdtemp(prefix="sojourn-schemathesis-")) / "var"
    settings = Settings(
        env="test",
        var_dir=var,
        database_url=f"sqlite+aiosqlite:///{var / 'sojourn.db'}",
        write_keys=[KEY],
        rate_limit_per_second=0,  # the rate limit has its own test
        relay_interval_seconds=0.05,
    )
    app = create_app(settings, router_factory=FakeRouter().factory())
    loaded = schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG)
    loaded.var_dir = var.parent  # type: ignore[attr-defined]
    return loaded


schema = _app_schema()


@pytest.fixture(scope="module", autouse=True)
def _teardown() -> Iterator[None]:
    yield
    asgi.shutdown_lifespans()  # the app's lifespan (store, relay) ran in schemathesis' thread
    shutil.rmtree(schema.var_dir, ignore_errors=True)  # type: ignore[attr-defined]


AUTH = {"Authorization": "Basic " + base64.b64encode(f"{KEY}:".encode()).decode()}


@schema.parametrize()
def test_every_answer_is_documented(case: schemathesis.Case) -> None:
    CASES[case.operation.label] = CASES.get(case.operation.label, 0) + 1
    case.call_and_validate(headers=AUTH)


def test_the_run_covered_every_operation_with_enough_cases() -> None:
    operations = {result.ok().label for result in schema.get_all_operations() if result.ok()}
    if not CASES:
        pytest.skip("run with the generated tests (not alone)")
    assert set(CASES) == operations
    assert sum(CASES.values()) >= MIN_CASES, CASES
