"""The official ``@segment/analytics-node`` SDK (3.1), set up with ``host`` and a write key only,
against a real gateway (uvicorn on 127.0.0.1) with a real worker on the time-skipping server.

``tests/gateway/node/drive.js`` makes every call type, an anonymous visitor who signs up and an
``anonymousId``-only call later aliased; all calls are stored, the anonymous history joins the
user, and the sign-up starts welcome. The SDK sends plain JSON; the gzip variant sends the same
requests gzipped through its ``httpClient`` option. A wrong key is a 401 the SDK reports.

Needs Node and the SDK installed by ``make test`` (``npm ci`` in ``tests/gateway/node``); it
skips, saying which is missing, where there is no Node.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from store import Store
from store.identities import anonymous_contact
from tests.gateway import test_segment_sdk as python_sdk
from worker.settings import Settings
from workflows.search import DEV_KEYS

NODE_DIR = Path(__file__).parent / "node"
NAMES = ("added", "page", "viewed", "identify", "signup", "screen", "group", "alias")
RUN_WAIT = 90.0


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the Node SDK test needs Node 20 and npm")
    if not (NODE_DIR / "node_modules" / "@segment" / "analytics-node").is_dir():
        pytest.skip(
            "@segment/analytics-node is not installed: `make test` runs `npm ci` in "
            "tests/gateway/node when npm is there"
        )
    return node


async def drive(base: str, key: str, user: str, mode: str) -> dict[str, Any]:
    """Run drive.js against ``base``; what the SDK saw (statuses) and reported (errors)."""
    process = await asyncio.create_subprocess_exec(
        _node(),
        str(NODE_DIR / "drive.js"),
        base,
        key,
        user,
        mode,
        cwd=NODE_DIR,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), RUN_WAIT)
    assert process.returncode == 0, err.decode(errors="replace")
    return json.loads(out.decode().strip().splitlines()[-1])


@pytest.mark.parametrize("mode", ["plain", "gzip"])
async def test_official_node_sdk_delivers_every_call(
    time_env: WorkflowEnvironment, store: Store, settings: Settings, tmp_path: Path, mode: str
) -> None:
    _node()
    user = f"node-{uuid.uuid4().hex[:8]}"
    ids = {name: f"{user}-{name}" for name in NAMES}
    async with python_sdk.stack(time_env, store, settings, tmp_path / "outbox") as base:
        seen = await drive(base, python_sdk.KEY, user, mode)
        assert seen["errors"] == []
        assert seen["statuses"] and set(seen["statuses"]) == {200}

        stored = {name: await store.events.get(mid) for name, mid in ids.items()}
        assert all(stored.values()), [name for name, event in stored.items() if event is None]
        # The anonymous history is the user's now; both anonymous profiles are gone.
        assert {event.contact_id for event in stored.values() if event} == {user}
        assert await store.contacts.get(anonymous_contact(f"anon-{user}")) is None
        assert await store.contacts.get(anonymous_contact(f"anon2-{user}")) is None
        contact = await store.contacts.get(user)
        assert contact is not None and contact.email == f"{user}@example.com"
        assert contact.traits["firstName"] == "Ada"
        assert contact.traits["group"] == {"id": "acme", "name": "Acme"}
        page, screen = stored["page"], stored["screen"]
        assert page is not None and screen is not None
        assert (page.name, screen.name) == ("Page Viewed", "Screen Viewed")
        assert (page.properties["name"], page.properties["category"]) == ("Pricing", "Shop")
        added = stored["added"]
        assert added is not None and added.properties == {"sku": "s-1"}

        # The sign-up started welcome, which mailed the user.
        async def mailed() -> bool:
            return bool(await store.messages.list(contact_id=user))

        await python_sdk.until(mailed, "the welcome email")
        handle = time_env.client.get_workflow_handle(DEV_KEYS.workflow_id("welcome", user))
        assert (await handle.describe()).workflow_type == "welcome"
        await handle.terminate("test over")


async def test_a_wrong_write_key_is_a_401_the_node_sdk_reports(
    time_env: WorkflowEnvironment, store: Store, settings: Settings, tmp_path: Path
) -> None:
    _node()
    user = f"node-{uuid.uuid4().hex[:8]}"
    async with python_sdk.stack(time_env, store, settings, tmp_path / "outbox") as base:
        seen = await drive(base, "not-the-key", user, "plain")
    assert seen["statuses"] and set(seen["statuses"]) == {401}
    # Every call is reported lost, none silently.
    assert len(seen["errors"]) == len(NAMES)
    assert {error["code"] for error in seen["errors"]} == {"delivery_failure"}
    for name in NAMES:
        assert await store.events.get(f"{user}-{name}") is None
    assert await store.contacts.get(user) is None
