"""Request and response bodies of the HTTP API, in Segment's spec shape (camelCase on the wire).

Only the fields Sojourn uses are declared; everything else an analytics SDK sends (``context``,
``anonymousId``, ``integrations``, ``sentAt``, ...) is accepted and ignored, so apps can point
their existing SDKs at the gateway.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

# Column sizes of the store: longer values are refused here, with the field named, rather than
# failing in the database with a 500.
ID_MAX = 255
NAME_MAX = 255


class _Body(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        str_strip_whitespace=True,
    )


class _Call(_Body):
    """Fields every call shares."""

    # Segment SDKs may send numeric ids; they are the same user as their string form.
    user_id: str = Field(
        min_length=1, max_length=ID_MAX, coerce_numbers_to_str=True, examples=["u-123"]
    )
    message_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=ID_MAX,
        description="Idempotency key; a repeated messageId is stored and routed once. "
        "Generated (uuid4) when missing.",
    )
    timestamp: datetime | None = Field(
        default=None,
        description="When the event happened (ISO-8601); naive values are UTC. "
        "Defaults to the time the gateway received it.",
    )

    @field_validator("timestamp")
    @classmethod
    def _aware_utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        try:
            return value.astimezone(UTC)
        except OverflowError as exc:  # e.g. 9999-12-31T23:00-05:00 is past year 9999 in UTC
            raise ValueError("timestamp is out of range") from exc


def _none_is_empty(value: Any) -> Any:
    # Some SDKs send ``"traits": null``; it means "no traits", not a malformed call.
    return {} if value is None else value


class IdentifyRequest(_Call):
    """Segment's identify call: who the user is and what we know about them."""

    traits: dict[str, Any] = Field(
        default_factory=dict, examples=[{"email": "ada@example.com", "firstName": "Ada"}]
    )

    _traits_none = field_validator("traits", mode="before")(_none_is_empty)


class TrackRequest(_Call):
    """Segment's track call: something the user did."""

    event: str = Field(min_length=1, max_length=NAME_MAX, examples=["Signed Up"])
    properties: dict[str, Any] = Field(default_factory=dict, examples=[{"plan": "free"}])

    _properties_none = field_validator("properties", mode="before")(_none_is_empty)


class IdentifyItem(IdentifyRequest):
    """An identify call inside a batch."""

    type: Literal["identify"]


class TrackItem(TrackRequest):
    """A track call inside a batch."""

    type: Literal["track"]


BatchItem = Annotated[IdentifyItem | TrackItem, Field(discriminator="type")]


class BatchRequest(_Body):
    """Several calls at once; all are validated before any is stored (all or nothing)."""

    batch: list[BatchItem] = Field(min_length=1)


class Accepted(BaseModel):
    """The answer to a stored call."""

    success: bool = True
    message_id: str = Field(serialization_alias="messageId")
    duplicate: bool = Field(
        default=False, description="True when this messageId had been stored before."
    )


class BatchAccepted(BaseModel):
    """The answer to a stored batch: one result per call, in order."""

    success: bool = True
    results: list[Accepted]


class ErrorBody(BaseModel):
    """A refused request; ``field`` names what to fix (``batch.2.event``, ``traits.email``)."""

    error: str = "invalid_request"
    field: str | None = None
    message: str


class Health(BaseModel):
    """Liveness and the relay's view of Temporal."""

    status: Literal["ok", "degraded"] = "ok"
    store: Literal["ok", "unreachable"] = "ok"
    temporal: Literal["idle", "connected", "unreachable"] = "idle"
    relay_failures: int = 0
