"""Admin endpoints: the key check, export contents, the Web UI codec."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime

from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from tests.gateway.conftest import eventually
from tests.privacy.conftest import ADMIN_KEY, Stack
from tests.privacy.test_erasure import Person, waiting_for_open
from worker.codec import SHREDDED, EncryptionCodec


async def test_admin_endpoints_need_an_admin_key(stack: Stack) -> None:
    person = Person("guarded")
    await person.sign_up(stack)
    paths = [
        ("DELETE", f"/v1/contacts/{person.id}"),
        ("GET", f"/v1/contacts/{person.id}/export"),
        ("POST", "/codec/decode"),
    ]
    basic_write = "Basic " + base64.b64encode(b"some-write-key:").decode()
    for method, path in paths:
        assert (await stack.http.request(method, path)).status_code == 401
        refused = await stack.http.request(method, path, headers={"Authorization": basic_write})
        assert refused.status_code in (401, 403)
    basic_admin = "Basic " + base64.b64encode(f"{ADMIN_KEY}:".encode()).decode()
    answer = await stack.http.get(
        f"/v1/contacts/{person.id}/export", headers={"Authorization": basic_admin}
    )
    assert answer.status_code == 200
    assert await stack.store.contacts.get(person.id) is not None  # nothing was erased


async def test_export_holds_everything_about_the_person(stack: Stack) -> None:
    person = Person("export")
    await person.sign_up(stack)
    await eventually(lambda: waiting_for_open(stack, person))
    await stack.store.consent.set(
        person.id,
        "marketing",
        subscribed=True,
        source="form",
        at=datetime.now(UTC),
        wording_version="v3",
        ip="203.0.113.9",
    )
    answer = await stack.http.get(f"/v1/contacts/{person.id}/export", headers=stack.admin())
    assert answer.status_code == 200
    document = answer.json()

    assert document["profile"]["email"] == person.email
    assert document["profile"]["first_name"] == person.first_name
    events = {(e["type"], e["name"]) for e in document["events"]}
    assert ("track", "Signed Up") in events and any(t == "identify" for t, _ in events)
    assert document["profile"]["city"] == person.city
    [consent] = document["consent"]
    assert consent["status"] == "granted" and consent["ip"] == "203.0.113.9"
    assert consent["wording_version"] == "v3"
    [message] = document["messages"]
    assert message["journey"] == "welcome" and message["status"] == "sent"
    assert message["subject"] and message["sent_at"]
    [journey] = document["journeys"]
    assert journey["journey"] == "welcome" and journey["status"] == "RUNNING"
    assert "Email Opened" in journey["waiting_for"]
    assert journey["story"]
    json.dumps(document)  # one JSON document, as is

    missing = await stack.http.get(
        f"/v1/contacts/nobody-{uuid.uuid4().hex}/export", headers=stack.admin()
    )
    assert missing.status_code == 404


def _body(*payloads: Payload) -> str:
    return json_format.MessageToJson(Payloads(payloads=list(payloads)))


async def test_codec_endpoint_round_trip_and_shredded_payloads(stack: Stack) -> None:
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'{"hello": "world"}')
    encoded = await stack.http.post("/codec/encode", content=_body(plain), headers=stack.admin())
    assert encoded.status_code == 200
    sealed = json_format.Parse(encoded.text, Payloads()).payloads[0]
    assert sealed.metadata["encoding"] == b"binary/encrypted" and b"world" not in sealed.data
    decoded = await stack.http.post("/codec/decode", content=encoded.text, headers=stack.admin())
    assert json_format.Parse(decoded.text, Payloads()).payloads[0] == plain
    # Not encrypted (an older history): passes through.
    passed = await stack.http.post("/codec/decode", content=_body(plain), headers=stack.admin())
    assert json_format.Parse(passed.text, Payloads()).payloads[0] == plain

    person = Person("shred")
    await person.sign_up(stack)
    await eventually(lambda: waiting_for_open(stack, person))
    contact_payload = await EncryptionCodec(
        stack.keys, owner=stack.settings.contact_keys.key(person.id)
    ).encode([plain])
    erased = await stack.http.delete(f"/v1/contacts/{person.id}", headers=stack.admin())
    assert erased.status_code == 200
    shown = await stack.http.post(
        "/codec/decode", content=_body(*contact_payload), headers=stack.admin()
    )
    [placeholder] = json_format.Parse(shown.text, Payloads()).payloads
    assert json.loads(placeholder.data) == SHREDDED

    origin = stack.settings.ui_origins[0]
    preflight = await stack.http.options(
        "/codec/decode",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == origin
    stranger = await stack.http.options("/codec/decode", headers={"Origin": "https://evil.test"})
    assert "access-control-allow-origin" not in stranger.headers
