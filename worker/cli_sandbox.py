"""``sojourn sandbox-servers``: a local Twilio and an audience webhook receiver beside ``make dev``.

It prints the ``SOJOURN_*`` lines that point ``sojourn dev`` at it, then one line per SMS,
audience call and reply it sees (``--json``: one JSON object a line). A reply (``curl -d
From=... -d Body=STOP .../sandbox/reply``) is forwarded to the gateway's Twilio inbound webhook,
signed as Twilio signs it, so STOP and START work as they would with a real phone.
"""

from __future__ import annotations

import json
import shlex
from typing import Annotated, Any

import typer
import uvicorn

from activities.channels.sms_segments import sms_length
from worker.cli_common import fail, load_settings
from worker.errors import SojournError
from worker.sandbox_servers import (
    SENDER,
    AudienceRecorded,
    TwilioRecorded,
    make_sandbox,
    sandbox_env,
)
from worker.serve import ensure_port_free


def _say(as_json: bool, kind: str, text: str, **fields: Any) -> None:
    line = json.dumps({"kind": kind, **fields}) if as_json else f"{kind:<9}{text}"
    typer.echo(line)


def sandbox_servers(
    port: Annotated[int, typer.Option(help="Port of the sandbox (Twilio API and hooks).")] = 8025,
    gateway: Annotated[
        str | None, typer.Option(help="Gateway to forward replies to (default: the settings').")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line.")] = False,
) -> None:
    """Serve a local Twilio Messages API and an audience webhook receiver until Ctrl-C."""
    settings = load_settings()
    try:
        # Before the set-up lines: uvicorn's own bind error came after them, exit 3.
        ensure_port_free("127.0.0.1", port, "sandbox", "--port")
    except SojournError:
        fail(f"port 127.0.0.1:{port} is already in use (another sandbox?): stop it or pass --port")
    url = f"http://127.0.0.1:{port}"
    target = gateway or settings.public_gateway_url
    twilio, audiences = TwilioRecorded(), AudienceRecorded()

    def on_message(message: dict[str, Any]) -> None:
        body = str(message["body"])
        length = str(sms_length(body))
        _say(as_json, "sms", f"to {message['to']} ({length}): {body!r}", **message, length=length)

    def on_call(name: str, body: dict[str, Any], ok: bool) -> None:
        members = body.get("members", [])
        keys = sorted({k for m in members for k in m})
        signed = "signature ok" if ok else "BAD SIGNATURE"
        text = f"{body.get('action')} {name}: {len(members)} member(s) {keys}, {signed}"
        _say(as_json, "audience", text, audience=name, body=body, signature_ok=ok)

    def on_reply(reply: dict[str, Any]) -> None:
        text = f"{reply['Body']!r} from {reply['From']} -> gateway {reply['gateway_status']}"
        _say(as_json, "reply", text, **reply)

    twilio.on_message, twilio.on_reply, audiences.on_call = on_message, on_reply, on_call
    app = make_sandbox(twilio, audiences, gateway=target, public_url=settings.public_base_url)
    if not as_json:
        lines = [f"export {k}={shlex.quote(v)}" for k, v in sandbox_env(url).items()]
        typer.echo(
            f"Sandbox on {url}: Twilio's Messages API and audience webhooks.\n"
            "Point `sojourn dev` at it (in its shell, or in .env without `export`):\n"
            + "\n".join(lines)
            + "\nexport SOJOURN_DEV_TIME_SCALE=14400 SOJOURN_QUIET_HOURS=false"
            "  # a day of journey time in 6 s"
            + f"\nReply to an SMS (forwarded, signed, to {target}):\n"
            f"  curl --data-urlencode From=+33612345678 -d Body=STOP {url}/sandbox/reply\n"
            f"SMS come from {SENDER}. Ctrl-C stops the sandbox."
        )
    else:
        _say(as_json, "ready", url, url=url, env=sandbox_env(url))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
