"""``sojourn identify`` and ``sojourn event``: send Segment-style calls to the gateway."""

from __future__ import annotations

import json
from typing import Annotated, Any

import httpx
import typer

from worker.cli_common import fail, load_settings, parse_pairs, write_key

TIMEOUT = httpx.Timeout(30.0, connect=5.0)


def post(path: str, body: dict[str, Any]) -> None:
    """POST ``body`` to the gateway, print its answer; exit 1 on an error or no gateway."""
    settings = load_settings()
    base = settings.public_gateway_url.rstrip("/")
    auth = httpx.BasicAuth(write_key(settings), "")  # as Segment's SDKs send it
    try:
        response = httpx.post(f"{base}{path}", json=body, timeout=TIMEOUT, auth=auth)
    except httpx.TransportError as exc:
        fail(
            f"cannot reach the gateway at {base} ({exc.__class__.__name__}): start the stack "
            "with `sojourn dev` (or just the API with `sojourn gateway`), or point "
            "SOJOURN_GATEWAY_URL at a running gateway"
        )
    typer.echo(f"{response.status_code} {response.reason_phrase}")
    try:
        typer.echo(json.dumps(response.json(), indent=2))
    except ValueError:
        if response.text:
            typer.echo(response.text)
    if response.is_error:
        raise typer.Exit(1)


def identify(
    user_id: Annotated[str, typer.Argument(help="The contact's userId in your app.")],
    trait: Annotated[
        list[str] | None,
        typer.Option("--trait", "-t", help="A trait as key=value (repeatable); JSON values parse."),
    ] = None,
    email: Annotated[str | None, typer.Option(help="Shorthand for --trait email=...")] = None,
    first_name: Annotated[
        str | None, typer.Option(help="Shorthand for --trait firstName=...")
    ] = None,
    message_id: Annotated[
        str | None, typer.Option(help="messageId, to try de-duplication; generated if unset.")
    ] = None,
) -> None:
    """Create or update a contact: POST /v1/identify."""
    traits = parse_pairs(trait or [], "--trait")
    if email is not None:
        traits["email"] = email
    if first_name is not None:
        traits["firstName"] = first_name
    body: dict[str, Any] = {"userId": user_id, "traits": traits}
    if message_id:
        body["messageId"] = message_id
    post("/v1/identify", body)


def event(
    user_id: Annotated[str, typer.Argument(help="The contact's userId.")],
    name: Annotated[str, typer.Argument(help="Event name, e.g. 'Signed Up', 'Order Completed'.")],
    prop: Annotated[
        list[str] | None,
        typer.Option(
            "--prop", "-p", help="A property as key=value (repeatable); JSON values parse."
        ),
    ] = None,
    message_id: Annotated[
        str | None, typer.Option(help="messageId, to try de-duplication; generated if unset.")
    ] = None,
) -> None:
    """Send an event for a contact: POST /v1/track."""
    body: dict[str, Any] = {
        "userId": user_id,
        "event": name,
        "properties": parse_pairs(prop or [], "--prop"),
    }
    if message_id:
        body["messageId"] = message_id
    post("/v1/track", body)
