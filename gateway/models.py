"""Request and response bodies of the HTTP API, in Segment's spec shape (camelCase on the wire).

Every field Segment's SDKs send is declared (``type``, ``userId``, ``anonymousId``,
``messageId``, ``timestamp``, ``sentAt``, ``originalTimestamp``, ``context``,
``integrations``, ``traits``, ``properties``, ``groupId``, ``previousId``, ``name``,
``category``, ``event``); unknown extra fields (``_metadata``, ``channel``, ...) are accepted
and ignored, so apps keep their SDKs unchanged. ``null`` means "absent" everywhere, as the
SDKs send it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

# Column sizes of the store: longer values are refused here, with the field named, rather than
# failing in the database with a 500.
ID_MAX = 255
NAME_MAX = 255
# Anonymous profiles are keyed ``anon:<anonymousId>`` in the same 255-character column.
ANONYMOUS_ID_MAX = 200
FREE_TEXT = 255

JsonObject = dict[str, Any]


class _Body(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        str_strip_whitespace=True,
    )


def _none_is_empty(value: Any) -> Any:
    # SDKs send ``"traits": null`` or ``"context": null``: it means "none", not a malformed call.
    return {} if value is None else value


def _aware_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:  # e.g. 9999-12-31T23:00-05:00 is past year 9999 in UTC
        raise ValueError("timestamp is out of range") from exc


Id = Annotated[
    str,
    Field(min_length=1, max_length=ID_MAX, coerce_numbers_to_str=True),
]
When = Annotated[
    datetime | None,
    Field(default=None, description="ISO-8601; naive values are UTC."),
]


class Call(_Body):
    """Fields every call shares. A call needs a ``userId`` or an ``anonymousId``."""

    user_id: Id | None = Field(default=None, examples=["u-123"])
    anonymous_id: Annotated[
        str | None,
        Field(min_length=1, max_length=ANONYMOUS_ID_MAX, coerce_numbers_to_str=True),
    ] = Field(
        default=None,
        description="A visitor not signed in yet: stored against an anonymous profile until "
        "an identify or alias links it to a userId, which then takes over its history.",
    )
    message_id: Annotated[str | None, Field(min_length=1, max_length=ID_MAX)] = Field(
        default=None,
        description="Idempotency key; a repeated messageId is stored and routed once. "
        "Generated (uuid4) when missing.",
    )
    timestamp: When = Field(
        default=None,
        description="When it happened. Corrected for the client's clock with sentAt; one "
        "still in the future is replaced by the receive time. Defaults to the receive time.",
    )
    original_timestamp: When = None
    sent_at: When = Field(default=None, description="When the client sent it (clock skew).")
    context: JsonObject = Field(default_factory=dict)
    integrations: JsonObject = Field(default_factory=dict)

    _times = field_validator("timestamp", "original_timestamp", "sent_at")(_aware_utc)
    _dicts = field_validator("context", "integrations", mode="before")(_none_is_empty)

    @model_validator(mode="after")
    def _someone(self) -> Call:
        if self.user_id is None and self.anonymous_id is None and not isinstance(self, Alias):
            # Its own error type, so the answer can name ``userId`` (the model has no location).
            raise PydanticCustomError("identity_missing", "userId or anonymousId is required")
        return self


class _Traits(Call):
    traits: JsonObject = Field(
        default_factory=dict, examples=[{"email": "ada@example.com", "firstName": "Ada"}]
    )
    _traits_none = field_validator("traits", mode="before")(_none_is_empty)


class _Properties(Call):
    properties: JsonObject = Field(default_factory=dict, examples=[{"plan": "free"}])
    _properties_none = field_validator("properties", mode="before")(_none_is_empty)


class Identify(_Traits):
    """Segment's identify: who the user is and what we know about them."""

    type: Literal["identify"] = "identify"


class Track(_Properties):
    """Segment's track: something the user did."""

    type: Literal["track"] = "track"
    event: str = Field(min_length=1, max_length=NAME_MAX, examples=["Signed Up"])


class Page(_Properties):
    """Segment's page: stored as a ``Page Viewed`` event (``name``/``category`` in properties)."""

    type: Literal["page"] = "page"
    name: Annotated[str | None, Field(max_length=FREE_TEXT)] = None
    category: Annotated[str | None, Field(max_length=FREE_TEXT)] = None


class Screen(_Properties):
    """Segment's screen: stored as a ``Screen Viewed`` event, like page."""

    type: Literal["screen"] = "screen"
    name: Annotated[str | None, Field(max_length=FREE_TEXT)] = None
    category: Annotated[str | None, Field(max_length=FREE_TEXT)] = None


class Group(_Traits):
    """Segment's group: the user's account; sets the ``groupId`` and ``group`` traits."""

    type: Literal["group"] = "group"
    group_id: Id


class Alias(Call):
    """Segment's alias: ``previousId`` (usually an anonymous id) is the same person as userId."""

    type: Literal["alias"] = "alias"
    user_id: Id
    previous_id: Id


AnyCall = Identify | Track | Page | Screen | Group | Alias
# Batch items carry their type; the union picks the model by it.
BatchItem = Annotated[AnyCall, Field(discriminator="type")]


class BatchRequest(_Body):
    """Several calls at once (Segment's ``/v1/batch`` and ``/v1/import``).

    Items are validated one by one: valid ones are stored, invalid ones listed in the answer.
    """

    batch: list[BatchItem] = Field(min_length=1)
    sent_at: When = Field(default=None, description="When the client sent the batch.")
    context: JsonObject | None = None
    integrations: JsonObject | None = None
    write_key: str | None = Field(default=None, description="Alternative to HTTP Basic.")


class BatchEnvelope(_Body):
    """A batch before its items are validated one by one (what makes it a batch at all)."""

    batch: list[Any] = Field(min_length=1)
    sent_at: When = None

    _times = field_validator("sent_at")(_aware_utc)


class Accepted(BaseModel):
    """The answer to a stored call."""

    success: bool = True
    message_id: str = Field(serialization_alias="messageId")
    duplicate: bool = Field(
        default=False, description="True when this messageId had been stored before."
    )


class Refused(BaseModel):
    """A batch item that was not stored, and why."""

    index: int = Field(description="Position of the item in the batch, from 0.")
    field: str = Field(description="Dotted path inside the item (``event``, ``traits.email``).")
    reason: str
    message_id: str | None = Field(default=None, serialization_alias="messageId")


class BatchAccepted(BaseModel):
    """The answer to a batch: the stored calls in order, and the refused ones by index."""

    success: bool = True
    results: list[Accepted]
    refused: list[Refused] = Field(default_factory=list)


class ErrorBody(BaseModel):
    """A refused request; ``field`` names what to fix (``traits.email``, ``authorization``)."""

    error: str = "invalid_request"
    code: str = "invalid_request"
    field: str | None = None
    message: str


class Health(BaseModel):
    """Liveness and the relay's view of Temporal."""

    status: Literal["ok", "degraded"] = "ok"
    store: Literal["ok", "unreachable"] = "ok"
    temporal: Literal["idle", "connected", "unreachable"] = "idle"
    relay_failures: int = 0


# Older names, kept for callers outside the gateway (tests, benches).
IdentifyRequest = Identify
TrackRequest = Track
